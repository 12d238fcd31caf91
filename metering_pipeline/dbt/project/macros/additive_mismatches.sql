{#-
  Body of the singular tests "a period's additive total equals the sum of its hours":
  for count and sum meters, the mart's value, event count and bytes per (period, tenant,
  billing account, meter, dimensions) against the sum of usage_hourly over the same
  periods of the run's window. Returns the groups that differ or exist on one side only.
-#}
{% macro additive_mismatches(mart, period_column, grain) %}
{%- set period_of_hour = {'day': 'toDate(hour)', 'month': 'toStartOfMonth(hour)'}[grain] -%}

with hourly as (
    select
        'hourly' as side,
        {{ period_of_hour }} as period,
        tenant_id,
        billing_account_id,
        meter,
        toString(dimensions) as dimensions_key,
        value,
        event_count,
        bytes_ingested
    from {{ source('metering', 'usage_hourly') }}
    where {{ in_window('hour', grain) }}
        and aggregation in ('count', 'sum')
),

mart as (
    select
        'mart' as side,
        {{ period_column }} as period,
        tenant_id,
        billing_account_id,
        meter,
        toString(dimensions) as dimensions_key,
        value,
        event_count,
        bytes_ingested
    from {{ mart }}
    where {{ in_window(period_column, grain, date_column=true) }}
        and aggregation in ('count', 'sum')
),

both_sides as (
    select * from hourly
    union all
    select * from mart
),

compared as (
    select
        period,
        tenant_id,
        billing_account_id,
        meter,
        dimensions_key,
        countIf(side = 'hourly') as hourly_rows,
        countIf(side = 'mart') as mart_rows,
        sumIf(value, side = 'hourly') as hourly_value,
        sumIf(value, side = 'mart') as mart_value,
        sumIf(event_count, side = 'hourly') as hourly_event_count,
        sumIf(event_count, side = 'mart') as mart_event_count,
        sumIf(bytes_ingested, side = 'hourly') as hourly_bytes,
        sumIf(bytes_ingested, side = 'mart') as mart_bytes
    from both_sides
    group by period, tenant_id, billing_account_id, meter, dimensions_key
)

select * from compared
where hourly_rows = 0
    or mart_rows != 1
    or hourly_value != mart_value
    or hourly_event_count != mart_event_count
    or hourly_bytes != mart_bytes
{% endmacro %}
