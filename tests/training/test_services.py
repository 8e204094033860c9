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
from labbook.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from labbook.training import services as training
from labbook.training.models import (
    EnrolmentState,
    ExamResult,
    RequestState,
    SessionState,
    TrainingRequest,
    TrainingSession,
)
from tests.concurrency import overlap
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
    assert (full.value.code, full.value.message) == (
        "session_full", "本场培训已满：1 个名额均已报满。")
    with write_transaction(db.session):
        training.cancel_enrolment(db.session, manager, first, now=NOW)
    assert enrol(late, session).state == EnrolmentState.ENROLLED
    assert db.session.get(TrainingSession, session.id).enrolled == 1



def test_enrolling_closes_at_the_sessions_start_to_the_second_and_a_cancelled_one_never_opens(
        instrument, manager):
    session = schedule(manager, instrument)
    assert enrol(create_user(), session, now=START - dt.timedelta(seconds=1)).state \
        == EnrolmentState.ENROLLED
    with pytest.raises(Conflict) as started:
        enrol(create_user(), session, now=START)
    assert (started.value.code, started.value.message) == (
        "invalid_state", "本场培训已开始或已取消，无法再报名。")
    cancelled = schedule(manager, instrument)
    db.session.get(TrainingSession, cancelled.id).state = SessionState.CANCELLED
    db.session.commit()
    with pytest.raises(Conflict) as refused:
        enrol(create_user(), cancelled, now=NOW)
    assert refused.value.code == "invalid_state"


def test_an_enrolment_takes_a_place_of_its_own_session_only_and_a_place_given_back_is_reused(
        instrument, manager):
    session, other_session = schedule(manager, instrument), schedule(manager, instrument)
    researcher = create_user()
    with write_transaction(db.session):
        request = training.request_training(db.session, researcher, instrument, now=NOW)
    first = enrol(manager, session, researcher, now=NOW + dt.timedelta(minutes=5))
    assert first.created_at == NOW + dt.timedelta(minutes=5)
    assert (db.session.get(TrainingSession, session.id).enrolled,
            db.session.get(TrainingSession, other_session.id).enrolled) == (1, 0)
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type.in_(["training_enrolments", "training_requests"]),
        AuditEvent.action != "submit").order_by(AuditEvent.id)).all()
    assert [(e.object_type, e.object_id, e.actor_id, e.action, e.from_state, e.to_state,
             e.details) for e in events] == [
        ("training_enrolments", first.id, manager.id, "create", None, "enrolled",
         {"user_id": researcher.id, "instrument_id": instrument.id}),
        ("training_requests", request.id, manager.id, "accept", "open", "scheduled", {})]
    [told] = outbox("training_enrolled")
    assert (told.recipient, told.subject) == (researcher.email, "培训：2026-12-10 09:00")
    with write_transaction(db.session):
        training.cancel_enrolment(db.session, researcher, first, now=NOW)
    again = enrol(researcher, session)
    assert (again.id, again.state) == (first.id, EnrolmentState.ENROLLED)


def test_one_person_may_hold_places_in_two_sessions_and_none_in_a_session_that_is_gone(
        instrument, manager):
    researcher = create_user()
    first, second = schedule(manager, instrument), schedule(manager, instrument)
    enrol(researcher, first)
    assert enrol(researcher, second).session_id == second.id
    gone = TrainingSession(id=10**6, instrument=instrument)
    with pytest.raises(NotFound) as missing, write_transaction(db.session):
        training.enrol(db.session, researcher, gone, now=NOW)
    assert missing.value.message == "没有这场培训。"


def test_a_session_without_a_location_or_note_has_none(instrument, manager):
    with write_transaction(db.session):
        made = training.schedule_session(
            db.session, manager, instrument, starts_at=START,
            ends_at=START + dt.timedelta(hours=1), trainer_email=manager.email, capacity=2,
            now=NOW)
    assert (made.location, made.note) == ("", "")

def test_enrolling_twice_is_refused(instrument, manager):
    session = schedule(manager, instrument)
    researcher = create_user()
    enrol(researcher, session)
    with pytest.raises(Conflict) as twice:
        enrol(researcher, session)
    assert (twice.value.code, twice.value.message) == (
        "already_enrolled", f"{researcher.name} 已报名本场培训。")


def test_only_the_labs_managers_arrange_and_enrol_others(instrument, manager):
    outsider = create_manager(create_lab())
    with pytest.raises(PermissionDenied):
        schedule(outsider, instrument)
    session = schedule(manager, instrument)
    with pytest.raises(PermissionDenied) as refused:
        enrol(create_user(), session, create_user())
    assert refused.value.message == "只有本实验室的管理员可以为他人报名。"


@pytest.mark.parametrize(("changes", "field", "code", "message"), [
    ({"capacity": 0}, "capacity", "invalid", "请填写 1 至 200 个名额。"),
    ({"capacity": 201}, "capacity", "invalid", "请填写 1 至 200 个名额。"),
    ({"starts_at": NOW}, "starts_at", "in_past", "培训开始时间必须在将来。"),
    ({"ends_at": START}, "ends_at", "invalid_interval", "结束时间必须晚于开始时间。"),
    ({"trainer_email": "nobody@example.cn"}, "trainer_email", "unknown_user",
     "没有使用邮箱 nobody@example.cn 的账号。"),
    ({"valid_days": 0}, "valid_days", "invalid", "请填写 1 至 3650 天，或留空表示长期有效。"),
    ({"valid_days": 3651}, "valid_days", "invalid", "请填写 1 至 3650 天，或留空表示长期有效。"),
    ({"location": "x" * 201}, "location", "too_long_text", "最多 200 个字符。"),
    ({"note": "x" * 1001}, "note", "too_long_text", "最多 1000 个字符。"),
])
def test_a_bad_session_is_refused_naming_its_field(instrument, manager, changes, field, code,
                                                   message):
    values = {"starts_at": START, "ends_at": START + dt.timedelta(hours=1),
              "trainer_email": manager.email, "capacity": 4, **changes}
    with pytest.raises(ValidationError) as refused, write_transaction(db.session):
        training.schedule_session(db.session, manager, instrument, now=NOW, **values)
    assert [(p.field, p.code, p.message) for p in refused.value.problems] == [
        (field, code, message)]
    assert db.session.scalar(select(TrainingSession.id)) is None


@pytest.mark.parametrize(("capacity", "valid_days"), [(1, 1), (200, 3650), (3, None)])
def test_a_session_at_the_edges_of_its_limits_is_scheduled_as_given(
        instrument, manager, capacity, valid_days):
    trainer = create_manager(instrument.lab)
    waiting = create_user()
    with write_transaction(db.session):
        training.request_training(db.session, waiting, instrument, now=NOW)
    starts_at = NOW + dt.timedelta(seconds=1)
    with write_transaction(db.session):
        made = training.schedule_session(
            db.session, manager, instrument, starts_at=starts_at,
            ends_at=starts_at + dt.timedelta(hours=2), trainer_email=trainer.email,
            capacity=capacity, location=" A305 ", note=" 带上样品 ", valid_days=valid_days,
            now=NOW)
    stored = db.session.get(TrainingSession, made.id)
    assert (stored.trainer_id, stored.capacity, stored.enrolled, stored.location, stored.note,
            stored.valid_days, stored.state, stored.created_by_id, stored.created_at) == (
        trainer.id, capacity, 0, "A305", "带上样品", valid_days, SessionState.SCHEDULED,
        manager.id, NOW)
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "training_sessions")).one()
    assert (event.actor_id, event.action, event.to_state, event.details) == (
        manager.id, "create", "scheduled",
        {"instrument_id": instrument.id, "starts_at": starts_at.isoformat(),
         "capacity": capacity, "user_id": trainer.id})
    [told] = outbox("training_scheduled")
    assert (told.recipient, told.subject) == (waiting.email, "有一场您可以参加的培训")


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
