"""One rule for every format: the same hostile values in the same roles get the same verdict everywhere.

Each format's base record is a real one from its fixture folder (see each SOURCES.md). Into it go
the same values, in three roles every format has: the dedup key, the tenant / attribution key,
and the quantity. The rule (README, "What each line becomes"):

- absent, null or blank (empty or only whitespace) -> `missing_field`, for every key of every format
  (Envoy's route is the exception the README names: no route is `unattributed`, Envoy's own
  report of a request no route matched);
- a JSON type the producer never writes for the field -> `invalid_field`;
- the right type but not a usable quantity -> `invalid_value`.

Quantities follow each producer's own types: CloudEvents meter values may be numbers or numeric
strings (the README asks for strings beyond 15 digits) and a missing one is `invalid_value` (a
meter's value, not a format field); Envoy's first generation writes every count as a string and
unset counts as 0; the Data API's `usage` (a Java long) and billing-client amounts (int64) are
JSON integers.
"""

import json
from datetime import datetime

import pytest

from metering_pipeline.ingest.assets import ingest
from metering_pipeline_tests.fixtures.landing import FIXTURES, HOUR_PATH, fill_attribution_table
from metering_pipeline_tests.support.events import event, query, run_hour


class _Absent:
    """The field left out of the record. Its repr names the test case, so it must be the same in
    every process that collects the tests (pytest-xdist's workers compare their collections)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()
SINCE = datetime(2026, 1, 1)


def _first(folder: str, name: str, index: int = 0) -> dict:
    return json.loads((FIXTURES / folder / name).read_text().splitlines()[index])


# format -> (landing source, base record, key path, tenant path(s), quantity path)
FORMATS = {
    "cloudevents": ("events", event("base"), ("id",), [("subject",)], ("data", "bytes_sent")),
    "envoy": (
        "envoy-gateway",
        _first("envoy", "gateway-a.ndjson", 1),
        ("x-request-id",),
        [("route_name",), ("upstream_cluster",)],
        ("bytes_sent",),
    ),
    "billing_event": (
        "billing-client",
        {**_first("billing_client", "client-a.ndjson"), "occurred_at": "2026-11-22T10:05:00Z", "amounts": {"container-seconds": 60}},
        ("unique_key",),
        [("internal_instance_id",)],
        ("amounts", "container-seconds"),
    ),
    "billing_record": (
        "billing-client",
        _first("billing_client", "fluentd-json.ndjson"),
        ("unique_key",),
        [("internal_instance_id",)],
        ("amount_value",),
    ),
    "data_api": (
        "data-api",
        _first("data_api", "current-release.ndjson"),
        ("id",),
        [("properties", "resource_id")],
        ("properties", "usage"),
    ),
}
ATTRIBUTION = [
    ("httproute", "team-a/web", "acme", "ba-acme", SINCE, None),
    ("instance", "1001", "acme", "ba-acme", SINCE, None),
    ("resource", "0f3c9e2a-7b41-4d8e-9c25-61a7f0b4d3e8", "acme", "ba-acme", SINCE, None),
]

BLANKS = [ABSENT, None, "", "   ", "\t \n"]
KEYS = BLANKS + [42, {"a": 1}, ["k"], True]
QUANTITIES = BLANKS + ["12", 12.5, -1, "abc", {}, True, 9223372036854775808]

ALL = tuple(FORMATS)
MISSING = {f: "missing_field" for f in ALL}
WRONG_TYPE = {f: "invalid_field" for f in ALL}
EXPECTED = {
    # (role, value) -> {format: verdict}
    **{("key", repr(v)): MISSING for v in BLANKS},
    **{("key", repr(v)): WRONG_TYPE for v in KEYS if v not in BLANKS},
    **{("tenant", repr(v)): {**MISSING, "envoy": "unattributed"} for v in BLANKS},
    **{("tenant", repr(v)): WRONG_TYPE for v in KEYS if v not in BLANKS},
}
_INTEGER_PRODUCERS = ("billing_event", "billing_record", "data_api")
for value, cloudevents, envoy, integer in [
    (ABSENT, "invalid_value", "accepted", "missing_field"),
    (None, "invalid_value", "accepted", "missing_field"),
    ("", "invalid_value", "accepted", "missing_field"),
    ("   ", "invalid_value", "accepted", "missing_field"),
    ("\t \n", "invalid_value", "accepted", "missing_field"),
    ("12", "accepted", "accepted", "invalid_field"),
    (12.5, "accepted", "invalid_value", "invalid_value"),
    (-1, "invalid_value", "invalid_value", "invalid_value"),
    ("abc", "invalid_value", "invalid_value", "invalid_field"),
    ({}, "invalid_value", "invalid_field", "invalid_field"),
    (True, "invalid_value", "invalid_field", "invalid_field"),
    (9223372036854775808, "accepted", "invalid_value", "invalid_value"),
]:
    EXPECTED[("quantity", repr(value))] = {"cloudevents": cloudevents, "envoy": envoy, **{f: integer for f in _INTEGER_PRODUCERS}}


def _set(record: dict, path: tuple[str, ...], value) -> dict:
    record = json.loads(json.dumps(record))
    target = record
    for key in path[:-1]:
        target = target[key]
    if value is ABSENT:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return record


def _unique(fmt: str, record: dict, n: int) -> dict:
    """A fresh dedup key per line, so no line is another's duplicate."""
    fresh = f"{fmt}-{n}" + (f":{record['amount_type']}" if fmt == "billing_record" else "")
    return _set(record, FORMATS[fmt][2], fresh)


def _cases():
    cases = []
    for fmt, (source, base, key, tenants, quantity) in FORMATS.items():
        for role, values in (("key", KEYS), ("tenant", KEYS), ("quantity", QUANTITIES)):
            for value in values:
                record = _unique(fmt, base, len(cases))
                for path in {"key": [key], "tenant": tenants, "quantity": [quantity]}[role]:
                    record = _set(record, path, value)
                cases.append((fmt, source, role, repr(value), json.dumps(record)))
        cases.append((fmt, source, "base", "base", json.dumps(_unique(fmt, base, len(cases)))))
    return cases


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    """Every case in one hour: {(format, role, value): verdict}."""
    from metering_pipeline.resources import CatalogResource, ClickHouseResource, LandingZone

    root = tmp_path_factory.mktemp("one-rule")
    clickhouse = ClickHouseResource(url=f"chdb://{root / 'ch'}", lock_timeout_seconds=30)
    cases, where = _cases(), {}
    for source in {c[1] for c in cases}:
        folder = root / "landing" / source / HOUR_PATH
        folder.mkdir(parents=True)
        mine = [c for c in cases if c[1] == source]
        (folder / "cases.ndjson").write_text("".join(c[4] + "\n" for c in mine))
        where.update({(source, n): (c[0], c[2], c[3]) for n, c in enumerate(mine, start=1)})
    fill_attribution_table(clickhouse, ATTRIBUTION)
    run_hour(clickhouse, LandingZone(url=str(root / "landing")), CatalogResource(), assets=[ingest])
    found = {key: "accepted" for key in where.values()}
    for source_file, line_no, reason in query(clickhouse, "SELECT source_file, line_no, reason FROM quarantine"):
        found[where[(source_file.split("/")[0], line_no)]] = reason
    return found


@pytest.mark.parametrize("fmt", ALL)
def test_base_record_is_accepted(verdicts, fmt):
    assert verdicts[(fmt, "base", "base")] == "accepted"


@pytest.mark.parametrize("role, value", sorted(EXPECTED))
def test_same_value_same_verdict_in_every_format(verdicts, role, value):
    got = {fmt: verdicts[(fmt, role, value)] for fmt in ALL}
    assert got == EXPECTED[(role, value)]
