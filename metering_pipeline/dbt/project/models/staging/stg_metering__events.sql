with source as (
    select * from {{ source('metering', 'events') }}
),

renamed as (
    select
        source as event_source,
        id as event_id,
        type as event_type,
        tenant_id,
        billing_account_id,
        time as event_time,
        hour,
        data,
        bytes,
        source_file,
        line_no,
        loaded_at
    from source
)

select * from renamed
