"""Training API: requests, sessions, enrolments, attendance and exams."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import gettext as _

from labbook.accounts.models import User
from labbook.api import bp
from labbook.api.auth import api_user, token_required
from labbook.catalogue import services as catalogue
from labbook.core.engine import write_transaction
from labbook.core.errors import Problem
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.http import Fields, int_arg, json_body, optional_json_body
from labbook.training import services as training
from labbook.training.models import TrainingEnrolment, TrainingRequest, TrainingSession


def request_json(request: TrainingRequest) -> dict[str, Any]:
    return {"id": request.id, "instrument_id": request.instrument_id,
            "user": {"id": request.user.id, "name": request.user.name,
                     "email": request.user.email},
            "note": request.note, "state": request.state.value,
            "decision_note": request.decision_note,
            "created_at": request.created_at.isoformat()}


def enrolment_json(enrolment: TrainingEnrolment) -> dict[str, Any]:
    return {"id": enrolment.id, "session_id": enrolment.session_id,
            "user": {"id": enrolment.user.id, "name": enrolment.user.name,
                     "email": enrolment.user.email},
            "state": enrolment.state.value,
            "exam_result": enrolment.exam_result.value if enrolment.exam_result else None,
            "qualification_id": enrolment.qualification_id}


def session_json(training_session: TrainingSession, viewer: User | None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": training_session.id, "instrument_id": training_session.instrument_id,
        "starts_at": training_session.starts_at.isoformat(),
        "ends_at": training_session.ends_at.isoformat(),
        "trainer": training_session.trainer.name, "capacity": training_session.capacity,
        "enrolled": training_session.enrolled, "places_left": training_session.places_left,
        "location": training_session.location, "note": training_session.note,
        "valid_days": training_session.valid_days, "state": training_session.state.value}
    if viewer is not None and training.can_manage(viewer, training_session.instrument):
        answer["enrolments"] = [enrolment_json(e) for e in training_session.enrolments]
    return answer


@bp.post("/training-requests")
@token_required
def create_training_request():
    actor = api_user()
    fields = Fields(json_body())
    instrument_id = fields.integer("instrument_id")
    note = fields.string("note", required=False, max_length=training.MAX_NOTE) or ""
    fields.done()
    instrument = catalogue.get_instrument(db.session, instrument_id)
    with write_transaction(db.session):
        request = training.request_training(db.session, actor, instrument, note=note,
                                            now=utcnow())
        answer = request_json(request)
    return answer, 201


@bp.get("/training-requests")
@token_required
def list_training_requests():
    actor = api_user()
    return {"own": [request_json(r) for r in training.own_requests(db.session, actor)],
            "to_arrange": [request_json(r) for r in training.open_requests(db.session, actor)]}


@bp.post("/training-requests/<int:request_id>/withdraw")
@token_required
def withdraw_training_request(request_id: int):
    actor = api_user()
    with write_transaction(db.session):
        request = training.get_request(db.session, actor, request_id)
        training.withdraw_request(db.session, actor, request, now=utcnow())
        answer = request_json(request)
    return answer


@bp.post("/training-requests/<int:request_id>/decline")
@token_required
def decline_training_request(request_id: int):
    actor = api_user()
    fields = Fields(json_body())
    note = fields.string("note", max_length=training.MAX_NOTE)
    fields.done()
    with write_transaction(db.session):
        request = training.get_request(db.session, actor, request_id)
        training.decline_request(db.session, actor, request, note=note or "", now=utcnow())
        answer = request_json(request)
    return answer


@bp.post("/training-sessions")
@token_required
def create_training_session():
    actor = api_user()
    fields = Fields(json_body())
    instrument_id = fields.integer("instrument_id")
    starts_at = fields.datetime("starts_at")
    ends_at = fields.datetime("ends_at")
    trainer_email = fields.string("trainer_email", max_length=254)
    capacity = fields.integer("capacity")
    location = fields.string("location", required=False,
                             max_length=training.MAX_LOCATION) or ""
    note = fields.string("note", required=False, max_length=training.MAX_NOTE) or ""
    valid_days = fields.integer("valid_days", required=False)
    fields.done()
    instrument = catalogue.get_instrument(db.session, instrument_id)
    with write_transaction(db.session):
        created = training.schedule_session(
            db.session, actor, instrument, starts_at=starts_at, ends_at=ends_at,
            trainer_email=trainer_email or "", capacity=capacity, location=location, note=note,
            valid_days=valid_days, now=utcnow())
        answer = session_json(created, actor)
    return answer, 201, {"Location": url_for("api.get_training_session",
                                             session_id=answer["id"])}


@bp.get("/training-sessions")
def list_training_sessions():
    viewer = api_user(required=False)
    instrument_id = int_arg("instrument_id", 0) or None
    return {"items": [session_json(s, viewer) for s in training.upcoming_sessions(
        db.session, now=utcnow(), instrument_id=instrument_id)]}


@bp.get("/training-sessions/<int:session_id>")
def get_training_session(session_id: int):
    viewer = api_user(required=False)
    return session_json(training.get_session(db.session, session_id), viewer)


@bp.post("/training-sessions/<int:session_id>/enrolments")
@token_required
def enrol_in_training_session(session_id: int):
    actor = api_user()
    fields = Fields(optional_json_body())
    email = fields.string("user_email", required=False, max_length=254)
    fields.done()
    with write_transaction(db.session):
        training_session = training.get_session(db.session, session_id)
        user = training.user_by_email(db.session, email, "user_email") if email else None
        enrolment = training.enrol(db.session, actor, training_session, user=user,
                                   now=utcnow())
        answer = enrolment_json(enrolment)
    return answer, 201


def _required_boolean(fields: Fields, name: str) -> bool:
    """A true/false member that must be given: left out, it would record a "no"."""
    if name not in fields.data:
        fields.problems.append(Problem("required", _("'%(name)s' is required.", name=name),
                                       field=name))
    return fields.boolean(name)


def _change_enrolment(enrolment_id: int, change, **kwargs):
    actor = api_user()
    with write_transaction(db.session):
        enrolment = training.get_enrolment(db.session, actor, enrolment_id)
        change(db.session, actor, enrolment, now=utcnow(), **kwargs)
        answer = enrolment_json(enrolment)
    return answer


@bp.post("/training-enrolments/<int:enrolment_id>/cancel")
@token_required
def cancel_training_enrolment(enrolment_id: int):
    return _change_enrolment(enrolment_id, training.cancel_enrolment)


@bp.post("/training-enrolments/<int:enrolment_id>/attendance")
@token_required
def record_training_attendance(enrolment_id: int):
    fields = Fields(json_body())
    attended = _required_boolean(fields, "attended")
    fields.done()
    return _change_enrolment(enrolment_id, training.record_attendance, attended=attended)


@bp.post("/training-enrolments/<int:enrolment_id>/exam")
@token_required
def record_training_exam(enrolment_id: int):
    fields = Fields(json_body())
    passed = _required_boolean(fields, "passed")
    expires_at = fields.datetime("expires_at", required=False)
    fields.done()
    return _change_enrolment(enrolment_id, training.record_exam, passed=passed,
                             expires_at=expires_at)

