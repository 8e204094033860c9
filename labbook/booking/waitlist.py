"""The waiting list: joining it for a taken slot, or for any free slot of a given length within
a window; leaving it; claiming an offer of freed time (``offers`` makes the offers).

Joining checks what the calendar cannot change: the window lies ahead, the length suits the
instrument, and the user could book it (trained, not suspended, an organization to pay). A
window where a slot is free already is refused with that slot: book it instead. Claiming books
the offered slot through every booking rule, as booking it by hand would.

Locks: the instrument (shared) and the paying organization as for a new booking, then the
entry; the offers of a freed slot lock the instrument's entries after the freed booking.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, contains_eager, selectinload

from labbook.accounts.models import User
from labbook.audit.services import record
from labbook.booking import offers, rules
from labbook.booking.models import IN_LINE, Booking, WaitlistEntry, WaitlistState
from labbook.booking.services import (
    MAX_PURPOSE,
    BookingRefused,
    _instrument,
    _instrument_and_paying,
    _is_overlap_violation,
    _lock_channels,
    _lost_race,
    book_locked,
    clean_text,
    locked_paying_organization,
)
from labbook.catalogue.models import Instrument
from labbook.core.engine import locked, write_transaction
from labbook.core.errors import Conflict, NotFound, Problem, ValidationError

#: The longest window one may wait in.
MAX_WINDOW_DAYS = 31
#: Rules about the person and the instrument, not the calendar: a wish that breaks one of
#: these could never be offered anything.
REFUSING_A_WISH = frozenset({"not_qualified", "org_suspended", "suspended",
                             "instrument_unavailable", "too_short", "too_long",
                             "too_many_channels"})


def _refused(code: str, message: str, field: str) -> ValidationError:
    return ValidationError(message, code=code, problems=[Problem(code, message, field=field)])


def _check_window(start: dt.datetime, end: dt.datetime, minutes: int, now: dt.datetime) -> None:
    for name, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise _refused("naive_datetime", _(
                "Times must carry a UTC offset, e.g. 2026-12-01T09:00:00+08:00."), name)
    if end <= start:
        raise _refused("invalid_interval", _("The end must be after the start."), "end")
    if start < now:
        raise _refused("in_past", _("The window (from %(start)s) has already begun; wait "
                                    "for time still to come.", start=rules.fmt(start)), "start")
    if end - start > dt.timedelta(days=MAX_WINDOW_DAYS):
        raise _refused("window_too_long", _("A window is at most %(n)d days long.",
                                            n=MAX_WINDOW_DAYS), "end")
    if minutes < 1 or dt.timedelta(minutes=minutes) > end - start:
        raise _refused("invalid_length", _("The length must fit inside the window."),
                       "minutes")


def join_waitlist(session: Session, actor: User, *, instrument_id: int, start: dt.datetime,
                  end: dt.datetime, minutes: int | None, purpose: str, channels: int = 1,
                  now: dt.datetime) -> WaitlistEntry:
    """Wait for ``minutes`` (by default the whole window: that very slot) of the instrument
    within ``[start, end)``, with ``channels`` of its channels free."""
    purpose = clean_text(purpose, "purpose", MAX_PURPOSE, required=True)
    minutes = minutes if minutes is not None else int((end - start) / dt.timedelta(minutes=1))
    _check_window(start, end, minutes, now)
    with write_transaction(session):
        instrument = _instrument(session, instrument_id, share_lock=True)
        organization = locked_paying_organization(session, actor.organization_id).organization
        wish = (start, start + dt.timedelta(minutes=minutes))
        request = rules.BookingRequest(instrument, actor, organization, *wish,
                                       channels=channels)
        problems = [p for p in rules.check_booking(session, request, now=now, skip_calendar=True)
                    if p.code in REFUSING_A_WISH]
        if problems:
            raise BookingRefused(problems)
        if session.scalar(select(WaitlistEntry.id).where(
                WaitlistEntry.user_id == actor.id, WaitlistEntry.instrument_id == instrument.id,
                WaitlistEntry.state.in_(IN_LINE), WaitlistEntry.window_start < end,
                WaitlistEntry.window_end > start).limit(1)) is not None:
            raise Conflict(_("You are already waiting for time of this instrument in this "
                             "window."), code="already_waiting")
        entry = WaitlistEntry(instrument=instrument, user=actor, window_start=start,
                              window_end=end, minutes=minutes, channels=channels,
                              purpose=purpose, state=WaitlistState.WAITING, created_at=now,
                              updated_at=now)
        free = offers.free_slot_for(session, instrument, entry, now)
        if free is not None:
            raise Conflict(_("%(start)s – %(end)s is free: book it instead of waiting.",
                             start=rules.fmt(free[0]), end=rules.fmt(free[1])),
                           code="slot_free", problems=[rules.problem("slot_free", _(
                               "This time is free."), free)])
        session.add(entry)
        session.flush()
        record(session, actor, entry, "join", at=now, to_state=entry.state.value,
               instrument_id=instrument.id, start=start.isoformat(), end=end.isoformat(),
               minutes=minutes, channels=channels)
    return entry


def visible_entry(session: Session, actor: User, entry_id: int) -> WaitlistEntry:
    entry = session.get(WaitlistEntry, entry_id)
    if entry is None or entry.user_id != actor.id:
        raise NotFound(_("No waiting-list entry with id %(id)d.", id=entry_id))
    return entry


def leave_waitlist(session: Session, actor: User, entry_id: int, *,
                   now: dt.datetime) -> WaitlistEntry:
    """Leave the line; an open offer passes to the next in line."""
    visible_entry(session, actor, entry_id)
    with write_transaction(session):
        entry = locked(session, WaitlistEntry, entry_id)
        if entry is None or entry.user_id != actor.id:
            raise NotFound(_("No waiting-list entry with id %(id)d.", id=entry_id))
        if entry.state not in IN_LINE:
            raise Conflict(_("This entry is no longer on the waiting list."),
                           code="invalid_state")
        was_offered = entry.state == WaitlistState.OFFERED
        before = entry.state
        entry.state = WaitlistState.LEFT
        entry.offer_token = None
        entry.updated_at = now
        record(session, actor, entry, "leave", at=now, from_state=before.value,
               to_state=entry.state.value)
        if was_offered:
            session.flush()
            offers.make_offers(session, entry.instrument, now=now)
    return entry


def entry_by_token(session: Session, actor: User, token: str) -> WaitlistEntry:
    """The entry whose offer ``token`` names, if it is ``actor``'s."""
    entry = session.scalar(select(WaitlistEntry).where(WaitlistEntry.offer_token == token))
    if entry is None or entry.user_id != actor.id:
        raise NotFound(_("This offer does not exist, or is no longer open."))
    return entry


def claim_offer(session: Session, actor: User, entry_id: int, *, project_ref: str = "",
                now: dt.datetime) -> Booking:
    """Book the slot offered to ``actor``'s entry, through every booking rule."""
    entry = visible_entry(session, actor, entry_id)
    instrument_id = entry.instrument_id
    start, end = entry.offer_start, entry.offer_end
    try:
        with write_transaction(session):
            # As a new booking reads them (one statement), with the organization's overdue
            # setting, which the rules then need not read again. (Not the training record it
            # reads too: the rules ask it of the time offered as read under the entry's lock,
            # which may have been offered anew since.) An entry offered nothing is refused
            # once locked.
            instrument, paying = _instrument_and_paying(session, instrument_id, actor, actor,
                                                        until=end or now, rate_cards=False)
            # The channels' turn before the entry's lock (the architecture's order): the claim
            # then sees the channels a booking in flight takes, and books others beside it.
            _lock_channels(session, instrument)
            entry = locked(session, WaitlistEntry, entry_id)
            if entry.state != WaitlistState.OFFERED:
                raise Conflict(_("This offer is no longer open."), code="invalid_state")
            if entry.offer_expires_at <= now:
                raise Conflict(_("The offer lapsed at %(time)s (lab time); the time went to "
                                 "the next in line.", time=rules.fmt(entry.offer_expires_at)),
                               code="offer_lapsed")
            start, end = entry.offer_start, entry.offer_end
            booking = book_locked(
                session, actor, actor, instrument, paying.organization, start=start, end=end,
                purpose=entry.purpose, project_ref=project_ref, override=False, now=now,
                channels=entry.channels, overdue_block_days=paying.overdue_block_days)
            entry.state = WaitlistState.CLAIMED
            entry.booking_id = booking.id
            entry.offer_token = None
            entry.updated_at = now
            record(session, actor, entry, "claim", at=now, from_state="offered",
                   to_state="claimed", booking_id=booking.id)
    except (IntegrityError, OperationalError) as error:
        if not _is_overlap_violation(error):
            raise
        raise _lost_race(session, instrument_id, start, end, now) from None
    return booking


def lines_of_labs(session: Session, lab_ids: list[int]) -> list[WaitlistEntry]:
    """The entries in line for the instruments of ``lab_ids`` (the labs a manager sees), each
    instrument's line in the order it is gone through."""
    if not lab_ids:
        return []
    entries = session.scalars(
        select(WaitlistEntry).join(WaitlistEntry.instrument)
        .where(Instrument.lab_id.in_(lab_ids), WaitlistEntry.state.in_(IN_LINE))
        .options(contains_eager(WaitlistEntry.instrument),
                 selectinload(WaitlistEntry.user).selectinload(User.organization))
        .order_by(Instrument.code, WaitlistEntry.created_at, WaitlistEntry.id))
    return list(entries)


def my_entries(session: Session, actor: User) -> list[WaitlistEntry]:
    """``actor``'s entries still in line, the earliest window first."""
    return list(session.scalars(
        select(WaitlistEntry).where(WaitlistEntry.user_id == actor.id,
                                    WaitlistEntry.state.in_(IN_LINE))
        .order_by(WaitlistEntry.window_start, WaitlistEntry.id)))

