"""The validation rules as plain data, built from the catalog; `gx_suite` turns them into GX expectations.

Each rule names the quarantine reason its failures map to. A line failing several rules
gets the reason that comes first in REASONS, so the verdict is the most basic problem.
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
)
FILE_REASONS = ("corrupt_file", "decompression_limit", "unreadable_file")
RFC3339 = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
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


def cloudevents_rules(catalog: Catalog, window: tuple[datetime, datetime] | None) -> list[Rule]:
    """Rules for the canonical columns; `window` None gives the shape only (for check names)."""
    fields = ("specversion", "id", "source", "type", "subject", "time")
    rules = [Rule("missing_field", "ExpectColumnValuesToNotBeNull", f"{f}_kind", f"required field '{f}' is missing or null") for f in fields]
    rules += [
        Rule("invalid_field", "ExpectColumnValuesToBeInSet", f"{f}_kind", f"field '{f}' must be a string", {"value_set": ["String"]})
        for f in fields
    ]
    rules.append(Rule("invalid_field", "ExpectColumnValuesToBeInSet", "specversion", "specversion must be '1.0'", {"value_set": ["1.0"]}))
    rules += [
        Rule("invalid_field", "ExpectColumnValueLengthsToBeBetween", f, f"field '{f}' must be 1 to {MAX_ID_LENGTH} characters",
             {"min_value": 1, "max_value": MAX_ID_LENGTH})
        for f in ("id", "source", "type", "subject")
    ]
    rules.append(Rule("invalid_field", "ExpectColumnValuesToBeInSet", "data_kind", "field 'data' must be an object", {"value_set": ["Object"]}))
    rules.append(Rule("invalid_time", "ExpectColumnValuesToMatchRegex", "time_text", "time is not RFC 3339", {"regex": RFC3339}))
    rules.append(Rule("invalid_time", "ExpectColumnValuesToNotBeNull", "time_parsed", "time could not be parsed"))
    start, end = window or (None, None)
    rules.append(
        Rule("wrong_partition", "ExpectColumnValuesToBeBetween", "time_parsed", "time is outside the partition's hour",
             {"min_value": start, "max_value": end, "strict_max": True})
    )
    rules.append(
        Rule("unknown_event_type", "ExpectColumnValuesToBeInSet", "type", "no meter uses this event type",
             {"value_set": catalog.event_types})
    )
    for index, meter in enumerate(catalog.meters):
        if meter.aggregation == "count":
            continue
        column = value_column(index)
        rules.append(Rule("invalid_value", "ExpectColumnValuesToNotBeNull", column,
                          f"meter {meter.name}: value at {meter.value} is missing or not a finite decimal"))
        if meter.aggregation == "sum":
            rules.append(Rule("invalid_value", "ExpectColumnValuesToBeBetween", column,
                              f"meter {meter.name}: value at {meter.value} is negative", {"min_value": 0}))
    return rules
