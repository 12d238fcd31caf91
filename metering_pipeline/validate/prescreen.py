"""ClickHouse pre-screens the batch so great-expectations validates only what may fail.

Each GX rule is mirrored by a SQL predicate that is true whenever the rule *may* fail
(exactly, or wider). Rows no predicate flags never leave ClickHouse; the rest (the
suspects, ~1-2 % of a real hour) go to GX, which decides every verdict. A deterministic
1-in-GUARD_MODULO sample of the unflagged rows goes along: if GX ever rejects one of
them, the mirror has drifted from the suite, and the hour fails loudly instead of
accepting lines GX would refuse. Values are bound parameters, never SQL text.
"""

from datetime import datetime

from metering_pipeline.validate.rules import Rule

GUARD_MODULO = 512
GUARD_COLUMN = "prescreen_guard"


class PrescreenDrift(RuntimeError):
    """GX rejected a row the SQL mirror had passed: the mirror no longer matches the suite."""


def _bound(value, name: str) -> tuple[str, dict]:
    if isinstance(value, datetime):
        return f"{{{name}:DateTime64(6, 'UTC')}}", {name: value.replace(tzinfo=None)}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{{{name}:Float64}}", {name: float(value)}
    return f"{{{name}:String}}", {name: str(value)}


def rule_predicate(rule: Rule, name: str) -> tuple[str, dict]:
    """SQL true when a row may fail `rule`; rules without a mirror flag every row."""
    column, kwargs = f"`{rule.column}`", rule.kwargs or {}
    if rule.expectation == "ExpectColumnValuesToNotBeNull":
        return f"isNull({column})", {}
    if rule.expectation == "ExpectColumnValuesToBeInSet":
        values = [str(v) for v in kwargs.get("value_set", [])]
        return f"(isNotNull({column}) AND NOT has({{{name}:Array(String)}}, toString({column})))", {name: values}
    if rule.expectation == "ExpectColumnValuesToMatchRegex":
        return f"(isNotNull({column}) AND NOT match({column}, {{{name}:String}}))", {name: kwargs["regex"]}
    bounds, params = [], {}
    if rule.expectation == "ExpectColumnValueLengthsToBeBetween":
        column = f"lengthUTF8({column})"
    elif rule.expectation != "ExpectColumnValuesToBeBetween":
        return "1", {}
    for side, op, strict_op in (("min_value", "<", "<="), ("max_value", ">", ">=")):
        if kwargs.get(side) is not None:
            placeholder, p = _bound(kwargs[side], f"{name}_{side[:3]}")
            strict = kwargs.get("strict_min" if side == "min_value" else "strict_max")
            bounds.append(f"{column} {strict_op if strict else op} {placeholder}")
            params.update(p)
    return f"(isNotNull(`{rule.column}`) AND ({' OR '.join(bounds) or '0'}))", params


def suspects_sql(frame_sql: str, rules: list[Rule]) -> tuple[str, dict]:
    """Wrap the frame query: suspects plus the guard sample, flagged in GUARD_COLUMN."""
    predicates, params = [], {}
    for index, rule in enumerate(rules):
        sql, p = rule_predicate(rule, f"pre{index}")
        predicates.append(sql)
        params.update(p)
    suspect = " OR ".join(predicates) or "0"
    sql = (f"SELECT * FROM (SELECT *, NOT ({suspect}) AS {GUARD_COLUMN} FROM ({frame_sql})) "
           f"WHERE NOT {GUARD_COLUMN} OR cityHash64(row) % {GUARD_MODULO} = 0")
    return sql, params


def check_guard(frame, verdicts) -> None:
    """Fail the hour if GX rejected any guard-sample row (one the SQL mirror had passed).

    Verdicts are per line (`row`) while a multi-event line (billing-client amounts) has one
    frame row per event: a line counts as passed by the mirror only if none of its events
    was flagged, otherwise GX rejecting it is the pre-screen working, not drift.
    """
    if frame.empty or verdicts.empty:
        return
    passed = frame[GUARD_COLUMN].astype(bool).groupby(frame["row"]).all()
    guarded = set(passed.index[passed].tolist())
    drifted = guarded & set(verdicts["row"].tolist())
    if drifted:
        raise PrescreenDrift(f"GX rejected {len(drifted)} rows the SQL pre-screen passed, e.g. row {min(drifted)}")
