"""What a report covers: a period of lab dates, and the labs (and, for a researcher's usage,
the organization) it is about.

A **period** is a range of lab dates (Asia/Shanghai), both ends included; a booking belongs
wholly to the lab date and month it starts in. Who may see which labs' reports is decided here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from labbook.accounts import services as accounts
from labbook.accounts.models import Organization, User
from labbook.catalogue.models import Lab
from labbook.catalogue.services import get_lab
from labbook.core.errors import PermissionDenied, ValidationError
from labbook.core.time import LAB_TZ, is_plausible_date, to_lab_time

#: The longest period a report covers, which bounds what one page may cost.
MAX_PERIOD_DAYS = 5 * 366


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
        return lab_midnight(self.first)

    @property
    def end_at(self) -> dt.datetime:
        return lab_midnight(self.last + dt.timedelta(days=1))

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
        return [(month.key, lab_midnight(month.last + dt.timedelta(days=1)))
                for month in self.months()]


def lab_midnight(day: dt.date) -> dt.datetime:
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


def parse_month(text: str | None, *, today: dt.date) -> Period:
    """The calendar month ``YYYY-MM`` (2000 to 2099); without one, the month before today's."""
    text = (text or "").strip()
    if not text:
        return month_period(today.replace(day=1) - dt.timedelta(days=1))
    try:
        day = dt.date.fromisoformat(f"{text}-01") if len(text) == 7 else None
    except ValueError:
        day = None
    if day is None or not is_plausible_date(day):
        raise ValidationError(_("'month' must be a month like 2026-11."), code="invalid_month")
    return month_period(day)


def _parse_date(text: str | None, name: str) -> dt.date | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        day = None
    if day is None or not is_plausible_date(day):
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


def lab_scope(session: Session, actor: User, lab_code: str | None = None) -> Scope:
    """The labs ``actor`` reports on: every lab for an admin, their own for a manager, one of
    them when ``lab_code`` is given. Researchers see their own organization's usage only."""
    if not can_view_lab_reports(actor):
        raise PermissionDenied(_("Lab reports are for lab managers and administrators."))
    labs = accounts.managed_labs(session, actor)
    if lab_code:
        lab = get_lab(session, lab_code.strip())
        if not actor.manages(lab):
            raise PermissionDenied(_("You do not manage lab %(code)s.", code=lab.code))
        labs = [lab]
    return Scope(tuple(labs))


def usage_scope(session: Session, actor: User, lab_code: str | None = None) -> Scope:
    """``actor``'s own organization's use of every lab (or of one), whatever their role."""
    if actor.organization is None:
        raise PermissionDenied(_("Your account belongs to no organization."))
    if lab_code:
        labs = [get_lab(session, lab_code.strip())]
    else:
        labs = list(session.scalars(select(Lab).order_by(Lab.code)))
    return Scope(tuple(labs), actor.organization)

