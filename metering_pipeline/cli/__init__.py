"""The `metering-pipeline` command (console script). Subcommand `usage` reads usage_hourly (and events
for unique counts) on the embedded engine or a server, as configured by METERING_CLICKHOUSE_URL;
`status` reads the run history (`pipeline_runs`)."""

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta

from metering_pipeline.catalog import CatalogError
from metering_pipeline.cli.explain import add_commands as add_explain_commands
from metering_pipeline.cli.explain import run_explain, run_verify_bundle
from metering_pipeline.cli.local import check_timezone, local_usage_rows, local_window, uses_local_time
from metering_pipeline.cli.query import GroupByError, parse_group_by
from metering_pipeline.cli.reconcile import add_command as add_reconcile_command
from metering_pipeline.cli.reconcile import run_reconcile
from metering_pipeline.cli.render import render
from metering_pipeline.cli.status import HEADER, status_rows
from metering_pipeline.cli.usage import default_window, parse_moment, usage_rows


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metering-pipeline")
    commands = parser.add_subparsers(dest="command", required=True)
    usage = commands.add_parser("usage", help="usage per tenant and meter, broken down as asked")
    usage.add_argument("--tenant", help="one tenant id (default: all tenants, grouped by tenant)")
    usage.add_argument("--since", help="UTC start, inclusive (default: the 1st of this month)")
    usage.add_argument("--until", help="UTC end, exclusive (default: the end of the current hour)")
    usage.add_argument(
        "--group-by",
        action="append",
        default=[],
        help="meter, event_type, tenant, hour (UTC), day or month (local, see --timezone) or a catalog dimension "
        "such as service_id; repeatable or comma-separated",
    )
    usage.add_argument("--format", choices=("table", "json", "csv"), default="table")
    usage.add_argument(
        "--timezone",
        help="IANA zone for day/month and --since/--until wall-clock times, or 'tenant' (the default): each "
        "tenant's own calendar (UTC without one), with date-only --since/--until read as each tenant's local dates",
    )
    status = commands.add_parser("status", help="the last hours' state from the run history: ingested, exported, revision, lagging")
    status.add_argument("--hours", type=int, default=24, help="how many hours back from --until (default 24)")
    status.add_argument("--until", help="UTC end, exclusive (default: the start of the current hour)")
    status.add_argument("--format", choices=("table", "json", "csv"), default="table")
    add_explain_commands(commands)
    add_reconcile_command(commands)
    return parser


def run_usage(args, clickhouse, catalog) -> str:
    since, until = default_window(datetime.now(UTC))
    since = parse_moment(args.since) if args.since else since
    until = parse_moment(args.until) if args.until else until
    if until <= since:
        raise ValueError("--until must be after --since")
    grouping = parse_group_by(args.group_by, catalog, bool(args.tenant))
    zone = check_timezone(args.timezone)
    with clickhouse.get_client(purpose="metering-pipeline usage", read_only=True) as client:
        if uses_local_time(grouping, args.timezone is not None):
            window = local_window(zone, args.since, args.until, since, until)
            rows = local_usage_rows(client, catalog, grouping, args.tenant, window)
        else:
            rows = usage_rows(client, catalog, grouping, args.tenant, since, until)
    return render([*grouping.names, "unit", "value", "events"], rows, args.format)


def run_status(args, clickhouse) -> str:
    until = parse_moment(args.until) if args.until else datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    if args.hours < 1:
        raise ValueError("--hours must be at least 1")
    with clickhouse.get_client(purpose="metering-pipeline status", read_only=True) as client:
        rows = status_rows(client, until - timedelta(hours=args.hours), until)
    return render(HEADER, rows, args.format)


def main(argv: list[str] | None = None) -> int:
    from metering_pipeline.catalog import load_catalog
    from metering_pipeline.provenance.bundle import BundleError
    from metering_pipeline.resources import ClickHouseResource, LandingZone
    from metering_pipeline.settings import resolved

    args = _parser().parse_args(argv)
    if args.command == "verify-bundle":
        try:
            code, output = run_verify_bundle(args)
        except ValueError as exc:
            print(f"metering-pipeline: {exc}", file=sys.stderr)
            return 2
        print(output)
        return code
    clickhouse = ClickHouseResource(
        url=resolved("METERING_CLICKHOUSE_URL"), database=resolved("METERING_DATABASE"), lock_timeout_seconds=60
    )
    try:
        if args.command == "status":
            print(run_status(args, clickhouse))
            return 0
        catalog = load_catalog(resolved("METERING_CATALOG") or None)
        if args.command == "explain":
            landing = LandingZone(url=resolved("METERING_LANDING_URL"), region=os.environ.get("AWS_REGION"))
            print(run_explain(args, clickhouse, landing, catalog))
        elif args.command == "reconcile":
            report, sound = run_reconcile(args, clickhouse)
            print(report)
            return 0 if sound else 1
        else:
            print(run_usage(args, clickhouse, catalog))
    except (ValueError, GroupByError, CatalogError, BundleError) as exc:
        print(f"metering-pipeline: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
