{#-
  One row per (event, unique_count meter): the value whose distinct count the meter
  reports. Meters come from the dbt var unique_meters, built from the catalog:
  {meter: {event_type, unit, value: [json keys], dimensions: {name: [json keys]}}}.
  Consumers filter on `hour`; ClickHouse pushes the filter down to the events table.
-#}
{%- if execute and var('unique_meters') is none -%}
    {{ exceptions.raise_compiler_error(
        "dbt var unique_meters is missing: pass the catalog's meters, e.g. "
        ~ "dbt build --vars \"$(python -m metering_pipeline.dbt.vars 2025-03-10-06:00)\""
    ) }}
{%- endif -%}
{%- set unique_meters = var('unique_meters') or {} -%}

with events as (
    select * from {{ ref('stg_metering__events') }}
),

{% if unique_meters %}
meter_events as (
    {%- for name, meter in unique_meters | dictsort %}
    select
        hour,
        event_time,
        tenant_id,
        billing_account_id,
        {{ sql_string(name) }} as meter,
        event_type,
        {{ sql_string(meter['unit']) }} as unit,
        {{ meter_dimensions('data', meter.get('dimensions') or {}) }} as dimensions,
        {{ json_text('data', meter['value']) }} as distinct_value,
        bytes
    from events
    where event_type = {{ sql_string(meter['event_type']) }}
      and {{ json_text('data', meter['value']) }} is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)
{% else %}
meter_events as (
    select
        hour,
        event_time,
        tenant_id,
        billing_account_id,
        '' as meter,
        event_type,
        '' as unit,
        cast(map(), 'Map(String, String)') as dimensions,
        cast(null, 'Nullable(String)') as distinct_value,
        bytes
    from events
    where 0
)
{% endif %}

select * from meter_events
