"""What a record carries: exact decimal quantities, the usage keys and amounts, and corrections as deltas.

Quantities. usage_hourly.value is Decimal(38, 9): up to 38 significant digits, more than Python's
default decimal context (28) keeps, so all arithmetic here runs in EXACT, which traps on
any rounding instead of silently losing a digit.

Text form (`quantity` in records and manifests): plain notation, never an exponent; no
trailing zeros after the point and no bare point (`10.500000000` -> `10.5`, `10.0` -> `10`);
`0` for any zero (never `-0`); a leading `-` for negatives. Equal numbers always give
equal text, so the serialized output is deterministic.

Corrections. What a new revision carries is current usage minus what was already exported.
Per (tenant, billing account, meter, dimensions) of an hour, a revision's record holds
`quantity = current - sum(exported)` and `event_count` likewise; a key whose usage went
down gets a negative delta, and a key that disappeared (a tenant gone after a fix) gets
exactly minus what was exported. A key with both deltas zero is left out; an hour with
no changed key gets no new revision at all. So for every key and at every moment:

    sum over revisions of quantity == current usage_hourly value

Design decision for max / min / unique_count meters: their hour value is not additive
across events, but it is still one number per key and hour, and a correction carries the
*change of that number* (e.g. max 7 -> 9 gives +2, unique users 5 -> 4 gives -1). A
correction record is therefore never a value on its own: downstream must sum the
revisions of a key (same tenant, account, meter, dimensions, window) to get the hour's
value, for every aggregation alike. This keeps one invariant and one rule for all meters.
(Summing unique_count across *hours* is not a distinct count over the day; that is a
property of the meter, not of the export.)

An event_count-only change (max unchanged, more events) still gives a record with
quantity `0`, so event counts reconcile too.
"""

from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation, Rounded

EXACT = Context(prec=100, traps=[Inexact, Rounded, InvalidOperation])


def to_decimal(value) -> Decimal:
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise ValueError(f"quantity must be finite: {value!r}")
    return number


def subtract(a, b) -> Decimal:
    return EXACT.subtract(to_decimal(a), to_decimal(b))


def total(values) -> Decimal:
    result = Decimal(0)
    for value in values:
        result = EXACT.add(result, to_decimal(value))
    return result


def quantity_text(value) -> str:
    number = to_decimal(value)
    if number.is_zero():
        return "0"
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


Dimensions = tuple[tuple[str, str], ...]


@dataclass(frozen=True, order=True)
class UsageKey:
    meter: str
    tenant_id: str
    billing_account_id: str
    dimensions: Dimensions  # sorted (name, value) pairs

    @classmethod
    def of(cls, meter: str, tenant_id: str, billing_account_id: str, dimensions: dict) -> "UsageKey":
        return cls(meter, tenant_id, billing_account_id or "", tuple(sorted(dimensions.items())))


@dataclass(frozen=True)
class Amount:
    quantity: Decimal
    event_count: int
    event_type: str = ""
    unit: str = ""


def accumulate(rows) -> dict[UsageKey, Amount]:
    """Sum (key, Amount) pairs per key, exactly (ledger rows of several revisions)."""
    found: dict[UsageKey, list[Amount]] = {}
    for key, amount in rows:
        found.setdefault(key, []).append(amount)
    return {
        key: Amount(total(a.quantity for a in amounts), sum(a.event_count for a in amounts), amounts[-1].event_type, amounts[-1].unit)
        for key, amounts in found.items()
    }


def compute_deltas(current: dict[UsageKey, Amount], exported: dict[UsageKey, Amount]) -> dict[UsageKey, Amount]:
    """Every key whose usage differs from what was exported, with current minus exported."""
    deltas = {}
    for key in sorted(current.keys() | exported.keys()):
        now = current.get(key, Amount(Decimal(0), 0))
        before = exported.get(key, Amount(Decimal(0), 0))
        quantity = subtract(now.quantity, before.quantity)
        events = now.event_count - before.event_count
        if quantity.is_zero() and events == 0:
            continue
        source = now if key in current else before
        deltas[key] = Amount(quantity, events, source.event_type, source.unit)
    return deltas
