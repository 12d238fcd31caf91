{#- Body of the usage staging views (stg_metering__usage_hourly, stg_metering__usage_quarter_hourly): see macros/stg_usage.yml. -#}
{% macro stg_usage(table, window_columns=[]) -%}
with source as (
    select * from {{ source('metering', table) }}
),

renamed as (
    select
        hour,
        {%- for column in window_columns %}
        {{ column }},
        {%- endfor %}
        tenant_id,
        billing_account_id,
        meter,
        event_type,
        aggregation,
        unit,
        dimensions,
        value,
        event_count,
        bytes_ingested,
        loaded_at
    from source
)

select * from renamed
{%- endmacro %}
