"""Working days: statutory holidays, make-up working days (调休) and each lab's choice.

A day is a working day of a lab when it is Monday to Friday, unless it is a statutory holiday
and the lab closes on holidays; a Saturday or Sunday is one when it is a make-up working day
and the lab opens on them. A lab that chose neither (no policy) works Monday to Friday all
year. The national calendar (``StatutoryDay``) is the institute's, edited by admins; it is
seeded from the maintained package chinese-calendar for the years it covers and from the
shipped ``data/cn_statutory_days.csv`` for the others.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labbook.accounts.models import User
from labbook.audit.services import record
from labbook.catalogue.models import Lab
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from labbook.core.time import is_plausible_date
from labbook.holidays.models import DayKind, Festival, LabHolidayPolicy, StatutoryDay

#: The shipped national calendar, for the years chinese-calendar does not cover.
SHIPPED_DAYS = Path(__file__).parent / "data" / "cn_statutory_days.csv"
#: The years labbook seeds: this one and the next.
SEEDED_YEARS = (2026, 2027)
#: How far ``add_working_days`` may count: no turnaround is longer than years.
MAX_WORKING_DAYS = 1000

_CHINESE_CALENDAR_FESTIVALS = {
    "New Year's Day": Festival.NEW_YEAR, "Spring Festival": Festival.SPRING_FESTIVAL,
    "Tomb-sweeping Day": Festival.TOMB_SWEEPING, "Labour Day": Festival.LABOUR_DAY,
    "Dragon Boat Festival": Festival.DRAGON_BOAT, "Mid-autumn Festival": Festival.MID_AUTUMN,
    "National Day": Festival.NATIONAL_DAY,
}


@dataclass(frozen=True)
class Policy:
    closes_on_holidays: bool = False
    opens_on_makeup_days: bool = False


@dataclass(frozen=True)
class DayOverrides:
    """The dates on which a lab departs from its weekly opening hours."""

    closed: frozenset[dt.date] = frozenset()
    #: Make-up working days on a Saturday or Sunday the lab opens on.
    opened: frozenset[dt.date] = frozenset()


# -- reading ----------------------------------------------------------------------------------

def lab_policy(session: Session, lab_id: int) -> Policy:
    row = session.execute(select(LabHolidayPolicy.closes_on_holidays,
                                 LabHolidayPolicy.opens_on_makeup_days)
                          .where(LabHolidayPolicy.lab_id == lab_id)).first()
    return Policy(*row) if row is not None else Policy()


def _days_between(session: Session, first: dt.date | None, last: dt.date | None
                  ) -> dict[dt.date, DayKind]:
    statement = select(StatutoryDay.day, StatutoryDay.kind)
    if first is not None:
        statement = statement.where(StatutoryDay.day >= first)
    if last is not None:
        statement = statement.where(StatutoryDay.day <= last)
    return {day: kind for day, kind in session.execute(statement)}


def _works(day: dt.date, kind: DayKind | None, policy: Policy) -> bool:
    if kind == DayKind.HOLIDAY and policy.closes_on_holidays:
        return False
    if kind == DayKind.MAKEUP_WORKDAY and policy.opens_on_makeup_days:
        return True
    return day.weekday() < 5


def is_working_day(session: Session, lab_id: int, day: dt.date) -> bool:
    """Whether lab ``lab_id`` works on ``day`` (see the module's docstring)."""
    policy = lab_policy(session, lab_id)
    kind = None
    if policy != Policy():
        kind = _days_between(session, day, day).get(day)
    return _works(day, kind, policy)


def add_working_days(session: Session, lab_id: int, start: dt.date, days: int) -> dt.date:
    """The date ``days`` working days of lab ``lab_id`` after ``start`` (``start`` itself
    when ``days`` is 0), reading the lab's policy and the national calendar once."""
    if not 0 <= days <= MAX_WORKING_DAYS:
        raise ValueError(f"days must be between 0 and {MAX_WORKING_DAYS}, not {days}")
    policy = lab_policy(session, lab_id)
    # A year holds fewer than 40 statutory days: reading from start on is one small query.
    kinds = _days_between(session, start, None) if policy != Policy() and days else {}
    day = start
    while days > 0:
        day += dt.timedelta(days=1)
        if _works(day, kinds.get(day), policy):
            days -= 1
    return day


def working_days_between(session: Session, lab_id: int, first: dt.date, last: dt.date
                         ) -> list[dt.date]:
    """The working days of lab ``lab_id`` from ``first`` to ``last``, both included."""
    policy = lab_policy(session, lab_id)
    kinds = _days_between(session, first, last) if policy != Policy() else {}
    days = (first + dt.timedelta(days=n) for n in range((last - first).days + 1))
    return [day for day in days if _works(day, kinds.get(day), policy)]


def day_overrides(session: Session, lab_id: int) -> DayOverrides:
    """The days lab ``lab_id`` closes (holidays) and opens (make-up days) against its weekly
    hours, for the booking rules and calendars."""
    policy = lab_policy(session, lab_id)
    if policy == Policy():
        return DayOverrides()
    kinds = _days_between(session, None, None)
    closed = {d for d, k in kinds.items() if k == DayKind.HOLIDAY} \
        if policy.closes_on_holidays else set()
    opened = {d for d, k in kinds.items() if k == DayKind.MAKEUP_WORKDAY and d.weekday() >= 5} \
        if policy.opens_on_makeup_days else set()
    return DayOverrides(frozenset(closed), frozenset(opened))


def statutory_days(session: Session, year: int | None = None) -> list[StatutoryDay]:
    statement = select(StatutoryDay).order_by(StatutoryDay.day)
    if year is not None:
        statement = statement.where(StatutoryDay.day >= dt.date(year, 1, 1),
                                    StatutoryDay.day <= dt.date(year, 12, 31))
    return list(session.scalars(statement))


def years_held(session: Session) -> list[int]:
    return sorted({d.year for d in session.scalars(select(StatutoryDay.day))})


def get_day(session: Session, day: dt.date) -> StatutoryDay:
    found = session.scalar(select(StatutoryDay).where(StatutoryDay.day == day))
    if found is None:
        raise NotFound(_("%(day)s is not in the national calendar.", day=day.isoformat()))
    return found


# -- the national calendar, edited by admins ------------------------------------------------

def can_edit_calendar(actor: User) -> bool:
    return actor.is_admin


def _require_admin(actor: User) -> None:
    if not can_edit_calendar(actor):
        raise PermissionDenied(_("Only administrators change the national calendar."))


def _check_day(day: dt.date) -> None:
    if not is_plausible_date(day):
        message = _("Give a date between 2000 and 2099.")
        raise ValidationError(message, code="invalid_date",
                              problems=[Problem("invalid_date", message, field="day")])


def _check_kind(day: dt.date, kind: DayKind) -> None:
    if kind == DayKind.MAKEUP_WORKDAY and day.weekday() < 5:
        message = _("A make-up working day is a Saturday or Sunday; %(day)s is a weekday.",
                    day=day.isoformat())
        raise ValidationError(message, code="makeup_day_on_weekday",
                              problems=[Problem("makeup_day_on_weekday", message, field="day")])


def set_day(session: Session, actor: User, *, day: dt.date, kind: DayKind, festival: Festival,
            now: dt.datetime, source: str = "") -> tuple[StatutoryDay, bool]:
    """Make ``day`` a holiday or make-up day of the national calendar (a new day, or a change
    of one already there). Returns the day and whether it is new."""
    _require_admin(actor)
    _check_day(day)
    _check_kind(day, kind)
    existing = session.scalar(select(StatutoryDay).where(StatutoryDay.day == day)
                              .with_for_update())
    source = source.strip()[:200] or _("entered by %(name)s", name=actor.name)[:200]
    if existing is None:
        created = StatutoryDay(day=day, kind=kind, festival=festival, source=source,
                               updated_at=now)
        session.add(created)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            raise Conflict(_("%(day)s was added at the same moment by someone else.",
                             day=day.isoformat()), code="duplicate_day") from None
        record(session, actor, created, "create", at=now, day=day.isoformat(),
               kind=kind.value, festival=festival.value, source=source)
        return created, True
    changes = {"kind": [existing.kind.value, kind.value],
               "festival": [existing.festival.value, festival.value],
               "source": [existing.source, source]}
    existing.kind, existing.festival, existing.source, existing.updated_at = (
        kind, festival, source, now)
    record(session, actor, existing, "update", at=now, day=day.isoformat(), changes=changes)
    return existing, False


def delete_day(session: Session, actor: User, day: dt.date, *, now: dt.datetime) -> None:
    """Take ``day`` out of the national calendar (a plain weekday or weekend day again)."""
    _require_admin(actor)
    found = session.scalar(select(StatutoryDay).where(StatutoryDay.day == day)
                           .with_for_update())
    if found is None:
        raise NotFound(_("%(day)s is not in the national calendar.", day=day.isoformat()))
    record(session, actor, found, "delete", at=now, day=day.isoformat(),
           kind=found.kind.value, festival=found.festival.value)
    session.delete(found)
    session.flush()


def _package_days(years: Iterable[int]) -> dict[dt.date, tuple[DayKind, Festival, str]]:
    """The days chinese-calendar knows for ``years`` (none for a year it does not cover)."""
    import chinese_calendar
    from chinese_calendar.constants import holidays, workdays

    source = f"chinese-calendar {chinese_calendar.__version__}"
    wanted = set(years)
    days: dict[dt.date, tuple[DayKind, Festival, str]] = {}
    for table, kind in ((holidays, DayKind.HOLIDAY), (workdays, DayKind.MAKEUP_WORKDAY)):
        for day, name in table.items():
            if day.year in wanted:
                festival = _CHINESE_CALENDAR_FESTIVALS.get(name, Festival.OTHER)
                days[day] = (kind, festival, source)
    return days


def shipped_days() -> dict[dt.date, tuple[DayKind, Festival, str]]:
    with SHIPPED_DAYS.open(encoding="utf-8", newline="") as data:
        return {dt.date.fromisoformat(row["day"]): (DayKind(row["kind"]),
                                                    Festival(row["festival"]), row["source"])
                for row in csv.DictReader(data)}


def seed_days(years: Iterable[int] = SEEDED_YEARS) -> dict[dt.date, tuple[DayKind, Festival, str]]:
    """The national calendar for ``years``: chinese-calendar's days for the years it covers,
    the shipped file's for the others."""
    wanted = set(years)
    from_package = _package_days(wanted)
    covered = {day.year for day in from_package}
    days = {day: entry for day, entry in shipped_days().items()
            if day.year in wanted - covered}
    days.update(from_package)
    return dict(sorted(days.items()))


def seed_calendar(session: Session, actor: User | None, *, now: dt.datetime,
                  years: Iterable[int] = SEEDED_YEARS) -> int:
    """Add the seeded days (``seed_days``) the calendar does not hold yet; a day already there,
    perhaps corrected by an admin, is kept. Returns how many were added; running it again adds
    none."""
    if actor is not None:
        _require_admin(actor)
    wanted = seed_days(years)
    held = set(session.scalars(select(StatutoryDay.day).where(
        StatutoryDay.day.in_(list(wanted)))))
    added = 0
    for day, (kind, festival, source) in wanted.items():
        if day in held:
            continue
        created = StatutoryDay(day=day, kind=kind, festival=festival, source=source,
                               updated_at=now)
        session.add(created)
        session.flush()
        record(session, actor, created, "create", at=now, day=day.isoformat(),
               kind=kind.value, festival=festival.value, source=source)
        added += 1
    return added


# -- each lab's choice ----------------------------------------------------------------------

def can_set_policy(actor: User, lab: Lab) -> bool:
    return actor.manages_lab_id(lab.id)


def set_lab_policy(session: Session, actor: User, lab: Lab, *, closes_on_holidays: bool,
                   opens_on_makeup_days: bool, now: dt.datetime) -> LabHolidayPolicy:
    """Record whether ``lab`` closes on holidays and opens on make-up days (its managers and
    admins). Bookings already made are kept; new ones follow the new choice."""
    if not can_set_policy(actor, lab):
        raise PermissionDenied(_("Only the lab's managers change its holiday settings."))
    # The lab's row orders this change with bookings being made in it (they share-lock it).
    session.refresh(lab, with_for_update=True)
    policy = session.scalar(select(LabHolidayPolicy).where(LabHolidayPolicy.lab_id == lab.id)
                            .with_for_update())
    before = Policy(policy.closes_on_holidays, policy.opens_on_makeup_days) if policy \
        else Policy()
    if policy is None:
        policy = LabHolidayPolicy(lab_id=lab.id)
        session.add(policy)
    policy.closes_on_holidays = closes_on_holidays
    policy.opens_on_makeup_days = opens_on_makeup_days
    policy.updated_at = now
    session.flush()
    record(session, actor, policy, "update", at=now, lab=lab.code, changes={
        "closes_on_holidays": [before.closes_on_holidays, closes_on_holidays],
        "opens_on_makeup_days": [before.opens_on_makeup_days, opens_on_makeup_days]})
    return policy
