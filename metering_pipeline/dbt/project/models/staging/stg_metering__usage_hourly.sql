with source as (
    select * from {{ source('metering', 'usage_hourly') }}
),

renamed as (
    select
        hour,
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
