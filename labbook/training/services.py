"""Training: a researcher asks for training on an instrument (the lab's managers are told);
the managers schedule sessions (when, trainer, places), enrol people (who may also enrol
themselves in a session to come), record attendance and the exam; a passed exam grants the
qualification through ``labbook.booking.training`` (granting directly stays possible there),
valid for the session's ``valid_days``. A daily job reminds people before a qualification
lapses.

A session never holds more people than its places: enrolling takes the session's row lock and
moves its ``enrolled`` count in SQL, and a CHECK constraint refuses a count over capacity, so
of people racing for the last place exactly one gets it; the others are told it is full
(409 ``session_full``). Callers run every change inside ``write_transaction``.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from labbook.accounts.models import User
from labbook.accounts.services import managed_labs, normalize_email
from labbook.audit.services import record
from labbook.booking import training as qualifications
from labbook.booking.models import Qualification
from labbook.catalogue.models import Instrument, InstrumentStatus
from labbook.core.engine import locked
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from labbook.core.time import to_lab_time
from labbook.i18n import localized
from labbook.notify import services as notify
from labbook.training.labels import ENROLMENT_STATE_LABELS, REQUEST_STATE_LABELS
from labbook.training.models import (
    MAX_CAPACITY,
    REQUEST_IS_OPEN,
    EnrolmentState,
    ExamResult,
    RequestState,
    SessionState,
    TrainingEnrolment,
    TrainingRequest,
    TrainingSession,
)

MAX_NOTE = 1000
MAX_LOCATION = 200
#: How long a qualification may be granted for by a session, in days.
MAX_VALID_DAYS = 3650
#: How long before a qualification lapses its holder is reminded.
REMINDER_LEAD = dt.timedelta(days=30)


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError(message, code=code, problems=[Problem(code, message, field=field)])


def _text(value: str | None, field: str, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise _invalid(field, _("At most %(n)d characters.", n=limit), "too_long_text")
    return text


def can_manage(actor: User, instrument: Instrument) -> bool:
    return actor.manages_lab_id(instrument.lab_id)


def _require_manager(actor: User, instrument: Instrument) -> None:
    if not can_manage(actor, instrument):
        raise PermissionDenied(_("Only the lab's managers arrange training."))


def _when(moment: dt.datetime) -> str:
    return to_lab_time(moment).strftime("%Y-%m-%d %H:%M")


# -- requests ----------------------------------------------------------------------------------

def trainable_instruments(session: Session) -> list[Instrument]:
    """Instruments one may ask training for: those not retired, the ones that need a training
    record to be booked first."""
    return list(session.scalars(
        select(Instrument).where(Instrument.status != InstrumentStatus.RETIRED)
        .order_by(Instrument.requires_qualification.desc(), Instrument.code)))


def request_training(session: Session, actor: User, instrument: Instrument, *, note: str = "",
                     now: dt.datetime) -> TrainingRequest:
    """``actor`` asks for training on ``instrument``; the lab's managers are told by email. An
    open request of the same person for the same instrument is answered as it is."""
    note = _text(note, "note", MAX_NOTE)
    # One request at a time per person: a second finds the open one instead of doubling it.
    session.execute(select(User.id).where(User.id == actor.id).with_for_update())
    existing = session.scalar(select(TrainingRequest).where(
        TrainingRequest.user_id == actor.id, TrainingRequest.instrument_id == instrument.id,
        REQUEST_IS_OPEN))
    if existing is not None:
        return existing
    request = TrainingRequest(user=actor, instrument=instrument, note=note,
                              state=RequestState.OPEN, created_at=now)
    session.add(request)
    session.flush()
    record(session, actor, request, "submit", at=now, to_state=RequestState.OPEN.value,
           instrument_id=instrument.id)
    for manager in notify.lab_staff(session, instrument.lab):
        notify.enqueue(session, manager, kind="training_requested",
                       template="training_requested",
                       subject=lambda: _("Training asked for: %(instrument)s",
                                         instrument=localized(instrument, "name")),
                       context={"request": request}, now=now)
    return request


def get_request(session: Session, actor: User, request_id: int) -> TrainingRequest:
    request = session.get(TrainingRequest, request_id)
    if request is None or not (request.user_id == actor.id
                               or can_manage(actor, request.instrument)):
        raise NotFound(_("No training request with id %(id)d.", id=request_id))
    return request


def _move_request(session: Session, actor: User, request: TrainingRequest, to: RequestState,
                  action: str, *, now: dt.datetime, note: str = "") -> None:
    request = locked(session, TrainingRequest, request.id) or request
    if request.state != RequestState.OPEN:
        raise Conflict(_("A training request that is “%(state)s” cannot change any more.",
                         state=REQUEST_STATE_LABELS[request.state]), code="invalid_state")
    record(session, actor, request, action, at=now, from_state=request.state.value,
           to_state=to.value, note=note)
    request.state = to
    request.decided_by_id = actor.id
    request.decided_at = now
    request.decision_note = note


def withdraw_request(session: Session, actor: User, request: TrainingRequest, *,
                     now: dt.datetime) -> TrainingRequest:
    if request.user_id != actor.id:
        raise PermissionDenied(_("Only the person who asked withdraws a training request."))
    _move_request(session, actor, request, RequestState.WITHDRAWN, "withdraw", now=now)
    return request


def decline_request(session: Session, actor: User, request: TrainingRequest, *, note: str,
                    now: dt.datetime) -> TrainingRequest:
    _require_manager(actor, request.instrument)
    note = _text(note, "note", MAX_NOTE)
    if not note:
        raise _invalid("note", _("Say why, so that the person knows what to do."), "required")
    _move_request(session, actor, request, RequestState.DECLINED, "reject", now=now, note=note)
    notify.enqueue(session, request.user, kind="training_declined", template="training_declined",
                   subject=lambda: _("Training request declined"),
                   context={"request": request}, now=now)
    return request


def open_requests(session: Session, actor: User) -> list[TrainingRequest]:
    """Open requests for the instruments of the labs ``actor`` manages, oldest first."""
    lab_ids = [lab.id for lab in managed_labs(session, actor)]
    if not lab_ids:
        return []
    return list(session.scalars(
        select(TrainingRequest).join(Instrument)
        .where(Instrument.lab_id.in_(lab_ids), REQUEST_IS_OPEN)
        .options(joinedload(TrainingRequest.user), joinedload(TrainingRequest.instrument))
        .order_by(TrainingRequest.created_at, TrainingRequest.id)))


def own_requests(session: Session, actor: User) -> list[TrainingRequest]:
    return list(session.scalars(
        select(TrainingRequest).where(TrainingRequest.user_id == actor.id)
        .options(joinedload(TrainingRequest.instrument))
        .order_by(TrainingRequest.created_at.desc(), TrainingRequest.id.desc())))


# -- sessions ----------------------------------------------------------------------------------

def user_by_email(session: Session, email: str, field: str) -> User:
    user = session.scalar(select(User).where(User.email == normalize_email(email or "")))
    if user is None or not user.is_active:
        raise _invalid(field, _("Nobody has an account with the email %(email)s.",
                                email=email), "unknown_user")
    return user


def schedule_session(session: Session, actor: User, instrument: Instrument, *,
                     starts_at: dt.datetime, ends_at: dt.datetime, trainer_email: str,
                     capacity: int, location: str = "", note: str = "",
                     valid_days: int | None = None, now: dt.datetime) -> TrainingSession:
    """A new session on ``instrument``; everyone waiting for training on it is told."""
    _require_manager(actor, instrument)
    if starts_at <= now:
        raise _invalid("starts_at", _("The session must start in the future."), "in_past")
    if ends_at <= starts_at:
        raise _invalid("ends_at", _("The end must be after the start."), "invalid_interval")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise _invalid("capacity", _("Give from 1 to %(n)d places.", n=MAX_CAPACITY))
    if valid_days is not None and not 1 <= valid_days <= MAX_VALID_DAYS:
        raise _invalid("valid_days", _("Give from 1 to %(n)d days, or none for no expiry.",
                                       n=MAX_VALID_DAYS))
    trainer = user_by_email(session, trainer_email, "trainer_email")
    training_session = TrainingSession(
        instrument=instrument, starts_at=starts_at, ends_at=ends_at, trainer=trainer,
        capacity=capacity, enrolled=0, location=_text(location, "location", MAX_LOCATION),
        note=_text(note, "note", MAX_NOTE), valid_days=valid_days,
        state=SessionState.SCHEDULED, created_by_id=actor.id, created_at=now)
    session.add(training_session)
    session.flush()
    record(session, actor, training_session, "create", at=now,
           to_state=SessionState.SCHEDULED.value, instrument_id=instrument.id,
           starts_at=starts_at.isoformat(), capacity=capacity, user_id=trainer.id)
    waiting = session.scalars(select(TrainingRequest).where(
        TrainingRequest.instrument_id == instrument.id,
        REQUEST_IS_OPEN).options(joinedload(TrainingRequest.user)))
    for request in waiting:
        notify.enqueue(session, request.user, kind="training_scheduled",
                       template="training_scheduled",
                       subject=lambda: _("A training session you can join"),
                       context={"training_session": training_session}, now=now)
    return training_session


def get_session(session: Session, session_id: int) -> TrainingSession:
    found = session.get(TrainingSession, session_id)
    if found is None:
        raise NotFound(_("No training session with id %(id)d.", id=session_id))
    return found


def upcoming_sessions(session: Session, *, now: dt.datetime,
                      instrument_id: int | None = None,
                      lab_ids: list[int] | None = None) -> list[TrainingSession]:
    statement = (select(TrainingSession).where(TrainingSession.state == SessionState.SCHEDULED,
                                               TrainingSession.ends_at > now)
                 .options(joinedload(TrainingSession.instrument),
                          joinedload(TrainingSession.trainer))
                 .order_by(TrainingSession.starts_at, TrainingSession.id))
    if instrument_id is not None:
        statement = statement.where(TrainingSession.instrument_id == instrument_id)
    if lab_ids is not None:
        statement = statement.join(Instrument).where(Instrument.lab_id.in_(lab_ids))
    return list(session.scalars(statement))


def own_enrolments(session: Session, actor: User) -> list[TrainingEnrolment]:
    return list(session.scalars(
        select(TrainingEnrolment).where(TrainingEnrolment.user_id == actor.id)
        .options(joinedload(TrainingEnrolment.session).joinedload(TrainingSession.instrument))
        .order_by(TrainingEnrolment.id.desc())))


# -- enrolments --------------------------------------------------------------------------------

def enrol(session: Session, actor: User, training_session: TrainingSession, *,
          user: User | None = None, now: dt.datetime) -> TrainingEnrolment:
    """Give ``user`` (``actor`` themselves when None) a place in the session. A manager of the
    lab enrols anyone; others only themselves. A full session is 409 ``session_full``."""
    user = user or actor
    instrument = training_session.instrument
    if user.id != actor.id and not can_manage(actor, instrument):
        raise PermissionDenied(_("Only the lab's managers enrol other people."))
    training_session = locked(session, TrainingSession, training_session.id)
    if training_session is None:
        raise NotFound(_("No such training session."))
    if training_session.state != SessionState.SCHEDULED or training_session.starts_at <= now:
        raise Conflict(_("This session has started or was cancelled; nobody can join it any "
                         "more."), code="invalid_state")
    existing = session.scalar(select(TrainingEnrolment).where(
        TrainingEnrolment.session_id == training_session.id,
        TrainingEnrolment.user_id == user.id).with_for_update())
    if existing is not None and existing.state != EnrolmentState.CANCELLED:
        raise Conflict(_("%(name)s is enrolled in this session already.", name=user.name),
                       code="already_enrolled")
    taken = session.execute(
        update(TrainingSession)
        .where(TrainingSession.id == training_session.id,
               TrainingSession.enrolled < TrainingSession.capacity)
        .values(enrolled=TrainingSession.enrolled + 1)
        .execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        raise Conflict(_("The session is full: all %(n)d places are taken.",
                         n=training_session.capacity), code="session_full")
    session.refresh(training_session, ["enrolled"])
    if existing is None:
        enrolment = TrainingEnrolment(session=training_session, user=user,
                                      state=EnrolmentState.ENROLLED, created_at=now)
        session.add(enrolment)
    else:
        enrolment = existing
        enrolment.state = EnrolmentState.ENROLLED
    session.flush()
    record(session, actor, enrolment, "create", at=now, to_state=EnrolmentState.ENROLLED.value,
           user_id=user.id, instrument_id=instrument.id)
    for request in session.scalars(select(TrainingRequest).where(
            TrainingRequest.user_id == user.id, TrainingRequest.instrument_id == instrument.id,
            REQUEST_IS_OPEN).with_for_update()):
        record(session, actor, request, "accept", at=now, from_state=RequestState.OPEN.value,
               to_state=RequestState.SCHEDULED.value)
        request.state = RequestState.SCHEDULED
        request.decided_by_id, request.decided_at = actor.id, now
    notify.enqueue(session, user, kind="training_enrolled", template="training_enrolled",
                   subject=lambda: _("Training on %(when)s",
                                     when=_when(training_session.starts_at)),
                   context={"training_session": training_session}, now=now)
    return enrolment


def get_enrolment(session: Session, actor: User, enrolment_id: int) -> TrainingEnrolment:
    enrolment = session.get(TrainingEnrolment, enrolment_id)
    if enrolment is None or not (enrolment.user_id == actor.id
                                 or can_manage(actor, enrolment.session.instrument)):
        raise NotFound(_("No enrolment with id %(id)d.", id=enrolment_id))
    return enrolment


def _move_enrolment(session: Session, actor: User, enrolment: TrainingEnrolment,
                    sources: tuple[EnrolmentState, ...], to: EnrolmentState, action: str, *,
                    now: dt.datetime) -> TrainingEnrolment:
    enrolment = locked(session, TrainingEnrolment, enrolment.id) or enrolment
    if enrolment.state not in sources:
        raise Conflict(_("An enrolment that is “%(state)s” cannot become “%(to)s”.",
                         state=ENROLMENT_STATE_LABELS[enrolment.state],
                         to=ENROLMENT_STATE_LABELS[to]), code="invalid_state")
    record(session, actor, enrolment, action, at=now, from_state=enrolment.state.value,
           to_state=to.value, user_id=enrolment.user_id)
    enrolment.state = to
    enrolment.recorded_by_id, enrolment.recorded_at = actor.id, now
    return enrolment


def cancel_enrolment(session: Session, actor: User, enrolment: TrainingEnrolment, *,
                     now: dt.datetime) -> TrainingEnrolment:
    """Give the place back (the person, or the lab's managers), before the session starts."""
    training_session = locked(session, TrainingSession, enrolment.session_id)
    assert training_session is not None
    if enrolment.user_id != actor.id and not can_manage(actor, training_session.instrument):
        raise PermissionDenied(_("Only the person enrolled or the lab's managers cancel it."))
    if training_session.starts_at <= now:
        raise Conflict(_("The session has started: record attendance instead."),
                       code="invalid_state")
    _move_enrolment(session, actor, enrolment, (EnrolmentState.ENROLLED,),
                    EnrolmentState.CANCELLED, "cancel", now=now)
    session.execute(update(TrainingSession).where(TrainingSession.id == training_session.id)
                    .values(enrolled=TrainingSession.enrolled - 1)
                    .execution_options(synchronize_session=False))
    session.refresh(training_session, ["enrolled"])
    return enrolment


def record_attendance(session: Session, actor: User, enrolment: TrainingEnrolment, *,
                      attended: bool, now: dt.datetime) -> TrainingEnrolment:
    """Record whether the person came (the lab's managers, once the session has started)."""
    training_session = enrolment.session
    _require_manager(actor, training_session.instrument)
    if training_session.starts_at > now:
        raise Conflict(_("Attendance is recorded once the session has started."),
                       code="not_started")
    return _move_enrolment(
        session, actor, enrolment, (EnrolmentState.ENROLLED,),
        EnrolmentState.ATTENDED if attended else EnrolmentState.ABSENT,
        "check_in" if attended else "no_show", now=now)


def record_exam(session: Session, actor: User, enrolment: TrainingEnrolment, *, passed: bool,
                now: dt.datetime, expires_at: dt.datetime | None = None) -> TrainingEnrolment:
    """Record the exam of someone who attended. A pass grants the qualification, valid until
    ``expires_at`` or else for the session's ``valid_days`` (no expiry without either)."""
    training_session = enrolment.session
    instrument = training_session.instrument
    _require_manager(actor, instrument)
    enrolment = locked(session, TrainingEnrolment, enrolment.id) or enrolment
    if enrolment.state != EnrolmentState.ATTENDED:
        raise Conflict(_("Only someone who attended the session takes its exam."),
                       code="invalid_state")
    if enrolment.exam_result is not None:
        raise Conflict(_("The exam result is recorded already."), code="already_recorded")
    result = ExamResult.PASSED if passed else ExamResult.FAILED
    enrolment.exam_result = result
    enrolment.recorded_by_id, enrolment.recorded_at = actor.id, now
    if passed:
        if expires_at is None and training_session.valid_days is not None:
            expires_at = now + dt.timedelta(days=training_session.valid_days)
        qualification = qualifications.grant_qualification(
            session, actor, enrolment.user, instrument, now=now, expires_at=expires_at)
        enrolment.qualification_id = qualification.id
    record(session, actor, enrolment, "exam", at=now, user_id=enrolment.user_id,
           instrument_id=instrument.id, result=result.value)
    notify.enqueue(session, enrolment.user, kind="training_result", template="training_result",
                   subject=lambda: _("Your training exam: %(result)s",
                                     result=_("passed") if passed else _("not passed")),
                   context={"enrolment": enrolment, "passed": passed}, now=now)
    return enrolment


# -- reminders ---------------------------------------------------------------------------------

def send_expiry_reminders(session: Session, *, now: dt.datetime) -> list:
    """Remind each holder of a qualification that lapses within ``REMINDER_LEAD`` (the
    scheduler's daily job). One reminder per qualification, however often it runs: the
    outbox's key refuses a second."""
    expiring = session.scalars(
        select(Qualification).where(Qualification.revoked_at.is_(None),
                                    Qualification.expires_at > now,
                                    Qualification.expires_at <= now + REMINDER_LEAD)
        .options(joinedload(Qualification.user), joinedload(Qualification.instrument))
        .order_by(Qualification.expires_at, Qualification.id))
    messages = []
    for qualification in expiring:
        message = notify.enqueue(
            session, qualification.user, kind="qualification_expiring",
            template="qualification_expiring",
            subject=lambda q=qualification: _("Your training on %(code)s lapses on %(day)s",
                                              code=q.instrument.code,
                                              day=to_lab_time(q.expires_at)
                                              .strftime("%Y-%m-%d")),
            context={"qualification": qualification}, now=now,
            dedupe_key=f"qualification_expiring:{qualification.id}")
        if message is not None:
            messages.append(message)
    return messages
