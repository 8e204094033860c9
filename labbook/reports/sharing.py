"""Annual open-sharing statistics of large instruments (开放共享评价考核), per instrument and per
lab, as the science authorities ask for them. The definitions (the page and the README say the
same):

* **Large instruments**: purchase value at least ``LABBOOK_LARGE_INSTRUMENT_VALUE`` (¥500,000
  unless configured), in the labs shown, retired ones included.
* **Counted bookings** (bookings that took place): those that start in the year (lab time) and
  are completed or in use, or approved and ended by now — whoever booked them and for what,
  time booked for testing orders included. Cancelled, rejected, expired, pending and no-show
  bookings do not count.
* **Effective working hours** (有效工作机时): the booked time (start to end) of the counted
  bookings, each wholly in the year it starts; the hours are exactly the sum of those bookings.
* **The institute** is every organization on the *internal* price tier; every other
  organization is **outside**. **Hours to outside organizations** (对外服务机时) and **to the
  institute**: the effective hours of bookings paid by each. **Sharing rate** (共享率): outside
  hours ÷ effective hours.
* **Outside users**: people of outside organizations with a counted booking. **Outside
  organizations served**: outside organizations with a counted booking or a testing-service
  charge that belongs to the instrument.
* **Service revenue**: the instrument's revenue in the year as the owner settlements count it
  (``labbook.reports.settlements``: its instrument-time charges and adjustments, and its part
  of the testing services that use it); of which from outside organizations.
* **Training**: qualifications granted on the instrument in the year; **people trained** are
  the people granted one, a **training session** is the grants on one instrument on one lab day.
* **Downtime**: time in the year the instrument was out of use, from its breakdown and
  maintenance log (``labbook.faults``) and its own closures, overlaps counted once.

Every figure is added up by the database, grouped by instrument and organization (or person,
or day), and the few groups are rolled up to instruments, labs and the total here, so distinct
counts stay distinct across a lab.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from labbook.accounts.models import Organization, PriceTier
from labbook.booking.models import Booking, BookingState, Qualification
from labbook.catalogue.models import Instrument, Lab
from labbook.core.money import AmountError, read_amount
from labbook.faults.services import downtime_intervals
from labbook.reports.periods import Period
from labbook.reports.settlements import attributed_lines, yuan
from labbook.reports.sql import lab_day_number, planned_each_time, seconds_between

#: The purchase value from which an instrument is large, unless the app says otherwise.
DEFAULT_LARGE_VALUE = Decimal("500000.00")
#: Organizations on this tier are the institute's own.
INSTITUTE_TIER = PriceTier.INTERNAL


def large_value(setting: object) -> Decimal:
    """The purchase value from which an instrument counts as large, from the app's setting
    ``LABBOOK_LARGE_INSTRUMENT_VALUE`` (yuan; empty for the default)."""
    if setting in (None, ""):
        return DEFAULT_LARGE_VALUE
    try:
        return read_amount(str(setting))
    except AmountError:
        raise RuntimeError(f"LABBOOK_LARGE_INSTRUMENT_VALUE is no amount: {setting!r}") from None


def year_period(year: int) -> Period:
    return Period(dt.date(year, 1, 1), dt.date(year, 12, 31))


def counted(now: dt.datetime):
    """Bookings that took place (by ``now``)."""
    return or_(Booking.state.in_((BookingState.COMPLETED, BookingState.IN_USE)),
               and_(Booking.state == BookingState.APPROVED, Booking.end_at <= now))


@dataclasses.dataclass
class SharingFigures:
    bookings: int = 0
    effective_seconds: int = 0
    outside_seconds: int = 0
    outside_users: int = 0
    outside_organizations: int = 0
    revenue: Decimal = Decimal("0.00")
    outside_revenue: Decimal = Decimal("0.00")
    training_sessions: int = 0
    people_trained: int = 0
    downtime_seconds: int = 0

    @property
    def institute_seconds(self) -> int:
        return self.effective_seconds - self.outside_seconds


@dataclasses.dataclass
class LabFigures:
    lab: Lab
    instruments: list[tuple[Instrument, SharingFigures]]
    totals: SharingFigures


@dataclasses.dataclass
class SharingStatistics:
    year: int
    threshold: Decimal
    labs: list[LabFigures]
    totals: SharingFigures


def large_instruments(session: Session, labs: Sequence[Lab],
                      threshold: Decimal) -> list[Instrument]:
    return list(session.scalars(
        select(Instrument).where(Instrument.lab_id.in_([lab.id for lab in labs]),
                                 Instrument.value_cny >= threshold)
        .options(selectinload(Instrument.owner), selectinload(Instrument.lab))
        .order_by(Instrument.code)))


@dataclasses.dataclass
class _Groups:
    """The database's groups, before they are rolled up: per instrument the sums, and the
    sets whose sizes are distinct counts."""

    sums: dict[int, SharingFigures] = dataclasses.field(
        default_factory=lambda: defaultdict(SharingFigures))
    users: dict[int, set[int]] = dataclasses.field(default_factory=lambda: defaultdict(set))
    organizations: dict[int, set[int]] = dataclasses.field(
        default_factory=lambda: defaultdict(set))
    trained: dict[int, set[int]] = dataclasses.field(default_factory=lambda: defaultdict(set))


def _groups(session: Session, instrument_ids: list[int], period: Period, *,
            now: dt.datetime) -> _Groups:
    groups = _Groups()
    if not instrument_ids:
        return groups
    start, end = period.start_at, period.end_at
    outside_ids = set(session.scalars(select(Organization.id)
                                      .where(Organization.tier != INSTITUTE_TIER)))
    # Bookings, grouped by instrument, organization and person.
    for instrument_id, organization_id, user_id, bookings, seconds in session.execute(
            planned_each_time(
                select(Booking.instrument_id, Booking.organization_id, Booking.user_id,
                       func.count(), func.sum(seconds_between(Booking.start_at, Booking.end_at)))
                .where(Booking.instrument_id.in_(instrument_ids), Booking.start_at >= start,
                       Booking.start_at < end, counted(now))
                .group_by(Booking.instrument_id, Booking.organization_id, Booking.user_id))):
        figures = groups.sums[instrument_id]
        # PostgreSQL sums integers as NUMERIC: seconds are whole numbers here.
        seconds = int(seconds)
        figures.bookings += bookings
        figures.effective_seconds += seconds
        if organization_id in outside_ids:
            figures.outside_seconds += seconds
            groups.users[instrument_id].add(user_id)
            groups.organizations[instrument_id].add(organization_id)
    # Revenue, as the settlements attribute it, grouped by instrument and organization.
    lines = attributed_lines(start, end)
    for instrument_id, organization_id, amount in session.execute(planned_each_time(
            select(lines.c.instrument_id, lines.c.organization_id, func.sum(lines.c.amount))
            .where(lines.c.instrument_id.in_(instrument_ids))
            .group_by(lines.c.instrument_id, lines.c.organization_id))):
        figures = groups.sums[instrument_id]
        figures.revenue += yuan(amount)
        if organization_id in outside_ids:
            figures.outside_revenue += yuan(amount)
            groups.organizations[instrument_id].add(organization_id)
    # Training: grants grouped by instrument, person and lab day.
    day = lab_day_number(Qualification.granted_at)
    sessions: dict[int, set[int]] = defaultdict(set)
    for instrument_id, user_id, day_number in session.execute(planned_each_time(
            select(Qualification.instrument_id, Qualification.user_id, day)
            .where(Qualification.instrument_id.in_(instrument_ids),
                   Qualification.granted_at >= start, Qualification.granted_at < end)
            .group_by(Qualification.instrument_id, Qualification.user_id, day))):
        groups.trained[instrument_id].add(user_id)
        sessions[instrument_id].add(day_number)
    for instrument_id, days in sessions.items():
        groups.sums[instrument_id].training_sessions = len(days)
    for instrument_id, intervals in downtime_intervals(session, instrument_ids, start, end,
                                                       now=now).items():
        groups.sums[instrument_id].downtime_seconds = sum(
            int((last - first).total_seconds()) for first, last in intervals)
    return groups


def _rolled_up(groups: _Groups, instrument_ids: Iterable[int]) -> SharingFigures:
    ids = list(instrument_ids)
    total = SharingFigures()
    for instrument_id in ids:
        figures = groups.sums.get(instrument_id)
        if figures is None:
            continue
        for field in ("bookings", "effective_seconds", "outside_seconds", "revenue",
                      "outside_revenue", "training_sessions", "downtime_seconds"):
            setattr(total, field, getattr(total, field) + getattr(figures, field))

    def distinct(sets: dict[int, set[int]]) -> int:
        return len(set().union(*(sets.get(instrument_id, set()) for instrument_id in ids)))

    total.outside_users = distinct(groups.users)
    total.outside_organizations = distinct(groups.organizations)
    total.people_trained = distinct(groups.trained)
    return total


def sharing_statistics(session: Session, labs: Sequence[Lab], year: int, *,
                       threshold: Decimal = DEFAULT_LARGE_VALUE,
                       now: dt.datetime) -> SharingStatistics:
    """The year's figures of the large instruments of ``labs``, per instrument, per lab and in
    all."""
    instruments = large_instruments(session, labs, threshold)
    groups = _groups(session, [instrument.id for instrument in instruments], year_period(year),
                     now=now)
    per_lab = []
    for lab in sorted(labs, key=lambda lab: lab.code):
        own = [instrument for instrument in instruments if instrument.lab_id == lab.id]
        per_lab.append(LabFigures(lab, [(instrument, _rolled_up(groups, [instrument.id]))
                                        for instrument in own],
                                  _rolled_up(groups, (i.id for i in own))))
    return SharingStatistics(year, threshold, per_lab,
                             _rolled_up(groups, (i.id for i in instruments)))


def instrument_figures(session: Session, instruments: Sequence[Instrument], period: Period, *,
                       now: dt.datetime) -> dict[int, SharingFigures]:
    """The same figures for any instruments (an owner's) over any period."""
    groups = _groups(session, [instrument.id for instrument in instruments], period, now=now)
    return {instrument.id: _rolled_up(groups, [instrument.id]) for instrument in instruments}


@dataclasses.dataclass
class OrganizationUse:
    name: str
    is_outside: bool
    bookings: int = 0
    seconds: int = 0
    revenue: Decimal = Decimal("0.00")


def use_by_organization(session: Session, instruments: Sequence[Instrument], period: Period, *,
                        now: dt.datetime) -> list[OrganizationUse]:
    """Which organizations used the instruments in the period — counted bookings and their
    hours, and the revenue — by organization name only, most hours first."""
    ids = [instrument.id for instrument in instruments]
    if not ids:
        return []
    start, end = period.start_at, period.end_at
    use: dict[int, OrganizationUse] = {}
    names = {organization_id: (name, tier) for organization_id, name, tier in session.execute(
        select(Organization.id, Organization.name, Organization.tier))}

    def entry(organization_id: int) -> OrganizationUse:
        if organization_id not in use:
            name, tier = names[organization_id]
            use[organization_id] = OrganizationUse(name, tier != INSTITUTE_TIER)
        return use[organization_id]

    for organization_id, bookings, seconds in session.execute(planned_each_time(
            select(Booking.organization_id, func.count(),
                   func.sum(seconds_between(Booking.start_at, Booking.end_at)))
            .where(Booking.instrument_id.in_(ids), Booking.start_at >= start,
                   Booking.start_at < end, counted(now))
            .group_by(Booking.organization_id))):
        row = entry(organization_id)
        row.bookings, row.seconds = bookings, int(seconds)
    lines = attributed_lines(start, end)
    for organization_id, amount in session.execute(planned_each_time(
            select(lines.c.organization_id, func.sum(lines.c.amount))
            .where(lines.c.instrument_id.in_(ids)).group_by(lines.c.organization_id))):
        entry(organization_id).revenue = yuan(amount)
    return sorted(use.values(), key=lambda row: (-row.seconds, -row.revenue, row.name))
