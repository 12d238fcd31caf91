"""What an ingest run reports: numeric metadata the UI can plot, and the asset check results."""

from collections import Counter

import dagster as dg

from metering_pipeline.ingest.accounting import SourceFigures
from metering_pipeline.ingest.hour import HourReport
from metering_pipeline.partitions import partition_key_for
from metering_pipeline.validate.rules import REASONS

GX_REASONS = tuple(r for r in REASONS if r not in ("oversized", "malformed_json"))
RECONCILIATION = "lines_reconcile"
CONFLICTING = "no_conflicting_duplicates"


def by_source(reports: list[HourReport]) -> dict:
    """The run's lines, outcomes, quarantine reasons and events per landing source, summed over its hours."""
    found: dict[str, SourceFigures] = {}
    for report in reports:
        for source, figures in report.by_source.items():
            found.setdefault(source, SourceFigures()).add(figures)
    return {source: figures.as_metadata() for source, figures in sorted(found.items())}


def events_metadata(reports: list[HourReport]) -> dict:
    quarantined = sum((r.quarantined for r in reports), Counter())
    metadata = {
        "partitions": len(reports),
        "lines_read": sum(r.lines_read for r in reports),
        "accepted": sum(r.accepted for r in reports),
        "duplicates": sum(r.duplicates for r in reports),
        "duplicate_events": sum(r.dropped.copies for r in reports),
        "duplicates_identical": sum(r.dropped.identical for r in reports),
        "duplicates_conflicting": sum(r.dropped.conflicting for r in reports),
        "quarantined": sum(r.quarantined_total for r in reports),
        "files": sum(r.files for r in reports),
        "bytes_read": sum(r.bytes_read for r in reports),
        "files_read_by_engine": sum(r.engine_files for r in reports),
        "files_read_by_fallback": sum(len(r.fallback) for r in reports),
        "tenants": max((r.tenants for r in reports), default=0),
        "duration_seconds": round(sum(r.seconds for r in reports), 3),
        "landing_fingerprints": dg.MetadataValue.json({partition_key_for(r.hour): r.fingerprint for r in reports}),
        "fallback_files": dg.MetadataValue.json({partition_key_for(r.hour): r.fallback for r in reports if r.fallback}),
        "by_source": dg.MetadataValue.json(by_source(reports)),
    }
    metadata.update(
        {
            f"quarantined_{reason}": quarantined.get(reason, 0)
            for reason in REASONS + ("corrupt_file", "decompression_limit", "unreadable_file")
        }
    )
    return metadata


def check_specs(asset_key: str) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec(
            RECONCILIATION,
            asset=asset_key,
            description="lines_read == accepted + duplicates + quarantined, and duplicates == the hour's duplicate lines in `duplicates`",
        ),
        dg.AssetCheckSpec(
            CONFLICTING, asset=asset_key, description="no dropped duplicate differs in content from the copy that was counted"
        ),
    ]
    specs += [
        dg.AssetCheckSpec(f"expect_{reason}", asset=asset_key, description=f"great-expectations rules quarantining as {reason}")
        for reason in GX_REASONS
    ]
    return specs


def check_results(asset_key: str, reports: list[HourReport]):
    broken = [partition_key_for(r.hour) for r in reports if not r.reconciles]
    yield dg.AssetCheckResult(
        check_name=RECONCILIATION,
        asset_key=asset_key,
        passed=not broken,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "lines_read": sum(r.lines_read for r in reports),
            "accounted": sum(r.accepted + r.duplicates + r.quarantined_total for r in reports),
            "duplicates": sum(r.duplicates for r in reports),
            "duplicate_lines_on_record": sum(r.duplicates_on_record or 0 for r in reports),
            "partitions_not_reconciling": dg.MetadataValue.json(broken),
        },
    )
    yield conflicting_result(asset_key, reports)
    for reason in GX_REASONS:
        counts: dict[str, list[int]] = {}
        for report in reports:
            for outcome in report.rules:
                if outcome.rule.reason == reason:
                    failed_checked = counts.setdefault(outcome.rule.name, [0, 0])
                    failed_checked[0] += outcome.failed
                    failed_checked[1] += outcome.checked
        failed = sum(f for f, _ in counts.values())
        yield dg.AssetCheckResult(
            check_name=f"expect_{reason}",
            asset_key=asset_key,
            passed=failed == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"failed_rows": failed, **{name: f"{f} of {c} rows failed" for name, (f, c) in counts.items()}},
        )


def conflicting_result(asset_key: str, reports: list[HourReport]) -> dg.AssetCheckResult:
    """WARN: the lines are on record in `duplicates` (identical = false) and the first copy was billed,
    but the same id carrying other content usually means a producer reuses ids and under-bills."""
    examples = [{"partition": partition_key_for(r.hour), **e} for r in reports for e in r.dropped.examples]
    conflicting = sum(r.dropped.conflicting for r in reports)
    return dg.AssetCheckResult(
        check_name=CONFLICTING,
        asset_key=asset_key,
        passed=conflicting == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "conflicting": conflicting,
            "identical": sum(r.dropped.identical for r in reports),
            "examples": dg.MetadataValue.json(examples[:10]),
        },
    )
