"""`metering-pipeline explain` and `verify-bundle`: how a billed quantity was made, for a dispute."""

import json
from pathlib import Path

from metering_pipeline.cli.render import cell
from metering_pipeline.cli.usage import parse_moment
from metering_pipeline.provenance.bundle import build_bundle, verify_bundle
from metering_pipeline.provenance.explain import ExplainError, Explanation, explain, target_of_key, target_of_record


def add_commands(commands) -> None:
    parser = commands.add_parser("explain", help="how one billed quantity was made: revisions, events, duplicates, quarantine")
    parser.add_argument("record_id", nargs="?", help="an export record id (any revision's)")
    parser.add_argument("--tenant", help="with --meter and --hour instead of a record id")
    parser.add_argument("--meter")
    parser.add_argument("--hour", help="the UTC hour, e.g. 2026-11-22T10:00 or 2026-11-22-10:00")
    parser.add_argument("--dimension", action="append", default=[], help="name=value of a meter dimension; repeatable")
    parser.add_argument("--billing-account", help="when the tenant had several billing accounts in the hour")
    parser.add_argument("--format", choices=("table", "json", "ndjson"), default="table", help="ndjson: the contributing events")
    parser.add_argument("--bundle", help="also write an evidence bundle (.tar.gz) with the raw lines and a verify script")
    verify = commands.add_parser("verify-bundle", help="recompute an evidence bundle's quantity from its raw lines")
    verify.add_argument("bundle")


def _dimensions(values: list[str]) -> dict[str, str]:
    dimensions = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise ExplainError(f"--dimension must be name=value, got {value!r}")
        dimensions[name] = text
    return dimensions


def resolve_target(client, args):
    if args.record_id:
        if args.tenant or args.meter or args.hour:
            raise ExplainError("give either a record id or --tenant, --meter and --hour, not both")
        return target_of_record(client, args.record_id)
    if not (args.tenant and args.meter and args.hour):
        raise ExplainError("give a record id, or --tenant, --meter and --hour")
    hour = parse_moment(args.hour)
    if hour.minute or hour.second or hour.microsecond:
        raise ExplainError(f"--hour must be the start of an hour, got {args.hour!r}")
    return target_of_key(client, args.tenant, args.meter, hour, _dimensions(args.dimension), args.billing_account)


def run_explain(args, clickhouse, landing, catalog) -> str:
    with clickhouse.get_client(purpose="metering-pipeline explain", read_only=True) as client:
        explanation = explain(client, catalog, resolve_target(client, args))
    if args.bundle:
        build_bundle(Path(args.bundle), landing, catalog, explanation)
    return render_explanation(explanation, args.format)


def run_verify_bundle(args) -> tuple[int, str]:
    if not Path(args.bundle).is_file():
        raise ExplainError(f"no such bundle: {args.bundle}")
    return verify_bundle(Path(args.bundle))


def render_explanation(explanation: Explanation, fmt: str) -> str:
    if fmt == "ndjson":
        return "\n".join(json.dumps(event, ensure_ascii=False) for event in explanation.events)
    document = explanation.document()
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False)
    record, quantity = document["record"], document["quantity"]
    out = [
        f"record     tenant {record['tenant_id']}  billing account {record['billing_account_id'] or '-'}  meter {record['meter']}",
        f"           dimensions {json.dumps(record['dimensions'], ensure_ascii=False)}  hour {record['window_start']}",
        f"meter      {explanation.meter.aggregation} of {explanation.meter.value or 'events'} of type {explanation.meter.event_type}, "
        f"unit {explanation.meter.unit}; catalog {explanation.catalog_hash} ({explanation.catalog_note})",
        f"quantity   {quantity['recomputed_from_events']} from {quantity['events']} events; usage_hourly "
        f"{quantity['usage_hourly'] or '-'}; billed {quantity['billed_sum_of_revisions'] or 'not exported yet'}"
        f"{'' if quantity['consistent'] else '  INCONSISTENT'}",
    ]
    sections = (
        ("revisions", ["revision", "kind", "delta", "total_after", "record_id", "catalog_hash", "exported_at"], document["revisions"]),
        ("events", ["time", "source", "id", "value", "file", "line"], document["events"]),
        ("duplicates dropped", ["source", "id", "file", "line", "kept_file", "kept_line", "identical"], document["duplicates"]),
        # match: `tenant` (the line resolved to the tenant) or `mentions` (unresolved, its text names the tenant)
        ("quarantined lines of the tenant", ["file", "line", "reason", "match", "detail"], document["quarantined"]),
    )
    for title, header, rows in sections:
        out += ["", f"{title} ({len(rows)})"]
        if rows:
            out += _table(header, [[cell(row[h]) for h in header] for row in rows])
    return "\n".join(out)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    return ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in [header, *rows]]
