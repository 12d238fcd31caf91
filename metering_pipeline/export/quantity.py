"""Exact decimal quantities and their one canonical text.

usage_hourly.value is Decimal(38, 9): up to 38 significant digits, more than Python's
default decimal context (28) keeps, so all arithmetic here runs in EXACT, which traps on
any rounding instead of silently losing a digit.

Text form (`quantity` in records and manifests): plain notation, never an exponent; no
trailing zeros after the point and no bare point (`10.500000000` -> `10.5`, `10.0` -> `10`);
`0` for any zero (never `-0`); a leading `-` for negatives. Equal numbers always give
equal text, so the serialized output is deterministic.
"""

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
