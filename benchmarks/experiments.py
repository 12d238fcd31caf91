"""Candidate optimizations, applied by monkeypatching inside a benchmark worker only.

`python -m benchmarks.run --experiment NAME[,NAME]` runs the ingest (and profile) stages with
them, so a proposal is measured on the same files, in the same harness, before anyone edits
the pipeline. Each keeps the verdicts identical (the run's manifest check says so):

- `gx-narrow`: validate_frame is called once per checked column on a two-column frame
  (row + column), low-cardinality text columns as pandas categoricals. GX's pandas engine
  copies the whole batch through a boolean mask for every metric of every expectation, so
  a narrow batch makes each copy ~10x cheaper; categoricals make the copies of `*_kind`,
  `type`, `source`, `subject` integer takes instead of Arrow string takes.
- `gx-suspects`: the validation frame query keeps only rows that may fail a rule (each rule
  mirrored as a SQL predicate: IS NULL, NOT IN, length outside, NOT match, outside range),
  plus a 1-in-512 guard sample of the rest; GX then validates that small frame. Lines that
  pass every predicate never leave ClickHouse. The guard sample keeps the mirror honest: a
  clean-by-SQL row that GX fails shows up as a verdict (and, in production, should fail loudly).
- `usage-present-meters`: build_usage_hour over the meters whose event type the hour holds
  (one `SELECT DISTINCT type`), instead of one UNION ALL branch per catalog meter.
"""

import dataclasses
import functools
from datetime import datetime

import pandas as pd

GUARD_MODULO = 512
LOW_CARDINALITY = 0.01  # a text column with fewer distinct values than this share of rows becomes categorical


def _rank():
    from metering_pipeline.validate.rules import REASONS

    return {reason: position for position, reason in enumerate(REASONS)}


def _categorical(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy(deep=False)
    for column in out.columns:
        series = out[column]
        if series.dtype == object or str(series.dtype) in ("str", "string"):
            if series.nunique(dropna=True) <= max(16, LOW_CARDINALITY * len(series)):
                out[column] = series.astype("category")
    return out


def narrow_validate(original):
    """validate_frame, one narrow (row + column) batch per column; verdicts merged by reason rank."""

    @functools.wraps(original)
    def validate(frame: pd.DataFrame, rules):
        if frame.empty:
            return original(frame, rules)
        key = "row"
        by_column: dict[str, list[int]] = {}
        for index, rule in enumerate(rules):
            by_column.setdefault(rule.column, []).append(index)
        outcomes = [None] * len(rules)
        parts = []
        for column, indexes in by_column.items():
            narrow = _categorical(frame[[key, column]]) if column != key else frame[[key]]
            found, got = original(narrow, [rules[i] for i in indexes])
            for i, outcome in zip(indexes, got):
                outcomes[i] = outcome
            parts.append(found)
        found = pd.concat(parts, ignore_index=True)
        if len(found):
            rank = _rank()
            found = (found.assign(_rank=found["reason"].map(rank))
                     .sort_values([key, "_rank"], kind="stable")
                     .drop_duplicates(key)
                     .drop(columns="_rank")
                     .reset_index(drop=True))
        return found, outcomes

    return validate


def _sql_literal(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        naive = value.replace(tzinfo=None) if value.tzinfo else value
        return f"toDateTime64('{naive:%Y-%m-%d %H:%M:%S.%f}', 6, 'UTC')"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def rule_predicate(rule) -> str:
    """SQL that is true when a row MAY fail `rule` (exact or wider than GX's own test)."""
    column = f"`{rule.column}`"
    kwargs = rule.kwargs or {}
    if rule.expectation == "ExpectColumnValuesToNotBeNull":
        return f"isNull({column})"
    if rule.expectation == "ExpectColumnValuesToBeInSet":
        values = ", ".join(_sql_literal(v) for v in kwargs.get("value_set", []))
        return f"(isNotNull({column}) AND {column} NOT IN ({values or 'NULL'}))"
    if rule.expectation == "ExpectColumnValueLengthsToBeBetween":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        parts = []
        if low is not None:
            parts.append(f"lengthUTF8({column}) < {int(low)}")
        if high is not None:
            parts.append(f"lengthUTF8({column}) > {int(high)}")
        return f"(isNotNull({column}) AND ({' OR '.join(parts) or '0'}))"
    if rule.expectation == "ExpectColumnValuesToMatchRegex":
        return f"(isNotNull({column}) AND NOT match({column}, {_sql_literal(kwargs['regex'])}))"
    if rule.expectation == "ExpectColumnValuesToBeBetween":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        parts = []
        if low is not None:
            parts.append(f"{column} {'<=' if kwargs.get('strict_min') else '<'} {_sql_literal(low)}")
        if high is not None:
            parts.append(f"{column} {'>=' if kwargs.get('strict_max') else '>'} {_sql_literal(high)}")
        return f"(isNotNull({column}) AND ({' OR '.join(parts) or '0'}))"
    return "1"  # an expectation without a mirror: every row is a suspect


def suspects_frame_sql(original):
    """frame_sql, filtered to the rows that may fail a rule plus a guard sample."""

    @functools.wraps(original)
    def frame_sql(catalog, mapped, rules, types, *args, **kwargs):
        sql, params = original(catalog, mapped, rules, types, *args, **kwargs)
        suspect = " OR ".join(rule_predicate(rule) for rule in rules) or "0"
        return f"SELECT * FROM ({sql}) WHERE ({suspect}) OR cityHash64(row) % {GUARD_MODULO} = 0", params

    return frame_sql


def present_meters_usage(original):
    """build_usage_hour with only the meters whose event type the hour's events hold."""

    @functools.wraps(original)
    def build(client, catalog, hour, *args, **kwargs):
        types = {t for (t,) in client.query(
            "SELECT DISTINCT type FROM events WHERE hour = {h:DateTime('UTC')}",
            parameters={"h": hour.replace(tzinfo=None)}).result_rows}
        meters = tuple(m for m in catalog.meters if m.event_type in types) or catalog.meters[:1]
        return original(client, dataclasses.replace(catalog, meters=meters), hour, *args, **kwargs)

    return build


def apply(names: list[str]) -> list[str]:
    """Patch the pipeline's module globals for the named experiments; returns those applied."""
    import metering_pipeline.ingest.hour as hour_module
    import metering_pipeline.usage.assets as usage_assets
    import metering_pipeline.usage.hour as usage_hour

    applied = []
    for name in names:
        if name == "usage-present-meters" and hasattr(usage_hour, "build_usage_hour"):
            patched = present_meters_usage(usage_hour.build_usage_hour)
            usage_hour.build_usage_hour = patched
            if hasattr(usage_assets, "build_usage_hour"):
                usage_assets.build_usage_hour = patched
            applied.append(name)
            continue
        if name == "gx-narrow" and hasattr(hour_module, "validate_frame"):
            hour_module.validate_frame = narrow_validate(hour_module.validate_frame)
            applied.append(name)
        elif name == "gx-suspects" and hasattr(hour_module, "frame_sql"):
            hour_module.frame_sql = suspects_frame_sql(hour_module.frame_sql)
            applied.append(name)
        elif name:
            raise ValueError(f"experiment {name!r} does not apply to this code (unknown, or its hook is gone)")
    return applied
