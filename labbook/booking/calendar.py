"""What a calendar shows of an instrument, with other organizations' bookings anonymized."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, and_, bindparam, literal_column, or_, select
from sqlalchemy.orm import Session, joinedload

from labbook.accounts.models import Organization, User
from labbook.booking import schedule, timeline
from labbook.booking.models import SLOT_HOLDING, Blackout, Booking, BookingState
from labbook.booking.rules import held_bound
from labbook.catalogue.models import Instrument, InstrumentStatus
from labbook.core.reads import FetchedRow, fetch
from labbook.core.time import iso
from labbook.i18n import gettext as _

SHOWN_STATES = (*SLOT_HOLDING, BookingState.COMPLETED)


def booking_visibility(viewer: User | None, booking: Booking) -> str:
    """``full`` for the booker and the lab's managers, ``colleague`` within the paying
    organization, ``anonymous`` for everyone else."""
    if viewer is None:
        return "anonymous"
    return visibility_of(viewer, booking.user_id, booking.organization_id,
                         manages_lab=booking.user_id == viewer.id
                         or viewer.manages_lab_id(booking.instrument.lab_id))


def visibility_of(viewer: User, user_id: int, organization_id: int, *,
                  manages_lab: bool) -> str:
    """``booking_visibility`` of a booking by ``user_id`` paid by ``organization_id``, in a lab
    that ``viewer`` manages or not (worked out once for all of a calendar's bookings)."""
    if manages_lab or user_id == viewer.id:
        return "full"
    if viewer.organization_id is not None and organization_id == viewer.organization_id:
        return "colleague"
    return "anonymous"


def booking_entry(booking: Booking, viewer: User | None) -> dict[str, Any]:
    shown = booking_visibility(viewer, booking)
    if shown == "anonymous":
        return booked_entry(booking, _("Booked"))
    return shown_entry(booking, viewer, shown, booking.user.name,
                       booking.organization.name if shown == "full" else "")


def booked_entry(booking: Any, title: str) -> dict[str, Any]:
    """What anyone may see of a booking (``Booking`` or a row of ``_window_rows``): its time."""
    return {"kind": "booking", "start": iso(booking.start_at),
            "end": iso(booking.end_at), "title": title}


def shown_entry(booking: Any, viewer: User, shown: str, user_name: str,
                organization_name: str) -> dict[str, Any]:
    """A booking as its booker and the lab's managers (``shown`` is ``full``) or the booker's
    colleagues see it; ``organization_name`` is read only for ``full``."""
    entry: dict[str, Any] = {"kind": "booking", "start": iso(booking.start_at),
                             "end": iso(booking.end_at), "id": booking.id,
                             "state": booking.state.value, "user": user_name}
    if shown == "full":
        entry.update(title=f"{user_name}: {booking.purpose}", purpose=booking.purpose,
                     organization=organization_name, own=booking.user_id == viewer.id)
    else:
        entry["title"] = _("Booked by %(name)s", name=user_name)
    return entry


@dataclass
class BusyWindow:
    """An instrument's bookings and closures meeting a time window, read once as rows: what
    calendars and availability show of them, without the ORM's objects."""

    #: Rows of ``_window_rows``.
    bookings: Sequence[Any]
    #: Rows of ``_WINDOW_CLOSURES`` or ``_INSTRUMENT_WITH_CLOSURES``.
    blackouts: Sequence[Any]

    def held(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """Time nobody else may book: slot-holding bookings with their buffer, and closures."""
        return [(b.start_at, b.blocked_until) for b in self.bookings
                if b.state in SLOT_HOLDING] + self.closures()

    def closures(self) -> list[tuple[dt.datetime, dt.datetime]]:
        return [(b.start_at, b.end_at) for b in self.blackouts]


_BOOKING = Booking.__table__.c
# The bookings of one instrument meeting a window, through the (instrument, state, end of held
# time) index between the window's start and its end plus the instrument's longest held time.
_IN_WINDOW = (_BOOKING.instrument_id == bindparam("instrument_id"),
              _BOOKING.blocked_until > bindparam("start"),
              _BOOKING.blocked_until < bindparam("held_bound"),
              _BOOKING.start_at < bindparam("end"),
              # The states as constants of the statement: no list to expand on each execution.
              _BOOKING.state.in_([literal_column(f"'{state.value}'") for state in SHOWN_STATES]))
_BLACKOUT = Blackout.__table__.c
# ``rules.blackouts`` of one instrument: the same rows in the same order (the database's), with
# plain parameters instead of lists to expand on each execution.
_WINDOW_CLOSURES = select(_BLACKOUT.start_at, _BLACKOUT.end_at, _BLACKOUT.reason).where(
    or_(_BLACKOUT.instrument_id == bindparam("instrument_id"),
        _BLACKOUT.lab_id == bindparam("lab_id")),
    _BLACKOUT.end_at > bindparam("start"), _BLACKOUT.start_at < bindparam("end"))
_INSTRUMENT = Instrument.__table__.c
# What calendars read of an instrument, with the closures meeting the window, in one statement
# (one row, its closure's columns NULL, when there is none). The closures are sought as in
# _WINDOW_CLOSURES, through the indexes on (instrument, end) and (lab, end).
_INSTRUMENT_WITH_CLOSURES = (
    select(_INSTRUMENT.id, _INSTRUMENT.lab_id, _INSTRUMENT.channels, _INSTRUMENT.status,
           _INSTRUMENT.longest_held_minutes, _INSTRUMENT.max_minutes,
           _INSTRUMENT.buffer_minutes, _BLACKOUT.start_at, _BLACKOUT.end_at, _BLACKOUT.reason)
    .select_from(Instrument.__table__)
    .outerjoin(Blackout.__table__, and_(or_(_BLACKOUT.instrument_id == _INSTRUMENT.id,
                                            _BLACKOUT.lab_id == _INSTRUMENT.lab_id),
                                        _BLACKOUT.end_at > bindparam("start"),
                                        _BLACKOUT.start_at < bindparam("end")))
    .where(_INSTRUMENT.id == bindparam("instrument_id")))


@cache
def _window_bookings(with_people: bool):
    # Built once per variant. Bookers and their organizations are joined in only for a viewer
    # who may see more than "booked".
    query = select(Booking).where(*_IN_WINDOW).order_by(Booking.start_at)
    if with_people:
        query = query.options(joinedload(Booking.user), joinedload(Booking.organization))
    return query


@cache
def _window_rows(with_people: bool):
    # Built once per variant: every calendar and availability read runs one of them. Joined as
    # ``_window_bookings`` joins them, so that the database takes the same path.
    columns = [_BOOKING.id, _BOOKING.user_id, _BOOKING.organization_id, _BOOKING.state,
               _BOOKING.start_at, _BOOKING.end_at, _BOOKING.blocked_until,
               _BOOKING.channel_mask, _BOOKING.purpose]
    if not with_people:
        return select(*columns).where(*_IN_WINDOW).order_by(_BOOKING.start_at)
    users, organizations = User.__table__, Organization.__table__
    return (select(*columns, users.c.name.label("user_name"),
                   organizations.c.name.label("organization_name"))
            .select_from(Booking.__table__)
            .outerjoin(users, users.c.id == _BOOKING.user_id)
            .outerjoin(organizations, organizations.c.id == _BOOKING.organization_id)
            .where(*_IN_WINDOW).order_by(_BOOKING.start_at))


def _window_parameters(instrument: Instrument, start: dt.datetime, end: dt.datetime
                       ) -> dict[str, Any]:
    return {"instrument_id": instrument.id, "start": start, "end": end,
            "held_bound": held_bound(instrument, end)}


def window_bookings(session: Session, instrument: Instrument, start: dt.datetime,
                    end: dt.datetime, viewer: User | None = None) -> list[Booking]:
    """The window's bookings as objects, for callers that act on them (without its closures,
    which none of them shows). ``viewer`` None reads no bookers (anonymous entries need none;
    lazy loading still works)."""
    return list(session.scalars(_window_bookings(viewer is not None),
                                _window_parameters(instrument, start, end)))


def read_window(session: Session | Connection, instrument: Instrument | FetchedRow,
                start: dt.datetime, end: dt.datetime, viewer: User | None = None,
                closures: Sequence[Any] | None = None) -> BusyWindow:
    """The window's bookings as rows, with their bookers' and organizations' names unless
    ``viewer`` is None (who sees only "booked"), and its closures (unless given, as
    ``instrument_with_closures`` reads them). ``session`` may be a session's connection: only
    rows are read."""
    bookings = fetch(session, _window_rows(viewer is not None),
                     _window_parameters(instrument, start, end))
    if closures is None:
        closures = fetch(session, _WINDOW_CLOSURES, {"instrument_id": instrument.id,
                                                   "lab_id": instrument.lab_id,
                                                   "start": start, "end": end})
    return BusyWindow(bookings, closures)


def instrument_with_closures(reads: Connection, instrument_id: int,
                             start: dt.datetime, end: dt.datetime
                             ) -> tuple[FetchedRow, list[FetchedRow]] | None:
    """What a calendar reads of instrument ``instrument_id`` (its id, lab, channels, status and
    the longest time a booking of it holds), with the closures of it or its lab meeting
    ``[start, end)``, in one statement; None if there is no such instrument."""
    rows = fetch(reads, _INSTRUMENT_WITH_CLOSURES, {"instrument_id": instrument_id,
                                                    "start": start, "end": end})
    if not rows:
        return None
    return rows[0], [row for row in rows if row.start_at is not None]


def busy_entries(session: Session, instrument: Instrument, start: dt.datetime,
                 end: dt.datetime, viewer: User | None,
                 window: BusyWindow | None = None) -> list[dict[str, Any]]:
    """The window's bookings as ``viewer`` may see them (``booking_entry``), and its closures,
    by start."""
    window = window or read_window(session, instrument, start, end, viewer)
    entries = _booking_entries(window.bookings, instrument, viewer)
    entries += [{"kind": "blackout", "start": iso(b.start_at),
                 "end": iso(b.end_at), "title": b.reason} for b in window.blackouts]
    return sorted(entries, key=itemgetter("start"))


def _booking_entries(bookings: Sequence[Any], instrument: Instrument, viewer: User | None
                     ) -> list[dict[str, Any]]:
    """``booking_entry`` of each row of ``_window_rows``: every one is of ``instrument``, so
    whether the viewer manages its lab is asked once (and, as ``booking_visibility`` asks it,
    only of others' bookings), and "Booked" is translated once."""
    entries = []
    booked = manages_lab = None
    for row in bookings:
        shown = "anonymous"
        if viewer is not None:
            if manages_lab is None and row.user_id != viewer.id:
                manages_lab = viewer.manages_lab_id(instrument.lab_id)
            shown = visibility_of(viewer, row.user_id, row.organization_id,
                                  manages_lab=bool(manages_lab))
        if shown != "anonymous":
            entries.append(shown_entry(row, viewer, shown, row.user_name,
                                       row.organization_name))
            continue
        if booked is None:
            booked = _("Booked")
        entries.append(booked_entry(row, booked))
    return entries


def free_capacity(session: Session, instrument: Instrument, start: dt.datetime,
                  end: dt.datetime, window: BusyWindow | None = None
                  ) -> list[tuple[dt.datetime, dt.datetime, int]]:
    """How many of an instrument's channels are free, span by span, in its lab's open time
    within ``[start, end)`` (closures and spans with none free left out)."""
    window = window or read_window(session, instrument, start, end)
    lab_schedule = schedule.lab_schedule(session, instrument.lab_id)
    open_time = timeline.opening_intervals(lab_schedule.hours, lab_schedule.tz, start, end) \
        if instrument.status == InstrumentStatus.AVAILABLE else []
    return timeline.free_capacity(
        open_time, window.closures(),
        [(b.start_at, b.blocked_until, b.channel_mask.bit_count())
         for b in window.bookings if b.state in SLOT_HOLDING], instrument.channels)
