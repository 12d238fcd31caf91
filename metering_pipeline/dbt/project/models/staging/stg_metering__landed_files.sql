with source as (
    select * from {{ source('metering', 'landed_files') }}
),

renamed as (
    select
        hour,
        landing_source,
        source_file,
        bytes,
        version,
        lines_read,
        loaded_at
    from source
)

select * from renamed
