"""The pipeline's Prometheus metrics: one catalog of names, types and labels, and the pure functions
that turn a step's materialization figures into samples.

Labels are bounded by construction: an outcome, a quarantine reason, a catalog landing source, event
type, meter or unit, a threshold percent, an asset name. Never a tenant, an hour, a file or an id: those live in
ClickHouse (`pipeline_runs` and the pipeline's tables), where an audit can read them.

Values are exact `Decimal`s here and in ClickHouse; they become floats only in the exposition.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from metering_pipeline.validate.rules import REASONS

COUNTER = "counter"
GAUGE = "gauge"

# Every quarantine reason a line can get: the rules' reasons and the file-level ones.
QUARANTINE_REASONS = (*REASONS, "corrupt_file", "decompression_limit", "unreadable_file")
LINE_OUTCOMES = {"accepted": "accepted", "duplicate": "duplicates", "quarantined": "quarantined"}
# Webhook delivery outcome -> usage_alerts' metadata key (alerts/assets.py).
DELIVERY_OUTCOMES = {"delivered": "delivered", "failed": "delivery_failed", "deferred": "delivery_deferred"}


@dataclass(frozen=True)
class Metric:
    name: str  # the exposed name: counters end in _total
    kind: str
    help: str
    labels: tuple[str, ...] = ()


METRICS = {
    m.name: m
    for m in (
        Metric("metering_lines_read_total", COUNTER, "Landing lines read by ingest per landing source (a rerun reads again)", ("source",)),
        Metric(
            "metering_lines_total",
            COUNTER,
            "Landing lines by landing source and outcome; per source they add up to metering_lines_read_total",
            ("source", "outcome"),
        ),
        Metric("metering_quarantined_lines_total", COUNTER, "Quarantined lines by landing source and reason", ("source", "reason")),
        Metric("metering_events_total", COUNTER, "Accepted events by landing source and catalog event type", ("source", "event_type")),
        Metric("metering_ingest_files_total", COUNTER, "Landing files read by ingest"),
        Metric("metering_ingest_bytes_total", COUNTER, "Landing bytes read by ingest"),
        Metric("metering_usage_rows_total", COUNTER, "usage_hourly rows built"),
        Metric("metering_metered_events_total", COUNTER, "Events counted into meters by usage_hourly"),
        Metric("metering_export_objects_total", COUNTER, "Billing NDJSON objects written"),
        Metric("metering_export_bytes_total", COUNTER, "Bytes of billing NDJSON objects written"),
        Metric("metering_export_records_total", COUNTER, "Billing records exported by kind", ("kind",)),
        Metric("metering_export_revisions_total", COUNTER, "Export revisions committed by kind (usage: revision 0)", ("kind",)),
        Metric("metering_export_retries_total", COUNTER, "Export store calls retried (throttling, 5xx, resets)"),
        Metric(
            "metering_quantity_total",
            COUNTER,
            "Billed quantity per meter: the sum of exported records, corrections included (a net-negative correction lowers it)",
            ("meter", "unit"),
        ),
        Metric("metering_usage_alerts_total", COUNTER, "Usage alerts fired by threshold percent", ("threshold",)),
        Metric(
            "metering_alert_deliveries_total",
            COUNTER,
            "Usage alert deliveries by outcome: delivered, failed (every try refused; retried next run), "
            "deferred (not tried: the webhook had just failed)",
            ("outcome",),
        ),
        Metric("metering_alert_delivery_attempts_total", COUNTER, "Webhook requests made for usage alerts, retries included"),
        Metric("metering_usage_alerts_pending", GAUGE, "Fired usage alerts still pending webhook delivery"),
        Metric("metering_last_success_timestamp_seconds", GAUGE, "When the asset last materialized (Unix time)", ("asset",)),
        Metric("metering_hour_duration_seconds", GAUGE, "Seconds per hour of the asset's last step", ("asset",)),
        Metric("metering_last_complete_hour_timestamp_seconds", GAUGE, "Start of the newest hour exported for billing (Unix time)"),
        Metric("metering_hour_failures_total", COUNTER, "Hours whose step failed (each hour of a failed step)", ("asset",)),
        Metric("metering_last_export_revision", GAUGE, "Revision of the newest export committed (0: usage, above: a correction)"),
    )
}


@dataclass(frozen=True)
class Sample:
    metric: str
    labels: tuple[tuple[str, str], ...]
    value: Decimal

    @property
    def labels_json(self) -> str:
        """The labels as ClickHouse stores them: canonical JSON, so equal label sets group together."""
        return json.dumps(dict(self.labels), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def sample(metric: str, value, **labels: str) -> Sample:
    """A sample of a catalog metric; refuses an unknown metric or a label set other than its own."""
    spec = METRICS[metric]
    if tuple(sorted(labels)) != tuple(sorted(spec.labels)):
        raise ValueError(f"{metric} takes labels {spec.labels}, got {tuple(labels)}")
    return Sample(metric, tuple(sorted((k, str(v)) for k, v in labels.items())), Decimal(str(value)))


def ingest_samples(metadata: Mapping) -> list[Sample]:
    """accepted_events' materialization metadata (ingest/metadata.py): its per-source breakdown (`by_source`)
    labelled by landing source, every quarantine reason of a source that had lines (zeros included, so a
    reason's first line is an increase), and the step's files and bytes."""
    found = []
    for source, figures in sorted((metadata.get("by_source") or {}).items()):
        found.append(sample("metering_lines_read_total", figures["lines_read"], source=source))
        found += [sample("metering_lines_total", figures[key], source=source, outcome=o) for o, key in LINE_OUTCOMES.items()]
        reasons = figures["quarantined_by_reason"]
        found += [sample("metering_quarantined_lines_total", reasons.get(r, 0), source=source, reason=r) for r in QUARANTINE_REASONS]
        found += [sample("metering_events_total", n, source=source, event_type=t) for t, n in sorted(figures["events_by_type"].items())]
    found += [sample("metering_ingest_files_total", metadata["files"]), sample("metering_ingest_bytes_total", metadata["bytes_read"])]
    return found


def usage_samples(metadata: Mapping) -> list[Sample]:
    return [sample("metering_usage_rows_total", metadata["rows"]), sample("metering_metered_events_total", metadata["events_metered"])]


@dataclass(frozen=True)
class ExportedRevision:
    """One revision this step committed, read back from the export ledger."""

    revision: int
    records: int
    quantities: Mapping[tuple[str, str], Decimal]  # (meter, unit) -> summed quantity


def export_kind(revision: int) -> str:
    return "usage" if revision == 0 else "correction"


def export_samples(metadata: Mapping, revisions: Iterable[ExportedRevision]) -> list[Sample]:
    """billing_export's metadata plus the ledger of the revisions it committed (metadata `new_revisions`)."""
    records = {"usage": 0, "correction": 0}
    counts = {"usage": 0, "correction": 0}
    quantities: dict[tuple[str, str], Decimal] = {}
    for rev in revisions:
        records[export_kind(rev.revision)] += rev.records
        counts[export_kind(rev.revision)] += 1
        for key, quantity in rev.quantities.items():
            quantities[key] = quantities.get(key, Decimal(0)) + quantity
    found = [
        sample("metering_export_objects_total", metadata["objects"]),
        sample("metering_export_bytes_total", metadata["bytes"]),
        sample("metering_export_retries_total", metadata["retries"]),
        sample("metering_last_export_revision", metadata["revision"]),
    ]
    found += [sample("metering_export_records_total", n, kind=kind) for kind, n in records.items()]
    found += [sample("metering_export_revisions_total", n, kind=kind) for kind, n in counts.items()]
    found += [sample("metering_quantity_total", q, meter=m, unit=u) for (m, u), q in sorted(quantities.items())]
    return found


def alert_samples(metadata: Mapping, fired_by_threshold: Mapping[int, int]) -> list[Sample]:
    found = [sample("metering_usage_alerts_total", n, threshold=t) for t, n in sorted(fired_by_threshold.items())]
    found += [sample("metering_alert_deliveries_total", metadata.get(key, 0), outcome=o) for o, key in DELIVERY_OUTCOMES.items()]
    found.append(sample("metering_alert_delivery_attempts_total", metadata.get("delivery_attempts", 0)))
    return found + [sample("metering_usage_alerts_pending", metadata.get("pending", 0))]
