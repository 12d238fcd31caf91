{#- Body of the period marts (usage_daily, usage_monthly): see macros/rollup_usage.yml. -#}
{% macro rollup_usage(period_column, period_expr, grain) -%}
with hourly as (
    select * from {{ ref('stg_metering__usage_hourly') }}
    where {{ in_window('hour', grain) }}
),

unique_meter_events as (
    select * from {{ ref('int_unique_meter_events') }}
    where {{ in_window('hour', grain) }}
),

rolled_up as (
    select
        {{ period_expr }} as {{ period_column }},
        tenant_id,
        billing_account_id,
        meter,
        event_type,
        aggregation,
        unit,
        dimensions,
        {{ rollup_value() }} as value,
        sum(event_count) as event_count,
        sum(bytes_ingested) as bytes_ingested
    from hourly
    where aggregation != 'unique_count'
    group by {{ period_column }}, tenant_id, billing_account_id, meter, event_type, aggregation, unit, dimensions
),

distinct_counts as (
    {{ distinct_counts(period_column, period_expr) }}
),

unioned as (
    select * from rolled_up
    union all
    select * from distinct_counts
)

select
    {{ period_column }},
    tenant_id,
    billing_account_id,
    cast(meter, 'LowCardinality(String)') as meter,
    cast(event_type, 'LowCardinality(String)') as event_type,
    cast(aggregation, 'LowCardinality(String)') as aggregation,
    cast(unit, 'LowCardinality(String)') as unit,
    dimensions,
    cast(value, 'Decimal(38, 9)') as value,
    cast(event_count, 'UInt64') as event_count,
    cast(bytes_ingested, 'UInt64') as bytes_ingested
from unioned
{%- endmacro %}


{#- The one unique_count rule: uniqExact over the period's meter events, never a sum of finer counts.
    `unique_meter_events` is a CTE of int_unique_meter_events rows already cut to what is recounted. -#}
{% macro distinct_counts(period_column, period_expr, events='unique_meter_events') -%}
    select
        {{ period_expr }} as {{ period_column }},
        tenant_id,
        billing_account_id,
        meter,
        event_type,
        'unique_count' as aggregation,
        unit,
        dimensions,
        toDecimal128(uniqExact(distinct_value), 9) as value,
        count() as event_count,
        sum(bytes) as bytes_ingested
    from {{ events }}
    group by {{ period_column }}, tenant_id, billing_account_id, meter, event_type, unit, dimensions
{%- endmacro %}
