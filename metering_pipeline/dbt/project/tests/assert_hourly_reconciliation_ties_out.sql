{#-
  Every line read has exactly one outcome, and the report's figures are still the tables'
  (a stale incremental window would differ): per hour of the run's window, lines read,
  accepted events and quarantined lines recounted from the staging views.
-#}
{{ config(meta={'dagster': {'ref': {'name': 'hourly_reconciliation'}}}) }}

with report as (
    select hour, sum(lines_read) as lines_read, sum(events) as events, sum(quarantined) as quarantined,
           sum(abs(unaccounted)) as unaccounted
    from {{ ref('hourly_reconciliation') }}
    where {{ in_window('hour', 'hour') }}
    group by hour
),

read as (
    select hour, sum(lines_read) as lines_read
    from {{ ref('stg_metering__landed_files') }}
    where {{ in_window('hour', 'hour') }}
    group by hour
),

events as (
    select hour, count() as events
    from {{ ref('stg_metering__events') }}
    where {{ in_window('hour', 'hour') }}
    group by hour
),

quarantined as (
    select hour, count() as quarantined
    from {{ ref('stg_metering__quarantine') }}
    where {{ in_window('hour', 'hour') }}
    group by hour
)

select
    coalesce(r.hour, l.hour) as hour,
    r.unaccounted,
    r.lines_read as report_lines_read,
    l.lines_read as table_lines_read,
    r.events as report_events,
    e.events as table_events,
    r.quarantined as report_quarantined,
    q.quarantined as table_quarantined
from report as r
full outer join read as l on l.hour = r.hour
left join events as e on e.hour = coalesce(r.hour, l.hour)
left join quarantined as q on q.hour = coalesce(r.hour, l.hour)
where r.unaccounted != 0
   or r.lines_read != l.lines_read
   or r.events != e.events
   or r.quarantined != q.quarantined
