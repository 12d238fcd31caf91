"""How one billed quantity was made: the record (tenant x billing account x meter x dimensions x hour),
its ledger revisions, the meter as it was defined when exported, the events that made it (with their
file and line), the duplicates dropped for them, and the tenant's quarantined lines of the hour.

Nothing is re-implemented here: the events are the meter's events as `usage/aggregation.py`
`meter_events` reads them (the pipeline's own value extraction, `catalog/sql.py`), their
dimensions are `usage/sql.py`'s, and the quantity is the hour's aggregation `OVER_EVENTS`. It is
then set beside what the pipeline stored (`usage_hourly`) and what was billed (the sum of the
ledger's revisions), which must all agree. Every value is a bound parameter.
"""

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from metering_pipeline.catalog import Catalog, Meter
from metering_pipeline.export.grain import QUARTER_HOUR
from metering_pipeline.export.ledger import LEDGER, ledger_tables
from metering_pipeline.export.records import rfc3339
from metering_pipeline.provenance.catalogs import catalog_at
from metering_pipeline.usage.aggregation import OVER_EVENTS, meter_events
from metering_pipeline.usage.sql import dimensions_map
from metering_pipeline.warehouse.tables import DUPLICATES, EVENTS, QUARANTINE, USAGE_HOURLY

HOUR = "hour = {hour:DateTime('UTC')}"


class ExplainError(ValueError):
    """The question cannot be answered as asked (unknown id, no such usage, an ambiguous key)."""


@dataclass(frozen=True)
class Target:
    hour: datetime  # aware, UTC
    tenant_id: str
    billing_account_id: str
    meter: str
    dimensions: tuple[tuple[str, str], ...]  # sorted by name

    def key_params(self) -> dict:
        return {
            "hour": self.hour.replace(tzinfo=None),
            "tenant": self.tenant_id,
            "account": self.billing_account_id,
            "meter": self.meter,
            "dim_names": [k for k, _ in self.dimensions],
            "dim_values": [v for _, v in self.dimensions],
        }


def _same_dimensions(column: str) -> str:
    """`column` (a Map) holds exactly the target's dimensions, whatever order it stores them in."""
    return f"mapKeys(mapSort({column})) = {{dim_names:Array(String)}} AND mapValues(mapSort({column})) = {{dim_values:Array(String)}}"


KEY = f"{HOUR} AND tenant_id = {{tenant:String}} AND billing_account_id = {{account:String}} AND meter = {{meter:String}}"


@dataclass
class Explanation:
    target: Target
    meter: Meter
    catalog_hash: str  # the catalog the meter definition shown comes from
    catalog_note: str  # how that catalog was found
    catalog_document: str
    revisions: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)
    quantity: Decimal = Decimal(0)  # recomputed from `events`
    usage_value: Decimal | None = None  # what usage_hourly holds
    usage_event_count: int = 0
    billed: Decimal | None = None  # sum of the ledger's revisions

    @property
    def consistent(self) -> bool:
        stored = self.usage_value if self.usage_value is not None else Decimal(0)
        return self.quantity == stored and (self.billed is None or self.billed == stored)

    def document(self) -> dict:
        meter = {k: v for k, v in asdict(self.meter).items() if v not in ("", None, {})}
        return {
            "record": {
                "tenant_id": self.target.tenant_id,
                "billing_account_id": self.target.billing_account_id,
                "meter": self.target.meter,
                "dimensions": dict(self.target.dimensions),
                "window_start": rfc3339(self.target.hour),
                "record_ids": [r["record_id"] for r in self.revisions],
            },
            "meter": meter,
            "catalog_hash": self.catalog_hash,
            "catalog_note": self.catalog_note,
            "quantity": {
                "recomputed_from_events": _text(self.quantity),
                "usage_hourly": None if self.usage_value is None else _text(self.usage_value),
                "billed_sum_of_revisions": None if self.billed is None else _text(self.billed),
                "events": len(self.events),
                "consistent": self.consistent,
            },
            "revisions": self.revisions,
            "events": self.events,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
        }


def _text(value) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def _exists(client, table: str) -> bool:
    return bool(client.command("EXISTS TABLE {t:Identifier}", parameters={"t": table}))


def target_of_record(client, record_id: str) -> Target:
    """The key an export record id was issued for (any revision's id names the same key)."""
    found = _record_key(client, LEDGER, record_id)
    if found is None and (quarter := _record_key(client, ledger_tables(QUARTER_HOUR)[LEDGER], record_id)) is not None:
        raise ExplainError(  # the quarter-hour grain (export/grain.py): its hour is what explain shows
            f"record {record_id!r} is a quarter-hour record (export grain quarter_hour); explain works on the hour: metering-pipeline "
            f"explain --tenant {json.dumps(quarter[1])} --meter {json.dumps(quarter[3])} --hour {quarter[0]:%Y-%m-%dT%H:00}"
        )
    if found is None:
        raise ExplainError(f"no exported record has id {record_id!r}")
    hour, tenant, account, meter, dims = found
    return Target(hour.replace(tzinfo=UTC), tenant, account, meter, tuple(sorted(dims.items())))


def _record_key(client, ledger: str, record_id: str) -> tuple | None:
    sql = f"SELECT hour, tenant_id, billing_account_id, meter, dimensions FROM `{ledger}` FINAL WHERE toString(record_id) = {{id:String}}"
    rows = _exists(client, ledger) and client.query(sql + " LIMIT 1", parameters={"id": record_id.strip().lower()}).result_rows
    return rows[0] if rows else None


def target_of_key(client, tenant: str, meter: str, hour: datetime, dimensions: dict, account: str | None) -> Target:
    """The one (billing account, dimensions) of the tenant's meter in the hour that matches what was
    given, from usage_hourly and the ledger (a key may be only in the ledger when usage went to 0)."""
    params = {"hour": hour.replace(tzinfo=None), "tenant": tenant, "meter": meter}
    where = f"{HOUR} AND tenant_id = {{tenant:String}} AND meter = {{meter:String}}"
    parts = [
        f"SELECT billing_account_id, mapSort(dimensions) AS d FROM `{t}` WHERE {where}"
        for t in (USAGE_HOURLY, LEDGER)
        if _exists(client, t)
    ]
    found = set()
    if parts:
        for acct, dims in client.query(" UNION DISTINCT ".join(parts), parameters=params).result_rows:
            found.add((acct, tuple(sorted(dims.items()))))
    matching = sorted(
        (acct, dims)
        for acct, dims in found
        if (account is None or acct == account) and all(dict(dims).get(k) == v for k, v in dimensions.items())
    )
    if not matching:
        raise ExplainError(f"no usage of meter {meter!r} for tenant {tenant!r} in the hour {hour:%Y-%m-%d %H:00} UTC matches")
    if len(matching) > 1:
        options = "; ".join(f"billing account {a!r}, dimensions {dict(d)}" for a, d in matching)
        raise ExplainError(f"several records match, name one with --billing-account / --dimension: {options}")
    acct, dims = matching[0]
    return Target(hour.astimezone(UTC), tenant, acct, meter, dims)


def _revisions(client, target: Target) -> list[dict]:
    if not _exists(client, LEDGER):
        return []
    rows = client.query(
        f"SELECT revision, toString(record_id), quantity, event_count, catalog_hash, object_key, exported_at FROM `{LEDGER}` FINAL "
        f"WHERE {KEY} AND {_same_dimensions('dimensions')} ORDER BY revision",
        parameters=target.key_params(),
    ).result_rows
    revisions, running = [], Decimal(0)
    for revision, rid, quantity, events, digest, key, exported in rows:
        running += quantity
        revisions.append(
            {
                "revision": int(revision),
                "record_id": rid,
                "kind": "usage" if revision == 0 else "correction",
                "delta": _text(quantity),
                "total_after": _text(running),
                "event_count_delta": int(events),
                "catalog_hash": digest,
                "object_key": key,
                "exported_at": _text(exported),
            }
        )
    return revisions


def meter_in_force(client, catalog: Catalog, target: Target, revisions: list[dict]) -> tuple[Meter, str, str, str]:
    """(meter, catalog hash, note, catalog document): the catalog the latest revision was exported under
    when it was recorded, else the current one (said so in the note)."""
    if revisions:
        digest = revisions[-1]["catalog_hash"]
        recorded = catalog_at(client, digest) if digest != catalog.digest else catalog
        if recorded is not None:
            try:
                return recorded.meter(target.meter), digest, "the catalog the latest revision was exported under", recorded.document
            except KeyError:
                pass
        note = f"the current catalog {catalog.digest}: the catalog {digest} the latest revision was exported under was not recorded"
    else:
        note = f"the current catalog {catalog.digest}: the record has not been exported yet"
    try:
        return catalog.meter(target.meter), catalog.digest, note, catalog.document
    except KeyError:
        raise ExplainError(f"meter {target.meter!r} is not in the catalog {catalog.digest}") from None


def _contributing(meter: Meter, target: Target) -> tuple[str, dict]:
    """The meter's events of the target: its type, hour, tenant, billing account and dimensions, with a value."""
    dims, dim_params = dimensions_map(meter, 0)
    where = (
        f"{HOUR} AND tenant_id = {{tenant:String}} AND billing_account_id = {{account:String}} "
        f"AND mapKeys({dims}) = {{dim_names:Array(String)}} AND mapValues({dims}) = {{dim_values:Array(String)}}"
    )
    sql, params = meter_events(meter, where, "time, source, id, source_file, line_no, bytes, data")
    return sql, {**target.key_params(), **dim_params, **params}


def explain(client, catalog: Catalog, target: Target) -> Explanation:
    if not _exists(client, EVENTS):
        raise ExplainError("table events does not exist yet: run the pipeline for some hours first")
    revisions = _revisions(client, target)
    meter, digest, note, document = meter_in_force(client, catalog, target, revisions)
    result = Explanation(target, meter, digest, note, document, revisions=revisions)
    events_sql, params = _contributing(meter, target)
    rows = client.query(f"{events_sql} ORDER BY source_file, line_no, source, id", parameters=params).result_rows
    result.events = [
        {"time": _text(t), "source": s, "id": i, "value": _text(v), "file": f, "line": int(n), "bytes": int(b), "data": d}
        for t, s, i, f, n, b, d, v in rows
    ]
    quantity = client.query(f"SELECT {OVER_EVENTS[meter.aggregation]} FROM ({events_sql})", parameters=params).result_rows
    result.quantity = quantity[0][0] if rows else Decimal(0)
    if _exists(client, DUPLICATES):
        dropped = client.query(
            f"SELECT source, id, source_file, line_no, kept_file, kept_line_no, identical FROM `{DUPLICATES}` "
            f"WHERE {HOUR} AND (source, id) IN (SELECT source, id FROM ({events_sql})) ORDER BY source_file, line_no, sub",
            parameters=params,
        ).result_rows
        names = ("source", "id", "file", "line", "kept_file", "kept_line", "identical")
        result.duplicates = [dict(zip(names, row)) for row in dropped]
    result.quarantined = _quarantined(client, target)
    usage = client.query(
        f"SELECT sum(value), sum(event_count), count() FROM `{USAGE_HOURLY}` WHERE {KEY} AND {_same_dimensions('dimensions')}",
        parameters=target.key_params(),
    ).result_rows
    if usage and usage[0][2]:
        result.usage_value, result.usage_event_count = usage[0][0], int(usage[0][1])
    if revisions:
        result.billed = sum((Decimal(r["delta"]) for r in revisions), Decimal(0))
    return result


def _has_column(client, table: str, column: str) -> bool:
    return bool(
        client.command(
            "SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = {t:String} AND name = {c:String}",
            parameters={"t": table, "c": column},
        )
    )


def _quarantined(client, target: Target) -> list[dict]:
    """The hour's quarantined lines of the tenant, each with how it was found (`match`):

    - `tenant`: the line's events resolved to the tenant (its own tenant field, or attribution for
      Envoy, billing-client and Data API lines), as ingest recorded in `tenant_ids`;
    - `mentions`: no tenant could be resolved for the line (not JSON, no attribution entry, a file
      fault), and its kept raw text holds the tenant id as a JSON string (as written, or with \\u
      escapes). A candidate, not proof: it is shown so a dispute sees every line that may be the
      tenant's, marked so nobody bills on it.

    A line resolved to another tenant is never listed, whatever its text mentions. On a table
    ingested before `tenant_ids` existed every line is unresolved, so the text decides.
    """
    needles = sorted({json.dumps(target.tenant_id, ensure_ascii=False), json.dumps(target.tenant_id)})
    params = {"hour": target.hour.replace(tzinfo=None), "needles": needles, "tenant": target.tenant_id}
    if _has_column(client, QUARANTINE, "tenant_ids"):
        match = "if(has(tenant_ids, {tenant:String}), 'tenant', 'mentions')"
        found = "(has(tenant_ids, {tenant:String}) OR (empty(tenant_ids) AND multiSearchAny(raw, {needles:Array(String)})))"
    else:
        match, found = "'mentions'", "multiSearchAny(raw, {needles:Array(String)})"
    rows = client.query(
        f"SELECT landing_source, source_file, line_no, reason, detail, {match} FROM `{QUARANTINE}` "
        f"WHERE {HOUR} AND {found} ORDER BY source_file, line_no",
        parameters=params,
    ).result_rows
    names = ("landing_source", "file", "line", "reason", "detail", "match")
    return [dict(zip(names, row)) for row in rows]
