"""Owner settlements (分成结算): what each owner unit's instruments earned in a period and the
owner's share of it, line by line, added up by the database.

**Revenue of an instrument** is every charge that occurred in the period (as in the revenue
report: billed or not, on its booked start, a test's completion, an adjustment's making) and
that belongs to the instrument:

* instrument time — usage, no-show and late-cancellation charges of its bookings — and
  adjustments that name the instrument (corrections of such charges) are the instrument's;
* a testing charge of an order line whose instrument time was booked for it (bookings with
  its ``order_line_id`` that are approved, in use or completed) belongs to the instruments so
  booked, divided by the hours booked on each;
* any other testing-service charge belongs to the instruments the testing service uses (its
  catalogue's ``instruments``), split equally between them.

Each division is to the fen, rounded down, and the fen left over goes one each to the
instruments with the lowest ids, so the parts add up to the charge.

Charges that belong to no owner's instrument — adjustments that name no instrument, testing
services that name none, instruments without an owner — are shown apart as not attributed, so
that the settlements of a period and that line add up to the revenue report of all labs.

**The owner's share** of a line is the percentage of the agreement in force at the line's
moment (``owners.models.OwnerAgreement``: one for instrument time and adjustments, one for
testing), rounded half-up to the fen per line; an owner's share is the sum of its lines. Without
an agreement in force the share is 0 %.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    case,
    cast,
    func,
    literal,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from labbook.accounts.models import Organization
from labbook.billing.models import Charge, ChargeKind
from labbook.booking.models import Booking, BookingState
from labbook.catalogue.models import Instrument, Owner, service_instruments
from labbook.core.money import FEN
from labbook.owners.models import OwnerAgreement
from labbook.reports.figures import TIME_KINDS
from labbook.reports.periods import Period, lab_midnight
from labbook.reports.sql import planned_each_time, seconds_between

TIME = "time"
TESTING = "testing"


def yuan(fen: int | None) -> Decimal:
    return (Decimal(fen or 0) * FEN).quantize(FEN)


def _raw(amount: Any) -> Any:
    """A Money column as its integer fen, for arithmetic in SQL."""
    return type_coerce(amount, BigInteger)


#: Bookings of an order line whose instrument time the line's charge is divided by.
LINE_BOOKING_STATES = (BookingState.APPROVED, BookingState.IN_USE, BookingState.COMPLETED)


def _whole(value: Any) -> Any:
    """``value`` as a whole number in SQL: PostgreSQL's SUM of integers is NUMERIC, and
    dividing NUMERICs does not round down to the fen."""
    return cast(value, BigInteger)


def _signed(amount: Any, part: Any) -> Any:
    """``part`` of the magnitude of ``amount``, with the sign of ``amount``."""
    return case((amount < 0, -part), else_=part)


def _line_weights() -> Any:
    """Booked seconds per order line and instrument: the instrument time booked for each order
    line (``bookings.order_line_id``), which its charge is divided by."""
    return (select(Booking.order_line_id.label("order_line_id"),
                   Booking.instrument_id.label("instrument_id"),
                   _whole(func.sum(seconds_between(Booking.start_at, Booking.end_at)))
                   .label("weight"))
            .where(Booking.order_line_id.is_not(None), Booking.state.in_(LINE_BOOKING_STATES))
            .group_by(Booking.order_line_id, Booking.instrument_id)
            .subquery("line_weights"))


def attributed_lines(start: dt.datetime, end: dt.datetime) -> Any:
    """A subquery of the charges that occurred in [start, end), each as the part that belongs
    to one instrument: charge_id, instrument_id, part (time or testing), amount (fen),
    occurred_at, organization_id, kind."""
    amount = _raw(Charge.amount)
    size = type_coerce(func.abs(amount), BigInteger)
    in_period = (Charge.occurred_at >= start, Charge.occurred_at < end)

    def columns(instrument_id: Any, part: str, value: Any) -> list[Any]:
        return [Charge.id.label("charge_id"), instrument_id.label("instrument_id"),
                literal(part).label("part"), _whole(value).label("amount"),
                Charge.occurred_at.label("occurred_at"),
                Charge.organization_id.label("organization_id"), Charge.kind.label("kind")]

    time_lines = select(*columns(Charge.instrument_id, TIME, amount)).where(
        *in_period, Charge.instrument_id.is_not(None),
        Charge.kind.in_((*TIME_KINDS, ChargeKind.ADJUSTMENT)))

    # A testing charge of an order line whose instrument time was booked: divided by the booked
    # hours on each instrument, each part rounded down to the fen and the fen left over given
    # one each to the instruments with the lowest ids.
    weights = _line_weights()
    total = _whole(func.sum(weights.c.weight).over(partition_by=Charge.id))
    rank = func.row_number().over(partition_by=Charge.id, order_by=weights.c.instrument_id)
    floored = (select(*columns(weights.c.instrument_id, TESTING, amount),
                      (size * weights.c.weight // total).label("floor"), rank.label("rank"))
               .join(weights, weights.c.order_line_id == Charge.order_line_id)
               .where(*in_period, Charge.kind == ChargeKind.SERVICE)
               .subquery("floored"))
    left_over = (type_coerce(func.abs(floored.c.amount), BigInteger)
                 - _whole(func.sum(floored.c.floor).over(partition_by=floored.c.charge_id)))
    by_hours = select(
        floored.c.charge_id, floored.c.instrument_id, floored.c.part,
        _whole(_signed(floored.c.amount, floored.c.floor
                       + case((floored.c.rank <= left_over, 1), else_=0))).label("amount"),
        floored.c.occurred_at, floored.c.organization_id, floored.c.kind)

    # Any other testing charge: divided equally between the instruments the testing service
    # uses, the fen left over again to the lowest ids.
    users = service_instruments.c
    count = func.count().over(partition_by=Charge.id)
    rank = func.row_number().over(partition_by=Charge.id, order_by=users.instrument_id)
    equal_part = size // count + case((rank <= size % count, 1), else_=0)
    booked = select(weights.c.order_line_id).where(
        weights.c.order_line_id == Charge.order_line_id).exists()
    by_service = select(*columns(users.instrument_id, TESTING, _signed(amount, equal_part))) \
        .join(service_instruments, users.service_id == Charge.service_id) \
        .where(*in_period, Charge.kind == ChargeKind.SERVICE, ~booked)
    return union_all(time_lines, by_hours, by_service).subquery("attributed")


def _percent(lines: Any, owner_id: Any, session: Session, owner_ids: Sequence[int]) -> Any:
    """The share percentage in force for each line: a CASE over the owners' agreements, the
    latest start first."""
    whens = []
    for agreement in session.scalars(
            select(OwnerAgreement).where(OwnerAgreement.owner_id.in_(owner_ids))
            .order_by(OwnerAgreement.effective_from.desc())):
        percent = case((lines.c.part == TIME, agreement.time_share_percent),
                       else_=agreement.testing_share_percent)
        whens.append(((owner_id == agreement.owner_id)
                      & (lines.c.occurred_at >= lab_midnight(agreement.effective_from)),
                      percent))
    return case(*whens, else_=0) if whens else literal(0)


def _share(amount: Any, percent: Any) -> Any:
    """``amount`` × ``percent`` / 100 in fen, half-up (away from zero) per line."""
    product = amount * percent
    magnitude = (type_coerce(func.abs(product), BigInteger) + 50) // 100
    return case((product < 0, -magnitude), else_=magnitude)


# -- the figures ------------------------------------------------------------------------------


@dataclasses.dataclass
class OwnerTotals:
    time_revenue: Decimal = Decimal("0.00")
    testing_revenue: Decimal = Decimal("0.00")
    time_share: Decimal = Decimal("0.00")
    testing_share: Decimal = Decimal("0.00")

    @property
    def revenue(self) -> Decimal:
        return self.time_revenue + self.testing_revenue

    @property
    def share(self) -> Decimal:
        return self.time_share + self.testing_share

    def add(self, other: OwnerTotals) -> None:
        self.time_revenue += other.time_revenue
        self.testing_revenue += other.testing_revenue
        self.time_share += other.time_share
        self.testing_share += other.testing_share


@dataclasses.dataclass(frozen=True)
class SettlementLine:
    charge_id: int
    occurred_at: dt.datetime
    instrument: Instrument
    organization: str
    kind: ChargeKind
    part: str
    amount: Decimal
    percent: int
    share: Decimal


@dataclasses.dataclass
class Settlement:
    owner: Owner
    period: Period
    lines: list[SettlementLine]
    totals: OwnerTotals
    #: The agreements in force at some moment of the period, the earliest first.
    agreements: list[OwnerAgreement]


def _owner_lines(session: Session, period: Period, owner_ids: Sequence[int]) -> Select[Any]:
    lines = attributed_lines(period.start_at, period.end_at)
    percent = _percent(lines, Instrument.owner_id, session, owner_ids)
    return select(lines, Instrument.owner_id, percent.label("percent"),
                  _share(lines.c.amount, percent).label("share")) \
        .join(Instrument, Instrument.id == lines.c.instrument_id) \
        .where(Instrument.owner_id.in_(owner_ids))


def owner_totals(session: Session, period: Period) -> tuple[dict[int, OwnerTotals], Decimal]:
    """Every owner's revenue and share in the period, and the revenue of all charges of the
    period (which the owners' revenue and the unattributed rest add up to)."""
    owner_ids = list(session.scalars(select(Owner.id)))
    totals: dict[int, OwnerTotals] = {}
    if owner_ids:
        lines = _owner_lines(session, period, owner_ids).subquery()
        is_time = lines.c.part == TIME
        rows = session.execute(planned_each_time(select(
            lines.c.owner_id,
            func.sum(case((is_time, lines.c.amount), else_=0)),
            func.sum(case((is_time, 0), else_=lines.c.amount)),
            func.sum(case((is_time, lines.c.share), else_=0)),
            func.sum(case((is_time, 0), else_=lines.c.share)),
        ).group_by(lines.c.owner_id)))
        totals = {owner_id: OwnerTotals(*(yuan(value) for value in values))
                  for owner_id, *values in rows}
    every_charge = session.scalar(select(func.sum(_raw(Charge.amount))).where(
        Charge.occurred_at >= period.start_at, Charge.occurred_at < period.end_at))
    return totals, yuan(every_charge)


def settlement(session: Session, owner: Owner, period: Period) -> Settlement:
    """``owner``'s settlement for the period, line by line (by moment, charge, instrument)."""
    lines = _owner_lines(session, period, [owner.id]).subquery()
    rows = session.execute(planned_each_time(
        select(lines.c.charge_id, lines.c.occurred_at, lines.c.instrument_id, lines.c.kind,
               lines.c.part, lines.c.amount, lines.c.percent, lines.c.share, Organization.name)
        .join(Organization, Organization.id == lines.c.organization_id)
        .order_by(lines.c.occurred_at, lines.c.charge_id, lines.c.instrument_id))).all()
    instruments = {instrument.id: instrument for instrument in owner.instruments}
    result = [SettlementLine(charge_id, occurred_at, instruments[instrument_id], organization,
                             ChargeKind(kind), part, yuan(amount), percent, yuan(share))
              for charge_id, occurred_at, instrument_id, kind, part, amount, percent, share,
              organization in rows]
    totals = OwnerTotals()
    for line in result:
        totals.add(OwnerTotals(*((line.amount, Decimal("0.00"), line.share, Decimal("0.00"))
                                 if line.part == TIME else
                                 (Decimal("0.00"), line.amount, Decimal("0.00"), line.share))))
    return Settlement(owner, period, result, totals, _agreements_in(session, owner, period))


def _agreements_in(session: Session, owner: Owner, period: Period) -> list[OwnerAgreement]:
    """The agreements in force at some moment of the period."""
    earlier = select(func.max(OwnerAgreement.effective_from)).where(
        OwnerAgreement.owner_id == owner.id,
        OwnerAgreement.effective_from <= period.first).scalar_subquery()
    return list(session.scalars(
        select(OwnerAgreement).where(OwnerAgreement.owner_id == owner.id,
                                     OwnerAgreement.effective_from <= period.last,
                                     OwnerAgreement.effective_from >= func.coalesce(
                                         earlier, period.first))
        .order_by(OwnerAgreement.effective_from)))
