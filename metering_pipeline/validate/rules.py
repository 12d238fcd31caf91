"""The validation rules as plain data; `gx_runner` turns them into great-expectations expectations.

Each format adapter brings its own rule list for the columns it reads (ingest/formats);
`rules_for` adds the rules every canonical event obeys: an id, a parseable time inside the
partition's hour, a metered type, valid meter values, and (for attributed formats) an
attribution entry. A line failing several rules gets the reason that comes first in
REASONS, so the verdict names the most basic problem; `unattributed` comes last because
it is fixed in the attribution table, not in the record, and a rerun then accepts it.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

from metering_pipeline.catalog import Catalog

REASONS = (
    "oversized",
    "malformed_json",
    "missing_field",
    "invalid_field",
    "invalid_time",
    "wrong_partition",
    "unknown_event_type",
    "invalid_value",
    "unattributed",
)
FILE_REASONS = ("corrupt_file", "decompression_limit", "unreadable_file")
RFC3339 = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)"
    r"(\.\d{1,9})?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
MAX_ID_LENGTH = 1024
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Rule:
    reason: str
    expectation: str  # a great_expectations.expectations class name
    column: str
    detail: str
    kwargs: dict = field(default_factory=dict, hash=False)

    @property
    def name(self) -> str:
        """Stable, readable id; also the Dagster asset check name."""
        kind = self.expectation.removeprefix("ExpectColumnValue").removeprefix("s").removeprefix("To")
        return _SLUG.sub("_", f"{self.reason}_{self.column}_{kind}".lower()).strip("_")


def value_column(index: int) -> str:
    return f"value_{index}"


def not_null(reason: str, column: str, detail: str) -> Rule:
    return Rule(reason, "ExpectColumnValuesToNotBeNull", column, detail)


def matches(reason: str, column: str, regex: str, detail: str) -> Rule:
    """Non-null values must match `regex`; nulls are left to a not_null rule."""
    return Rule(reason, "ExpectColumnValuesToMatchRegex", column, detail, {"regex": regex})


def value_rules(catalog: Catalog, types: set[str] | None = None) -> list[Rule]:
    """Value rules for the meters of `types` (all when None): other meters see no events here."""
    rules = []
    for index, meter in enumerate(catalog.meters):
        if meter.aggregation == "count" or (types is not None and meter.event_type not in types):
            continue
        column = value_column(index)
        problem = "not a decimal" if meter.missing_value == "skip" else "missing, not a decimal"
        rules.append(
            not_null("invalid_value", column, f"meter {meter.name}: value at {meter.value} is {problem}, or finer than 9 decimal places")
        )
        if meter.aggregation == "sum":
            rules.append(
                Rule(
                    "invalid_value",
                    "ExpectColumnValuesToBeBetween",
                    column,
                    f"meter {meter.name}: value at {meter.value} is negative",
                    {"min_value": 0},
                )
            )
    return rules


def rules_for(
    format_rules: list[Rule], catalog: Catalog, window: tuple[datetime, datetime] | None, attributed: bool, types: set[str] | None = None
) -> list[Rule]:
    """A format's rules, then the canonical ones; `window` None gives the shape only (for check names).

    `types` are the event types present in the batch: meters of other types get no value rules,
    which keeps the GX suite (about 3 ms an expectation) proportional to what the hour holds.
    """
    start, end = window or (None, None)
    rules = list(format_rules) + [
        not_null("missing_field", "id", "no event id could be read"),
        not_null("missing_field", "type", "no event type could be read"),
        Rule(
            "invalid_field",
            "ExpectColumnValueLengthsToBeBetween",
            "id",
            f"the event id must be 1 to {MAX_ID_LENGTH} characters",
            {"min_value": 1, "max_value": MAX_ID_LENGTH},
        ),
        not_null("invalid_time", "time", "time could not be parsed"),
        Rule(
            "wrong_partition",
            "ExpectColumnValuesToBeBetween",
            "time",
            "time is outside the partition's hour",
            {"min_value": start, "max_value": end, "strict_max": True},
        ),
        Rule(
            "unknown_event_type", "ExpectColumnValuesToBeInSet", "type", "no meter uses this event type", {"value_set": catalog.event_types}
        ),
    ]
    rules += value_rules(catalog, types)
    if attributed:
        rules.append(not_null("unattributed", "tenant_id", "no attribution entry covers this key at the record's time"))
    return rules
