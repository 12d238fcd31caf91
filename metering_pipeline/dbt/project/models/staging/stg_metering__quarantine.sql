with source as (
    select * from {{ source('metering', 'quarantine') }}
),

renamed as (
    select
        hour,
        landing_source,
        source_file,
        line_no,
        reason,
        detail,
        raw_bytes,
        loaded_at
    from source
)

select * from renamed
