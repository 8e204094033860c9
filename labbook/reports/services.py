"""Reports: utilization, attendance, revenue, organizations, testing-service turnaround, and a
researcher's own organization's usage; the managers' and the admins' dashboards.

Every figure is added up by the database (GROUP BY), so a year of bookings costs a few queries,
not a loop over rows. Functions take the acting user or a ``Scope`` built for them and never
read the request. The definitions (README, "Reports and dashboards", says the same):

* A **period** is a range of lab dates (Asia/Shanghai), both ends included.
* **Counted bookings** are those in state approved, in use, completed or no-show that start in
  the period; a booking belongs wholly to the lab date and month it starts in.
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

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from labbook.accounts import services as accounts
from labbook.accounts.labels import TIER_LABELS
from labbook.accounts.models import Organization, PriceTier, User
from labbook.billing.models import Charge, ChargeKind
from labbook.booking import schedule, timeline
from labbook.booking.models import Booking, BookingState
from labbook.catalogue.models import Category, Instrument, InstrumentStatus, Lab, TestingService
from labbook.core.errors import NotFound, PermissionDenied, ValidationError
from labbook.core.tables import Cell, Column, Kind, Table
from labbook.core.time import LAB_TZ, to_lab_time
from labbook.i18n import localized
from labbook.reports.sql import month_of, seconds_between, working_days_between
from labbook.testing.models import ServiceRequest, ServiceRequestState

#: Bookings whose time counts as booked.
COUNTED_STATES = (BookingState.APPROVED, BookingState.IN_USE, BookingState.COMPLETED,
                  BookingState.NO_SHOW)
#: Charges for instrument time, as opposed to testing services and adjustments.
TIME_KINDS = (ChargeKind.USAGE, ChargeKind.NO_SHOW, ChargeKind.LATE_CANCELLATION)
#: Bookings shown on a manager's dashboard: everything still planned or already happened.
DASHBOARD_STATES = (BookingState.PENDING, *COUNTED_STATES)
#: The longest period a report covers, which bounds what one page may cost.
MAX_PERIOD_DAYS = 5 * 366
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


# -- what a report covers ---------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Month:
    key: str  # YYYY-MM
    first: dt.date
    last: dt.date


@dataclasses.dataclass(frozen=True)
class Period:
    """Lab dates from ``first`` to ``last``, both included."""

    first: dt.date
    last: dt.date

    @property
    def start_at(self) -> dt.datetime:
        return _lab_midnight(self.first)

    @property
    def end_at(self) -> dt.datetime:
        return _lab_midnight(self.last + dt.timedelta(days=1))

    def months(self) -> list[Month]:
        """The calendar months the period touches, each cut to the period."""
        months = []
        first = self.first
        while first <= self.last:
            following = _first_of_next_month(first)
            last = min(following - dt.timedelta(days=1), self.last)
            months.append(Month(first.strftime("%Y-%m"), first, last))
            first = following
        return months

    def month_ends(self) -> list[tuple[str, dt.datetime]]:
        return [(month.key, _lab_midnight(month.last + dt.timedelta(days=1)))
                for month in self.months()]


def _lab_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), LAB_TZ).astimezone(dt.UTC)


def _first_of_next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def month_period(day: dt.date) -> Period:
    """The calendar month of ``day``."""
    first = day.replace(day=1)
    return Period(first, _first_of_next_month(first) - dt.timedelta(days=1))


def lab_today(now: dt.datetime) -> dt.date:
    return to_lab_time(now).date()


def parse_period(first: str | None, last: str | None, *, today: dt.date) -> Period:
    """The period from two ``YYYY-MM-DD`` texts; an empty one defaults to this month's end."""
    default = month_period(today)
    start = _parse_date(first, "from") or default.first
    end = _parse_date(last, "to") or (default.last if not first else
                                      month_period(start).last)
    if end < start:
        raise ValidationError(_("The end of the period comes before its start."),
                              code="invalid_period")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise ValidationError(_("A report covers at most five years."), code="invalid_period")
    return Period(start, end)


def _parse_date(text: str | None, name: str) -> dt.date | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        day = None
    if day is None or not 2000 <= day.year <= 2099:
        raise ValidationError(_("'%(name)s' must be a date like 2026-12-31.", name=name),
                              code="invalid_date")
    return day


@dataclasses.dataclass(frozen=True)
class Scope:
    """The labs a report covers and, for a researcher's usage, the one organization."""

    labs: tuple[Lab, ...]
    organization: Organization | None = None

    @property
    def lab_ids(self) -> list[int]:
        return [lab.id for lab in self.labs]


def can_view_lab_reports(actor: User) -> bool:
    return accounts.can_manage_something(actor)


def _lab_by_code(session: Session, code: str) -> Lab:
    lab = session.scalar(select(Lab).where(Lab.code == code.strip().upper()))
    if lab is None:
        raise NotFound(_("Unknown lab %(code)s.", code=code))
    return lab


def lab_scope(session: Session, actor: User, lab_code: str | None = None) -> Scope:
    """The labs ``actor`` reports on: every lab for an admin, their own for a manager, one of
    them when ``lab_code`` is given. Researchers see their own organization's usage only."""
    if not can_view_lab_reports(actor):
        raise PermissionDenied(_("Lab reports are for lab managers and administrators."))
    labs = accounts.managed_labs(session, actor)
    if lab_code:
        lab = _lab_by_code(session, lab_code)
        if not actor.manages(lab):
            raise PermissionDenied(_("You do not manage lab %(code)s.", code=lab.code))
        labs = [lab]
    return Scope(tuple(labs))


def usage_scope(session: Session, actor: User, lab_code: str | None = None) -> Scope:
    """``actor``'s own organization's use of every lab (or of one), whatever their role."""
    if actor.organization is None:
        raise PermissionDenied(_("Your account belongs to no organization."))
    if lab_code:
        labs = [_lab_by_code(session, lab_code)]
    else:
        labs = list(session.scalars(select(Lab).order_by(Lab.code)))
    return Scope(tuple(labs), actor.organization)


# -- numbers ----------------------------------------------------------------------------------

def hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / HOUR_SECONDS).quantize(Decimal("0.01"), ROUND_HALF_UP)


def percent(part: int | Decimal, whole: int | Decimal | None) -> Decimal | None:
    """``part`` as a percentage of ``whole`` to one decimal; None when there is no whole."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _average(total: int, count: int) -> Decimal | None:
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


def _total(values: Iterable[Any], factory: Callable[[], Any]) -> Any:
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
    for row in session.execute(query):
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
    return {row[0]: Revenue(*row[1:]) for row in session.execute(query.group_by(key))}


def _amount_if(kinds: Sequence[ChargeKind]) -> Any:
    return case((Charge.kind.in_(kinds), Charge.amount), else_=literal(0))


def turnaround(session: Session, scope: Scope, period: Period,
               by: Dimension) -> dict[Hashable, Turnaround]:
    request, service = ServiceRequest, TestingService
    key = {Dimension.LAB: service.lab_id, Dimension.CATEGORY: service.category_id,
           Dimension.SERVICE: request.service_id,
           Dimension.MONTH: month_of(request.completed_at, period.month_ends())}[by].label("key")
    promised = case((request.is_express, (service.turnaround_days + 1) // 2),
                    else_=service.turnaround_days)
    taken = working_days_between(request.created_at, request.completed_at)
    rows = session.execute(
        select(key, func.count(), func.sum(_one_if(request.is_express)), func.sum(promised),
               func.sum(taken), func.max(taken), func.sum(_one_if(taken <= promised)))
        .join(request.service)
        .where(request.state == ServiceRequestState.COMPLETED,
               request.completed_at >= period.start_at, request.completed_at < period.end_at,
               service.lab_id.in_(scope.lab_ids))
        .group_by(key))
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


# -- row headings ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Head:
    """A row's leading cells, its short name on a chart, and where it sorts."""

    cells: tuple[Cell, ...]
    label: str
    order: tuple[Any, ...]


def _column(key: str, label: Any, kind: Kind = Kind.TEXT) -> Column:
    return Column(key, str(label), kind)


def head_columns(by: Dimension) -> list[Column]:
    return {
        Dimension.LAB: [_column("lab_code", _l("Code")), _column("lab", _l("Lab"))],
        Dimension.CATEGORY: [_column("category", _l("Category"))],
        Dimension.INSTRUMENT: [_column("instrument_code", _l("Code")),
                               _column("instrument", _l("Instrument")),
                               _column("lab_code", _l("Lab"))],
        Dimension.ORGANIZATION: [_column("organization", _l("Organization")),
                                 _column("tier", _l("Price tier"))],
        Dimension.MONTH: [_column("month", _l("Month"))],
        Dimension.TIER: [_column("tier", _l("Price tier"))],
        Dimension.SERVICE: [_column("service_code", _l("Code")),
                            _column("service", _l("Testing service")),
                            _column("lab_code", _l("Lab"))],
    }[by]


#: Which leading cell holds a row's name (the one a missing key's explanation goes in).
NAME_CELL = {Dimension.LAB: 1, Dimension.INSTRUMENT: 1, Dimension.SERVICE: 1}


def _heads(session: Session, by: Dimension, keys: Iterable[Hashable]) -> dict[Hashable, Head]:
    wanted = [key for key in keys if key is not None]
    heads: dict[Hashable, Head] = {}
    if by == Dimension.LAB:
        for lab in session.scalars(select(Lab).where(Lab.id.in_(wanted))):
            heads[lab.id] = Head((lab.code, localized(lab, "name")), lab.code, (0, lab.code))
    elif by == Dimension.CATEGORY:
        for category in session.scalars(select(Category).where(Category.id.in_(wanted))):
            name = localized(category, "name")
            heads[category.id] = Head((name,), name, (0, category.key))
    elif by == Dimension.INSTRUMENT:
        for instrument in session.scalars(select(Instrument).where(Instrument.id.in_(wanted))
                                          .options(selectinload(Instrument.lab))):
            heads[instrument.id] = Head((instrument.code, localized(instrument, "name"),
                                         instrument.lab.code), instrument.code,
                                        (0, instrument.code))
    elif by == Dimension.SERVICE:
        for service in session.scalars(select(TestingService)
                                       .where(TestingService.id.in_(wanted))
                                       .options(selectinload(TestingService.lab))):
            heads[service.id] = Head((service.code, localized(service, "name"),
                                      service.lab.code), service.code, (0, service.code))
    elif by == Dimension.ORGANIZATION:
        for organization in session.scalars(select(Organization)
                                            .where(Organization.id.in_(wanted))):
            heads[organization.id] = Head(
                (organization.name, str(TIER_LABELS[organization.tier])), organization.name,
                (0, organization.name))
    elif by == Dimension.TIER:
        tiers = list(PriceTier)
        for tier in wanted:
            heads[tier] = Head((str(TIER_LABELS[tier]),), str(TIER_LABELS[tier]),
                               (0, tiers.index(tier)))
    else:
        for month in wanted:
            heads[month] = Head((month,), str(month), (0, month))
    if None in keys:
        heads[None] = _missing_head(by)
    return heads


def _missing_head(by: Dimension) -> Head:
    """The row of charges that have no value of ``by`` (an adjustment has no instrument)."""
    label = {Dimension.INSTRUMENT: _("No instrument (testing services, adjustments)"),
             Dimension.CATEGORY: _("No category (adjustments)"),
             Dimension.TIER: _("No price tier")}.get(by, _("Other"))
    cells: list[Cell] = [None] * len(head_columns(by))
    cells[NAME_CELL.get(by, 0)] = label
    return Head(tuple(cells), label, (1,))


def _total_head(by: Dimension, label: str) -> tuple[Cell, ...]:
    return (label, *[None] * (len(head_columns(by)) - 1))


def _known_keys(scope: Scope, period: Period, by: Dimension) -> list[Hashable]:
    """Rows a report shows even when empty: every lab in scope, every month of the period."""
    if by == Dimension.LAB:
        return list(scope.lab_ids)
    if by == Dimension.MONTH:
        return [month.key for month in period.months()]
    if by == Dimension.TIER:
        return list(PriceTier)
    return []


# -- reports --------------------------------------------------------------------------------------

@dataclasses.dataclass
class Report:
    """A table of figures with a short name per row for charts."""

    table: Table
    labels: list[str]


def _report(session: Session, by: Dimension, keys: Iterable[Hashable],
            columns: list[Column], cells: Callable[[Hashable], tuple[Cell, ...]],
            total: tuple[Cell, ...], total_label: str | None = None) -> Report:
    keys = set(keys)
    heads = _heads(session, by, keys)
    ordered = sorted(keys, key=lambda key: heads[key].order)
    table = Table([*head_columns(by), *columns],
                  [heads[key].cells + cells(key) for key in ordered],
                  _total_head(by, total_label or _("Total")) + total)
    return Report(table, [heads[key].label for key in ordered])


UTILIZATION_DIMENSIONS = (Dimension.LAB, Dimension.CATEGORY, Dimension.INSTRUMENT,
                          Dimension.ORGANIZATION, Dimension.MONTH)
ATTENDANCE_DIMENSIONS = UTILIZATION_DIMENSIONS
REVENUE_DIMENSIONS = (*UTILIZATION_DIMENSIONS, Dimension.TIER)
TURNAROUND_DIMENSIONS = (Dimension.LAB, Dimension.CATEGORY, Dimension.SERVICE, Dimension.MONTH)
USAGE_DIMENSIONS = (Dimension.INSTRUMENT, Dimension.MONTH, Dimension.LAB)


def _time_columns() -> list[Column]:
    return [_column("bookings", _l("Bookings"), Kind.COUNT),
            _column("booked_hours", _l("Booked hours"), Kind.HOURS),
            _column("used_hours", _l("Used hours"), Kind.HOURS)]


def _time_cells(time: BookedTime) -> tuple[Cell, ...]:
    return (time.bookings, hours(time.booked_seconds), hours(time.used_seconds))


def utilization_report(session: Session, scope: Scope, period: Period,
                       by: Dimension) -> Report:
    time = booked_time(session, scope, period, by)
    open_by_key, open_in_all = capacity(session, scope, period, by)

    def cells(booked: BookedTime, open_seconds: int) -> tuple[Cell, ...]:
        return (*_time_cells(booked), hours(open_seconds),
                percent(booked.booked_seconds, open_seconds),
                percent(booked.used_seconds, open_seconds))

    def row(key: Hashable) -> tuple[Cell, ...]:
        open_seconds = open_in_all if by == Dimension.ORGANIZATION else open_by_key.get(key, 0)
        return cells(time.get(key, BookedTime()), open_seconds)

    columns = [*_time_columns(), _column("open_hours", _l("Opening hours"), Kind.HOURS),
               _column("booked_utilization", _l("Booked utilization (%)"), Kind.PERCENT),
               _column("used_utilization", _l("Used utilization (%)"), Kind.PERCENT)]
    keys = {*time, *open_by_key, *_known_keys(scope, period, by)}
    return _report(session, by, keys, columns, row,
                   cells(_total(time.values(), BookedTime), open_in_all))


def attendance_report(session: Session, scope: Scope, period: Period, by: Dimension, *,
                      now: dt.datetime) -> Report:
    counts = attendance(session, scope, period, by, now=now)

    def cells(value: Attendance) -> tuple[Cell, ...]:
        return (value.due, value.no_shows, percent(value.no_shows, value.due),
                value.late_cancellations, percent(value.late_cancellations, value.due))

    columns = [_column("due", _l("Due bookings"), Kind.COUNT),
               _column("no_shows", _l("No-shows"), Kind.COUNT),
               _column("no_show_rate", _l("No-show rate (%)"), Kind.PERCENT),
               _column("late_cancellations", _l("Late cancellations"), Kind.COUNT),
               _column("late_cancellation_rate", _l("Late-cancellation rate (%)"),
                       Kind.PERCENT)]
    return _report(session, by, {*counts, *_known_keys(scope, period, by)}, columns,
                   lambda key: cells(counts.get(key, Attendance())),
                   cells(_total(counts.values(), Attendance)))


def _money_columns() -> list[Column]:
    return [_column("instrument_time", _l("Instrument time (¥)"), Kind.MONEY),
            _column("services", _l("Testing services (¥)"), Kind.MONEY),
            _column("adjustments", _l("Adjustments (¥)"), Kind.MONEY),
            _column("total", _l("Total (¥)"), Kind.MONEY)]


def _money_cells(value: Revenue) -> tuple[Cell, ...]:
    return (value.instrument_time, value.services, value.adjustments, value.total)


def revenue_report(session: Session, scope: Scope, period: Period, by: Dimension) -> Report:
    amounts = revenue(session, scope, period, by)
    return _report(session, by, {*amounts, *_known_keys(scope, period, by)}, _money_columns(),
                   lambda key: _money_cells(amounts.get(key, Revenue())),
                   _money_cells(_total(amounts.values(), Revenue)))


class Ranking(enum.StrEnum):
    REVENUE = "revenue"
    HOURS = "hours"


def organizations_reports(session: Session, scope: Scope, period: Period, *,
                          limit: int | None = None) -> dict[Ranking, Report]:
    """Organizations ranked by revenue and by booked hours, highest first, from one query of
    each kind; the totals cover every organization, however many are listed."""
    time = booked_time(session, scope, period, Dimension.ORGANIZATION)
    amounts = revenue(session, scope, period, Dimension.ORGANIZATION)
    keys = {*time, *amounts}
    heads = _heads(session, Dimension.ORGANIZATION, keys)

    def cells(booked: BookedTime, money: Revenue) -> tuple[Cell, ...]:
        return _time_cells(booked) + _money_cells(money)

    def ranked(ranking: Ranking) -> Report:
        def rank(key: Hashable) -> tuple[Any, ...]:
            booked = time.get(key, BookedTime()).booked_seconds
            money = amounts.get(key, Revenue()).total
            first, second = (money, booked) if ranking == Ranking.REVENUE else (booked, money)
            return (-first, -second, heads[key].order)

        shown = sorted(keys, key=rank)[:limit]
        table = Table(
            [*head_columns(Dimension.ORGANIZATION), *_time_columns(), *_money_columns()],
            [heads[key].cells + cells(time.get(key, BookedTime()), amounts.get(key, Revenue()))
             for key in shown],
            _total_head(Dimension.ORGANIZATION, _("All organizations"))
            + cells(_total(time.values(), BookedTime), _total(amounts.values(), Revenue)))
        return Report(table, [heads[key].label for key in shown])

    return {ranking: ranked(ranking) for ranking in Ranking}


def turnaround_report(session: Session, scope: Scope, period: Period, by: Dimension) -> Report:
    figures = turnaround(session, scope, period, by)

    def cells(value: Turnaround) -> tuple[Cell, ...]:
        return (value.completed, value.express, _average(value.promised_days, value.completed),
                _average(value.taken_days, value.completed),
                value.longest if value.completed else None, value.on_time,
                percent(value.on_time, value.completed))

    columns = [_column("completed", _l("Completed requests"), Kind.COUNT),
               _column("express", _l("Express"), Kind.COUNT),
               _column("promised_days", _l("Promised (working days, average)"), Kind.DAYS),
               _column("taken_days", _l("Taken (working days, average)"), Kind.DAYS),
               _column("longest_days", _l("Longest (working days)"), Kind.COUNT),
               _column("on_time", _l("On time"), Kind.COUNT),
               _column("on_time_share", _l("On time (%)"), Kind.PERCENT)]
    return _report(session, by, {*figures, *_known_keys(scope, period, by)}, columns,
                   lambda key: cells(figures.get(key, Turnaround())),
                   cells(_total(figures.values(), Turnaround)))


def usage_report(session: Session, scope: Scope, period: Period, by: Dimension) -> Report:
    """One organization's booked and used hours and what it was charged (``scope`` names it)."""
    time = booked_time(session, scope, period, by)
    amounts = revenue(session, scope, period, by)

    def cells(booked: BookedTime, money: Revenue) -> tuple[Cell, ...]:
        return _time_cells(booked) + _money_cells(money)

    return _report(session, by, {*time, *amounts, *_known_keys(scope, period, by)},
                   [*_time_columns(), *_money_columns()],
                   lambda key: cells(time.get(key, BookedTime()), amounts.get(key, Revenue())),
                   cells(_total(time.values(), BookedTime), _total(amounts.values(), Revenue)))


# -- dashboards ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class LabFigures:
    """One lab's (or all labs') month at a glance."""

    bookings: int
    booked_hours: Decimal
    used_hours: Decimal
    booked_utilization: Decimal | None
    used_utilization: Decimal | None
    revenue: Decimal


def lab_figures(session: Session, scope: Scope, period: Period) -> dict[int | None, LabFigures]:
    """Figures per lab of ``scope`` and, under the key None, for them all."""
    time = booked_time(session, scope, period, Dimension.LAB)
    open_by_lab, open_in_all = capacity(session, scope, period, Dimension.LAB)
    amounts = revenue(session, scope, period, Dimension.LAB)

    def figures(booked: BookedTime, open_seconds: int, money: Revenue) -> LabFigures:
        return LabFigures(booked.bookings, hours(booked.booked_seconds),
                          hours(booked.used_seconds),
                          percent(booked.booked_seconds, open_seconds),
                          percent(booked.used_seconds, open_seconds), money.total)

    result: dict[int | None, LabFigures] = {
        lab_id: figures(time.get(lab_id, BookedTime()), open_by_lab.get(lab_id, 0),
                        amounts.get(lab_id, Revenue())) for lab_id in scope.lab_ids}
    result[None] = figures(_total(time.values(), BookedTime), open_in_all,
                           _total(amounts.values(), Revenue))
    return result


def pending_approvals(session: Session, lab_ids: list[int]) -> dict[int, int]:
    """Bookings waiting for a decision, per lab."""
    rows = session.execute(
        select(Instrument.lab_id, func.count()).join(Booking.instrument)
        .where(Booking.state == BookingState.PENDING, Instrument.lab_id.in_(lab_ids))
        .group_by(Instrument.lab_id))
    return {lab_id: count for lab_id, count in rows}


@dataclasses.dataclass(frozen=True)
class InstituteDashboard:
    labs: list[Lab]
    this_month: Period
    last_month: Period
    #: Figures per lab id, and for all labs under None.
    this: dict[int | None, LabFigures]
    last: dict[int | None, LabFigures]
    pending: dict[int | None, int]


def institute_dashboard(session: Session, actor: User, *, now: dt.datetime
                        ) -> InstituteDashboard:
    """Every lab side by side, this calendar month (all of it, bookings to come included)
    against the last, and the requests waiting for approval now."""
    if not actor.is_admin:
        raise PermissionDenied(_("The institute's dashboard is for administrators."))
    scope = lab_scope(session, actor)
    this_month = month_period(lab_today(now))
    last_month = month_period(this_month.first - dt.timedelta(days=1))
    pending: dict[int | None, int] = dict(pending_approvals(session, scope.lab_ids))
    pending[None] = sum(pending.values())
    return InstituteDashboard(list(scope.labs), this_month, last_month,
                              lab_figures(session, scope, this_month),
                              lab_figures(session, scope, last_month), pending)


@dataclasses.dataclass(frozen=True)
class DayPlan:
    day: dt.date
    bookings: list[Booking]


@dataclasses.dataclass(frozen=True)
class ManagerDashboard:
    labs: list[Lab]
    today: dt.date
    days: list[DayPlan]
    pending_approvals: int
    in_maintenance: list[Instrument]
    overdue_requests: list[ServiceRequest]


def manager_dashboard(session: Session, actor: User, *, now: dt.datetime) -> ManagerDashboard:
    """Today and tomorrow in the labs ``actor`` manages: bookings, requests waiting for
    approval, instruments under maintenance and testing requests past their due date."""
    scope = lab_scope(session, actor)
    lab_ids = scope.lab_ids
    today = lab_today(now)
    days = [today, today + dt.timedelta(days=1)]
    bookings = list(session.scalars(
        select(Booking).join(Booking.instrument)
        .where(Instrument.lab_id.in_(lab_ids), Booking.state.in_(DASHBOARD_STATES),
               Booking.end_at > _lab_midnight(days[0]),
               Booking.start_at < _lab_midnight(days[-1] + dt.timedelta(days=1)))
        .options(selectinload(Booking.instrument).selectinload(Instrument.lab),
                 selectinload(Booking.user), selectinload(Booking.organization))
        .order_by(Booking.start_at, Booking.id)))
    plans = [DayPlan(day, [booking for booking in bookings
                           if booking.start_at < _lab_midnight(day + dt.timedelta(days=1))
                           and booking.end_at > _lab_midnight(day)]) for day in days]
    in_maintenance = list(session.scalars(
        select(Instrument).where(Instrument.lab_id.in_(lab_ids),
                                 Instrument.status == InstrumentStatus.MAINTENANCE)
        .options(selectinload(Instrument.lab)).order_by(Instrument.code)))
    overdue = list(session.scalars(
        select(ServiceRequest).join(ServiceRequest.service)
        .where(TestingService.lab_id.in_(lab_ids),
               ServiceRequest.state.in_((ServiceRequestState.ACCEPTED,
                                         ServiceRequestState.IN_PROGRESS)),
               ServiceRequest.due_date < today)
        .options(selectinload(ServiceRequest.service).selectinload(TestingService.lab),
                 selectinload(ServiceRequest.organization))
        .order_by(ServiceRequest.due_date, ServiceRequest.id)))
    return ManagerDashboard(list(scope.labs), today, plans,
                            sum(pending_approvals(session, lab_ids).values()), in_maintenance,
                            overdue)
