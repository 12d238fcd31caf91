"""One hour of ingest: landing files -> canonical events, quarantine and dropped duplicates, swapped in atomically.

Per source, the format adapter maps lines onto canonical rows (ingest/formats/canonical.py)
and the format's great-expectations rules give one verdict per failing line; then the
accepted events of every source are deduplicated together: of each (source, id), the first
by file and line is kept, and every dropped copy is recorded in `duplicates` (ingest/duplicates.py).

Accounting is per line, because lines are what land: lines_read == accepted + duplicates +
quarantined. A line that yields several events (billing-client amounts) is quarantined if
any of its events fails a rule, accepted if at least one of its events is new, and a
duplicate if all of them were seen before. `events` counts the canonical events accepted.
"""

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from metering_pipeline.attribution import stage_attribution
from metering_pipeline.catalog import Catalog
from metering_pipeline.catalog.lifecycle import enforce_published
from metering_pipeline.ingest.accounting import SourceFigures, accepted_by_file, source_figures
from metering_pipeline.ingest.duplicates import (
    DROPPED_KEYS,
    KEYS_SETTINGS,
    DuplicateCounts,
    count_dropped,
    dropped_insert_sql,
    dropped_keys_sql,
    duplicate_lines_on_record,
    not_dropped,
)
from metering_pipeline.ingest.engine import census, engine_read, ensure_unchanged, lines_relations, oversized_detail, raw_head
from metering_pipeline.ingest.formats import format_mapping
from metering_pipeline.ingest.formats.canonical import frame, mapped_sql, present_types, stage_mapped
from metering_pipeline.ingest.landed import record_landed
from metering_pipeline.ingest.load import LINES_COLUMNS, insert_early, load_files
from metering_pipeline.ingest.reader import MAX_DECOMPRESSED_BYTES, MAX_LINE_BYTES
from metering_pipeline.resources.landing import LandingZone, landing_digest
from metering_pipeline.validate.gx_runner import RuleOutcome, validate_frame
from metering_pipeline.validate.prescreen import check_guard, suspects_sql
from metering_pipeline.validate.rules import rules_for
from metering_pipeline.warehouse.staging import staging, swap_partition
from metering_pipeline.warehouse.tables import DUPLICATES, EVENTS, LANDED_FILES, QUARANTINE, ensure_tables
from metering_pipeline.warehouse.topology import release_memory

# The accepted events are kept, so they are written in blocks of up to 64 MiB rather than the
# session's 32 MiB: the 1M hour lands as three parts instead of six, which the engine otherwise
# merges while the next step runs (usage 0.85 -> 0.55 s). Larger blocks cost memory and time:
# 128 MiB raised the 5M hour's peak RSS from 1.45 to 2.1 GiB, and one 256 MiB block is sorted
# on one core (insert 0.5 -> 1.0 s at 1M).
EVENTS_PART_BYTES = 64 << 20
_ROW_COLUMNS = (
    "source, id, type, ifNull(tenant_id, '') AS tenant_id, ifNull(billing_account_id, '') AS billing_account_id, "
    "time, data, bytes, source_file, line_no"
)


@dataclass
class HourReport:
    hour: datetime
    lines_read: int = 0
    accepted: int = 0  # lines with at least one new event
    duplicates: int = 0  # valid lines whose every event was seen before
    events: int = 0  # canonical events accepted
    quarantined: Counter = field(default_factory=Counter)
    files: int = 0
    bytes_read: int = 0
    tenants: int = 0
    seconds: float = 0.0
    rules: list[RuleOutcome] = field(default_factory=list)
    fingerprint: str = ""  # landing_digest of the hour's file set
    engine_files: int = 0  # files ClickHouse read in place (ingest/engine.py)
    fallback: dict[str, str] = field(default_factory=dict)  # files the Python reader read instead, and why
    dropped: DuplicateCounts = field(default_factory=DuplicateCounts)  # dropped copies (events), in `duplicates`
    duplicates_on_record: int | None = None  # duplicate lines as the swapped tables hold them
    by_source: dict[str, SourceFigures] = field(default_factory=dict)  # the same accounting per landing source

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def reconciles(self) -> bool:
        return self.lines_read == self.accepted + self.duplicates + self.quarantined_total and self.duplicates_match

    @property
    def duplicates_match(self) -> bool:
        return self.duplicates_on_record is None or self.duplicates_on_record == self.duplicates


def _not_judged(mapped: str, verdicts: str) -> str:
    return f"FROM `{mapped}` WHERE row NOT IN (SELECT row FROM `{verdicts}`)"


def _lines_of(mapped: str) -> str:
    """The lines that left a row in `mapped`, as one compressed bitmap of `row`s. A line's `row` is
    its file's index and its line number, so the bitmap is a few dense runs per file: a few MiB
    for the 20M hour, where a hash set of the rows (NOT IN) held more than a GiB."""
    return f"(SELECT groupBitmapState(row) FROM `{mapped}`)"


def _accepted_sql(catalog: Catalog, mapped: list[str], verdicts: str, events: str, keys: str, dropped: str) -> tuple[str, tuple, str]:
    """The dedup step (its rule is in ingest/duplicates.py): the INSERT naming the dropped copies in
    `keys`, the INSERT recording them in `dropped` (a staging `duplicates`), and the INSERT of the
    accepted rows into `events`: every valid row `keys` does not name."""
    branches = [_not_judged(m, verdicts) for m in mapped]
    rows = " UNION ALL ".join(f"SELECT row, sub, {_ROW_COLUMNS} {branch}" for branch in branches)
    accepted = f"""
        INSERT INTO `{events}` (source, id, type, tenant_id, billing_account_id, time, hour, data, bytes, source_file, line_no, loaded_at)
        SELECT source, id, type, tenant_id, billing_account_id, time, {{hour:DateTime('UTC')}}, data, bytes, source_file, line_no,
               {{loaded_at:DateTime('UTC')}}
        FROM ({rows}) WHERE {not_dropped(keys)}
    """
    return dropped_keys_sql(branches, keys), dropped_insert_sql(catalog, branches, _ROW_COLUMNS, keys, dropped), accepted


def _quarantine_sql(sources: list, relation, verdicts: str, quarantine: str, max_line: int) -> tuple[str, dict]:
    """Each source's rejected lines in one pass over its lines: those GX judged (their verdict),
    malformed ones, which are exactly the lines that left no row in the source's mapped table
    (found by that absence, so no line is parsed again here), and, when the engine read the
    file, lines over max_line (the Python reader quarantines those before they are stored).

    An `unattributed` line's detail names what was looked up, read off its mapped row (the first
    unattributed event of the line): the kind, key and time that no entry covers, or, when no key
    could be read, the mapping's `attr_lookup` column (what the record held where the key was
    sought) if it has one. A rule's detail is one text for every line, and "no entry covers this
    key" does not tell an operator which entry to add.

    `tenant_ids` are the tenants the rejected line's events resolved to (the record's own tenant
    or its attribution), so `explain` finds a tenant's rejected lines without the tenant id
    having to appear in the line; empty when none resolved (malformed, unattributed, oversized).
    """
    parts, params = [], {"qmax": max_line}
    for i, (source, mapping, mapped) in enumerate(sources):
        lines, relation_params = relation(source.name, True)
        params.update(relation_params)
        detail, join = f"ifNull(v.detail, {mapping.parse_detail})", ""
        if mapping.attributed:
            lookup = "attr_lookup" if "attr_lookup" in mapping.columns else "''"
            join = (
                f"LEFT ANY JOIN (SELECT row, argMin(join_kind, sub) AS kind, argMin(join_key, sub) AS key, "
                f"argMin(join_time, sub) AS at, argMin({lookup}, sub) AS looked FROM `{mapped}` "
                f"WHERE tenant_id IS NULL AND row IN (SELECT row FROM `{verdicts}` WHERE reason = 'unattributed') "
                "GROUP BY row) AS u ON l.row = u.row "
            )
            detail = (
                f"multiIf(v.reason != 'unattributed' OR u.row IS NULL, {detail}, u.key != '', "
                "concat('no attribution entry covers kind ', u.kind, ' key ', u.key, ' at ', "
                "formatDateTime(u.at, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC')), "
                f"u.looked != '', u.looked, {detail})"
            )
        oversized = "length(l.raw) > {qmax:UInt64}"
        join += (
            "LEFT ANY JOIN (SELECT row, arraySort(groupUniqArray(tenant_id)) AS tenants FROM "
            f"`{mapped}` WHERE notEmpty(ifNull(tenant_id, '')) AND row IN (SELECT row FROM `{verdicts}`) "
            "GROUP BY row) AS t ON l.row = t.row "
        )
        parts.append(
            f"SELECT {{hour:DateTime('UTC')}}, landing_source, source_file, line_no, "
            f"if({oversized}, 'oversized', ifNull(v.reason, 'malformed_json')), "
            f"if({oversized}, {oversized_detail('l.raw')}, {detail}), {raw_head('raw')}, length(raw), "
            f"{{loaded_at:DateTime('UTC')}}, if({oversized} OR t.row IS NULL, [], t.tenants) "
            f"FROM {lines} AS l LEFT ANY JOIN `{verdicts}` AS v ON l.row = v.row {join}"
            f"WHERE landing_source = {{q{i}:String}} AND (isNotNull(v.row) OR NOT bitmapContains({_lines_of(mapped)}, l.row))"
        )
        params[f"q{i}"] = source.name
    sql = (
        f"INSERT INTO `{quarantine}` (hour, landing_source, source_file, line_no, reason, detail, raw, raw_bytes, loaded_at, tenant_ids) "
        + " UNION ALL ".join(parts)
    )
    return sql, params


def _map_sources(client, area, catalog: Catalog, present, relation, verdicts: str, window, report: HourReport) -> list:
    """Map, attribute and validate each source that has lines; verdicts go to `verdicts`."""
    attribution, done = None, []
    for index, source in present:
        mapping = format_mapping(source, f"s{index}")
        if mapping.attributed and attribution is None:
            attribution = stage_attribution(client, area, catalog.attribution, window)
        lines, relation_params = relation(source.name, False)
        params = {**mapping.params, **relation_params, "mapped_source": source.name}
        mapped = stage_mapped(client, area, f"mapped_{index}", mapped_sql(mapping, lines, attribution), params, mapping.aliases)
        types = present_types(client, mapped)
        rules = rules_for(mapping.rules, catalog, window, mapping.attributed, types)
        sql, params = suspects_sql(frame(catalog, mapped, rules, types), rules)
        batch = client.query_arrow(sql, parameters=params).to_pandas()
        found, outcomes = validate_frame(batch, rules)
        check_guard(batch, found)
        rows = client.command(f"SELECT count() FROM `{mapped}`")
        report.rules.extend(RuleOutcome(o.rule, rows, o.failed) for o in outcomes)
        if len(found):
            client.insert_arrow(verdicts, pa.Table.from_pandas(found, preserve_index=False))
        release_memory(client)
        done.append((source, mapping, mapped))
    return done


def ingest_hour(
    client,
    landing: LandingZone,
    catalog: Catalog,
    hour: datetime,
    reader: str = "python",
    cluster: str = "",
    collection: str = "",
    **limits,
) -> HourReport:
    """Rebuild `events`, `quarantine`, `duplicates` and `landed_files` for one hour from whatever its landing folders hold now.

    `reader` is how the landing files are read: "python" (reader.py into a `lines` work table),
    or the engine's table function reading them in place, "file", "s3" or "s3Cluster"
    (engine.py; `cluster` names the cluster, `collection` a server's named collection holding
    the S3 credentials). The engine hands the files it cannot treat exactly like the Python
    reader to it, file by file (`HourReport.fallback`).
    """
    started = time.monotonic()
    report = HourReport(hour=hour)
    ensure_tables(client, EVENTS, QUARANTINE, DUPLICATES, LANDED_FILES)
    enforce_published(client, catalog)
    loaded_at = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    params = {"hour": hour.replace(tzinfo=None), "loaded_at": loaded_at}
    max_line = limits.get("max_line", MAX_LINE_BYTES)
    with staging(client) as area:
        lines = area.table("lines", LINES_COLUMNS)
        verdicts = area.table("verdicts", "row UInt64, reason LowCardinality(String), detail String")
        events, quarantine, dropped = area.like(EVENTS), area.like(QUARANTINE), area.like(DUPLICATES)
        landed_files = area.like(LANDED_FILES)
        landed = sorted(((s.name, f) for s in catalog.sources for f in landing.list_hour(s.name, hour)), key=lambda p: p[1].name)
        read = None
        if reader != "python":
            read = engine_read(landing, landed, hour, reader, cluster, collection, max_line)
            census(client, read, limits.get("max_decompressed", MAX_DECOMPRESSED_BYTES))
            release_memory(client)
            report.engine_files, report.fallback = len(read.engine_files), dict(read.fallback)
        loaded = load_files(client, landing, landed, lines, only=None if read is None else set(read.fallback), **limits)
        report.files, report.bytes_read = len(loaded.files), loaded.stored_bytes
        report.fingerprint = landing_digest(loaded.files)
        per_source = dict(client.query(f"SELECT landing_source, count() FROM `{lines}` GROUP BY landing_source").result_rows)
        for source, count in (read.lines if read else {}).items():
            per_source[source] = per_source.get(source, 0) + count
        report.lines_read = sum(per_source.values()) + len(loaded.early)
        record_landed(client, landed_files, lines, loaded, hour, loaded_at, read.file_lines if read else {})
        relation = lines_relations(read, lines, [s.name for s in catalog.sources], loaded_any=bool(read and read.fallback))
        present = [(i, s) for i, s in enumerate(catalog.sources) if per_source.get(s.name)]
        done = _map_sources(client, area, catalog, present, relation, verdicts, (hour, hour + timedelta(hours=1)), report)
        valid = 0
        if done:
            keys = area.table("dropped_keys", DROPPED_KEYS)
            keys_sql, (dropped_sql, dropped_params), accepted_sql = _accepted_sql(
                catalog, [m for _, _, m in done], verdicts, events, keys, dropped
            )
            client.command(keys_sql, settings=KEYS_SETTINGS)
            client.command(dropped_sql, parameters={**params, **dropped_params})
            release_memory(client)
            client.command(accepted_sql, parameters=params, settings={"min_insert_block_size_bytes": EVENTS_PART_BYTES})
            release_memory(client)
            report.dropped = count_dropped(client, dropped)
            sql, names = _quarantine_sql(done, relation, verdicts, quarantine, max_line)
            client.command(sql, parameters={**params, **names}, settings={"join_use_nulls": 1})
            release_memory(client)
            # distinct lines without a verdict, counted in a bitmap of rows (see _lines_of)
            valid = sum(client.command(f"SELECT groupBitmap(row) {_not_judged(m, verdicts)}") for _, _, m in done)
        if loaded.early:
            insert_early(client, quarantine, loaded.early, hour, loaded_at)
        accepted = accepted_by_file(client, events)
        accepted_lines, report.events = sum(f.lines for f in accepted), sum(f.events for f in accepted)
        report.tenants = client.command(f"SELECT uniqExact(tenant_id) FROM `{events}`")
        report.accepted, report.duplicates = accepted_lines, valid - accepted_lines
        for reason, count in client.query(f"SELECT reason, count() FROM `{quarantine}` GROUP BY reason").result_rows:
            report.quarantined[reason] = count
        report.by_source = source_figures(client, events, accepted, quarantine, dropped, landed_files)
        if read is not None:
            ensure_unchanged(landing, read, hour)
        swap_partition(client, EVENTS, events, hour)
        swap_partition(client, QUARANTINE, quarantine, hour)
        swap_partition(client, DUPLICATES, dropped, hour)
        swap_partition(client, LANDED_FILES, landed_files, hour)
        report.duplicates_on_record = duplicate_lines_on_record(client, hour)
    report.seconds = time.monotonic() - started
    return report
