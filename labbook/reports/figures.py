"""The figures of the reports, each added up by the database (GROUP BY), so a year of bookings
costs a few queries, not a loop over rows. Functions take a ``Scope`` and a ``Period``
(``labbook.reports.periods``) and never read the request. The definitions (README, "Reports
and dashboards", says the same):

* **Counted bookings** are those in state approved, in use, completed or no-show that start in
  the period.
* **Booked hours**: their booked time. **Used hours**: checked out minus checked in, for those
  that were checked in and out.
* **Opening hours**: the lab's weekly opening hours on every date of the period, once per
  instrument that is not retired. Closures (blackouts) are not taken off.
* **Utilization**: booked (or used) hours ÷ opening hours. Bookings that run through closed
  hours (overnight) count in full, so it can exceed 100 %. An organization's utilization is its
  share of the opening hours of all instruments in the labs shown.
* **Due bookings**: bookings starting in the period, before now, that had been approved: in
  state approved, in use, completed or no-show, or cancelled late. **No-show rate** and
  **late-cancellation rate**: no-shows and late cancellations ÷ due bookings.
* **Revenue**: every charge (billed or not) that occurred in the period (a booking's charge on
  its booked start, a test's on its completion, an adjustment when it was made). Instrument
  time = usage, no-show and late-cancellation charges; testing services = service charges;
  adjustments apart.
* **Turnaround**: Mondays to Fridays after the lab date a test was requested, up to and
  including the date it was completed, for requests completed in the period. **Promised**: the
  service's turnaround days, halved and rounded up for express, counted the same way as the
  default due date. **On time**: taken ≤ promised.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from labbook.billing.models import Charge, ChargeKind
from labbook.booking import schedule, timeline
from labbook.booking.models import Booking, BookingState
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab, TestingService
from labbook.i18n import lazy_gettext as _l
from labbook.orders.models import LineState, Order, OrderLine
from labbook.reports.periods import Period, Scope
from labbook.reports.sql import (
    month_of,
    planned_each_time,
    seconds_between,
    working_days_between,
)

#: Bookings whose time counts as booked.
COUNTED_STATES = (BookingState.APPROVED, BookingState.IN_USE, BookingState.COMPLETED,
                  BookingState.NO_SHOW)
#: Charges for instrument time, as opposed to testing services and adjustments.
TIME_KINDS = (ChargeKind.USAGE, ChargeKind.NO_SHOW, ChargeKind.LATE_CANCELLATION)
ZERO = Decimal("0.00")
HOUR_SECONDS = 3600


class Dimension(enum.StrEnum):
    """What a report's rows are."""

    LAB = "lab"
    CATEGORY = "category"
    INSTRUMENT = "instrument"
    ORGANIZATION = "organization"
    MONTH = "month"
    TIER = "tier"
    SERVICE = "service"


DIMENSION_LABELS = {
    Dimension.LAB: _l("Lab"), Dimension.CATEGORY: _l("Category"),
    Dimension.INSTRUMENT: _l("Instrument"), Dimension.ORGANIZATION: _l("Organization"),
    Dimension.MONTH: _l("Month"), Dimension.TIER: _l("Price tier"),
    Dimension.SERVICE: _l("Testing service"),
}


# -- numbers ----------------------------------------------------------------------------------

def hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / HOUR_SECONDS).quantize(Decimal("0.01"), ROUND_HALF_UP)


def percent(part: int | Decimal, whole: int | Decimal | None) -> Decimal | None:
    """``part`` as a percentage of ``whole`` to one decimal; None when there is no whole."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def average(total: int, count: int) -> Decimal | None:
    if not count:
        return None
    return (Decimal(total) / count).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclasses.dataclass
class BookedTime:
    bookings: int = 0
    booked_seconds: int = 0
    used_seconds: int = 0

    def add(self, other: BookedTime) -> None:
        self.bookings += other.bookings
        self.booked_seconds += other.booked_seconds
        self.used_seconds += other.used_seconds


@dataclasses.dataclass
class Attendance:
    due: int = 0
    no_shows: int = 0
    late_cancellations: int = 0

    def add(self, other: Attendance) -> None:
        self.due += other.due
        self.no_shows += other.no_shows
        self.late_cancellations += other.late_cancellations


@dataclasses.dataclass
class Revenue:
    instrument_time: Decimal = ZERO
    services: Decimal = ZERO
    adjustments: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.instrument_time + self.services + self.adjustments

    def add(self, other: Revenue) -> None:
        self.instrument_time += other.instrument_time
        self.services += other.services
        self.adjustments += other.adjustments


@dataclasses.dataclass
class Turnaround:
    completed: int = 0
    express: int = 0
    promised_days: int = 0
    taken_days: int = 0
    longest: int = 0
    on_time: int = 0

    def add(self, other: Turnaround) -> None:
        self.completed += other.completed
        self.express += other.express
        self.promised_days += other.promised_days
        self.taken_days += other.taken_days
        self.longest = max(self.longest, other.longest)
        self.on_time += other.on_time


def added_up(values: Iterable[Any], factory: Callable[[], Any]) -> Any:
    """The figures ``values`` added into one (``factory`` makes the empty one)."""
    total = factory()
    for value in values:
        total.add(value)
    return total


# -- aggregate queries: one GROUP BY each -----------------------------------------------------

def _instruments(session: Session, scope: Scope) -> dict[int, dict[Dimension, int]]:
    """The lab and category of every instrument in scope, retired ones included."""
    rows = session.execute(select(Instrument.id, Instrument.lab_id, Instrument.category_id)
                           .where(Instrument.lab_id.in_(scope.lab_ids)))
    return {instrument_id: {Dimension.LAB: lab_id, Dimension.CATEGORY: category_id}
            for instrument_id, lab_id, category_id in rows}


def _bookings_by(session: Session, scope: Scope, period: Period, by: Dimension,
                 columns: Sequence[Any], conditions: Sequence[Any]) -> dict[Hashable, Any]:
    """``columns`` added up over the bookings in scope that start in the period and meet
    ``conditions``, per row of ``by`` (the result rows, as tuples).

    Bookings are grouped by instrument and the few groups summed up to labs and categories
    here: joining every booking to its instrument costs the database more than that.
    """
    instruments = _instruments(session, scope)
    roll_up = by in (Dimension.LAB, Dimension.CATEGORY)
    key = {Dimension.ORGANIZATION: Booking.organization_id,
           Dimension.MONTH: month_of(Booking.start_at, period.month_ends())
           }.get(by, Booking.instrument_id).label("key")
    query = (select(key, *columns)
             .where(Booking.instrument_id.in_(list(instruments)),
                    Booking.start_at >= period.start_at, Booking.start_at < period.end_at,
                    *conditions)
             .group_by(key))
    if scope.organization is not None:
        query = query.where(Booking.organization_id == scope.organization.id)
    grouped: dict[Hashable, list[int]] = {}
    for row in session.execute(planned_each_time(query)):
        group = instruments[row[0]][by] if roll_up else row[0]
        sums = grouped.setdefault(group, [0] * len(columns))
        for index, value in enumerate(row[1:]):
            sums[index] += value or 0
    return grouped


def booked_time(session: Session, scope: Scope, period: Period,
                by: Dimension) -> dict[Hashable, BookedTime]:
    # A booking not checked in and out has a NULL duration, which SUM leaves out.
    sums = _bookings_by(session, scope, period, by, [
        func.count(), func.sum(seconds_between(Booking.start_at, Booking.end_at)),
        func.sum(seconds_between(Booking.checked_in_at, Booking.checked_out_at))],
        [Booking.state.in_(COUNTED_STATES)])
    return {key: BookedTime(*values) for key, values in sums.items()}


def attendance(session: Session, scope: Scope, period: Period, by: Dimension, *,
               now: dt.datetime) -> dict[Hashable, Attendance]:
    late = and_(Booking.state == BookingState.CANCELLED, Booking.is_late_cancellation)
    # One IN over the states (rather than OR-ing the late cancellations in) lets the database
    # read them all through its index on state and start.
    sums = _bookings_by(session, scope, period, by, [
        func.count(), func.sum(_one_if(Booking.state == BookingState.NO_SHOW)),
        func.sum(_one_if(late))],
        [Booking.state.in_((*COUNTED_STATES, BookingState.CANCELLED)),
         or_(Booking.state != BookingState.CANCELLED, Booking.is_late_cancellation),
         Booking.start_at < now])
    return {key: Attendance(*values) for key, values in sums.items()}


def _one_if(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def revenue(session: Session, scope: Scope, period: Period,
            by: Dimension) -> dict[Hashable, Revenue]:
    charged_instrument = aliased(Instrument)
    charged_service = aliased(TestingService)
    key = {Dimension.LAB: Charge.lab_id, Dimension.INSTRUMENT: Charge.instrument_id,
           Dimension.CATEGORY: func.coalesce(charged_instrument.category_id,
                                             charged_service.category_id),
           Dimension.ORGANIZATION: Charge.organization_id, Dimension.TIER: Charge.tier,
           Dimension.MONTH: month_of(Charge.occurred_at, period.month_ends())}[by].label("key")
    # Each sum is of Money, so it comes back as Decimal yuan.
    query = select(key, *[func.sum(_amount_if(kinds)) for kinds in (
        TIME_KINDS, (ChargeKind.SERVICE,), (ChargeKind.ADJUSTMENT,))])
    if by == Dimension.CATEGORY:
        query = (query.outerjoin(charged_instrument, Charge.instrument_id == charged_instrument.id)
                 .outerjoin(charged_service, Charge.service_id == charged_service.id))
    query = query.where(Charge.lab_id.in_(scope.lab_ids), Charge.occurred_at >= period.start_at,
                        Charge.occurred_at < period.end_at)
    if scope.organization is not None:
        query = query.where(Charge.organization_id == scope.organization.id)
    return {row[0]: Revenue(*row[1:])
            for row in session.execute(planned_each_time(query.group_by(key)))}


def _amount_if(kinds: Sequence[ChargeKind]) -> Any:
    return case((Charge.kind.in_(kinds), Charge.amount), else_=literal(0))


def turnaround(session: Session, scope: Scope, period: Period,
               by: Dimension) -> dict[Hashable, Turnaround]:
    """Testing lines completed in the period, from the order's submission to the line's
    completion in working days, against what the service promises (half for express)."""
    line, order, service = OrderLine, Order, TestingService
    key = {Dimension.LAB: service.lab_id, Dimension.CATEGORY: service.category_id,
           Dimension.SERVICE: line.service_id,
           Dimension.MONTH: month_of(line.completed_at, period.month_ends())}[by].label("key")
    promised = case((line.is_express, (service.turnaround_days + 1) // 2),
                    else_=service.turnaround_days)
    taken = working_days_between(order.created_at, line.completed_at)
    rows = session.execute(planned_each_time(
        select(key, func.count(), func.sum(_one_if(line.is_express)), func.sum(promised),
               func.sum(taken), func.max(taken), func.sum(_one_if(taken <= promised)))
        .join(line.order).join(line.service)
        .where(line.state == LineState.COMPLETED,
               line.completed_at >= period.start_at, line.completed_at < period.end_at,
               service.lab_id.in_(scope.lab_ids))
        .group_by(key)))
    return {row[0]: Turnaround(*row[1:]) for row in rows}



# -- opening hours ------------------------------------------------------------------------------

def _open_seconds(session: Session, lab: Lab, first: dt.date, last: dt.date) -> int:
    """Seconds the lab is open on the dates ``first`` to ``last``."""
    lab_schedule = schedule.lab_schedule(session, lab.id)
    start = dt.datetime.combine(first, dt.time(0), lab_schedule.tz).astimezone(dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0),
                              lab_schedule.tz).astimezone(dt.UTC)
    return sum(int((closes - opens).total_seconds()) for opens, closes in
               timeline.opening_intervals(lab_schedule.hours, lab_schedule.tz, start, end))


def capacity(session: Session, scope: Scope, period: Period,
             by: Dimension) -> tuple[dict[Hashable, int], int]:
    """Opening seconds per row of ``by`` (none for organizations) and in all, counted once per
    instrument that is not retired."""
    instruments = session.execute(
        select(Instrument.id, Instrument.lab_id, Instrument.category_id)
        .where(Instrument.lab_id.in_(scope.lab_ids),
               Instrument.status != InstrumentStatus.RETIRED)).all()
    months = period.months()
    open_seconds = {(lab.id, month.key): _open_seconds(session, lab, month.first, month.last)
                    for lab in scope.labs for month in months}
    per_lab: dict[int, int] = defaultdict(int)
    for (lab_id, _month), seconds in open_seconds.items():
        per_lab[lab_id] += seconds
    per_key: dict[Hashable, int] = defaultdict(int)
    for instrument_id, lab_id, category_id in instruments:
        if by == Dimension.MONTH:
            for month in months:
                per_key[month.key] += open_seconds[lab_id, month.key]
        elif by != Dimension.ORGANIZATION:
            key = {Dimension.LAB: lab_id, Dimension.CATEGORY: category_id,
                   Dimension.INSTRUMENT: instrument_id}[by]
            per_key[key] += per_lab[lab_id]
    return dict(per_key), sum(per_lab[lab_id] for _id, lab_id, _category in instruments)
