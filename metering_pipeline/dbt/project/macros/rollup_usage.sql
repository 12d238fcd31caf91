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
    {{ additive_rollup(period_column, period_expr, 'hourly') }}
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
    {{ usage_columns() }}
from unioned
{%- endmacro %}


{#- The one roll-up of count/sum/max/min rows over a period (`rollup_value` by the meter's
    aggregation); unique_count rows are left out, they are recounted (distinct_counts). -#}
{% macro additive_rollup(period_column, period_expr, relation) -%}
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
    from {{ relation }}
    where aggregation != 'unique_count'
    group by {{ period_column }}, tenant_id, billing_account_id, meter, event_type, aggregation, unit, dimensions
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


{#- The typed value columns every usage mart ends with, billing_account_id to bytes_ingested;
    `relation` qualifies the source columns when the select joins (local_usage). -#}
{% macro usage_columns(relation='') -%}
    {%- set q = relation ~ '.' if relation else '' -%}
    {{ q }}billing_account_id as billing_account_id,
    cast({{ q }}meter, 'LowCardinality(String)') as meter,
    cast({{ q }}event_type, 'LowCardinality(String)') as event_type,
    cast({{ q }}aggregation, 'LowCardinality(String)') as aggregation,
    cast({{ q }}unit, 'LowCardinality(String)') as unit,
    {{ q }}dimensions as dimensions,
    cast({{ q }}value, 'Decimal(38, 9)') as value,
    cast({{ q }}event_count, 'UInt64') as event_count,
    cast({{ q }}bytes_ingested, 'UInt64') as bytes_ingested
{%- endmacro %}
