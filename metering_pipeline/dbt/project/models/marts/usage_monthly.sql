{{
    config(
        unique_key='month',
        order_by='(month, tenant_id, meter, billing_account_id)',
        partition_by='toYear(month)',
        pre_hook="{{ delete_periods_without_rows('month', 'month', ref('usage_daily'), 'day') }}",
    )
}}

{#-
  Incremental at the grain it is driven at (see macros/rollup_usage.yml for the daily body):

  - count / sum / max / min meters: each month of the window is rebuilt from usage_daily
    rows of that month (at most 31 per group; the daily rows of the window were rebuilt
    just before, in the same run). Sum of daily sums, max of maxes, min of mins: exact.
  - unique_count meters: uniqExact is not additive, so they are recomputed from the events
    of the month, but only for the (month, tenant) pairs the run can have changed:
    tenants with unique-meter events in the window's hours, plus tenants whose stored
    month rows no longer agree with the event counts of usage_daily's unique rows (an
    hour rerun that removed all of a tenant's events from the window). Every other
    tenant's unique rows are carried over from the mart as they are.

  delete+insert on `month` then replaces the window's months with exactly this select (the
  new data is computed before the delete, so reading {{ this }} sees the previous state);
  the pre-hook empties a month of the window that no longer has any daily rows.
  Without an existing table (first run, --full-refresh) every tenant is recomputed.
-#}

{%- set incremental = is_incremental() %}

with daily as (
    select * from {{ ref('usage_daily') }}
    where {{ in_window('day', 'month', date_column=true) }}
),

additive as (
    {{ additive_rollup('month', 'toStartOfMonth(day)', 'daily') }}
),

{% if incremental %}
stored_distinct as (
    select month, tenant_id, billing_account_id, meter, event_type, aggregation, unit, dimensions,
        value, event_count, bytes_ingested
    from {{ this }}
    where {{ in_window('month', 'month', date_column=true) }}
        and aggregation = 'unique_count'
),

window_tenants as (
    select distinct toStartOfMonth(hour) as month, tenant_id
    from {{ ref('int_unique_meter_events') }}
    where {{ in_window('hour', 'hour') }}
),

{#- A group whose stored month row disagrees with the sum of its days (events, bytes), or exists on one side only. -#}
stale_tenants as (
    select distinct month, tenant_id
    from (
        select
            toStartOfMonth(day) as month, tenant_id, billing_account_id, meter, toString(dimensions) as dimensions_key,
            'daily' as side, event_count, bytes_ingested
        from daily
        where aggregation = 'unique_count'
        union all
        select
            month, tenant_id, billing_account_id, meter, toString(dimensions) as dimensions_key,
            'stored' as side, event_count, bytes_ingested
        from stored_distinct
    )
    group by month, tenant_id, billing_account_id, meter, dimensions_key
    having countIf(side = 'stored') != if(countIf(side = 'daily') > 0, 1, 0)
        or sumIf(event_count, side = 'daily') != sumIf(event_count, side = 'stored')
        or sumIf(bytes_ingested, side = 'daily') != sumIf(bytes_ingested, side = 'stored')
),

affected_tenants as (
    select month, tenant_id from window_tenants
    union distinct
    select month, tenant_id from stale_tenants
),

carried_over as (
    select * from stored_distinct
    where (month, tenant_id) not in (select month, tenant_id from affected_tenants)
),
{% endif %}

unique_meter_events as (
    select * from {{ ref('int_unique_meter_events') }}
    where {{ in_window('hour', 'month') }}
    {%- if incremental %}
        and tenant_id in (select tenant_id from affected_tenants)
        and (toStartOfMonth(hour), tenant_id) in (select month, tenant_id from affected_tenants)
    {%- endif %}
),

distinct_counts as (
    {{ distinct_counts('month', 'toStartOfMonth(hour)') }}
),

unioned as (
    select * from additive
    union all
    select * from distinct_counts
    {%- if incremental %}
    union all
    select * from carried_over
    {%- endif %}
)

select
    month,
    tenant_id,
    {{ usage_columns() }}
from unioned
