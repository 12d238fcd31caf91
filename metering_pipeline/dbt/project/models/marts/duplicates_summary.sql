{{
    config(
        unique_key='hour',
        order_by='(hour, landing_source, tenant_id)',
        partition_by='toYYYYMMDD(hour)',
        pre_hook="{{ delete_window('hour', 'hour') }}",
    )
}}

with dropped as (
    select * from {{ ref('stg_metering__duplicates') }}
    where {{ in_window('hour', 'hour') }}
),

summarized as (
    select
        hour,
        landing_source,
        tenant_id,
        count() as dropped_copies,
        countIf(identical) as identical_copies,
        countIf(not identical) as conflicting_copies,
        uniqExact(source_file, line_no) as lines,
        uniqExactIf(event_id, not identical) as conflicting_ids
    from dropped
    group by hour, landing_source, tenant_id
)

select
    hour,
    cast(landing_source, 'LowCardinality(String)') as landing_source,
    tenant_id,
    cast(dropped_copies, 'UInt64') as dropped_copies,
    cast(identical_copies, 'UInt64') as identical_copies,
    cast(conflicting_copies, 'UInt64') as conflicting_copies,
    cast(lines, 'UInt64') as lines,
    cast(conflicting_ids, 'UInt64') as conflicting_ids
from summarized
