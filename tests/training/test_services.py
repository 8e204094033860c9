"""Training from request to qualification: a request reaches the lab's managers, a session
has places, people enrol (a full session refuses), attendance and a passed exam grant the
training record with the session's expiry; reminders before it lapses, once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from labbook.audit.models import AuditEvent
from labbook.booking.models import Qualification
from labbook.booking.rules import is_qualified
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict, PermissionDenied, ValidationError
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from labbook.training import services as training
from labbook.training.models import (
    EnrolmentState,
    ExamResult,
    RequestState,
    TrainingSession,
)
from tests.factories import create_instrument, create_lab, create_manager, create_user

NOW = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)
START = NOW + dt.timedelta(days=3)


@pytest.fixture
def instrument():
    return create_instrument(lab=create_lab(), requires_qualification=True)


@pytest.fixture
def manager(instrument):
    return create_manager(instrument.lab)


def schedule(manager, instrument, capacity=2, valid_days=365):
    with write_transaction(db.session):
        return training.schedule_session(
            db.session, manager, instrument, starts_at=START,
            ends_at=START + dt.timedelta(hours=2), trainer_email=manager.email,
            capacity=capacity, location="A305", valid_days=valid_days, now=NOW)


def enrol(actor, training_session, user=None, now=NOW):
    with write_transaction(db.session):
        return training.enrol(db.session, actor, db.session.get(TrainingSession,
                                                                 training_session.id),
                              user=user, now=now)


def outbox(kind):
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)).all()


def test_a_request_reaches_the_managers_and_asking_twice_changes_nothing(instrument, manager):
    researcher = create_user()
    with write_transaction(db.session):
        first = training.request_training(db.session, researcher, instrument, note="XRD",
                                          now=NOW)
    with write_transaction(db.session):
        again = training.request_training(db.session, researcher, instrument, now=NOW)
    assert again.id == first.id and first.state == RequestState.OPEN
    assert [m.recipient for m in outbox("training_requested")] == [manager.email]
    assert [r.id for r in training.open_requests(db.session, manager)] == [first.id]
    assert training.open_requests(db.session, researcher) == []


def test_from_request_to_qualification(instrument, manager):
    researcher = create_user()
    with write_transaction(db.session):
        request = training.request_training(db.session, researcher, instrument, now=NOW)
    session = schedule(manager, instrument)
    assert [m.recipient for m in outbox("training_scheduled")] == [researcher.email]
    enrolment = enrol(researcher, session)
    assert db.session.get(type(request), request.id).state == RequestState.SCHEDULED
    assert db.session.get(TrainingSession, session.id).enrolled == 1
    with pytest.raises(Conflict) as early, write_transaction(db.session):
        training.record_attendance(db.session, manager, enrolment, attended=True, now=NOW)
    assert early.value.code == "not_started"
    after = START + dt.timedelta(hours=2)
    with write_transaction(db.session):
        training.record_attendance(db.session, manager, enrolment, attended=True, now=after)
    with write_transaction(db.session):
        training.record_exam(db.session, manager, enrolment, passed=True, now=after)
    assert enrolment.state == EnrolmentState.ATTENDED
    assert enrolment.exam_result == ExamResult.PASSED
    qualification = db.session.get(Qualification, enrolment.qualification_id)
    assert qualification.expires_at == after + dt.timedelta(days=365)
    assert is_qualified(db.session, researcher, instrument, after + dt.timedelta(days=30))
    assert not is_qualified(db.session, researcher, instrument,
                            after + dt.timedelta(days=366))
    assert len(outbox("training_result")) == 1
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == "training_enrolments").order_by(AuditEvent.id)).all()
    assert actions == ["create", "check_in", "exam"]


def test_a_failed_exam_or_an_absence_grants_nothing(instrument, manager):
    session = schedule(manager, instrument)
    failing, absent = create_user(), create_user()
    first, second = enrol(manager, session, failing), enrol(manager, session, absent)
    after = START + dt.timedelta(hours=1)
    with write_transaction(db.session):
        training.record_attendance(db.session, manager, first, attended=True, now=after)
        training.record_attendance(db.session, manager, second, attended=False, now=after)
    with write_transaction(db.session):
        training.record_exam(db.session, manager, first, passed=False, now=after)
    with pytest.raises(Conflict), write_transaction(db.session):
        training.record_exam(db.session, manager, second, passed=True, now=after)
    with pytest.raises(Conflict) as twice, write_transaction(db.session):
        training.record_exam(db.session, manager, first, passed=True, now=after)
    assert twice.value.code == "already_recorded"
    assert db.session.scalar(select(Qualification.id)) is None


def test_a_full_session_refuses_and_a_place_given_back_is_free_again(instrument, manager):
    session = schedule(manager, instrument, capacity=1)
    first = enrol(manager, session, create_user())
    late = create_user()
    with pytest.raises(Conflict) as full:
        enrol(late, session)
    assert full.value.code == "session_full"
    with write_transaction(db.session):
        training.cancel_enrolment(db.session, manager, first, now=NOW)
    assert enrol(late, session).state == EnrolmentState.ENROLLED
    assert db.session.get(TrainingSession, session.id).enrolled == 1


def test_enrolling_twice_is_refused(instrument, manager):
    session = schedule(manager, instrument)
    researcher = create_user()
    enrol(researcher, session)
    with pytest.raises(Conflict) as twice:
        enrol(researcher, session)
    assert twice.value.code == "already_enrolled"


def test_only_the_labs_managers_arrange_and_enrol_others(instrument, manager):
    outsider = create_manager(create_lab())
    with pytest.raises(PermissionDenied):
        schedule(outsider, instrument)
    session = schedule(manager, instrument)
    with pytest.raises(PermissionDenied):
        enrol(create_user(), session, create_user())


@pytest.mark.parametrize(("changes", "field"), [
    ({"capacity": 0}, "capacity"), ({"capacity": 201}, "capacity"),
    ({"starts_at": NOW - dt.timedelta(hours=1)}, "starts_at"),
    ({"ends_at": START}, "ends_at"), ({"trainer_email": "nobody@example.cn"}, "trainer_email"),
    ({"valid_days": 0}, "valid_days"),
])
def test_a_bad_session_is_refused_naming_its_field(instrument, manager, changes, field):
    values = {"starts_at": START, "ends_at": START + dt.timedelta(hours=1),
              "trainer_email": manager.email, "capacity": 4, **changes}
    with pytest.raises(ValidationError) as refused, write_transaction(db.session):
        training.schedule_session(db.session, manager, instrument, now=NOW, **values)
    assert refused.value.problems[0].field == field
    assert db.session.scalar(select(TrainingSession.id)) is None


def test_reminders_before_a_record_lapses_go_once(instrument, manager):
    from labbook.booking.training import grant_qualification

    soon, later = create_user(), create_user()
    with write_transaction(db.session):
        grant_qualification(db.session, manager, soon, instrument, now=NOW,
                            expires_at=NOW + dt.timedelta(days=20))
        grant_qualification(db.session, manager, later, instrument, now=NOW,
                            expires_at=NOW + dt.timedelta(days=90))
    with write_transaction(db.session):
        sent = training.send_expiry_reminders(db.session, now=NOW)
    with write_transaction(db.session):
        again = training.send_expiry_reminders(db.session, now=NOW + dt.timedelta(days=1))
    assert [m.recipient for m in sent] == [soon.email] and again == []
    assert len(outbox("qualification_expiring")) == 1
