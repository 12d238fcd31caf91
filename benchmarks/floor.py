"""The engine floor: one chDB SQL statement doing the hour's essential work, nothing else.

It reads the same landed files (plain and gzip, through `file()`), parses each line once,
keeps plausible events of the catalog's types inside the hour, deduplicates on (source, id)
and aggregates every meter per tenant and hour (Decimal sums, uniqExact), with one grouping
set per distinct group_by of the catalog. No quarantine, no per-rule verdicts, no staging
tables, no atomic swap: the pipeline does more, and the ratio says how much more it pays.

Two variants:
- `line` (the reference): `LineAsString` + one `JSONExtract` into a typed tuple per line.
  Line-exact, like the pipeline: a broken line never affects its neighbours.
- `jsoneachrow` (reported for comparison, the FIELD_NOTES measurement): the `JSONEachRow`
  input format with an explicit schema and `input_format_allow_errors_ratio`. Faster, but
  not line-exact: a truncated object swallows the next line, so a few good events are lost.
"""

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from metering_pipeline.catalog import Catalog

REQUIRED = ("specversion", "id", "source", "type", "subject", "time")
MAX_LINE_BYTES = 1 << 20


def floor_meters(catalog: Catalog, event_types=None) -> list:
    """The catalog's meters the floor aggregates: those of `event_types` (all when None)."""
    return [m for m in catalog.meters if event_types is None or m.event_type in event_types]


def _data_keys(meters) -> list[str]:
    keys: list[str] = []
    for meter in meters:
        paths = ([meter.value_keys] if meter.value else []) + list(meter.dimension_keys.values())
        for path in paths:
            if len(path) != 1:
                raise ValueError(f"the floor supports single-key JSONPaths only, meter {meter.name} has {path}")
            if path[0] not in keys:
                keys.append(path[0])
    return keys


def _grouping_sets(meters) -> list[tuple[str, ...]]:
    sets: list[tuple[str, ...]] = []
    for meter in meters:
        dims = tuple(sorted(k[0] for k in meter.dimension_keys.values()))
        if dims not in sets:
            sets.append(dims)
    return sets


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _lit(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def floor_sql(
    catalog: Catalog, glob: str, hour: datetime, variant: str = "line", event_types=None, function: str = "file"
) -> tuple[str, dict, dict]:
    """(sql, parameters, settings) of the floor statement over the files matching `glob`, read with
    `function` (file, or s3 for the S3 row: the same statement over the same bytes served by S3)."""
    if function not in ("file", "s3"):
        raise ValueError(f"unknown floor table function {function!r}")
    meters = floor_meters(catalog, event_types)
    keys = _data_keys(meters)
    sets = _grouping_sets(meters)
    data_type = "Tuple(" + ", ".join(f"{_q(k)} Nullable(String)" for k in keys) + ")"
    top = ", ".join(f"{f} Nullable(String)" for f in REQUIRED)
    params = {
        "glob": glob,
        "start": hour.replace(tzinfo=None),
        "end": (hour + timedelta(hours=1)).replace(tzinfo=None),
        "types": sorted({m.event_type for m in meters}),
    }
    if variant == "line":
        source = (
            f"(SELECT JSONExtract(line, 'Tuple({top}, data {data_type})') AS e "
            f"FROM {function}({{glob:String}}, 'LineAsString') WHERE length(line) <= {MAX_LINE_BYTES})"
        )
        field = {f: f"tupleElement(e, '{f}')" for f in REQUIRED}
        datum = {k: f"tupleElement(tupleElement(e, 'data'), {_lit(k)})" for k in keys}
        settings: dict = {}
    elif variant == "jsoneachrow":
        source = f"{function}({{glob:String}}, 'JSONEachRow', '{top}, data {data_type}')"
        field = {f: f for f in REQUIRED}
        datum = {k: f"tupleElement(data, {_lit(k)})" for k in keys}
        settings = {"input_format_allow_errors_ratio": 0.2, "input_format_allow_errors_num": 1 << 40}
    else:
        raise ValueError(f"unknown floor variant {variant!r}")

    columns = [
        f"{field['source']} AS source",
        f"{field['id']} AS id",
        f"{field['type']} AS type",
        f"{field['subject']} AS tenant_id",
        f"parseDateTime64BestEffortOrNull({field['time']}, 6, 'UTC') AS t",
        "toStartOfHour(t) AS hour",
    ]
    columns += [f"{datum[k]} AS {_q('d_' + k)}" for k in keys]
    where = " AND ".join(
        [f"{field['specversion']} = '1.0'"]
        + [f"notEmpty(ifNull({field[f]}, ''))" for f in ("id", "source", "subject")]
        + [f"{field['type']} IN {{types:Array(String)}}", "t >= {start:DateTime64(6, 'UTC')}", "t < {end:DateTime64(6, 'UTC')}"]
    )
    aggregates = ["count() AS events"]
    for index, meter in enumerate(meters):
        params[f"t{index}"] = meter.event_type
        if meter.aggregation == "count":
            continue
        column = _q("d_" + meter.value_keys[0])
        if meter.aggregation == "unique_count":
            aggregates.append(f"uniqExactIf({column}, type = {{t{index}:String}} AND {column} IS NOT NULL) AS m{index}")
        else:
            aggregates.append(f"{meter.aggregation}If(toDecimal128OrNull({column}, 9), type = {{t{index}:String}}) AS m{index}")
    dims = [k for k in keys if any(k in s for s in sets)]
    grouping = [f"grouping({_q('d_' + k)}) AS {_q('g_' + k)}" for k in dims]
    set_sql = ", ".join("(" + ", ".join(["tenant_id", "hour", "type"] + [_q("d_" + d) for d in group]) + ")" for group in sets)
    sql = f"""
        SELECT tenant_id, hour, type, {", ".join([_q("d_" + k) for k in dims] + grouping + aggregates)}
        FROM (
            SELECT {", ".join(columns)} FROM {source}
            WHERE {where}
            LIMIT 1 BY source, id
        )
        GROUP BY GROUPING SETS ({set_sql})
    """
    return sql, params, settings


def meter_totals(meters, result) -> dict[str, Decimal]:
    """Per-meter totals over tenants and dimensions from the floor's grouping-set rows."""
    names = list(result.column_names)
    flags = [n for n in names if n.startswith("g_")]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in result.result_rows:
        record = dict(zip(names, row))
        # grouping(col) is 0 when the column is a key of the row's grouping set (standard SQL semantics).
        in_set = tuple(sorted(g[2:] for g in flags if record[g] == 0))
        for index, meter in enumerate(meters):
            dims = tuple(sorted(k[0] for k in meter.dimension_keys.values()))
            if dims != in_set or record["type"] != meter.event_type:
                continue
            if meter.aggregation == "count":
                totals[meter.name] += Decimal(record["events"])
            elif record[f"m{index}"] is not None:
                totals[meter.name] += Decimal(record[f"m{index}"])
    return dict(totals)


def run_floor(client, catalog: Catalog, glob: str, hour: datetime, variant: str = "line", event_types=None, function: str = "file"):
    """Run the floor statement; returns (rows, events aggregated, per-meter totals)."""
    sql, params, settings = floor_sql(catalog, glob, hour, variant, event_types, function)
    result = client.query(sql, parameters=params, settings=settings)
    meters = floor_meters(catalog, event_types)
    by_type = defaultdict(int)
    first_set = _grouping_sets(meters)[0]
    flags = [n for n in result.column_names if n.startswith("g_")]
    for row in result.result_rows:
        record = dict(zip(result.column_names, row))
        if tuple(sorted(g[2:] for g in flags if record[g] == 0)) == first_set:
            by_type[record["type"]] += record["events"]
    return len(result.result_rows), sum(by_type.values()), meter_totals(meters, result)
