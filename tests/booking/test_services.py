"""The booking services at their edges: the lengths of what a user types, what a new booking
records, who may see, cancel and decide, the decisions in a batch and the approval queue."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from labbook.audit.models import AuditEvent
from labbook.booking import services
from labbook.booking.models import Blackout, Booking, BookingState
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from tests.factories import (
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_user,
    lab_time,
)

MONDAY = dt.date(2027, 3, 1)
NOW = lab_time(MONDAY - dt.timedelta(days=3), 12)  # the Friday before, noon

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def instrument():
    return create_instrument(slot_minutes=30, min_minutes=30, max_minutes=240,
                             min_notice_minutes=120, horizon_days=30, buffer_minutes=15)


def book(user, instrument, start=None, end=None, **kwargs):
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("purpose", "XRD 物相分析")
    return services.create_booking(db.session, user, instrument_id=instrument.id,
                                   start=start or lab_time(MONDAY, 9),
                                   end=end or lab_time(MONDAY, 10), **kwargs)


def events(action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.id)).all()


def in_transaction(service, *args, **kwargs):
    with write_transaction(db.session):
        return service(db.session, *args, **kwargs)


# -- what a user types ------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "limit"), [("purpose", 500), ("project_ref", 100)])
def test_texts_may_be_as_long_as_their_limit_and_no_longer(researcher, instrument, field,
                                                          limit):
    texts = {"purpose": "XRD", field: " " + "样" * limit + " "}
    booking = book(researcher, instrument, **texts)
    assert getattr(booking, field) == "样" * limit
    with pytest.raises(ValidationError) as refused:
        book(researcher, instrument, lab_time(MONDAY, 11), lab_time(MONDAY, 12),
             **{**texts, field: "样" * (limit + 1)})
    [problem] = refused.value.problems
    assert (problem.code, problem.field, problem.message) == \
        ("too_long_text", field, f"At most {limit} characters.")


def test_a_blank_purpose_asks_what_the_booking_is_for(researcher, instrument):
    with pytest.raises(ValidationError) as refused:
        book(researcher, instrument, purpose=" \n ")
    [problem] = refused.value.problems
    assert (problem.code, problem.field, problem.message) == \
        ("required", "purpose", "Please say what the booking is for.")
    assert refused.value.message == "Please say what the booking is for."


def test_a_rejection_without_a_note_is_refused_with_the_field_named(researcher):
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = book(researcher, instrument)
    with pytest.raises(ValidationError) as refused:
        in_transaction(services.reject_booking, manager, booking, now=NOW, note="  ")
    [problem] = refused.value.problems
    assert (problem.code, problem.field, problem.message) == \
        ("required", "note", "This field is required.")


def test_a_cancellation_note_may_be_1000_characters(researcher, instrument):
    booking = book(researcher, instrument)
    with pytest.raises(ValidationError) as refused:
        in_transaction(services.cancel_booking, researcher, booking, now=NOW, note="x" * 1001)
    assert refused.value.problems[0].field == "note"
    in_transaction(services.cancel_booking, researcher, booking, now=NOW,
                   note=" " + "x" * 1000 + " ")
    [event] = events("cancel")
    assert event.note == "x" * 1000


def test_someone_without_an_organization_is_told_there_is_nobody_to_bill(instrument):
    nobody = create_user(organization=None)
    message = "Your account belongs to no organization, so there is nobody to bill."
    for attempt in (lambda: book(nobody, instrument),
                    lambda: services.preview_booking(
                        db.session, nobody, instrument, start=lab_time(MONDAY, 9),
                        end=lab_time(MONDAY, 10), override=False, now=NOW)):
        with pytest.raises(ValidationError) as refused:
            attempt()
        assert [(p.code, p.message) for p in refused.value.problems] == \
            [("no_organization", message)]
        assert refused.value.message == message


def test_an_unknown_instrument_is_not_found_naming_the_field(researcher):
    with pytest.raises(NotFound) as missing:
        services.create_booking(db.session, researcher, instrument_id=9999,
                                start=lab_time(MONDAY, 9), end=lab_time(MONDAY, 10),
                                purpose="XRD", now=NOW)
    [problem] = missing.value.problems
    assert (problem.code, problem.field, problem.message) == \
        ("not_found", "instrument_id", "No instrument with id 9999.")
    assert missing.value.message == problem.message


# -- what a new booking records -----------------------------------------------------------------

def test_a_new_booking_records_who_decided_and_its_held_time(researcher, instrument):
    booking = book(researcher, instrument, project_ref=" PO-7 ")
    # The answer renders these without reading them again.
    assert (booking.instrument, booking.user, booking.organization) == \
        (instrument, researcher, researcher.organization)
    db.session.expire_all()
    assert (booking.state, booking.decided_by_id, booking.decided_at) == \
        (BookingState.APPROVED, researcher.id, NOW)
    assert (booking.blocked_until, booking.project_ref, booking.sequence) == \
        (lab_time(MONDAY, 10, 15), "PO-7", 0)
    assert (booking.is_override, booking.is_late_cancellation, booking.decision_note) == \
        (False, False, "")
    assert (booking.created_at, booking.updated_at, booking.series_id) == (NOW, NOW, None)
    [event] = events("create")
    assert (event.to_state, event.details, event.at) == ("approved", {}, NOW)


def test_a_request_waiting_for_approval_is_undecided_and_the_managers_are_told(researcher):
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = book(researcher, instrument)
    db.session.expire_all()
    assert (booking.state, booking.decided_by_id, booking.decided_at) == \
        (BookingState.PENDING, None, None)
    assert [(m.kind, m.recipient, m.created_at)
            for m in db.session.scalars(select(OutboxMessage))] == \
        [("booking_requested", manager.email, NOW)]
    assert booking.project_ref == ""


def test_a_transition_without_a_note_records_none(researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher)
    with write_transaction(db.session):
        services.transition(db.session, researcher, booking, BookingState.IN_USE, "check_in",
                            now=NOW)
    [event] = events("check_in")
    assert (event.note, booking.state) == ("", BookingState.IN_USE)


def test_an_override_is_recorded_on_the_booking_and_in_the_log(instrument):
    manager = create_manager(instrument.lab)
    booking = book(manager, instrument, lab_time(MONDAY, 17), lab_time(MONDAY, 19),
                   override=True)
    assert booking.is_override
    [event] = events("create")
    assert event.details == {"overridden": ["outside_hours"]}


# -- what stands in the way ---------------------------------------------------------------------

def test_a_taken_time_is_refused_and_nothing_is_written(researcher, instrument):
    """The calendar is read by the insert itself where it can be (``insert_recorded_unless``):
    a refusal still writes no booking, no event and no message."""
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 9),
                   end_at=lab_time(MONDAY, 10))
    with pytest.raises(services.BookingRefused) as refused:
        book(researcher, instrument, lab_time(MONDAY, 9, 30), lab_time(MONDAY, 10, 30))
    [problem] = refused.value.problems
    assert (problem.code, problem.extra) == ("overlap", {
        "start": lab_time(MONDAY, 9).isoformat(), "end": lab_time(MONDAY, 10, 15).isoformat()})
    assert refused.value.suggestions
    assert len(db.session.scalars(select(Booking)).all()) == 1
    assert (events("create"), db.session.scalars(select(OutboxMessage)).all()) == ([], [])


def test_every_problem_is_listed_with_what_is_in_the_way_first(researcher, instrument):
    """Closures, then bookings in the way, then the other rules: whether the other rules
    refused the booking first (the calendar then read apart) or only the calendar did."""
    soon = NOW + dt.timedelta(hours=1)
    create_booking(instrument=instrument, start_at=soon, end_at=soon + dt.timedelta(hours=1))
    db.session.add(Blackout(instrument=instrument, start_at=soon - dt.timedelta(hours=1),
                            end_at=soon + dt.timedelta(minutes=30), reason="保养"))
    db.session.commit()
    with pytest.raises(services.BookingRefused) as refused:
        book(researcher, instrument, soon, soon + dt.timedelta(hours=1))
    assert [p.code for p in refused.value.problems] == ["blackout", "overlap", "too_soon"]
    manager = create_manager(instrument.lab)
    with pytest.raises(services.BookingRefused) as refused:
        book(manager, instrument, soon, soon + dt.timedelta(hours=1), override=True)
    # The manager's override lets the notice pass; what is in the way it cannot.
    assert [p.code for p in refused.value.problems] == ["blackout", "overlap"]


def test_a_time_without_an_offset_is_refused_before_the_calendar_is_read(researcher,
                                                                         instrument):
    with pytest.raises(services.BookingRefused) as refused:
        book(researcher, instrument, lab_time(MONDAY, 9).replace(tzinfo=None),
             lab_time(MONDAY, 10).replace(tzinfo=None))
    assert ([p.code for p in refused.value.problems], refused.value.status) == \
        (["naive_datetime"], 422)


def test_only_the_labs_managers_may_override(researcher, instrument):
    outsider = create_manager(create_lab())
    for actor in (researcher, outsider):
        with pytest.raises(PermissionDenied) as refused:
            book(actor, instrument, override=True)
        assert (refused.value.code, refused.value.message) == \
            ("override_not_allowed", "Only the lab's managers may override booking rules.")


def test_a_booking_that_loses_the_race_in_the_database_is_an_overlap(researcher, instrument,
                                                                     insert_fails):
    insert_fails("23P01")
    with pytest.raises(services.BookingRefused) as refused:
        book(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))
    [problem] = refused.value.problems
    assert (problem.code, problem.message, problem.extra) == (
        "overlap", "Someone else booked this time a moment ago.",
        {"start": lab_time(MONDAY, 9).isoformat(), "end": lab_time(MONDAY, 10).isoformat()})
    assert (refused.value.status, refused.value.code, refused.value.message) == \
        (409, "overlap", problem.message)
    assert refused.value.suggestions
    assert refused.value.extra() == {"suggestions": [
        suggestion.as_dict() for suggestion in refused.value.suggestions]}
    assert {s.end - s.start for s in refused.value.suggestions} == {dt.timedelta(hours=1)}


@pytest.mark.parametrize("sqlstate", ["23505", None])
def test_any_other_integrity_error_is_not_taken_for_an_overlap(researcher, instrument,
                                                              insert_fails, sqlstate):
    insert_fails(sqlstate)
    with pytest.raises(IntegrityError):
        book(researcher, instrument)


def test_suggestions_only_where_another_time_or_instrument_helps(researcher, instrument):
    with pytest.raises(services.BookingRefused) as refused:
        book(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 14))
    assert [p.code for p in refused.value.problems] == ["too_long"]
    assert refused.value.suggestions == []
    assert refused.value.extra() == {}
    db.session.add(Blackout(instrument=instrument, start_at=lab_time(MONDAY, 8),
                            end_at=lab_time(MONDAY, 12), reason="年度保养"))
    db.session.commit()
    with pytest.raises(services.BookingRefused) as refused:
        book(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))
    assert refused.value.suggestions[0].start == lab_time(MONDAY, 12)


def test_a_refusal_without_problems_says_so():
    refusal = services.BookingRefused([])
    assert (refusal.message, refusal.code, refusal.status) == \
        ("The booking was refused.", "booking_refused", 409)


# -- preview ----------------------------------------------------------------------------------

def test_a_preview_counts_the_override_for_the_labs_managers_only(researcher, instrument):
    manager = create_manager(instrument.lab)
    late = {"start": lab_time(MONDAY, 17), "end": lab_time(MONDAY, 19), "now": NOW}
    as_manager = services.preview_booking(db.session, manager, instrument, override=True,
                                          **late)
    assert ([p.code for p in as_manager.problems], as_manager.is_possible) == \
        (["outside_hours"], True)
    as_researcher = services.preview_booking(db.session, researcher, instrument, override=True,
                                             **late)
    assert as_researcher.is_possible is False
    assert services.preview_booking(db.session, manager, instrument, override=False,
                                    **late).is_possible is False


def test_a_preview_checks_the_training_record_of_the_one_asking(researcher):
    instrument = create_instrument(requires_qualification=True)
    manager = create_manager(instrument.lab)
    times = {"start": lab_time(MONDAY, 9), "end": lab_time(MONDAY, 10), "now": NOW}
    answer = services.preview_booking(db.session, researcher, instrument, override=False,
                                      **times)
    assert [p.code for p in answer.problems] == ["not_qualified"]
    assert services.preview_booking(db.session, manager, instrument, override=False,
                                    **times).is_possible


# -- seeing, cancelling and deciding ----------------------------------------------------------

def test_who_may_see_cancel_and_decide_a_booking(researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher)
    manager = create_manager(instrument.lab)
    colleague = create_user(organization=researcher.organization)
    other_manager = create_manager(create_lab())
    assert [(services.can_view(u, booking), services.can_cancel(u, booking),
             services.can_decide(u, booking))
            for u in (researcher, manager, colleague, other_manager)] == [
        (True, True, False), (True, True, True), (False, False, False), (False, False, False)]
    booking.state = BookingState.COMPLETED
    assert (services.can_view(researcher, booking), services.can_cancel(researcher, booking)) \
        == (True, False)


def test_others_bookings_are_not_found(researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher)
    colleague = create_user(organization=researcher.organization)
    manager = create_manager(instrument.lab)
    assert services.get_booking(db.session, manager, booking.id) == booking
    assert services.get_managed_booking(db.session, manager, booking.id) == booking
    for get, actor, booking_id in [(services.get_booking, colleague, booking.id),
                                   (services.get_booking, researcher, 9999),
                                   (services.get_managed_booking, researcher, booking.id),
                                   (services.get_managed_booking, manager, 9999)]:
        with pytest.raises(NotFound) as missing:
            get(db.session, actor, booking_id)
        assert missing.value.message == f"No booking with id {booking_id}."
    with pytest.raises(NotFound) as missing:
        in_transaction(services.cancel_booking, colleague, booking, now=NOW)
    assert missing.value.message == f"No booking with id {booking.id}."


def test_a_cancellation_records_who_when_and_tells_the_user_when_someone_else_did(
        researcher, instrument):
    manager = create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 9), end_at=lab_time(MONDAY, 10))
    in_transaction(services.cancel_booking, manager, booking, now=NOW, note="设备故障")
    db.session.expire_all()
    assert (booking.state, booking.cancelled_by, booking.cancelled_at, booking.sequence,
            booking.updated_at) == (BookingState.CANCELLED, manager, NOW, 1, NOW)
    [event] = events("cancel")
    assert (event.actor_id, event.from_state, event.to_state, event.note, event.details) == \
        (manager.id, "approved", "cancelled", "设备故障", {"late": False})
    [message] = db.session.scalars(select(OutboxMessage)).all()
    assert (message.kind, message.recipient, message.created_at) == \
        ("booking_cancelled", researcher.email, NOW)
    assert "设备故障" in message.body_text


def test_the_owner_is_told_which_closure_cancelled_the_booking(researcher, instrument):
    manager = create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 9), end_at=lab_time(MONDAY, 10))
    closure = Blackout(instrument=instrument, start_at=lab_time(MONDAY, 8),
                       end_at=lab_time(MONDAY, 12), reason="停电检修")
    db.session.add(closure)
    db.session.commit()
    in_transaction(services.cancel_booking, manager, booking, now=NOW, by_lab=True,
                   blackout=closure)
    [message] = db.session.scalars(select(OutboxMessage)).all()
    assert "停电检修" in message.body_text
    [event] = events("cancel")
    assert event.note == ""


def test_a_booking_cancelled_already_cannot_be_cancelled_again(researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher,
                             state=BookingState.CANCELLED)
    with pytest.raises(Conflict) as refused:
        in_transaction(services.cancel_booking, researcher, booking, now=NOW)
    assert (refused.value.code, refused.value.message) == \
        ("invalid_state", "A booking that is “cancelled” cannot become “cancelled”.")


def test_the_lab_cancelling_a_booking_its_manager_made_is_not_late(instrument):
    manager = create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=manager,
                             start_at=lab_time(MONDAY, 9), end_at=lab_time(MONDAY, 10))
    in_transaction(services.cancel_booking, manager, booking, now=lab_time(MONDAY, 8),
                   by_lab=True)
    assert booking.is_late_cancellation is False


def test_approving_records_the_decision_and_tells_the_user(researcher):
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = book(researcher, instrument)
    in_transaction(services.approve_booking, manager, booking, now=NOW, note=" 可以 ")
    db.session.expire_all()
    assert (booking.state, booking.decided_by, booking.decided_at, booking.decision_note) == \
        (BookingState.APPROVED, manager, NOW, "可以")
    [event] = events("approve")
    assert (event.actor_id, event.from_state, event.to_state, event.note) == \
        (manager.id, "pending", "approved", "可以")
    assert [(m.kind, m.created_at) for m in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.user_id == researcher.id))] == \
        [("booking_approved", NOW)]


def test_an_approval_without_a_note_has_none(researcher):
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = book(researcher, instrument)
    in_transaction(services.approve_booking, manager, booking, now=NOW)
    assert (booking.decision_note, events("approve")[0].note) == ("", "")


def test_rejecting_records_the_reason(researcher):
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = book(researcher, instrument)
    in_transaction(services.reject_booking, manager, booking, now=NOW, note="样品不符")
    assert (booking.state, booking.decision_note) == (BookingState.REJECTED, "样品不符")
    assert events("reject")[0].to_state == "rejected"


def test_the_booker_may_not_decide_and_is_told_so_others_learn_nothing(researcher):
    instrument = create_instrument(requires_approval=True)
    booking = book(researcher, instrument)
    with pytest.raises(PermissionDenied) as refused:
        in_transaction(services.approve_booking, researcher, booking, now=NOW)
    assert refused.value.message == "Only the lab's managers decide on bookings."
    with pytest.raises(NotFound) as missing:
        in_transaction(services.approve_booking, create_manager(create_lab()), booking, now=NOW)
    assert missing.value.message == f"No booking with id {booking.id}."


def test_a_batch_decides_each_booking_once_and_reports_the_others(researcher):
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    first = book(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))
    decided = book(researcher, instrument, lab_time(MONDAY, 11), lab_time(MONDAY, 12))
    elsewhere = create_booking(instrument=create_instrument(), state=BookingState.PENDING)
    in_transaction(services.reject_booking, manager, decided, now=NOW, note="已满")
    decisions = in_transaction(
        services.decide_bookings, manager, [first.id, decided.id, first.id, elsewhere.id, 9999],
        approve=True, note="", now=NOW)
    assert [(d.booking_id, d.is_done, d.was_already_decided, d.booking is not None)
            for d in decisions] == [(first.id, True, False, True),
                                    (decided.id, False, True, True),
                                    (elsewhere.id, False, False, False),
                                    (9999, False, False, False)]
    assert (first.state, decided.state, elsewhere.state) == \
        (BookingState.APPROVED, BookingState.REJECTED, BookingState.PENDING)
    assert isinstance(decisions[2].error, NotFound) and isinstance(decisions[3].error, NotFound)
    assert decisions[3].error.message == "No booking with id 9999."
    assert len(events("approve")) == 1


def test_a_pending_booking_that_cannot_be_decided_was_not_decided_already(researcher):
    """A booking in another manager's lab fails with PermissionDenied for its own booker."""
    instrument = create_instrument(requires_approval=True)
    booking = book(researcher, instrument)
    [decision] = in_transaction(services.decide_bookings, researcher, [booking.id],
                                approve=True, note="", now=NOW)
    assert (decision.is_done, decision.was_already_decided, decision.booking) == \
        (False, False, None)
    assert isinstance(decision.error, PermissionDenied)


def test_a_batch_rejection_without_a_note_changes_nothing(researcher):
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = book(researcher, instrument)
    with pytest.raises(ValidationError):
        in_transaction(services.decide_bookings, manager, [booking.id], approve=False,
                       note="", now=NOW)
    assert db.session.get(type(booking), booking.id).state == BookingState.PENDING


# -- the approval queue -------------------------------------------------------------------------

def test_the_queue_of_one_lab_by_its_code_in_any_case(researcher):
    lab, other = create_lab(code="XRD"), create_lab(code="SEM")
    manager = create_manager(lab)
    manager.managed_labs.append(other)
    db.session.commit()
    here = create_booking(instrument=create_instrument(lab=lab), user=researcher,
                          state=BookingState.PENDING)
    there = create_booking(instrument=create_instrument(lab=other), user=researcher,
                           state=BookingState.PENDING)
    assert services.approval_queue(db.session, manager, "xrd") == [here]
    assert services.approval_queue(db.session, manager) == [here, there]
    assert services.approval_queue(db.session, manager, "NMR") == []
    assert services.approval_queue(db.session, researcher) == []


def test_the_queue_shows_each_organization_its_own_week(researcher):
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    busy = create_user(organization=create_organization(weekly_quota_hours=2))
    for user, start, end in ((busy, 9, 12), (researcher, 13, 14)):
        create_booking(instrument=instrument, user=user, state=BookingState.PENDING,
                       start_at=lab_time(MONDAY, start), end_at=lab_time(MONDAY, end))
    assert [(e.booking.user, e.week.held_hours, e.week.is_over)
            for e in services.approval_overview(db.session, manager)] == \
        [(busy, 3.0, True), (researcher, 1.0, False)]


def test_the_queue_tells_the_weeks_apart_in_lab_time(researcher):
    """Sunday 10:00 and Monday 02:00 in the lab fall in one week in UTC, in two in the lab."""
    lab = create_lab(hours={day: [(dt.time(0), dt.time(23, 59))] for day in range(7)})
    instrument = create_instrument(lab=lab, requires_approval=True)
    manager = create_manager(lab)
    sunday = MONDAY - dt.timedelta(days=1)
    for start in (lab_time(sunday, 10), lab_time(MONDAY, 2)):
        create_booking(instrument=instrument, user=researcher, state=BookingState.PENDING,
                       start_at=start, end_at=start + dt.timedelta(hours=1))
    assert [(e.week.week_start, e.week.held_hours)
            for e in services.approval_overview(db.session, manager)] == \
        [(lab_time(sunday - dt.timedelta(days=6), 0), 1.0), (lab_time(MONDAY, 0), 1.0)]


@pytest.mark.parametrize(("held_hours", "is_over"), [(3, False), (3.5, True)])
def test_a_week_is_over_its_quota_only_beyond_it(held_hours, is_over):
    assert services.WeeklyUse(lab_time(MONDAY, 0), held_hours, 3).is_over is is_over
    assert services.WeeklyUse(lab_time(MONDAY, 0), held_hours, None).is_over is False


def test_the_queue_shows_each_organizations_week_once_per_week(researcher):
    organization = create_organization(weekly_quota_hours=2)
    member = create_user(organization=organization)
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    for day, hours in ((MONDAY, 2), (MONDAY + dt.timedelta(days=1), 1),
                       (MONDAY + dt.timedelta(days=7), 1)):
        create_booking(instrument=instrument, user=member, state=BookingState.PENDING,
                       start_at=lab_time(day, 9), end_at=lab_time(day, 9 + hours))
    weeks = [(e.week.week_start, e.week.held_hours, e.week.quota_hours, e.week.is_over,
              e.is_qualified) for e in services.approval_overview(db.session, manager)]
    next_week = MONDAY + dt.timedelta(days=7)
    assert weeks == [(lab_time(MONDAY, 0), 3.0, 2, True, None)] * 2 + \
        [(lab_time(next_week, 0), 1.0, 2, False, None)]
