with source as (
    select * from {{ source('metering', 'usage_quarter_hourly') }}
),

renamed as (
    select
        hour,
        window_start,
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
