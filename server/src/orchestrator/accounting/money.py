"""Money conversions. Stored as integer micro-dollars; shown as numbers with up to 6 decimals."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

MICROS = Decimal(1_000_000)


def to_micros(amount: Decimal) -> int:
    return int((amount * MICROS).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_micros(micros: int | None) -> float | None:
    return None if micros is None else float(Decimal(micros) / MICROS)
