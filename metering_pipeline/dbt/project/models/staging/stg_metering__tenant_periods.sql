with source as (
    select * from {{ source('metering', 'tenant_periods') }}
),

renamed as (
    select
        hour,
        tenant_id,
        kind as period_kind,
        label as period_label,
        period_start,
        period_end,
        timezone,
        anchor_day
    from source
)

select * from renamed
