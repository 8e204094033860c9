"""Training from request to qualification: a request reaches the lab's managers, a session
has places, people enrol (a full session refuses), attendance and a passed exam grant the
training record with the session's expiry; reminders before it lapses, once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

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
    TrainingRequest,
    TrainingSession,
)
from tests.billing.test_concurrency import overlap
from tests.factories import (
    create_admin,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
)

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



def ask(user, instrument, now=NOW):
    with write_transaction(db.session):
        return training.request_training(db.session, user, instrument, now=now)


def test_each_open_request_is_one_persons_for_one_instrument(instrument, manager):
    """Asking again finds only the asker's own open request for that very instrument; a
    session reaches the people waiting for its instrument; enrolling answers only the
    enrolled person's open request for it; the managers see their labs' open requests,
    oldest first."""
    researcher, colleague, other = create_user(), create_user(), create_user()
    sibling = create_instrument(lab=instrument.lab, requires_qualification=True)
    elsewhere = create_instrument(lab=create_lab(), requires_qualification=True)
    withdrawn = ask(researcher, instrument, now=NOW - dt.timedelta(days=2))
    with write_transaction(db.session):
        training.withdraw_request(db.session, researcher, withdrawn, now=NOW)
    own = ask(researcher, instrument, now=NOW)
    colleagues = ask(colleague, instrument, now=NOW - dt.timedelta(hours=1))
    on_sibling = ask(researcher, sibling)
    others_on_sibling = ask(other, sibling)
    in_another_lab = ask(other, elsewhere)
    assert len({withdrawn.id, own.id, colleagues.id, on_sibling.id}) == 4
    assert [r.id for r in training.open_requests(db.session, manager)] == [
        colleagues.id, own.id, on_sibling.id, others_on_sibling.id]
    assert [r.id for r in training.open_requests(db.session, create_admin())] == [
        colleagues.id, own.id, on_sibling.id, others_on_sibling.id, in_another_lab.id]

    session = schedule(manager, instrument)
    assert sorted(m.recipient for m in outbox("training_scheduled")) == sorted(
        [researcher.email, colleague.email])
    enrol(researcher, session)
    states = {request.id: db.session.get(type(request), request.id).state
              for request in (withdrawn, own, colleagues, on_sibling)}
    assert states == {withdrawn.id: RequestState.WITHDRAWN, own.id: RequestState.SCHEDULED,
                      colleagues.id: RequestState.OPEN, on_sibling.id: RequestState.OPEN}


def test_a_request_is_recorded_and_its_managers_read_of_it_in_their_language(instrument):
    zh_manager = create_manager(instrument.lab, locale="zh_CN")
    en_manager = create_manager(instrument.lab, locale="en")
    researcher = create_user()
    with write_transaction(db.session):
        request = training.request_training(db.session, researcher, instrument,
                                            note="粉末衍射 / powder XRD", now=NOW)
    assert db.session.get(type(request), request.id).note == "粉末衍射 / powder XRD"
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "training_requests")).one()
    assert (event.actor_id, event.object_id, event.action, event.from_state, event.to_state,
            event.details, event.at) == (researcher.id, request.id, "submit", None, "open",
                                         {"instrument_id": instrument.id}, NOW)
    subjects = {m.recipient: m.subject for m in outbox("training_requested")}
    assert subjects == {zh_manager.email: f"培训申请：{instrument.name_zh}",
                        en_manager.email: f"Training asked for: {instrument.name_en}"}


def test_a_request_without_a_note_has_none_and_a_long_one_is_refused_at_its_field(instrument):
    with write_transaction(db.session):
        request = training.request_training(db.session, create_user(), instrument, now=NOW)
    assert request.note == ""
    with pytest.raises(ValidationError) as refused, write_transaction(db.session):
        training.request_training(db.session, create_user(), instrument,
                                  note="x" * (training.MAX_NOTE + 1), now=NOW)
    assert [problem.field for problem in refused.value.problems] == ["note"]


def test_two_requests_of_one_person_at_once_make_one(app, instrument):
    researcher = create_user()
    first, second = overlap(
        app, lambda session: training.request_training(
            session, session.get(type(researcher), researcher.id),
            session.get(type(instrument), instrument.id), now=NOW).id,
        lambda session: training.request_training(
            session, session.get(type(researcher), researcher.id),
            session.get(type(instrument), instrument.id), now=NOW).id)
    assert first == second
    assert db.session.scalar(select(func.count()).select_from(TrainingRequest)) == 1

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
