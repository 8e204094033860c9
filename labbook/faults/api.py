"""Fault report API: users report problems with an instrument; the lab's managers answer,
put the instrument into maintenance and close them (``labbook.faults.services``)."""

from __future__ import annotations

from typing import Any

from flask import url_for

from labbook.accounts.models import User
from labbook.api import bp
from labbook.api.auth import api_user, token_required
from labbook.booking import closures
from labbook.catalogue import services as catalogue
from labbook.core.engine import write_transaction
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.faults import services
from labbook.faults.models import FaultState, InstrumentFault
from labbook.http import Fields, enum_arg, json_body, page_of, pagination_args


def _moment(value) -> str | None:
    return value.isoformat() if value is not None else None


def fault_json(fault: InstrumentFault, viewer: User) -> dict[str, Any]:
    manages = services.can_manage(viewer, fault.instrument)
    return {
        "id": fault.id, "instrument_id": fault.instrument_id,
        "instrument_code": fault.instrument.code, "kind": fault.kind.value,
        "state": fault.state.value, "booking_id": fault.booking_id,
        "reported_at": fault.reported_at.isoformat(), "description": fault.description,
        # Who reported it is for the lab's managers.
        "reported_by": ({"id": fault.reported_by.id, "name": fault.reported_by.name}
                        if manages and fault.reported_by else None),
        "down_from": _moment(fault.down_from), "down_until": _moment(fault.down_until),
        "cause": fault.cause, "fix": fault.fix, "answer": fault.answer,
        "answered_at": _moment(fault.answered_at), "closed_at": _moment(fault.closed_at),
        "url": url_for("api.get_fault", fault_id=fault.id),
    }


@bp.post("/instruments/<int:instrument_id>/faults")
@token_required
def report_fault(instrument_id: int):
    actor = api_user()
    fields = Fields(json_body())
    description = fields.string("description", max_length=services.MAX_DESCRIPTION)
    booking_id = fields.integer("booking_id", required=False)
    fields.done()
    instrument = catalogue.get_instrument(db.session, instrument_id)
    with write_transaction(db.session):
        booking = services.reportable_booking(db.session, actor, instrument, booking_id)
        fault = services.report_problem(db.session, actor, instrument, description=description,
                                        booking=booking, now=utcnow())
    return fault_json(fault, actor), 201


@bp.get("/faults")
@token_required
def list_faults():
    actor = api_user()
    state = enum_arg("state", FaultState)
    page, per_page = pagination_args()
    items, total = page_of(services.visible_faults(actor, state), page, per_page)
    return {"items": [fault_json(fault, actor) for fault in items], "total": total,
            "page": page, "per_page": per_page}


@bp.get("/faults/<int:fault_id>")
@token_required
def get_fault(fault_id: int):
    actor = api_user()
    return fault_json(services.visible_fault(db.session, actor, fault_id), actor)


def _managed(fault_id: int) -> User:
    actor = api_user()
    services.get_fault(db.session, actor, fault_id)
    return actor


@bp.post("/faults/<int:fault_id>/answer")
@token_required
def answer_fault(fault_id: int):
    actor = _managed(fault_id)
    fields = Fields(json_body())
    answer = fields.string("answer", max_length=services.MAX_ANSWER)
    fields.done()
    with write_transaction(db.session):
        fault = services.answer_fault(db.session, actor, fault_id, answer=answer, now=utcnow())
    return fault_json(fault, actor)


@bp.post("/faults/<int:fault_id>/maintenance")
@token_required
def start_fault_maintenance(fault_id: int):
    actor = _managed(fault_id)
    fields = Fields(json_body())
    kind = fields.string("kind", max_length=20)
    reason = fields.string("reason", max_length=500)
    fields.done()
    with write_transaction(db.session):
        now = utcnow()
        fault = services.start_maintenance(db.session, actor, fault_id, kind=kind,
                                           reason=reason, now=now)
        hit = closures.bookings_ahead(db.session, fault.instrument, now=now)
    return {**fault_json(fault, actor),
            "bookings_hit": [{"id": booking.id, "start": booking.start_at.isoformat(),
                              "end": booking.end_at.isoformat(), "state": booking.state.value,
                              "organization": booking.organization.name}
                             for booking in hit]}


@bp.post("/faults/<int:fault_id>/close")
@token_required
def close_fault(fault_id: int):
    actor = _managed(fault_id)
    fields = Fields(json_body())
    kind = fields.string("kind", max_length=20)
    cause = fields.string("cause", required=False, max_length=services.MAX_DETAIL) or ""
    fix = fields.string("fix", required=False, max_length=services.MAX_DETAIL) or ""
    back_in_service = fields.boolean("back_in_service")
    down_until = fields.datetime("down_until", required=False)
    fields.done()
    with write_transaction(db.session):
        fault = services.close_fault(db.session, actor, fault_id, kind=kind, cause=cause,
                                     fix=fix, back_in_service=back_in_service,
                                     down_until=down_until, now=utcnow())
    return fault_json(fault, actor)
