"""Delivery to a Prometheus Pushgateway, the pattern Prometheus documents for batch jobs.

One group, `{job="metering_pipeline"}`, replaced whole by every push (PUT): each push carries the
complete picture computed from `pipeline_runs` (counters as totals over the history, gauges as
they are now), so a rerun can neither double a gauge nor make a counter go back, and the
grouping key never holds an hour, a tenant or a run id (a group per run would pile up in the
gateway forever). A gateway that is down or hangs costs at most `timeout_seconds` and one
warning: monitoring never fails or holds up billing.
"""

import os
from collections.abc import Sequence
from urllib.parse import urlsplit

import dagster as dg
from prometheus_client import CollectorRegistry, push_to_gateway
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pydantic import Field

from metering_pipeline.observability.metrics import COUNTER, METRICS, Sample

PUSHGATEWAY_ENV = "METERING_PUSHGATEWAY_URL"
JOB = "metering_pipeline"


class _Samples:
    """A collector exposing fixed samples (prometheus_client's Counter cannot be set to a total)."""

    def __init__(self, samples: Sequence[Sample]):
        self.samples = samples

    def collect(self):
        for name, metric in METRICS.items():
            mine = [s for s in self.samples if s.metric == name]
            if not mine:
                continue
            if metric.kind == COUNTER:
                family = CounterMetricFamily(name.removesuffix("_total"), metric.help, labels=metric.labels)
            else:
                family = GaugeMetricFamily(name, metric.help, labels=metric.labels)
            for s in mine:
                labels = dict(s.labels)
                family.add_metric([labels[k] for k in metric.labels], float(s.value))
            yield family


def registry_of(samples: Sequence[Sample]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Samples(samples))
    return registry


def _where(url: str) -> str:
    """Scheme, host and port only: a URL may carry credentials, which are never logged."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}".rstrip(":")


class Pushgateway(dg.ConfigurableResource):
    """Where the pipeline's metrics go; an empty URL means nothing is pushed."""

    url: str = Field(default="", description=f"Pushgateway base URL, e.g. http://pushgateway:9091; from {PUSHGATEWAY_ENV}")
    timeout_seconds: float = Field(default=3.0, description="Bound on connecting and on each read; a push never waits longer")

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def push(self, samples: Sequence[Sample], log) -> bool:
        """Replace the pipeline's group with `samples`; False (and one warning) if the gateway failed."""
        if not self.configured:
            return False
        try:
            push_to_gateway(self.url, job=JOB, registry=registry_of(samples), timeout=self.timeout_seconds)
        except Exception as exc:  # any failure of monitoring is a warning, never a failed hour
            log.warning("pushgateway %s: push failed (%s); metrics not delivered this run", _where(self.url), type(exc).__name__)
            return False
        return True


def pushgateway() -> Pushgateway:
    """The resource for definitions.py: the env var resolved at launch, or no gateway when it is unset."""
    return Pushgateway(url=dg.EnvVar(PUSHGATEWAY_ENV) if PUSHGATEWAY_ENV in os.environ else "")
