"""One hour of ingest: landing files -> validated, deduplicated events and quarantine, swapped in atomically."""

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pyarrow as pa

from metering_pipeline.catalog import Catalog
from metering_pipeline.catalog.sql import meter_value
from metering_pipeline.ingest.formats import format_module
from metering_pipeline.ingest.load import LINES_COLUMNS, load_files
from metering_pipeline.resources.landing import LandingZone
from metering_pipeline.validate.gx_runner import RuleOutcome, validate_frame
from metering_pipeline.validate.rules import cloudevents_rules, value_column
from metering_pipeline.warehouse.staging import staging, swap_partition
from metering_pipeline.warehouse.tables import EVENTS, QUARANTINE, ensure_tables

KEEP_RAW_BYTES = 64 << 10


@dataclass
class HourReport:
    hour: datetime
    lines_read: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: Counter = field(default_factory=Counter)
    files: int = 0
    bytes_read: int = 0
    tenants: int = 0
    seconds: float = 0.0
    rules: list[RuleOutcome] = field(default_factory=list)
    fingerprint: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def reconciles(self) -> bool:
        return self.lines_read == self.accepted + self.duplicates + self.quarantined_total


def _frame_sql(catalog: Catalog, fmt, lines: str) -> tuple[str, dict]:
    """The batch GX validates: canonical columns plus one checked value column per non-count meter."""
    columns = {name: expr for name, expr in fmt.columns().items() if name != "data"}
    inner = [f"{expr} AS `{name}`" for name, expr in columns.items()]
    outer = ["row"] + [f"`{name}`" for name in columns]
    params: dict = {}
    for index, meter in enumerate(catalog.meters):
        if meter.aggregation == "count":
            continue
        expr, p = meter_value(meter, "raw", f"m{index}", prefix=("data",))
        params.update(p)
        params[f"t{index}"] = meter.event_type
        inner.append(f"{expr} AS `raw_value_{index}`")
        checked = f"if(isNull(raw_value_{index}), NULL, 0)" if meter.aggregation == "unique_count" else f"toFloat64(raw_value_{index})"
        outer.append(f"if(type = {{t{index}:String}}, {checked}, 0) AS `{value_column(index)}`")
    sql = (
        f"SELECT {', '.join(outer)} FROM (SELECT row, {', '.join(inner)} FROM `{lines}` "
        f"WHERE landing_source IN {{sources:Array(String)}} AND {fmt.PARSE_OK})"
    )
    return sql, params


def _accepted_sql(fmt, lines: str, verdicts: str, events: str) -> str:
    cols = {name: fmt.columns()[column] for name, column in fmt.CANONICAL.items()}
    return f"""
        INSERT INTO `{events}` (source, id, type, tenant_id, time, hour, data, bytes, source_file, line_no, loaded_at)
        SELECT source, id, type, tenant_id, time, {{hour:DateTime('UTC')}}, data, bytes, source_file, line_no,
               {{loaded_at:DateTime('UTC')}}
        FROM (
            SELECT row, source_file, line_no, length(raw) AS bytes,
                   {cols['source']} AS source, {cols['id']} AS id, {cols['type']} AS type,
                   {cols['tenant_id']} AS tenant_id, {cols['time']} AS time, {cols['data']} AS data
            FROM `{lines}`
            WHERE landing_source IN {{sources:Array(String)}} AND {fmt.PARSE_OK}
              AND row NOT IN (SELECT row FROM `{verdicts}`)
        )
        ORDER BY row
        LIMIT 1 BY source, id
    """


def _valid_count_sql(fmt, lines: str, verdicts: str) -> str:
    return (
        f"SELECT count() FROM `{lines}` WHERE landing_source IN {{sources:Array(String)}} AND {fmt.PARSE_OK} "
        f"AND row NOT IN (SELECT row FROM `{verdicts}`)"
    )


def _quarantine_sql(fmt, lines: str, verdicts: str, quarantine: str) -> str:
    common = "{hour:DateTime('UTC')}, landing_source, source_file, line_no"
    tail = f"substring(raw, 1, {KEEP_RAW_BYTES}), length(raw), {{loaded_at:DateTime('UTC')}}"
    return f"""
        INSERT INTO `{quarantine}` (hour, landing_source, source_file, line_no, reason, detail, raw, raw_bytes, loaded_at)
        SELECT {common}, 'malformed_json', {fmt.PARSE_DETAIL}, {tail}
        FROM `{lines}` WHERE landing_source IN {{sources:Array(String)}} AND NOT ({fmt.PARSE_OK})
        UNION ALL
        SELECT {common}, v.reason, v.detail, {tail}
        FROM `{lines}` AS l INNER JOIN `{verdicts}` AS v ON l.row = v.row
        WHERE landing_source IN {{sources:Array(String)}}
    """


def ingest_hour(client, landing: LandingZone, catalog: Catalog, hour: datetime, **limits) -> HourReport:
    """Rebuild `events` and `quarantine` for one hour from whatever its landing folders hold now."""
    started = time.monotonic()
    report = HourReport(hour=hour)
    ensure_tables(client, EVENTS, QUARANTINE)
    loaded_at = datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)
    window = (hour, hour + timedelta(hours=1))
    by_format: dict[str, list[str]] = {}
    for source in catalog.sources:
        by_format.setdefault(source.format, []).append(source.name)
    with staging(client) as area:
        lines = area.table("lines", LINES_COLUMNS)
        chunk = area.table("chunk", "blob String")
        verdicts = area.table("verdicts", "row UInt64, reason LowCardinality(String), detail String")
        events, quarantine = area.like(EVENTS), area.like(QUARANTINE)
        landed = [(s.name, f) for s in catalog.sources for f in landing.list_hour(s.name, hour)]
        loaded = load_files(client, landing, landed, lines, chunk, **limits)
        report.files = len(loaded.files)
        report.bytes_read = loaded.stored_bytes
        report.fingerprint = sorted((f.name, f.size, f.version) for f in loaded.files)
        report.lines_read = client.command(f"SELECT count() FROM `{lines}`") + len(loaded.early)
        params_base = {"hour": hour.replace(tzinfo=None), "loaded_at": loaded_at}
        valid = 0
        for fmt_name, source_names in by_format.items():
            fmt = format_module(fmt_name)
            params = {**params_base, "sources": source_names}
            frame_sql, frame_params = _frame_sql(catalog, fmt, lines)
            frame = client.query_arrow(frame_sql, parameters={**params, **frame_params}).to_pandas()
            found, outcomes = validate_frame(frame, cloudevents_rules(catalog, window))
            report.rules.extend(outcomes)
            if len(found):
                client.insert_arrow(verdicts, pa.Table.from_pandas(found, preserve_index=False))
            client.command(_accepted_sql(fmt, lines, verdicts, events), parameters=params)
            client.command(_quarantine_sql(fmt, lines, verdicts, quarantine), parameters=params)
            valid += client.command(_valid_count_sql(fmt, lines, verdicts), parameters=params)
        if loaded.early:
            _insert_early(client, quarantine, loaded.early, hour, loaded_at)
        report.accepted = client.command(f"SELECT count() FROM `{events}`")
        report.duplicates = valid - report.accepted
        for reason, count in client.query(f"SELECT reason, count() FROM `{quarantine}` GROUP BY reason").result_rows:
            report.quarantined[reason] = count
        report.tenants = client.command(f"SELECT uniqExact(tenant_id) FROM `{events}`")
        swap_partition(client, EVENTS, events, hour)
        swap_partition(client, QUARANTINE, quarantine, hour)
    report.seconds = time.monotonic() - started
    return report


def _insert_early(client, quarantine: str, early, hour: datetime, loaded_at: datetime) -> None:
    client.insert(
        quarantine,
        [[hour.replace(tzinfo=None), e.landing_source, e.source_file, e.line_no, e.reason, e.detail, e.raw[:KEEP_RAW_BYTES], e.raw_bytes, loaded_at] for e in early],
        column_names=["hour", "landing_source", "source_file", "line_no", "reason", "detail", "raw", "raw_bytes", "loaded_at"],
    )
