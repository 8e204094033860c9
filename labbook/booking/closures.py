"""Closures: times the lab takes back from its bookings. A blackout closes an instrument or a
whole lab for a while; an instrument under maintenance or retired is out of service from now
on. Either way the bookings hit are listed, and those the manager chooses are cancelled as the
lab's (never billed as late), their owners told why.

A closure locks the instrument's or lab's row before it is made, and a booking being made
holds that row shared until it commits (``services.create_booking``), so a closure and a
booking cannot both pass without the closure seeing the booking. The chosen bookings are locked
together in id order and each decided on as it is now. Callers run every service here inside
``write_transaction``.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from labbook.accounts.models import User
from labbook.accounts.services import managed_labs
from labbook.audit.services import record
from labbook.booking import rules
from labbook.booking.models import SLOT_HOLDING, Blackout, Booking, BookingState
from labbook.booking.services import (
    MAX_NOTE,
    MAX_PURPOSE,
    cancel_locked_booking,
    clean_text,
    locked_bookings,
)
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab
from labbook.catalogue.services import can_edit_instrument
from labbook.core.engine import lock, locked
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError

# -- blackouts --------------------------------------------------------------------------------


def create_blackout(session: Session, actor: User, *, start: dt.datetime, end: dt.datetime,
                    reason: str, now: dt.datetime, instrument: Instrument | None = None,
                    lab: Lab | None = None) -> tuple[Blackout, list[Booking]]:
    """Close an instrument or a whole lab; returns the blackout and the bookings it hits.

    The instrument's or lab's row is locked first: a booking being made there holds it shared
    until it commits (``services.create_booking``), so the closure either sees that booking
    among those it hits, or the booking sees the closure and is refused.
    """
    if (instrument is None) == (lab is None):
        message = _("Give either an instrument or a lab.")
        raise ValidationError(message, problems=[Problem("invalid", message,
                                                         field="instrument_id")])
    if instrument is not None:
        instrument = locked(session, Instrument, instrument.id)
    else:
        lab = locked(session, Lab, lab.id)
    target_lab = instrument.lab if instrument else lab
    if not actor.manages(target_lab):
        raise PermissionDenied(_("Only the lab's managers may close it."))
    reason = clean_text(reason, "reason", MAX_PURPOSE, required=True)
    if end <= start:
        message = _("The end must be after the start.")
        raise ValidationError(message, problems=[rules.problem("invalid_interval", message,
                                                               (start, end))])
    blackout = Blackout(instrument=instrument, lab=lab, start_at=start, end_at=end,
                        reason=reason, created_by_id=actor.id, created_at=now)
    session.add(blackout)
    session.flush()
    record(session, actor, blackout, "create", at=now, note=reason)
    return blackout, affected_bookings(session, blackout)


def get_blackout(session: Session, actor: User, blackout_id: int) -> Blackout:
    """The blackout, if it closes an instrument or lab that ``actor`` manages."""
    blackout = session.get(Blackout, blackout_id)
    if blackout is None or not actor.manages(blackout_lab(blackout)):
        raise NotFound(_("No closure with id %(id)d.", id=blackout_id))
    return blackout


def blackout_lab(blackout: Blackout) -> Lab:
    """The lab a blackout closes, or whose instrument it closes."""
    if blackout.instrument is not None:
        return blackout.instrument.lab
    assert blackout.lab is not None  # the table's check constraint guarantees one of the two
    return blackout.lab


def managed_blackouts(session: Session, actor: User, *, now: dt.datetime,
                      recent_days: int = 30) -> list[Blackout]:
    """Blackouts of the labs ``actor`` manages (and their instruments) that have not ended, or
    ended within ``recent_days`` days; soonest first."""
    lab_ids = [lab.id for lab in managed_labs(session, actor)]
    if not lab_ids:
        return []
    instrument_ids = select(Instrument.id).where(Instrument.lab_id.in_(lab_ids))
    return list(session.scalars(
        select(Blackout)
        .where(or_(Blackout.lab_id.in_(lab_ids), Blackout.instrument_id.in_(instrument_ids)),
               Blackout.end_at > now - dt.timedelta(days=recent_days))
        .order_by(Blackout.start_at, Blackout.id)))


def affected_bookings(session: Session, blackout: Blackout) -> list[Booking]:
    """The bookings holding a slot that the blackout overlaps, by start (then as they were
    made), as they are now."""
    query = select(Booking).join(Booking.instrument).where(
        Booking.state.in_(SLOT_HOLDING), Booking.start_at < blackout.end_at,
        Booking.end_at > blackout.start_at)
    if blackout.instrument_id is not None:
        query = query.where(Booking.instrument_id == blackout.instrument_id)
    else:
        query = query.where(Instrument.lab_id == blackout.lab_id)
    return list(session.scalars(query.order_by(Booking.start_at, Booking.id)
                                .execution_options(populate_existing=True)))


def cancel_for_blackout(session: Session, actor: User, blackout: Blackout,
                        booking_ids: list[int], *, notice: str,
                        now: dt.datetime) -> list[Booking]:
    """Cancel the chosen bookings the blackout hits, telling their owners why."""
    return cancel_hit_bookings(session, actor, affected_bookings(session, blackout),
                               booking_ids, notice=notice, now=now, blackout=blackout)


def cancel_hit_bookings(session: Session, actor: User, hit: list[Booking],
                        booking_ids: list[int], *, notice: str, now: dt.datetime,
                        blackout: Blackout | None = None) -> list[Booking]:
    """Cancel the chosen ones of ``hit`` — bookings whose time the lab takes back (a closure,
    an instrument taken out of service) — as the lab, telling their owners why in ``notice``.

    The chosen bookings are locked together and each decided on as it is now: one in use is
    left alone, and one that has meanwhile been cancelled or has ended is left as it is.
    """
    notice = clean_text(notice, "notice", MAX_NOTE, required=True)
    hit_ids = {booking.id for booking in hit}
    chosen = list(dict.fromkeys(booking_ids))
    for booking_id in chosen:
        if booking_id not in hit_ids:
            message = _("Booking %(id)d is not among the bookings hit.", id=booking_id)
            raise ValidationError(message, problems=[Problem("invalid", message,
                                                             field="booking_ids")])
    bookings = {b.id: b for b in locked_bookings(session, Booking.id.in_(chosen))}
    return [cancel_locked_booking(session, actor, bookings[booking_id], now=now, note=notice,
                                  by_lab=True, blackout=blackout)
            for booking_id in chosen
            if bookings[booking_id].state in (BookingState.PENDING, BookingState.APPROVED)]


# -- instruments out of service ---------------------------------------------------------------


def bookings_ahead(session: Session, instrument: Instrument, *,
                   now: dt.datetime) -> list[Booking]:
    """The instrument's bookings that hold time from now on, soonest first: those a
    maintenance or retirement hits."""
    return list(session.scalars(
        select(Booking).where(Booking.instrument_id == instrument.id,
                              Booking.state.in_(SLOT_HOLDING), Booking.end_at > now)
        .options(selectinload(Booking.user), selectinload(Booking.organization))
        .order_by(Booking.start_at, Booking.id)))


def cancel_bookings_ahead(session: Session, actor: User, instrument: Instrument,
                          booking_ids: list[int], *, notice: str,
                          now: dt.datetime) -> list[Booking]:
    """Cancel the chosen ones of ``bookings_ahead`` of an instrument that is out of service, as
    the lab (never billed as late), telling their owners why.

    The instrument's row is read afresh under a lock first, so that an instrument made
    available again meanwhile keeps its bookings.
    """
    lock(session, instrument)
    if not can_edit_instrument(actor, instrument):
        raise PermissionDenied(_("Only the lab's managers change its instruments."))
    if instrument.status == InstrumentStatus.AVAILABLE:
        raise Conflict(_("The instrument is available, so its bookings stand; change its "
                         "status first."), code="instrument_available")
    return cancel_hit_bookings(
        session, actor, bookings_ahead(session, instrument, now=now), booking_ids,
        notice=notice, now=now)
