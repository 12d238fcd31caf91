{{
    config(
        unique_key='day',
        order_by='(day, service_id, tenant_id, meter)',
        partition_by='toYYYYMM(day)',
        pre_hook="{{ delete_window('day', 'day', date_column=true) }}",
    )
}}

{#-
  Meters grouped by a service_id dimension, rolled up to the service (other dimensions
  summed out). A unique_count meter is only included when service_id is its only
  dimension: distinct counts of finer groups cannot be added up.
-#}

with daily as (
    select * from {{ ref('usage_daily') }}
    where {{ in_window('day', 'day', date_column=true) }}
        and mapContains(dimensions, 'service_id')
        and (aggregation != 'unique_count' or length(dimensions) = 1)
),

by_service as (
    select
        day,
        dimensions['service_id'] as service_id,
        tenant_id,
        billing_account_id,
        meter,
        event_type,
        aggregation,
        unit,
        {{ rollup_value() }} as value,
        sum(event_count) as event_count,
        sum(bytes_ingested) as bytes_ingested
    from daily
    group by day, service_id, tenant_id, billing_account_id, meter, event_type, aggregation, unit
)

select
    day,
    service_id,
    tenant_id,
    billing_account_id,
    meter,
    event_type,
    aggregation,
    unit,
    cast(value, 'Decimal(38, 9)') as value,
    cast(event_count, 'UInt64') as event_count,
    cast(bytes_ingested, 'UInt64') as bytes_ingested
from by_service
