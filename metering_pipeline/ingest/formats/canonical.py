"""One source's lines as canonical event rows in a staging table: mapped, exploded and attributed once.

Validation, dedup and the line accounting then read plain columns. A multi-event line is
exploded with LEFT ARRAY JOIN, so a line holding no event still yields one row (sub = 0)
that validation rejects: no line can vanish between `lines` and the verdicts. Attribution
is an ASOF JOIN on the record's own time (attribution/stage.py).
"""

from metering_pipeline.attribution import join_attribution
from metering_pipeline.catalog import Catalog
from metering_pipeline.catalog.sql import json_text, meter_value
from metering_pipeline.ingest.formats.mapping import Mapping
from metering_pipeline.validate.prescreen import Frame, value_screen
from metering_pipeline.validate.rules import Rule, value_column

EPOCH = "toDateTime64(0, 6, 'UTC')"
RECORD_STRIDE = 1 << 16  # exploded items per record, in `sub`
MAPPING_SETTINGS = {
    # Unescaped "/" keeps data JSON readable ("httproute/ns/name", "HTTP/2"); both forms are valid JSON.
    "output_format_json_escape_forward_slashes": 0,
    # The per-line parse, the filter on it and the columns read off it stay separate plan steps.
    # Merged (the default), the filter step carries every line's member arrays and the engine
    # evaluates the merged expressions over them: the 1M hour's mapping took 2.56 s, 1.99 s apart.
    "query_plan_merge_expressions": 0,
    # Blocks of 16K lines instead of 64K: each line's member arrays are the bulk of a block, and a
    # quarter of them stays in the CPU's caches from the parse to the reads (1M hour: 1.75 -> 1.53 s
    # for the mapping's SELECT alone). The insert still writes parts of INSERT_BLOCK_BYTES.
    "max_block_size": 16384,
}


def _lines(mapping: Mapping, lines: str) -> str:
    """The source's lines as `raw`, one row per JSON record a line holds (`Mapping.records`).

    `lines` is a relation with the columns of the `lines` work table (load.py), read once:
    the table, or the engine reading the landing files in place (engine.py). Only the lines
    `records_when` picks pay for the split (a batch is rare, plain lines are the hour); the
    others are their own record.
    """
    source = f"SELECT row, source_file, line_no, raw AS line FROM {lines} WHERE landing_source = {{mapped_source:String}}"
    if not mapping.records:
        return f"SELECT row, source_file, line_no, length(line) AS line_bytes, toUInt32(1) AS record_no, line AS raw FROM ({source})"
    records = f"if({mapping.records_when}, {mapping.records}, [line])" if mapping.records_when else mapping.records
    # ARRAY JOIN, not LEFT: a line holding no record leaves no mapped row and is quarantined as malformed.
    return (
        f"SELECT row, source_file, line_no, length(line) AS line_bytes, record_no, record AS raw FROM ({source}) "
        f"ARRAY JOIN {records} AS record, arrayEnumerate({records}) AS record_no"
    )


def _inner(mapping: Mapping, lines: str) -> str:
    """The mapped rows: the record's own columns (its parse) once per record, then explode, then `columns`.

    `sub` orders a line's events (records first, then exploded items) for the first-copy-wins
    dedup; bytes sit on the line's first event, so they sum per line.
    """
    columns = ", ".join(f"{expr} AS `{name}`" for name, expr in mapping.columns.items())
    if mapping.explode:
        per_line = {**mapping.line, "item_list": mapping.explode}
        explode, item_sub = "LEFT ARRAY JOIN item_list AS item, arrayEnumerate(item_list) AS item_sub", "item_sub"
    else:
        explode, item_sub, per_line = "", "toUInt32(0)", mapping.line
    line_columns = "".join(f", {expr} AS `{name}`" for name, expr in per_line.items())
    selected = (
        f"SELECT row, source_file, line_no, line_bytes, record_no, raw{line_columns} "
        f"FROM ({_lines(mapping, lines)}) WHERE {mapping.line_ok}"
    )
    sub = f"toUInt32((record_no - 1) * {RECORD_STRIDE} + {item_sub})"
    return (
        f"SELECT row, source_file, line_no, {sub} AS sub, "
        f"if(record_no = 1 AND {item_sub} <= 1, line_bytes, 0) AS bytes, {columns} FROM ({selected}) {explode}"
    )


def mapped_sql(mapping: Mapping, lines: str, attribution: str | None) -> str:
    """Canonical rows of one source; bytes sit on each line's first event, so they sum per line."""
    inner = _inner(mapping, lines)
    if not mapping.attributed:
        return f"SELECT *, '' AS billing_account_id FROM ({inner})"
    join, attributed = join_attribution(attribution)
    keyed = (
        f"SELECT *, ifNull(attr_kind, '') AS join_kind, ifNull(attr_key, '') AS join_key, ifNull(time, {EPOCH}) AS join_time FROM ({inner})"
    )
    return (
        f"SELECT m.*, if({attributed}, a.tenant_id, NULL) AS tenant_id, "
        f"if({attributed}, a.billing_account_id, NULL) AS billing_account_id FROM ({keyed}) AS m {join}"
    )


def stage_mapped(client, area, role: str, sql: str, params: dict, aliases: dict[str, str] | None = None) -> str:
    """Create a staging table shaped like `sql`'s result and fill it. A column of `aliases`
    (`Mapping.aliases`) is declared `ALIAS` its target, so its values are written once."""
    aliases = aliases or {}
    described = client.query(f"DESCRIBE TABLE ({sql})", parameters=params).result_rows
    table = area.table(
        role, ", ".join(f"`{name}` {kind}" + (f" ALIAS `{aliases[name]}`" if name in aliases else "") for name, kind, *_ in described)
    )
    stored = ", ".join(f"`{name}`" for name, *_ in described if name not in aliases)
    client.command(f"INSERT INTO `{table}` ({stored}) SELECT {stored} FROM ({sql})", parameters=params, settings=MAPPING_SETTINGS)
    return table


def present_types(client, mapped: str) -> set[str]:
    return {t for (t,) in client.query(f"SELECT DISTINCT type FROM `{mapped}` WHERE type IS NOT NULL").result_rows}


def frame(catalog: Catalog, mapped: str, rules: list[Rule], types: set[str]) -> Frame:
    """The batch GX validates: the columns `rules` check, and a checked value column per non-count meter of `types`.

    Each value column comes with its screen, read from the same JSON text (the engine
    extracts it once for both).
    """
    values, params, screens = [], {}, {}
    for index, meter in enumerate(catalog.meters):
        if meter.aggregation == "count" or meter.event_type not in types:
            continue
        expr, p = meter_value(meter, "data", f"m{index}")
        text, _ = json_text("data", meter.value_keys, f"m{index}")
        screen, screen_params = value_screen(meter.aggregation, text)
        params.update(p, **screen_params)
        params[f"t{index}"] = meter.event_type
        checked = f"if(isNull({expr}), NULL, 0)" if meter.aggregation == "unique_count" else f"toFloat64({expr})"
        if meter.missing_value == "skip":  # an absent value passes: the event does not contribute
            checked, screen = f"if(isNull({text}), 0, {checked})", f"(isNotNull({text}) AND {screen})"
        values.append(f"if(type = {{t{index}:String}}, {checked}, 0) AS `{value_column(index)}`")
        screens[value_column(index)] = f"(type = {{t{index}:String}} AND {screen})"
    generated = {value_column(index) for index in range(len(catalog.meters))}
    checked_columns = sorted({rule.column for rule in rules} - generated - {"row"})
    return Frame(["row"] + [f"`{name}`" for name in checked_columns] + values, mapped, params, screens)
