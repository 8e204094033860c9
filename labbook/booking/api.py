"""Booking API: bookings, availability, qualifications, blackouts."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from flask import request, url_for
from sqlalchemy.orm import Session

from labbook.accounts.models import User
from labbook.accounts.services import managed_labs
from labbook.api import bp
from labbook.api.auth import api_user, token_required
from labbook.billing import estimates
from labbook.booking import (
    attendance,
    changes,
    closures,
    discipline,
    listing,
    schedule,
    timeline,
    training,
    waitlist,
)
from labbook.booking import services as booking_services
from labbook.booking.calendar import (
    BusyWindow,
    busy_entries,
    free_capacity,
    instrument_with_closures,
    read_window,
)
from labbook.booking.models import (
    Booking,
    BookingChange,
    BookingState,
    BookingSuspension,
    Qualification,
    WaitlistEntry,
    WaitlistState,
)
from labbook.booking.recurrence import Recurrence
from labbook.catalogue import services as catalogue
from labbook.catalogue.args import lab_arg
from labbook.catalogue.models import Instrument, InstrumentStatus
from labbook.core.engine import write_transaction
from labbook.core.errors import Problem
from labbook.core.reads import FetchedRow
from labbook.core.time import iso, utcnow
from labbook.extensions import db
from labbook.http import Fields, enum_arg, json_body, page_of, pagination_args
from labbook.i18n import gettext as _
from labbook.notify import services as notify

MAX_AVAILABILITY_DAYS = 62


#: ``booking_json``'s change waiting for approval, when the caller does not know it.
_LOOK_IT_UP: Any = object()


def booking_json(booking: Booking, viewer: User,
                 price: estimates.BookingPrice | None = None, *,
                 waiting_change: BookingChange | None = _LOOK_IT_UP) -> dict[str, Any]:
    """``booking`` as the API shows it to ``viewer``; ``price`` is its estimate and
    cancellation terms when a list has priced its bookings at once (``bookings_json``);
    ``waiting_change`` its change waiting for approval (none for a booking just made, the
    change itself after a change), read from the database when not given."""
    price = price or estimates.booking_price(db.session, booking, viewer, now=utcnow())
    return {
        "id": booking.id,
        "instrument_id": booking.instrument_id,
        "instrument_code": booking.instrument.code,
        "lab": booking.instrument.lab.code,
        "state": booking.state.value,
        "start": iso(booking.start_at),
        "end": iso(booking.end_at),
        "purpose": booking.purpose,
        "project_ref": booking.project_ref,
        "user": {"id": booking.user.id, "name": booking.user.name, "email": booking.user.email},
        "organization": booking.organization.name,
        "series_id": booking.series_id,
        "channels": booking.channel_numbers,
        "is_override": booking.is_override,
        "is_late_cancellation": booking.is_late_cancellation,
        "decision_note": booking.decision_note,
        "created_at": iso(booking.created_at),
        "updated_at": iso(booking.updated_at),
        "checked_in_at": iso(booking.checked_in_at) if booking.checked_in_at else None,
        "checked_out_at": iso(booking.checked_out_at) if booking.checked_out_at else None,
        "booked_by": {"id": booking.booked_by.id, "name": booking.booked_by.name}
        if booking.booked_by else None,
        "sequence": booking.sequence,
        "pending_change": _pending_change_json(booking) if waiting_change is _LOOK_IT_UP
        else None if waiting_change is None else change_json(waiting_change),
        "can_cancel": booking_services.can_cancel(viewer, booking),
        "can_decide": booking.state == BookingState.PENDING
        and booking_services.can_decide(viewer, booking),
        "estimate": price.estimate.as_json(),
        "cancellation_fee": None if price.cancellation is None
        else price.cancellation.as_json(),
    }


def bookings_json(bookings: list[Booking], viewer: User, *,
                  just_made: bool = False) -> list[dict[str, Any]]:
    """Many bookings, their rate cards read at once; for bookings ``just_made`` no change can
    be waiting yet."""
    prices = estimates.booking_prices(db.session, bookings, viewer, now=utcnow())
    waiting_change = None if just_made else _LOOK_IT_UP
    return [booking_json(booking, viewer, prices[booking.id], waiting_change=waiting_change)
            for booking in bookings]


def change_json(change: BookingChange) -> dict[str, Any]:
    return {"id": change.id, "booking_id": change.booking_id, "state": change.state.value,
            "old_start": iso(change.old_start_at), "old_end": iso(change.old_end_at),
            "new_start": iso(change.new_start_at), "new_end": iso(change.new_end_at),
            "requested_by": change.requested_by_id, "requested_at": iso(change.requested_at),
            "given_back_minutes": change.given_back_minutes, "is_late": change.is_late,
            "note": change.note, "decision_note": change.decision_note}


def _pending_change_json(booking: Booking) -> dict[str, Any] | None:
    # Only an approved booking on an instrument that needs approval can have one waiting.
    if booking.state != BookingState.APPROVED or not booking.instrument.requires_approval:
        return None
    change = changes.pending_change(db.session, booking)
    return change_json(change) if change is not None else None


def _recurrence(fields: Fields) -> Recurrence | None:
    data = fields.data.get("recurrence")
    if data is None:
        return None
    if not isinstance(data, dict):
        fields._fail("invalid", "recurrence", _("'recurrence' must be an object."))
        return None
    inner = Fields(data)
    frequency = inner.string("frequency", max_length=10)
    interval = inner.integer("interval", required=False) or 1
    count = inner.integer("count", required=False)
    until = inner.date("until")
    weekdays = data.get("weekdays", [])
    if not isinstance(weekdays, list) or not all(isinstance(d, int) and not isinstance(d, bool)
                                                 for d in weekdays):
        inner._fail("invalid", "weekdays", _("'weekdays' must be a list of numbers 0–6."))
        weekdays = []
    for problem in inner.problems:
        problem.field = f"recurrence.{problem.field}"
    fields.problems += inner.problems
    if inner.problems or frequency is None:
        return None
    recurrence = Recurrence(frequency=frequency, interval=interval,
                            weekdays=tuple(sorted(set(weekdays))), count=count, until=until)
    recurrence.validate()
    return recurrence


def _with_training_link(route):
    """A refusal for want of training says, in its ``training``, how to ask for it through the
    API (unless the person has asked already): ``request`` is the call to make."""
    @functools.wraps(route)
    def answer(*args, **kwargs):
        try:
            return route(*args, **kwargs)
        except booking_services.BookingRefused as refused:
            for problem in refused.problems:
                training = problem.extra.get("training")
                if training is not None and training["requested_at"] is None:
                    training["request"] = {
                        "method": "POST", "href": url_for("api.create_training_request"),
                        "body": {"instrument_id": training["instrument_id"]}}
            raise
    return answer


@bp.post("/bookings")
@token_required
@_with_training_link
def create_booking():
    actor = api_user()
    fields = Fields(json_body())
    instrument_id = fields.integer("instrument_id")
    start = fields.datetime("start")
    end = fields.datetime("end")
    purpose = fields.string("purpose", max_length=booking_services.MAX_PURPOSE)
    project_ref = fields.string("project_ref", required=False,
                                max_length=booking_services.MAX_PROJECT_REF) or ""
    skip_conflicts = fields.boolean("skip_conflicts")
    override = fields.boolean("override")
    channels = fields.integer("channels", required=False) or 1
    for_user_id = fields.integer("for_user_id", required=False)
    recurrence = _recurrence(fields)
    if for_user_id is not None and recurrence is not None:
        fields.problems.append(Problem("invalid", _(
            "A series cannot be booked on someone's behalf; book its dates one by one."),
            field="for_user_id"))
    if start and end and end <= start:
        fields.problems.append(Problem("invalid_interval", _("The end must be after the start."),
                                       field="end"))
    fields.done()
    now = utcnow()
    if recurrence is None:
        # The session itself rather than its request-scoped proxy: the service uses it some
        # thirty times, and each use through the proxy looks the request's session up again.
        made = booking_services.create_priced_booking(
            db.session(), actor, instrument_id=instrument_id, start=start, end=end,
            purpose=purpose, project_ref=project_ref, override=override,
            for_user_id=for_user_id, channels=channels, now=now)
        return booking_json(made.booking, actor, made.price, waiting_change=None), 201, {
            "Location": url_for("api.get_booking", booking_id=made.booking.id)}
    result = booking_services.create_series(
        db.session, actor, instrument_id=instrument_id, start=start, end=end, purpose=purpose,
        project_ref=project_ref, recurrence=recurrence, skip_conflicts=skip_conflicts,
        override=override, channels=channels, now=now)
    return {
        "series_id": result.series.id,
        "created": bookings_json(result.created, actor, just_made=True),
        "skipped": [{"start": s.isoformat(), "end": e.isoformat(),
                     "problems": [p.as_dict() for p in problems]}
                    for s, e, problems in result.skipped],
    }, 201


@bp.get("/bookings")
@token_required
def list_bookings():
    actor = api_user()
    page, per_page = pagination_args()
    state = enum_arg("state", BookingState)
    lab = lab_arg()
    bookings, total = page_of(
        listing.visible_bookings(actor, lab=lab, state=state)
        .order_by(Booking.start_at.desc(), Booking.id.desc()), page, per_page)
    return {"items": bookings_json(list(bookings), actor), "total": total, "page": page,
            "per_page": per_page}


@bp.get("/bookings/<int:booking_id>")
@token_required
def get_booking(booking_id: int):
    actor = api_user()
    return booking_json(booking_services.get_booking(db.session, actor, booking_id), actor)


@bp.patch("/bookings/<int:booking_id>")
@token_required
@_with_training_link
def change_booking(booking_id: int):
    """Move, extend or shorten a booking: give the new ``start`` and ``end`` (either may stay
    as it is)."""
    actor = api_user()
    fields = Fields(json_body())
    start = fields.datetime("start", required=False)
    end = fields.datetime("end", required=False)
    note = fields.string("note", required=False, max_length=booking_services.MAX_NOTE) or ""
    override = fields.boolean("override")
    if "start" not in fields.data and "end" not in fields.data:
        fields.problems.append(Problem("required", _("Give the new 'start', 'end' or both."),
                                       field="start"))
    elif start is not None and end is not None and end <= start:
        fields.problems.append(Problem("invalid_interval", _("The end must be after the start."),
                                       field="end"))
    fields.done()
    result = changes.change_booking(db.session(), actor, booking_id, start=start, end=end,
                                    note=note, override=override, now=utcnow(), priced=True)
    # A change waiting for approval is this one; one applied at once took the place of any.
    return {**booking_json(result.booking, actor, result.price,
                           waiting_change=result.change if result.is_pending else None),
            "change": change_json(result.change)}, \
        202 if result.is_pending else 200


@bp.post("/booking-changes/<int:change_id>/approve")
@token_required
def approve_change(change_id: int):
    actor = api_user()
    change = changes.decide_change(db.session, actor, change_id, approve=True, note=_note(),
                                   now=utcnow())
    return change_json(change)


@bp.post("/booking-changes/<int:change_id>/reject")
@token_required
def reject_change(change_id: int):
    actor = api_user()
    change = changes.decide_change(db.session, actor, change_id, approve=False, note=_note(),
                                   now=utcnow())
    return change_json(change)


def _note() -> str:
    data = request.get_json(silent=True) if request.content_length else {}
    fields = Fields(data if isinstance(data, dict) else {})
    note = fields.string("note", required=False, max_length=booking_services.MAX_NOTE)
    fields.done()
    return note or ""


def _change_booking(booking_id: int, change, **arguments) -> dict[str, Any]:
    """Apply one booking service (cancel, approve, …) for the token's user, in one write."""
    actor = api_user()
    with write_transaction(db.session):
        booking = booking_services.get_booking(db.session, actor, booking_id)
        change(db.session, actor, booking, now=utcnow(), **arguments)
    return booking_json(booking, actor)


@bp.post("/bookings/<int:booking_id>/cancel")
@token_required
def cancel_booking(booking_id: int):
    return _change_booking(booking_id, booking_services.cancel_booking, note=_note())


@bp.post("/bookings/<int:booking_id>/approve")
@token_required
def approve_booking(booking_id: int):
    return _change_booking(booking_id, booking_services.approve_booking, note=_note())


@bp.post("/bookings/<int:booking_id>/reject")
@token_required
def reject_booking(booking_id: int):
    return _change_booking(booking_id, booking_services.reject_booking, note=_note())


@bp.post("/bookings/<int:booking_id>/check-in")
@token_required
def check_in(booking_id: int):
    return _change_booking(booking_id, attendance.check_in)


@bp.post("/bookings/<int:booking_id>/check-out")
@token_required
def check_out(booking_id: int):
    return _change_booking(booking_id, attendance.check_out)


@bp.post("/bookings/<int:booking_id>/no-show")
@token_required
def mark_no_show(booking_id: int):
    return _change_booking(booking_id, attendance.mark_no_show)


@bp.get("/instruments/<int:instrument_id>/availability")
def availability(instrument_id: int):
    viewer = api_user(required=False)
    fields = Fields(dict(request.args))
    start = fields.datetime("start")
    end = fields.datetime("end")
    if start and end and not start < end <= start + dt.timedelta(days=MAX_AVAILABILITY_DAYS):
        fields.problems.append(Problem("invalid_interval", _(
            "'end' must be after 'start' and at most %(n)d days later.",
            n=MAX_AVAILABILITY_DAYS), field="end"))
    session = db.session()
    if fields.problems:
        # An unknown instrument is a 404 before a bad window is a 422.
        catalogue.get_instrument(session, instrument_id)
        fields.done()
    # Rows only, read on the session's connection: a GET has nothing to flush first and no
    # objects to load, so the ORM's way of executing a statement would be work for nothing.
    rows = session.connection()
    found = instrument_with_closures(rows, instrument_id, start, end)
    if found is None:
        raise catalogue.no_instrument(instrument_id)
    instrument, closures = found
    window = read_window(rows, instrument, start, end, viewer, closures)
    return availability_json(session, instrument, start, end, viewer, window)


def availability_json(session: Session, instrument: Instrument | FetchedRow, start: dt.datetime,
                      end: dt.datetime, viewer: User | None, window: BusyWindow
                      ) -> dict[str, Any]:
    """Busy time (others' bookings only as "booked") and the free time one could book, of an
    instrument read by ``calendar.instrument_with_closures`` with its ``window``."""
    lab_schedule = schedule.lab_schedule(session, instrument.lab_id)
    answer = {
        "instrument_id": instrument.id, "start": iso(start), "end": iso(end),
        "timezone": lab_schedule.timezone, "channels": instrument.channels,
        "busy": busy_entries(session, instrument, start, end, viewer, window),
    }
    if instrument.channels == 1:
        # Opening hours matter only to an instrument that may be booked.
        free = timeline.subtract(
            timeline.opening_intervals(lab_schedule.hours, lab_schedule.tz, start, end),
            window.held()) if instrument.status == InstrumentStatus.AVAILABLE else []
        answer["free"] = [{"start": iso(s), "end": iso(e)} for s, e in free]
        return answer
    # Each span's times are written once, for both lists.
    spans = [(iso(s), iso(e), n)
             for s, e, n in free_capacity(session, instrument, start, end, window)]
    answer["free"] = [{"start": s, "end": e} for s, e, _n in spans]
    answer["capacity"] = [{"start": s, "end": e, "free_channels": n} for s, e, n in spans]
    return answer


@bp.post("/qualifications")
@token_required
def grant_qualification():
    actor = api_user()
    fields = Fields(json_body())
    email = fields.string("user_email", max_length=254)
    instrument_id = fields.integer("instrument_id")
    expires_at = fields.datetime("expires_at", required=False)
    fields.done()
    instrument = catalogue.get_instrument(db.session, instrument_id)
    with write_transaction(db.session):
        grant = training.grant_qualification_by_email(db.session, actor, email, instrument,
                                                      now=utcnow(), expires_at=expires_at)
    # The same grant again is answered with the record already in force.
    return {**qualification_json(grant.qualification),
            "already_granted": not grant.is_new}, 201 if grant.is_new else 200


def qualification_json(qualification: Qualification) -> dict[str, Any]:
    return {"id": qualification.id, "user_email": qualification.user.email,
            "instrument_id": qualification.instrument_id,
            "granted_at": qualification.granted_at.isoformat(),
            "expires_at": qualification.expires_at.isoformat()
            if qualification.expires_at else None,
            "revoked_at": qualification.revoked_at.isoformat()
            if qualification.revoked_at else None}


@bp.delete("/qualifications/<int:qualification_id>")
@token_required
def revoke_qualification(qualification_id: int):
    actor = api_user()
    with write_transaction(db.session):
        qualification = training.get_qualification(db.session, actor, qualification_id)
        training.revoke_qualification(db.session, actor, qualification, now=utcnow())
    return "", 204


@bp.post("/blackouts")
@token_required
def create_blackout():
    actor = api_user()
    fields = Fields(json_body())
    instrument_id = fields.integer("instrument_id", required=False)
    lab_code = fields.string("lab", required=False, max_length=16)
    start = fields.datetime("start")
    end = fields.datetime("end")
    reason = fields.string("reason")
    cancel_affected = fields.boolean("cancel_affected")
    notice = fields.string("notice", required=cancel_affected,
                           max_length=booking_services.MAX_NOTE)
    if (instrument_id is None) == (lab_code is None):
        fields.problems.append(Problem("required", _("Give either 'instrument_id' or 'lab'."),
                                       field="instrument_id"))
    if start and end and end <= start:
        fields.problems.append(Problem("invalid_interval", _("The end must be after the start."),
                                       field="end"))
    fields.done()
    instrument = catalogue.get_instrument(db.session, instrument_id) if instrument_id else None
    lab = catalogue.get_lab(db.session, lab_code) if lab_code else None
    now = utcnow()
    with write_transaction(db.session):
        blackout, hit = closures.create_blackout(
            db.session, actor, instrument=instrument, lab=lab, start=start, end=end,
            reason=reason, now=now)
        cancelled = []
        if cancel_affected:
            cancelled = closures.cancel_for_blackout(
                db.session, actor, blackout, [b.id for b in hit], notice=notice, now=now)
        emails_queued = notify.cancellations_told(db.session, cancelled, now=now)
    return {
        "id": blackout.id, "instrument_id": blackout.instrument_id,
        "lab": blackout.lab.code if blackout.lab else None,
        "start": blackout.start_at.isoformat(), "end": blackout.end_at.isoformat(),
        "reason": blackout.reason,
        "affected_bookings": bookings_json(hit, actor),
        "cancelled_booking_ids": [b.id for b in cancelled], "emails_queued": emails_queued,
    }, 201


# -- the waiting list ---------------------------------------------------------------------------


def waitlist_entry_json(entry: WaitlistEntry) -> dict[str, Any]:
    offered = entry.state == WaitlistState.OFFERED
    return {"id": entry.id, "instrument_id": entry.instrument_id, "state": entry.state.value,
            "start": entry.window_start.isoformat(), "end": entry.window_end.isoformat(),
            "minutes": entry.minutes, "channels": entry.channels, "purpose": entry.purpose,
            "created_at": entry.created_at.isoformat(),
            "offer": {"start": entry.offer_start.isoformat(), "end": entry.offer_end.isoformat(),
                      "expires_at": entry.offer_expires_at.isoformat()} if offered else None,
            "booking_id": entry.booking_id}


@bp.post("/waitlist")
@token_required
def join_waitlist():
    actor = api_user()
    fields = Fields(json_body())
    instrument_id = fields.integer("instrument_id")
    start = fields.datetime("start")
    end = fields.datetime("end")
    minutes = fields.integer("minutes", required=False)
    channels = fields.integer("channels", required=False) or 1
    purpose = fields.string("purpose", max_length=booking_services.MAX_PURPOSE)
    fields.done()
    entry = waitlist.join_waitlist(db.session, actor, instrument_id=instrument_id, start=start,
                                   end=end, minutes=minutes, purpose=purpose, channels=channels,
                                   now=utcnow())
    return waitlist_entry_json(entry), 201


@bp.get("/waitlist")
@token_required
def my_waitlist():
    entries = waitlist.my_entries(db.session, api_user())
    return {"items": [waitlist_entry_json(entry) for entry in entries], "total": len(entries)}


@bp.delete("/waitlist/<int:entry_id>")
@token_required
def leave_waitlist(entry_id: int):
    entry = waitlist.leave_waitlist(db.session, api_user(), entry_id, now=utcnow())
    return waitlist_entry_json(entry)


@bp.post("/waitlist/<int:entry_id>/claim")
@token_required
@_with_training_link
def claim_offer(entry_id: int):
    actor = api_user()
    data = request.get_json(silent=True) if request.content_length else {}
    fields = Fields(data if isinstance(data, dict) else {})
    project_ref = fields.string("project_ref", required=False,
                                max_length=booking_services.MAX_PROJECT_REF) or ""
    fields.done()
    booking = waitlist.claim_offer(db.session, actor, entry_id, project_ref=project_ref,
                                   now=utcnow())
    return booking_json(booking, actor), 201, {
        "Location": url_for("api.get_booking", booking_id=booking.id)}


# -- no-show suspensions ------------------------------------------------------------------------


def suspension_json(suspension: BookingSuspension) -> dict[str, Any]:
    return {"id": suspension.id, "user": {"id": suspension.user.id, "name": suspension.user.name},
            "lab": suspension.lab.code, "starts_at": suspension.starts_at.isoformat(),
            "ends_at": suspension.ends_at.isoformat(), "no_shows": suspension.no_shows,
            "window_days": suspension.window_days,
            "lifted_at": suspension.lifted_at.isoformat() if suspension.lifted_at else None,
            "lift_note": suspension.lift_note}


@bp.get("/suspensions")
@token_required
def list_suspensions():
    """Suspensions in force: one's own, and those in the labs one manages."""
    actor = api_user()
    now = utcnow()
    labs = managed_labs(db.session, actor)
    found = {s.id: s for s in discipline.my_suspensions(db.session, actor, now)}
    found.update({s.id: s for s in discipline.suspensions_in_force(
        db.session, [lab.id for lab in labs], now)})
    items = sorted(found.values(), key=lambda s: (s.ends_at, s.id))
    return {"items": [suspension_json(s) for s in items], "total": len(items)}


@bp.post("/suspensions/<int:suspension_id>/lift")
@token_required
def lift_suspension(suspension_id: int):
    actor = api_user()
    note = _note()
    with write_transaction(db.session):
        suspension = discipline.lift_suspension(db.session, actor, suspension_id, note=note,
                                                now=utcnow())
    return suspension_json(suspension)
