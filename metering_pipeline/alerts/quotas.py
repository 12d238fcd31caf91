"""Quotas per tenant x meter x billing period, from a YAML file and/or the `usage_quotas` table.

The period is the tenant's billing period in its own calendar (a UTC calendar month without
one); a quota's `YYYY-MM` names the period that starts in that month (alerts/run.py).

The file (METERING_QUOTAS; unset means no file quotas, never the example shipped beside this
module) suits quotas kept in git; the table suits quotas set by other systems at run time.
For the same tenant, meter and period the table wins, and a quota for one month wins over
the every-month quota. A quota of 0 switches the quota off.

A file quota naming a meter the catalog lacks is a configuration error, refused when the
definitions load (`check_quotas`). A table row can change under a running deployment, so at
run time such a row is left out and reported, never a crash after the hour was exported.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from metering_pipeline.catalog import Catalog

DEFAULT_THRESHOLDS = (50, 80, 95, 100)
EXAMPLE_QUOTAS = Path(__file__).with_name("quotas.example.yaml")
# Month-to-date of a min meter has no sensible "used up" meaning: refused, with the reason.
SUPPORTED = ("count", "sum", "max", "unique_count")


class QuotaError(ValueError):
    """A quota entry is unusable; the message names it."""


@dataclass(frozen=True)
class Quota:
    tenant: str
    meter: str
    quota: Decimal
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    period: date | None = None  # first day of the month it applies to; None: every month


def parse_period(text: str) -> date:
    try:
        year, month = (int(part) for part in str(text).split("-"))
        return date(year, month, 1)
    except ValueError as exc:
        raise QuotaError(f"period must be YYYY-MM, got {text!r}") from exc


def quota_from(entry: dict) -> Quota:
    where = f"quota {entry.get('tenant')!r}/{entry.get('meter')!r}"
    for key in ("tenant", "meter"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise QuotaError(f"{where}: {key} is required")
    try:
        amount = Decimal(str(entry.get("quota")))
    except InvalidOperation as exc:
        raise QuotaError(f"{where}: quota must be a number") from exc
    thresholds = tuple(sorted({int(t) for t in entry.get("thresholds") or DEFAULT_THRESHOLDS}))
    if not amount.is_finite() or amount < 0 or any(not 0 < t <= 1000 for t in thresholds):
        raise QuotaError(f"{where}: quota must be >= 0 and thresholds percentages in 1..1000")
    period = parse_period(entry["period"]) if entry.get("period") else None
    return Quota(entry["tenant"], entry["meter"], amount, thresholds, period)


def load_quota_file(path: str | Path | None) -> list[Quota]:
    """The file's quotas; no path, no quotas."""
    if not path:
        return []
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise QuotaError(f"cannot read quotas {path}: {exc}") from exc
    return [quota_from(entry) for entry in document.get("quotas") or []]


def quota_problem(quota: Quota, catalog: Catalog) -> str | None:
    """Why `quota` cannot be evaluated against `catalog`, or None."""
    try:
        aggregation = catalog.meter(quota.meter).aggregation
    except KeyError:
        return f"quota for {quota.tenant!r} names unknown meter {quota.meter!r}"
    if aggregation not in SUPPORTED:
        return f"quota on {quota.meter!r}: quotas on {aggregation} meters are not supported"
    return None


def check_quotas(quotas: list[Quota], catalog: Catalog, where: str) -> None:
    """Refuse quotas the catalog cannot evaluate, naming every one of them."""
    problems = [p for p in (quota_problem(q, catalog) for q in quotas) if p]
    if problems:
        raise QuotaError(f"{where}: " + "; ".join(problems))


def effective(quotas: list[Quota], period: date, catalog: Catalog) -> tuple[list[Quota], list[str]]:
    """The quotas in force for one month, and why any were left out.

    Later entries (the table's) override earlier ones (the file's).
    """
    chosen: dict[tuple[str, str], Quota] = {}
    for quota in quotas:
        if quota.period not in (None, period):
            continue
        key = (quota.tenant, quota.meter)
        if key in chosen and chosen[key].period == period and quota.period is None:
            continue
        chosen[key] = quota
    usable, problems = [], []
    for quota in chosen.values():
        if problem := quota_problem(quota, catalog):
            problems.append(problem)
        elif quota.quota > 0:
            usable.append(quota)
    return sorted(usable, key=lambda q: (q.tenant, q.meter)), sorted(problems)
