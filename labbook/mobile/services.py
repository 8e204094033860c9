"""What the instrument's phone page shows and does."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from labbook.accounts.models import User
from labbook.booking import attendance
from labbook.booking.calendar import booking_entry, window_bookings
from labbook.booking.models import Booking, BookingState
from labbook.catalogue.models import Instrument
from labbook.core.errors import Conflict
from labbook.i18n import gettext as _


@dataclass(frozen=True)
class Today:
    """An instrument's lab day as a viewer may see it, and what they may do now."""

    #: The day's bookings (``booking.calendar.booking_entry``: "booked" only, for others'),
    #: with lab-local ``start_local`` and ``end_local``.
    entries: list[dict[str, Any]]
    #: The viewer's own booking that may be checked in now, or that is in use.
    current: Booking | None
    #: The lab day shown: a time on another day is shown with its date (``web.lab_span``).
    day: dt.date


def _lab_day(instrument: Instrument, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    zone = ZoneInfo(instrument.lab.timezone)
    midnight = dt.datetime.combine(now.astimezone(zone).date(), dt.time(0), zone)
    return midnight.astimezone(dt.UTC), (midnight + dt.timedelta(days=1)).astimezone(dt.UTC)


def _checking_in_end(day_end: dt.datetime, now: dt.datetime) -> dt.datetime:
    """Where the bookings one may check in now end being read: the lab day's end, or past it
    the latest start whose check-in has opened (at 23:50 lab time a booking of 00:05 may be
    checked in: check-in opens CHECK_IN_EARLY_MINUTES before the start). A window reads the
    bookings that start before its end, hence the microsecond."""
    latest_start = now + dt.timedelta(minutes=attendance.CHECK_IN_EARLY_MINUTES)
    return max(day_end, latest_start + dt.timedelta(microseconds=1))


def today(session: Session, instrument: Instrument, viewer: User | None, *,
          now: dt.datetime) -> Today:
    start, day_end = _lab_day(instrument, now)
    bookings = window_bookings(session, instrument, start, _checking_in_end(day_end, now),
                               viewer)
    zone = ZoneInfo(instrument.lab.timezone)
    entries = []
    for booking in bookings:
        if booking.start_at >= day_end:
            continue  # tomorrow's, read only as the booking that may be checked in now
        entry = booking_entry(booking, viewer)
        entry.update(start_local=booking.start_at.astimezone(zone),
                     end_local=booking.end_at.astimezone(zone),
                     own=viewer is not None and booking.user_id == viewer.id)
        entries.append(entry)
    return Today(entries, current_booking(bookings, viewer, now=now),
                 start.astimezone(zone).date())


def current_booking(bookings: list[Booking], viewer: User | None, *,
                    now: dt.datetime) -> Booking | None:
    """The viewer's own booking in use, else the one they may check in now."""
    if viewer is None:
        return None
    own = [booking for booking in bookings if booking.user_id == viewer.id]
    in_use = [booking for booking in own if booking.state == BookingState.IN_USE]
    if in_use:
        return in_use[0]
    for booking in own:
        if attendance.can_check_in(viewer, booking, now=now):
            return booking
    return None


def _no_current_booking() -> Conflict:
    return Conflict(_("You have no booking of this instrument to check in now: check-in opens "
                      "%(n)d minutes before the start.", n=attendance.CHECK_IN_EARLY_MINUTES),
                    code="no_current_booking")


def _own_booking(session: Session, actor: User, instrument: Instrument, *,
                 now: dt.datetime) -> Booking | None:
    # Read without the bookers joined in: the booking's row is locked next, and PostgreSQL
    # locks no row of an outer join's nullable side.
    start, day_end = _lab_day(instrument, now)
    return current_booking(window_bookings(session, instrument, start,
                                           _checking_in_end(day_end, now)), actor, now=now)


def check_in_here(session: Session, actor: User, instrument: Instrument, *,
                  now: dt.datetime) -> Booking:
    """Check in the actor's own booking of ``instrument`` that may be checked in now."""
    booking = _own_booking(session, actor, instrument, now=now)
    if booking is None or booking.state != BookingState.APPROVED:
        raise _no_current_booking()
    return attendance.check_in(session, actor, booking, now=now)


def check_out_here(session: Session, actor: User, instrument: Instrument, *,
                   now: dt.datetime) -> Booking:
    """Check out the actor's own booking of ``instrument`` that is in use."""
    booking = _own_booking(session, actor, instrument, now=now)
    if booking is None or booking.state != BookingState.IN_USE:
        raise _no_current_booking()
    return attendance.check_out(session, actor, booking, now=now)
