{#- Body of the tenant-local marts (usage_local_daily, usage_billing_periods): see macros/local_usage.yml. -#}
{% macro local_usage(kind, label_column) -%}
with periods as (
    select distinct tenant_id, period_label, period_start, period_end, timezone, anchor_day
    from {{ ref('stg_metering__tenant_periods') }}
    where period_kind = {{ sql_string(kind) }} and {{ in_window('hour', 'hour') }}
),

bounds as (
    select min(period_start) as first_start, max(period_end) as last_end from periods
),

windows as (
    select * from {{ ref('stg_metering__usage_quarter_hourly') }}
    where hour >= toStartOfHour((select first_start from bounds)) and hour < (select last_end from bounds)
        and tenant_id in (select tenant_id from periods)
),

{#- Each window in the period that holds it: the latest period start at or before it, if the window is before its end. -#}
placed_windows as (
    select windows.*, periods.period_start as placed_period, periods.period_end as placed_end
    from windows
    asof inner join periods
        on windows.tenant_id = periods.tenant_id and windows.window_start >= periods.period_start
    where windows.window_start < placed_end
),

additive as (
    {{ additive_rollup('period_start', 'placed_period', 'placed_windows') }}
),

period_events as (
    select *, toDateTime(event_time, 'UTC') as placed_at
    from {{ ref('int_unique_meter_events') }}
    where hour >= toStartOfHour((select first_start from bounds)) and hour < (select last_end from bounds)
        and tenant_id in (select tenant_id from periods)
),

{#- unique_count: each event in its local period by its exact time, recounted over the period. -#}
unique_meter_events as (
    select period_events.*, periods.period_start as placed_period, periods.period_end as placed_end
    from period_events
    asof inner join periods
        on period_events.tenant_id = periods.tenant_id and period_events.placed_at >= periods.period_start
    where period_events.placed_at < placed_end
),

distinct_counts as (
    {{ distinct_counts('period_start', 'placed_period') }}
),

unioned as (
    select * from additive
    union all
    select * from distinct_counts
)

select
    periods.period_label as {{ label_column }},
    unioned.tenant_id as tenant_id,
    cast(periods.timezone, 'LowCardinality(String)') as timezone,
    {%- if kind == 'billing_period' %}
    periods.anchor_day as anchor_day,
    {%- endif %}
    unioned.period_start as period_start,
    periods.period_end as period_end,
    {{ usage_columns('unioned') }}
from unioned
inner join periods
    on unioned.tenant_id = periods.tenant_id and unioned.period_start = periods.period_start
{%- endmacro %}


{#-
  Pre-hook of the local marts: delete the stored periods that overlap the run's window, of every
  tenant with period rows for the window's hours (tenant_periods: usage in the hour, a calendar,
  or period rows before a rerun); the run then appends exactly those periods rebuilt, so a rerun
  or late file that changes one hour rebuilds every local day and billing period around it, and a
  period whose usage disappeared is gone. Other tenants had nothing in the window: kept as they are.
-#}
{% macro delete_overlapping_periods(kind) -%}
  {%- if is_incremental() -%}
    delete from {{ this }}
    where period_end > {{ window_start('hour') }} and period_start < {{ window_end('hour') }}
        and tenant_id in (
            select tenant_id from {{ ref('stg_metering__tenant_periods') }}
            where period_kind = {{ sql_string(kind) }} and {{ in_window('hour', 'hour') }}
        )
  {%- endif -%}
{%- endmacro %}
