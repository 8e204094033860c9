"""The arithmetic of a charge: minutes billed and amounts, rounded half-up to the fen per line."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from labbook.billing.models import BillingBasis, RateCard

FEN = Decimal("0.01")
MINUTE = dt.timedelta(minutes=1)


def to_fen(amount: Decimal) -> Decimal:
    """Round ``amount`` half-up to the fen, the one rounding every line goes through."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def whole_minutes(start: dt.datetime, end: dt.datetime) -> int:
    """Minutes from ``start`` to ``end``, a started minute counting in full."""
    return max(0, math.ceil((end - start) / MINUTE))


def billed_minutes(basis: BillingBasis, booked: int, actual: int | None, *,
                   rounding: int, minimum: int) -> int:
    """Minutes to bill: by ``basis``, rounded up to the ``rounding`` increment, at least
    ``minimum``. ``actual`` is None when the instrument was never used."""
    used = actual if actual is not None else 0
    if basis == BillingBasis.BOOKED:
        minutes = booked
    elif basis == BillingBasis.ACTUAL:
        minutes = used
    else:
        minutes = max(booked, used)
    if rounding > 1:
        minutes = math.ceil(minutes / rounding) * rounding
    return max(minutes, minimum)


def time_amount(minutes: int, hourly_rate: Decimal, share_percent: int = 100) -> Decimal:
    return to_fen(Decimal(minutes) * hourly_rate * share_percent / Decimal(6000))


@dataclass(frozen=True)
class TimePrice:
    """How a booking's charge was computed, kept on the charge line."""

    basis: BillingBasis
    booked_minutes: int
    actual_minutes: int | None
    rounding_minutes: int
    minimum_minutes: int
    billed_minutes: int
    hourly_rate: Decimal
    share_percent: int
    amount: Decimal


def price_time(card: RateCard, *, booked: int, actual: int | None,
               basis: BillingBasis | None = None, share_percent: int = 100) -> TimePrice:
    """Price instrument time on ``card``; ``basis`` overrides the card's (no-shows and late
    cancellations are billed on the booked time)."""
    basis = basis or card.billing_basis
    minutes = billed_minutes(basis, booked, actual, rounding=card.rounding_minutes,
                             minimum=card.minimum_minutes)
    return TimePrice(basis=basis, booked_minutes=booked, actual_minutes=actual,
                     rounding_minutes=card.rounding_minutes,
                     minimum_minutes=card.minimum_minutes, billed_minutes=minutes,
                     hourly_rate=card.hourly_rate, share_percent=share_percent,
                     amount=time_amount(minutes, card.hourly_rate, share_percent))
