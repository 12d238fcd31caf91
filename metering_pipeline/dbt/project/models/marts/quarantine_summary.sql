{{
    config(
        unique_key='hour',
        order_by='(hour, landing_source, reason)',
        partition_by='toYYYYMMDD(hour)',
        pre_hook="{{ delete_window('hour', 'hour') }}",
    )
}}

with quarantined as (
    select * from {{ ref('stg_metering__quarantine') }}
    where {{ in_window('hour', 'hour') }}
),

summarized as (
    select
        hour,
        landing_source,
        reason,
        count() as lines,
        sum(raw_bytes) as raw_bytes,
        uniqExact(source_file) as files
    from quarantined
    group by hour, landing_source, reason
)

select
    hour,
    cast(landing_source, 'LowCardinality(String)') as landing_source,
    cast(reason, 'LowCardinality(String)') as reason,
    cast(lines, 'UInt64') as lines,
    cast(raw_bytes, 'UInt64') as raw_bytes,
    cast(files, 'UInt64') as files
from summarized
