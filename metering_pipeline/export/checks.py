"""The export's asset checks, per hour; each returns a list of problems (empty when the check passes).

They re-derive their facts independently of the export code path: sums come from
ClickHouse aggregations, objects from listing the store, expectations from manifests.
"""

from metering_pipeline.export.chunks import Limits
from metering_pipeline.export.grain import HOUR, Grain
from metering_pipeline.export.layout import manifest_key
from metering_pipeline.export.ledger import LEDGER, committed_revisions, ledger_tables
from metering_pipeline.export.records import Window
from metering_pipeline.export.store import hour_manifests, hour_objects

LEDGER_MATCHES_USAGE = "ledger_matches_usage"
OBJECTS_MATCH_MANIFESTS = "objects_match_manifests"
OBJECTS_WITHIN_LIMITS = "objects_within_limits"

_SUMS = (
    "SELECT meter, tenant_id, billing_account_id, dimensions, toString({start}), sum({value}), toInt64(sum(event_count)) "
    "FROM `{table}` {final}WHERE hour = {{hour:DateTime('UTC')}} "
    "GROUP BY meter, tenant_id, billing_account_id, dimensions, {start}"
)


def _sums(client, table: str, start: str, value: str, final: str, window: Window) -> dict:
    sql = _SUMS.format(start=start, value=value, table=table, final=final)
    rows = client.query(sql, parameters={"hour": window.start.replace(tzinfo=None)})
    return {(m, t, a, tuple(sorted(d.items())), w): (q, c) for m, t, a, d, w, q, c in rows.result_rows if q or c}


def ledger_mismatches(client, window: Window, grain: Grain = HOUR) -> list[str]:
    """Keys x windows whose (quantity, event_count) summed over revisions differ from the grain's usage now."""
    usage = _sums(client, grain.usage_table, grain.usage_window, "value", "", window)
    ledger = _sums(client, ledger_tables(grain)[LEDGER], "window_start", "quantity", "FINAL ", window)
    return [
        f"{window.partition_key} {key}: usage {usage.get(key)} != exported {ledger.get(key)}"
        for key in sorted(usage.keys() | ledger.keys())
        if usage.get(key) != ledger.get(key)
    ]


def object_mismatches(
    window: Window, revisions: set[int], manifests: dict[str, dict], listed: dict[str, int], grain: Grain = HOUR
) -> list[str]:
    """Manifests vs committed revisions, and objects listed vs objects the manifests name."""
    expected = {manifest_key(window.start, r, grain.suffix) for r in revisions}
    problems = [f"{window.partition_key}: manifest missing: {k}" for k in sorted(expected - manifests.keys())]
    problems += [f"{window.partition_key}: manifest of no committed revision: {k}" for k in sorted(manifests.keys() - expected)]
    named = {o["key"]: o for m in manifests.values() for o in m["objects"]}
    problems += [f"{window.partition_key}: object missing: {k}" for k in sorted(named.keys() - listed.keys())]
    problems += [f"{window.partition_key}: stray object: {k}" for k in sorted(listed.keys() - named.keys())]
    problems += [
        f"{window.partition_key}: {k} is {listed[k]} bytes, manifest says {named[k]['bytes']}"
        for k in sorted(named.keys() & listed.keys())
        if listed[k] != named[k]["bytes"]
    ]
    return problems


def limit_violations(window: Window, limits: Limits, manifests: dict[str, dict], listed: dict[str, int]) -> list[str]:
    """Objects over the record or byte limit, by the manifests' counts and the listed sizes."""
    problems = []
    for manifest in manifests.values():
        for entry in manifest["objects"]:
            if entry["records"] > limits.max_records or entry["bytes"] > limits.max_bytes:
                problems.append(f"{window.partition_key}: {entry['key']}: {entry['records']} records, {entry['bytes']} bytes")
    problems += [f"{window.partition_key}: {key}: {size} bytes stored" for key, size in sorted(listed.items()) if size > limits.max_bytes]
    return problems


def check_hour(client, store, window: Window, limits: Limits, grain: Grain = HOUR) -> dict[str, list[str]]:
    """{check name: problems} for one hour at the grain, listing the store once."""
    manifests, listed = hour_manifests(store, window.start, grain), hour_objects(store, window.start, grain)
    revisions = committed_revisions(client, window.start, grain)
    return {
        LEDGER_MATCHES_USAGE: ledger_mismatches(client, window, grain),
        OBJECTS_MATCH_MANIFESTS: object_mismatches(window, revisions, manifests, listed, grain),
        OBJECTS_WITHIN_LIMITS: limit_violations(window, limits, manifests, listed),
    }
