{{
    config(
        materialized='table',
        order_by='(tenant_id, meter)',
    )
}}

{#-
  Rebuilt on every run, as of the end of the latest hour in usage_hourly (not the wall
  clock: reruns are deterministic). Per tenant and meter, across billing accounts and
  dimensions: additive/max/min meters from the hourly rows, unique_count meters
  recomputed from the events of each period.
-#}

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

hourly as (
    select hourly.*, periods.*
    from {{ ref('stg_metering__usage_hourly') }} as hourly
    cross join periods
    where hourly.hour >= periods.previous_month_start
        and hourly.hour < periods.as_of
        and hourly.aggregation != 'unique_count'
),

unique_meter_events as (
    select unique_meter_events.*, periods.*
    from {{ ref('int_unique_meter_events') }} as unique_meter_events
    cross join periods
    where unique_meter_events.hour >= periods.previous_month_start
        and unique_meter_events.hour < periods.as_of
),

{%- set period_filters = {
    'last_24h': "hour >= last_24h_start",
    'month_to_date': "hour >= month_start",
    'previous_month': "hour < month_start",
} %}

additive as (
    select
        any(as_of) as as_of,
        tenant_id,
        meter,
        aggregation,
        unit,
        {%- for period, condition in period_filters.items() %}
        sumIf(event_count, {{ condition }}) as events_{{ period }},
        if(
            events_{{ period }} = 0,
            toDecimal128(0, 9),
            multiIf(
                aggregation in ('count', 'sum'), sumIf(value, {{ condition }}),
                aggregation = 'max', maxIf(value, {{ condition }}),
                minIf(value, {{ condition }})
            )
        ) as quantity_{{ period }},
        sumIf(bytes_ingested, {{ condition }}) as bytes_{{ period }}{{ ',' if not loop.last }}
        {%- endfor %}
    from hourly
    group by tenant_id, meter, aggregation, unit
),

distinct_counts as (
    select
        any(as_of) as as_of,
        tenant_id,
        meter,
        'unique_count' as aggregation,
        unit,
        {%- for period, condition in period_filters.items() %}
        countIf({{ condition }}) as events_{{ period }},
        toDecimal128(uniqExactIf(distinct_value, {{ condition }}), 9) as quantity_{{ period }},
        sumIf(bytes, {{ condition }}) as bytes_{{ period }}{{ ',' if not loop.last }}
        {%- endfor %}
    from unique_meter_events
    group by tenant_id, meter, unit
),

unioned as (
    select * from additive
    union all
    select * from distinct_counts
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
from unioned
