"""Exact decimals: quantities and money travel as strings and are computed as `Decimal`.

Every value on the wire and in the store is the canonical text of a `Decimal`: plain digits,
no exponent, no trailing fractional zeros (`1.5`, `0`, `1200`). Arithmetic runs in a context
wide enough that sums of stored values are exact; only a charge, which may divide (a price per
thousand, per minute), is rounded, once per event, to `SCALE` fractional digits.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

SCALE = 12
"""Fractional digits of a stored charge (and the most a decimal on the wire may have)."""

MAX_INTEGER_DIGITS = 18

CONTEXT = decimal.Context(
    prec=60,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
"""Precision of every computation: 60 digits hold any sum of 18.12-digit values exactly."""

ZERO = Decimal(0)
_QUANTUM = Decimal(1).scaleb(-SCALE)

CURRENCY = "USD"
"""The accounting currency: every price, charge and budget is in it."""


def parse(text: str) -> Decimal:
    """The decimal a canonical or wire string holds; ValueError when it is not a finite,
    non-negative decimal (an empty string is zero)."""
    if not text:
        return ZERO
    try:
        value = Decimal(text)
    except decimal.InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{text!r} is not a finite, non-negative decimal")
    return value


def text(value: Decimal) -> str:
    """The canonical text of a decimal: `1.5`, `0`, `1200` (never `1.2E+3`)."""
    written = format(value, "f")
    if "." in written:
        written = written.rstrip("0").rstrip(".")
    return "0" if written in ("", "-0") else written


def add(a: Decimal, b: Decimal) -> Decimal:
    """`a + b` in the exact context."""
    return CONTEXT.add(a, b)


def total(values: list[Decimal]) -> Decimal:
    """The exact sum."""
    result = ZERO
    for value in values:
        result = CONTEXT.add(result, value)
    return result


def multiply(a: Decimal, b: Decimal) -> Decimal:
    return CONTEXT.multiply(a, b)


def divide(a: Decimal, b: Decimal) -> Decimal:
    return CONTEXT.divide(a, b)


def rounded(value: Decimal) -> Decimal:
    """A charge as stored: `SCALE` fractional digits, half to even."""
    return value.quantize(_QUANTUM, context=CONTEXT)


def percent_of(limit: Decimal, percent: int) -> Decimal:
    """`percent` % of `limit`, exactly."""
    return CONTEXT.divide(CONTEXT.multiply(limit, Decimal(percent)), Decimal(100))
