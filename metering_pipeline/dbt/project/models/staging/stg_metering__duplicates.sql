with source as (
    select * from {{ source('metering', 'duplicates') }}
),

renamed as (
    select
        hour,
        splitByChar('/', source_file)[1] as landing_source,
        source as event_source,
        id as event_id,
        type as event_type,
        tenant_id,
        billing_account_id,
        time as event_time,
        source_file,
        line_no,
        sub,
        kept_file,
        kept_line_no,
        kept_sub,
        identical,
        loaded_at
    from source
)

select * from renamed
