{{
    config(
        materialized='table',
        order_by='(tenant_id, meter)',
    )
}}

{#-
  As of the end of the latest hour in usage_hourly (not the wall clock: reruns are
  deterministic). Per tenant and meter, across billing accounts and dimensions.

  Rebuilt as a table, but not recomputed from scratch: the month periods (month to date,
  previous month) are carried over from the previous table, per (month, tenant), and
  recomputed only for
    - the tenants with usage in the run's window (its hours' months),
    - the tenants whose stored event counts for a month no longer equal usage_monthly's
      (an hour rerun that removed a tenant's usage, or a month the table never covered),
    - every tenant of a month the previous table did not cover (the first hour of a month).
  A recomputed (month, tenant) reads usage_hourly (count/sum/max/min) and the events
  (unique_count, uniqExact) of that month and tenant only. The last 24 hours move with
  as_of and are recomputed every run (24 hours of usage_hourly and of unique-meter events).
  No previous table, or --full-refresh: everything is recomputed.
-#}

-- depends_on: {{ ref('usage_monthly') }}
{%- set previous = none -%}
{%- if execute and not flags.FULL_REFRESH -%}
    {%- set previous = load_relation(this) -%}
{%- endif %}

with as_of as (
    select max(hour) + interval 1 hour as as_of
    from {{ ref('stg_metering__usage_hourly') }}
),

periods as (
    select
        as_of,
        as_of - interval 24 hour as last_24h_start,
        toDateTime(toStartOfMonth(as_of - interval 1 second), 'UTC') as month_start,
        toDateTime(toStartOfMonth(as_of - interval 1 second) - interval 1 month, 'UTC') as previous_month_start
    from as_of
),

{% if previous %}
stored as (
    select
        toDateTime(toStartOfMonth(as_of - interval 1 second), 'UTC') as period_start,
        tenant_id, meter, aggregation, unit,
        events_month_to_date as events, quantity_month_to_date as quantity, bytes_month_to_date as bytes
    from {{ this }}
    where events_month_to_date > 0
    union all
    select
        toDateTime(toStartOfMonth(as_of - interval 1 second) - interval 1 month, 'UTC') as period_start,
        tenant_id, meter, aggregation, unit,
        events_previous_month as events, quantity_previous_month as quantity, bytes_previous_month as bytes
    from {{ this }}
    where events_previous_month > 0
),

covered_months as (
    select distinct period_start
    from (
        select toDateTime(toStartOfMonth(as_of - interval 1 second), 'UTC') as period_start from {{ this }}
        union all
        select toDateTime(toStartOfMonth(as_of - interval 1 second) - interval 1 month, 'UTC') from {{ this }}
    )
),

stored_in_periods as (
    select stored.* from stored cross join periods
    where stored.period_start in (periods.month_start, periods.previous_month_start)
),

monthly_events as (
    select toDateTime(monthly.month, 'UTC') as period_start, monthly.tenant_id, monthly.meter, sum(monthly.event_count) as events
    from {{ ref('usage_monthly') }} as monthly
    cross join periods
    where monthly.month >= toDate(periods.previous_month_start) and monthly.month <= toDate(periods.month_start)
    group by period_start, tenant_id, meter
),

window_tenants as (
    select distinct toDateTime(toStartOfMonth(hour), 'UTC') as period_start, tenant_id
    from {{ ref('stg_metering__usage_hourly') }}
    where {{ in_window('hour', 'hour') }}
),

stale_tenants as (
    select distinct period_start, tenant_id
    from (
        select period_start, tenant_id, meter, 'stored' as side, events from stored_in_periods
        union all
        select period_start, tenant_id, meter, 'monthly' as side, events from monthly_events
    )
    group by period_start, tenant_id, meter
    having countIf(side = 'stored') = 0 or sumIf(events, side = 'stored') != sumIf(events, side = 'monthly')
),

affected as (
    select period_start, tenant_id from window_tenants
    union distinct
    select period_start, tenant_id from stale_tenants
),

carried_over as (
    select period_start, tenant_id, meter, aggregation, unit, events, quantity, bytes
    from stored_in_periods
    where period_start in (select period_start from covered_months)
        and (period_start, tenant_id) not in (select period_start, tenant_id from affected)
),
{% endif %}

{%- set recompute_filter -%}
    {%- if previous -%}
        and (
            toDateTime(toStartOfMonth(hour), 'UTC') not in (select period_start from covered_months)
            or (toDateTime(toStartOfMonth(hour), 'UTC'), tenant_id) in (select period_start, tenant_id from affected)
        )
    {%- endif -%}
{%- endset %}

hourly as (
    select hourly.*, periods.*
    from {{ ref('stg_metering__usage_hourly') }} as hourly
    cross join periods
    where hourly.hour >= periods.previous_month_start
        and hourly.hour < periods.as_of
        and hourly.aggregation != 'unique_count'
        {{ recompute_filter }}
),

unique_meter_events as (
    select unique_meter_events.*, periods.*
    from {{ ref('int_unique_meter_events') }} as unique_meter_events
    cross join periods
    where unique_meter_events.hour >= periods.previous_month_start
        and unique_meter_events.hour < periods.as_of
        {{ recompute_filter }}
),

hourly_24h as (
    select hourly.*, periods.*
    from {{ ref('stg_metering__usage_hourly') }} as hourly
    cross join periods
    where hourly.hour >= periods.last_24h_start
        and hourly.hour < periods.as_of
        and hourly.aggregation != 'unique_count'
),

unique_meter_events_24h as (
    select unique_meter_events.*, periods.*
    from {{ ref('int_unique_meter_events') }} as unique_meter_events
    cross join periods
    where unique_meter_events.hour >= periods.last_24h_start
        and unique_meter_events.hour < periods.as_of
),

{#- One row per (period, tenant, meter); period is 'last_24h' or a month start. -#}
recomputed as (
    select
        toString(toDateTime(toStartOfMonth(hour), 'UTC')) as period,
        tenant_id, meter, aggregation, unit,
        sum(event_count) as events,
        {{ rollup_value() }} as quantity,
        sum(bytes_ingested) as bytes
    from hourly
    group by period, tenant_id, meter, aggregation, unit
    union all
    select
        toString(toDateTime(toStartOfMonth(hour), 'UTC')) as period,
        tenant_id, meter, 'unique_count' as aggregation, unit,
        count() as events,
        toDecimal128(uniqExact(distinct_value), 9) as quantity,
        sum(bytes) as bytes
    from unique_meter_events
    group by period, tenant_id, meter, unit
    union all
    select
        'last_24h' as period,
        tenant_id, meter, aggregation, unit,
        sum(event_count) as events,
        {{ rollup_value() }} as quantity,
        sum(bytes_ingested) as bytes
    from hourly_24h
    group by period, tenant_id, meter, aggregation, unit
    union all
    select
        'last_24h' as period,
        tenant_id, meter, 'unique_count' as aggregation, unit,
        count() as events,
        toDecimal128(uniqExact(distinct_value), 9) as quantity,
        sum(bytes) as bytes
    from unique_meter_events_24h
    group by period, tenant_id, meter, unit
    {%- if previous %}
    union all
    select toString(period_start) as period, tenant_id, meter, aggregation, unit, events, quantity, bytes
    from carried_over
    {%- endif %}
),

{%- set period_filters = {
    'last_24h': "period = 'last_24h'",
    'month_to_date': "period = toString(month_start)",
    'previous_month': "period = toString(previous_month_start)",
} %}

summarized as (
    select
        any(periods.as_of) as as_of,
        tenant_id,
        meter,
        aggregation,
        unit,
        {%- for period, condition in period_filters.items() %}
        sumIf(events, {{ condition }}) as events_{{ period }},
        if(events_{{ period }} = 0, toDecimal128(0, 9), sumIf(quantity, {{ condition }})) as quantity_{{ period }},
        sumIf(bytes, {{ condition }}) as bytes_{{ period }}{{ ',' if not loop.last }}
        {%- endfor %}
    from recomputed
    cross join periods
    group by tenant_id, meter, aggregation, unit
)

select
    as_of,
    tenant_id,
    cast(meter, 'LowCardinality(String)') as meter,
    cast(aggregation, 'LowCardinality(String)') as aggregation,
    cast(unit, 'LowCardinality(String)') as unit,
    {%- for period in period_filters %}
    cast(events_{{ period }}, 'UInt64') as events_{{ period }},
    cast(quantity_{{ period }}, 'Decimal(38, 9)') as quantity_{{ period }},
    cast(bytes_{{ period }}, 'UInt64') as bytes_{{ period }}{{ ',' if not loop.last }}
    {%- endfor %}
from summarized
