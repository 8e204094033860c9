"""What a calendar shows of an instrument, with other organizations' bookings anonymized."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from labbook.accounts.models import User
from labbook.booking import schedule, timeline
from labbook.booking.models import SLOT_HOLDING, Booking, BookingState
from labbook.booking.rules import blackouts, held_bound
from labbook.catalogue.models import Instrument, InstrumentStatus

SHOWN_STATES = (*SLOT_HOLDING, BookingState.COMPLETED)


def booking_visibility(viewer: User | None, booking: Booking) -> str:
    """``full`` for the booker and the lab's managers, ``colleague`` within the paying
    organization, ``anonymous`` for everyone else."""
    if viewer is None:
        return "anonymous"
    if booking.user_id == viewer.id or viewer.manages_lab_id(booking.instrument.lab_id):
        return "full"
    if viewer.organization_id is not None and booking.organization_id == viewer.organization_id:
        return "colleague"
    return "anonymous"


def booking_entry(booking: Booking, viewer: User | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": "booking", "start": booking.start_at.isoformat(),
                             "end": booking.end_at.isoformat()}
    visibility = booking_visibility(viewer, booking)
    if visibility == "anonymous":
        entry["title"] = _("Booked")
        return entry
    entry.update(id=booking.id, state=booking.state.value, user=booking.user.name)
    if visibility == "full":
        entry.update(title=f"{booking.user.name}: {booking.purpose}", purpose=booking.purpose,
                     organization=booking.organization.name, own=booking.user_id == viewer.id)
    else:
        entry["title"] = _("Booked by %(name)s", name=booking.user.name)
    return entry


@dataclass
class CalendarWindow:
    """An instrument's bookings and closures meeting a time window, read once."""

    bookings: list[Booking]
    #: Rows of ``rules.blackouts``.
    blackouts: Sequence[Any]

    def held(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """Time nobody else may book: slot-holding bookings with their buffer, and closures."""
        return [(b.start_at, b.blocked_until) for b in self.bookings if b.holds_slot] + \
            self.closures()

    def closures(self) -> list[tuple[dt.datetime, dt.datetime]]:
        return [(b.start_at, b.end_at) for b in self.blackouts]


@cache
def _window_bookings(with_people: bool):
    # Built once per variant: every calendar and availability read runs one of them. Bookers and
    # their organizations are joined in only for a viewer who may see more than "booked".
    query = select(Booking).where(Booking.instrument_id == bindparam("instrument_id"),
                                  Booking.blocked_until > bindparam("start"),
                                  Booking.blocked_until < bindparam("held_bound"),
                                  Booking.start_at < bindparam("end"),
                                  Booking.state.in_(SHOWN_STATES)).order_by(Booking.start_at)
    if with_people:
        query = query.options(joinedload(Booking.user), joinedload(Booking.organization))
    return query


def load_window(session: Session, instrument: Instrument, start: dt.datetime,
                end: dt.datetime, viewer: User | None = None) -> CalendarWindow:
    """``viewer`` None reads no bookers (anonymous entries need none; lazy loading still works)."""
    bookings = session.scalars(_window_bookings(viewer is not None),
                               {"instrument_id": instrument.id, "start": start, "end": end,
                                "held_bound": held_bound(instrument, end)})
    return CalendarWindow(list(bookings),
                          blackouts(session, [instrument], start, end))


def busy_entries(session: Session, instrument: Instrument, start: dt.datetime,
                 end: dt.datetime, viewer: User | None,
                 window: CalendarWindow | None = None) -> list[dict[str, Any]]:
    window = window or load_window(session, instrument, start, end, viewer)
    entries = [booking_entry(booking, viewer) for booking in window.bookings]
    entries += [{"kind": "blackout", "start": b.start_at.isoformat(),
                 "end": b.end_at.isoformat(), "title": b.reason} for b in window.blackouts]
    return sorted(entries, key=lambda entry: entry["start"])


def free_capacity(session: Session, instrument: Instrument, start: dt.datetime,
                  end: dt.datetime, window: CalendarWindow | None = None
                  ) -> list[tuple[dt.datetime, dt.datetime, int]]:
    """How many of an instrument's channels are free, span by span, in its lab's open time
    within ``[start, end)`` (closures and spans with none free left out)."""
    window = window or load_window(session, instrument, start, end)
    lab_schedule = schedule.lab_schedule(session, instrument.lab_id)
    open_time = timeline.opening_intervals(lab_schedule.hours, lab_schedule.tz, start, end) \
        if instrument.status == InstrumentStatus.AVAILABLE else []
    return timeline.free_capacity(
        open_time, window.closures(),
        [(b.start_at, b.blocked_until, len(b.channel_numbers))
         for b in window.bookings if b.holds_slot], instrument.channels)
