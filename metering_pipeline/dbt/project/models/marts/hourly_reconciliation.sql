{{
    config(
        unique_key='hour',
        order_by='(hour, landing_source)',
        partition_by='toYYYYMMDD(hour)',
        pre_hook="{{ delete_window('hour', 'hour') }}",
    )
}}

{#-
  The reconciliation report (metering_pipeline/provenance/reconcile.py computes the same
  figures for `metering-pipeline reconcile`): per hour and landing source, lines read tied to
  their outcomes. Export figures are the hour's, from export_revisions once the export has
  created it (an hour not exported yet has 0 records and 0 revisions).
-#}
{%- set revisions = load_relation(source('metering', 'export_revisions')) if execute else none %}
-- depends_on: {{ source('metering', 'export_revisions') }}

with files as (
    select hour, landing_source, count() as files, sum(bytes) as bytes, sum(lines_read) as lines_read
    from {{ ref('stg_metering__landed_files') }}
    where {{ in_window('hour', 'hour') }}
    group by hour, landing_source
),

events as (
    select hour, splitByChar('/', source_file)[1] as landing_source, source_file, line_no
    from {{ ref('stg_metering__events') }}
    where {{ in_window('hour', 'hour') }}
),

accepted as (
    select hour, landing_source, uniqExact(source_file, line_no) as accepted, count() as events
    from events
    group by hour, landing_source
),

dropped as (
    select * from {{ ref('stg_metering__duplicates') }}
    where {{ in_window('hour', 'hour') }}
),

duplicate_lines as (
    select
        hour,
        landing_source,
        uniqExactIf(
            (source_file, line_no),
            (hour, source_file, line_no) not in (
                select hour, source_file, line_no from events
                where source_file in (select source_file from dropped)
            )
        ) as duplicates,
        countIf(identical) as duplicates_identical,
        countIf(not identical) as duplicates_conflicting
    from dropped
    group by hour, landing_source
),

quarantined_reasons as (
    select hour, toString(landing_source) as landing_source, toString(reason) as reason, count() as lines
    from {{ ref('stg_metering__quarantine') }}
    where {{ in_window('hour', 'hour') }}
    group by hour, landing_source, reason
    order by reason
),

quarantined as (
    select
        hour,
        landing_source,
        sum(lines) as quarantined,
        mapFromArrays(groupArray(reason), groupArray(lines)) as quarantined_by_reason
    from quarantined_reasons
    group by hour, landing_source
),

exported as (
    {% if revisions %}
    select hour, sum(records) as exported_records, count() as revisions
    from {{ revisions }} final
    where {{ in_window('hour', 'hour') }}
    group by hour
    {% else %}
    select toDateTime(0, 'UTC') as hour, toUInt64(0) as exported_records, toUInt64(0) as revisions where 0
    {% endif %}
)

select
    f.hour as hour,
    cast(f.landing_source, 'LowCardinality(String)') as landing_source,
    cast(f.files, 'UInt64') as files,
    cast(f.bytes, 'UInt64') as bytes,
    cast(f.lines_read, 'UInt64') as lines_read,
    cast(a.accepted, 'UInt64') as accepted,
    cast(d.duplicates, 'UInt64') as duplicates,
    cast(d.duplicates_identical, 'UInt64') as duplicates_identical,
    cast(d.duplicates_conflicting, 'UInt64') as duplicates_conflicting,
    cast(q.quarantined, 'UInt64') as quarantined,
    cast(q.quarantined_by_reason, 'Map(String, UInt64)') as quarantined_by_reason,
    cast(a.events, 'UInt64') as events,
    cast(e.exported_records, 'UInt64') as exported_records,
    cast(e.revisions, 'UInt64') as revisions,
    toInt64(f.lines_read) - toInt64(a.accepted) - toInt64(d.duplicates) - toInt64(q.quarantined) as unaccounted
from files as f
left join accepted as a on a.hour = f.hour and a.landing_source = f.landing_source
left join duplicate_lines as d on d.hour = f.hour and d.landing_source = f.landing_source
left join quarantined as q on q.hour = f.hour and q.landing_source = f.landing_source
left join exported as e on e.hour = f.hour
