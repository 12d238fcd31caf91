"""ClickHouse pre-screens the batch so great-expectations validates only what may fail.

Each GX rule is mirrored by a SQL predicate that is true whenever the rule *may* fail
(exactly, or wider). Rows no predicate flags never leave ClickHouse; the rest (the
suspects, ~1-2 % of a real hour) go to GX, which decides every verdict. A deterministic
1-in-GUARD_MODULO sample of the unflagged rows goes along: if GX ever rejects one of
them, the mirror has drifted from the suite, and the hour fails loudly instead of
accepting lines GX would refuse. Values are bound parameters, never SQL text.
"""

from dataclasses import dataclass, field
from datetime import datetime

from metering_pipeline.validate.rules import Rule

GUARD_MODULO = 512
GUARD_COLUMN = "prescreen_guard"
# Meter value texts that json_decimal turns into a value exactly: at most 20 integer digits
# (Decimal(38, 9) holds 29) and at most 9 decimal places; a sum's values also carry no sign.
PLAIN_DECIMAL = r"^[0-9]{1,20}(\.[0-9]{1,9})?$"
SIGNED_DECIMAL = r"^-?[0-9]{1,20}(\.[0-9]{1,9})?$"


@dataclass
class Frame:
    """The batch GX validates: `columns` selected from `table`.

    `screens` maps a column to a SQL predicate that is true wherever any rule on that column
    may fail; it stands in for those rules' own mirrors, and lets the column itself be
    computed for the suspects only.
    """

    columns: list[str]
    table: str
    params: dict
    screens: dict[str, str] = field(default_factory=dict)


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
        return f"(isNotNull({column}) AND toString({column}) NOT IN {{{name}:Array(String)}})", {name: values}
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


def value_screen(aggregation: str, text: str) -> tuple[str, dict]:
    """True where a meter value's rules (rules.value_rules) may fail, judged from its JSON text.

    Converting every value to an exact decimal was most of the pre-screen's cost; a plain
    decimal text always converts, so only the other texts need the conversion, and GX.
    """
    if aggregation == "unique_count":
        return f"isNull({text})", {}
    name = "screen_plain" if aggregation == "sum" else "screen_signed"
    return f"NOT match(ifNull({text}, ''), {{{name}:String}})", {name: PLAIN_DECIMAL if aggregation == "sum" else SIGNED_DECIMAL}


def suspects_sql(frame: Frame, rules: list[Rule]) -> tuple[str, dict]:
    """The frame's suspects plus the guard sample, flagged in GUARD_COLUMN."""
    predicates, params = list(frame.screens.values()), dict(frame.params)
    for index, rule in enumerate(rules):
        if rule.column not in frame.screens:
            sql, p = rule_predicate(rule, f"pre{index}")
            predicates.append(sql)
            params.update(p)
    suspect = " OR ".join(predicates) or "0"
    sql = (
        f"SELECT {', '.join(frame.columns)}, NOT ({suspect}) AS {GUARD_COLUMN} FROM `{frame.table}` "
        f"WHERE NOT {GUARD_COLUMN} OR cityHash64(row) % {GUARD_MODULO} = 0"
    )
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
