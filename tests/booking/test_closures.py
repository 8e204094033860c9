"""Closures: which bookings a blackout hits, at its exact edges, who may close what and see
which closures, and the cancellation of the bookings a closure or maintenance hits.

The services are called with an explicit ``now``; the blackout runs 10:00–12:00 lab time.
"""

import datetime as dt

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from labbook.audit.models import AuditEvent
from labbook.booking import closures
from labbook.booking.models import Blackout, BookingState
from labbook.catalogue.models import InstrumentStatus
from labbook.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from labbook.extensions import db
from tests.factories import (
    create_admin,
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    lab_time,
    next_weekday,
)

MONDAY = next_weekday(0)
START = lab_time(MONDAY, 10)
END = lab_time(MONDAY, 12)
NOW = lab_time(MONDAY - dt.timedelta(days=3), 9)
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def lab():
    return create_lab(code="CLO")


@pytest.fixture
def instrument(lab):
    return create_instrument(lab=lab)


@pytest.fixture
def manager(lab):
    return create_manager(lab, name="Manager Li")


@pytest.fixture
def researcher():
    return create_user(name="Researcher Qian")


@pytest.fixture
def english():
    with force_locale("en"):
        yield


def blackout(**values):
    values = {"start_at": START, "end_at": END, "reason": "Power cut", **values}
    closure = Blackout(**values)
    db.session.add(closure)
    db.session.commit()
    return closure


# -- the bookings a blackout hits ---------------------------------------------------------------


def test_a_blackout_hits_what_overlaps_it_by_a_minute_and_not_what_only_touches_it(
        lab, researcher):
    def booked(start, end, state=BookingState.APPROVED):
        # One instrument each: PostgreSQL refuses overlapping slot-holding bookings.
        return create_booking(instrument=create_instrument(lab=lab), user=researcher,
                              start_at=start, end_at=end, state=state)

    ends_at_its_start = booked(START - HOUR, START)
    ends_a_minute_in = booked(START - HOUR, START + MINUTE)
    starts_a_minute_before_its_end = booked(END - MINUTE, END + HOUR)
    starts_at_its_end = booked(END, END + HOUR)
    around_it = booked(START - HOUR, END + HOUR, BookingState.PENDING)
    in_use = booked(START, END, BookingState.IN_USE)
    for state in (BookingState.CANCELLED, BookingState.COMPLETED, BookingState.NO_SHOW,
                  BookingState.REJECTED, BookingState.EXPIRED):
        booked(START, END, state)
    other_lab = create_booking(start_at=START, end_at=END)
    closure = blackout(lab=lab)

    hit = closures.affected_bookings(db.session, closure)

    assert [b.id for b in hit] == [ends_a_minute_in.id, around_it.id, in_use.id,
                                   starts_a_minute_before_its_end.id]
    assert ends_at_its_start not in hit and starts_at_its_end not in hit
    assert other_lab not in hit


def test_bookings_that_start_together_are_listed_in_the_order_they_were_made(lab, researcher):
    # Written in the other order, so that a database returning rows as they lie on disk (as
    # PostgreSQL does when it sorts by start alone) would list the later one first.
    later = create_booking(id=9002, instrument=create_instrument(lab=lab), user=researcher,
                           start_at=START, end_at=END)
    earlier = create_booking(id=9001, instrument=create_instrument(lab=lab), user=researcher,
                             start_at=START, end_at=END + HOUR)

    assert closures.affected_bookings(db.session, blackout(lab=lab)) == [earlier, later]


def test_an_instruments_blackout_hits_only_that_instrument(lab, instrument, researcher):
    mine = create_booking(instrument=instrument, user=researcher, start_at=START, end_at=END)
    beside = create_booking(instrument=create_instrument(lab=lab), user=researcher,
                            start_at=START, end_at=END)

    assert closures.affected_bookings(db.session, blackout(instrument=instrument)) == [mine]
    assert beside in closures.affected_bookings(db.session, blackout(lab=lab))


# -- closing ----------------------------------------------------------------------------------


def test_a_manager_closes_the_lab_and_sees_what_it_hits(lab, instrument, manager, researcher):
    booking = create_booking(instrument=instrument, user=researcher, start_at=START,
                             end_at=END)

    closure, hit = closures.create_blackout(db.session, manager, start=START, end=END,
                                            reason="  Power cut  ", now=NOW, lab=lab)
    db.session.commit()

    assert (closure.lab_id, closure.instrument_id) == (lab.id, None)
    assert (closure.start_at, closure.end_at, closure.reason) == (START, END, "Power cut")
    assert (closure.created_by_id, closure.created_at) == (manager.id, NOW)
    assert hit == [booking]
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "blackouts", AuditEvent.object_id == closure.id)).one()
    assert (event.action, event.actor_id, event.at, event.note) == ("create", manager.id, NOW,
                                                                    "Power cut")
    assert booking.state == BookingState.APPROVED  # only the manager's choice cancels it


def test_a_manager_closes_one_instrument(instrument, manager):
    closure, hit = closures.create_blackout(db.session, manager, start=START, end=END,
                                            reason="Calibration", now=NOW,
                                            instrument=instrument)
    assert (closure.instrument_id, closure.lab_id, hit) == (instrument.id, None, [])
    assert closures.blackout_lab(closure) == instrument.lab


@pytest.mark.parametrize("target", ["both", "neither"])
def test_a_blackout_closes_an_instrument_or_a_lab(lab, instrument, manager, target, english):
    where = {"instrument": instrument, "lab": lab} if target == "both" else {}
    with pytest.raises(ValidationError) as refused:
        closures.create_blackout(db.session, manager, start=START, end=END, reason="x",
                                 now=NOW, **where)
    message = "Give either an instrument or a lab."
    assert refused.value.message == message
    assert [(p.code, p.field, p.message) for p in refused.value.problems] == [
        ("invalid", "instrument_id", message)]
    assert db.session.scalars(select(Blackout)).first() is None


@pytest.mark.parametrize("who", ["researcher", "other_manager"])
def test_only_the_labs_managers_close_it(lab, instrument, who, english):
    actor = create_user() if who == "researcher" else create_manager(create_lab())
    for where in ({"lab": lab}, {"instrument": instrument}):
        with pytest.raises(PermissionDenied) as refused:
            closures.create_blackout(db.session, actor, start=START, end=END, reason="x",
                                     now=NOW, **where)
        assert refused.value.message == "Only the lab's managers may close it."
    assert db.session.scalars(select(Blackout)).first() is None


def test_admins_close_any_lab(lab):
    closure, _ = closures.create_blackout(db.session, create_admin(), start=START, end=END,
                                          reason="Holiday", now=NOW, lab=lab)
    assert closure.lab_id == lab.id


@pytest.mark.parametrize(("end", "reason", "problem"), [
    (START, "Power cut", ("invalid_interval", None, "The end must be after the start.")),
    (START - MINUTE, "Power cut",
     ("invalid_interval", None, "The end must be after the start.")),
    (END, "   ", ("required", "reason", "This field is required.")),
    (END, "x" * 501, ("too_long_text", "reason", "At most 500 characters.")),
])
def test_a_blackout_needs_a_reason_and_an_end_after_its_start(lab, manager, end, reason,
                                                              problem, english):
    with pytest.raises(ValidationError) as refused:
        closures.create_blackout(db.session, manager, start=START, end=end, reason=reason,
                                 now=NOW, lab=lab)
    assert [(p.code, p.field, p.message) for p in refused.value.problems] == [problem]
    assert refused.value.message == problem[2]
    if problem[0] == "invalid_interval":  # the problem document names the interval refused
        assert refused.value.problems[0].extra == {"start": START.isoformat(),
                                                   "end": end.isoformat()}
    assert db.session.scalars(select(Blackout)).first() is None


def test_the_shortest_blackout_is_a_minute(lab, manager):
    closure, _ = closures.create_blackout(db.session, manager, start=START, end=START + MINUTE,
                                          reason="Fire drill", now=NOW, lab=lab)
    assert closure.end_at - closure.start_at == MINUTE


# -- who sees which closures --------------------------------------------------------------------


def test_a_manager_finds_the_closures_of_their_lab_and_its_instruments_only(
        lab, instrument, manager):
    of_the_lab = blackout(lab=lab)
    of_the_instrument = blackout(instrument=instrument)
    elsewhere = blackout(lab=create_lab())

    assert closures.get_blackout(db.session, manager, of_the_lab.id) == of_the_lab
    assert closures.get_blackout(db.session, manager, of_the_instrument.id) == of_the_instrument
    for closure_id in (elsewhere.id, elsewhere.id + 1000):
        with pytest.raises(NotFound) as refused, force_locale("en"):
            closures.get_blackout(db.session, manager, closure_id)
        assert refused.value.message == f"No closure with id {closure_id}."
    with pytest.raises(NotFound):
        closures.get_blackout(db.session, create_user(), of_the_lab.id)
    assert closures.get_blackout(db.session, create_admin(), elsewhere.id) == elsewhere


def test_the_list_of_closures_keeps_those_ended_within_30_days(lab, instrument, manager):
    now = END + dt.timedelta(days=40)
    ended_30_days_ago = blackout(lab=lab, start_at=now - dt.timedelta(days=31),
                                 end_at=now - dt.timedelta(days=30))
    ended_a_minute_later = blackout(instrument=instrument,
                                    start_at=now - dt.timedelta(days=31),
                                    end_at=now - dt.timedelta(days=30) + MINUTE)
    # Made in another order than they start in: the list is by start.
    coming = blackout(instrument=instrument, start_at=now + dt.timedelta(days=2),
                      end_at=now + dt.timedelta(days=3))
    running = blackout(lab=lab, start_at=now - HOUR, end_at=now + HOUR)
    other_lab = blackout(lab=create_lab(), start_at=now - HOUR, end_at=now + HOUR)

    listed = closures.managed_blackouts(db.session, manager, now=now)

    assert listed == [ended_a_minute_later, running, coming]
    assert ended_30_days_ago not in listed and other_lab not in listed
    assert closures.managed_blackouts(db.session, manager, now=now, recent_days=31)[0] \
        == ended_30_days_ago
    assert closures.managed_blackouts(db.session, create_user(), now=now) == []
    assert other_lab in closures.managed_blackouts(db.session, create_admin(), now=now)


# -- cancelling the bookings hit ----------------------------------------------------------------


def test_the_chosen_bookings_are_cancelled_once_each_as_the_lab(lab, instrument, manager,
                                                                researcher):
    chosen = create_booking(instrument=instrument, user=researcher, start_at=START,
                            end_at=START + HOUR)
    left = create_booking(instrument=instrument, user=researcher, start_at=START + HOUR,
                          end_at=END, state=BookingState.PENDING)
    closure = blackout(lab=lab)

    cancelled = closures.cancel_for_blackout(db.session, manager, closure,
                                             [chosen.id, chosen.id], notice=" Closed ",
                                             now=NOW)
    db.session.commit()

    assert cancelled == [chosen]
    assert chosen.state == BookingState.CANCELLED and not chosen.is_late_cancellation
    assert left.state == BookingState.PENDING
    [event] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "bookings", AuditEvent.object_id == chosen.id))
    assert (event.action, event.note) == ("cancel", "Closed")


def test_a_booking_the_blackout_does_not_hit_is_refused_and_nothing_is_cancelled(
        lab, instrument, manager, researcher, english):
    hit = create_booking(instrument=instrument, user=researcher, start_at=START, end_at=END)
    after = create_booking(instrument=instrument, user=researcher, start_at=END,
                           end_at=END + HOUR)
    with pytest.raises(ValidationError) as refused:
        closures.cancel_for_blackout(db.session, manager, blackout(instrument=instrument),
                                     [hit.id, after.id], notice="Closed", now=NOW)
    message = f"Booking {after.id} is not among the bookings hit."
    assert refused.value.message == message
    assert [(p.code, p.field, p.message) for p in refused.value.problems] == [
        ("invalid", "booking_ids", message)]
    assert (hit.state, after.state) == (BookingState.APPROVED, BookingState.APPROVED)


def test_the_people_hit_are_told_why(lab, instrument, manager, researcher, english):
    booking = create_booking(instrument=instrument, user=researcher, start_at=START, end_at=END)
    with pytest.raises(ValidationError) as refused:
        closures.cancel_for_blackout(db.session, manager, blackout(lab=lab), [booking.id],
                                     notice=" ", now=NOW)
    assert [(p.code, p.field) for p in refused.value.problems] == [("required", "notice")]
    assert booking.state == BookingState.APPROVED


def test_an_available_instruments_bookings_stand(instrument, manager, researcher, english):
    booking = create_booking(instrument=instrument, user=researcher, start_at=START,
                             end_at=END)
    with pytest.raises(Conflict) as refused:
        closures.cancel_bookings_ahead(db.session, manager, instrument, [booking.id],
                                       notice="Broken", now=NOW)
    assert (refused.value.code, refused.value.message) == (
        "instrument_available",
        "The instrument is available, so its bookings stand; change its status first.")
    assert booking.state == BookingState.APPROVED


def test_an_out_of_service_instruments_bookings_are_for_its_labs_managers_to_cancel(
        instrument, manager, researcher, english):
    booking = create_booking(instrument=instrument, user=researcher, start_at=START,
                             end_at=END)
    instrument.status = InstrumentStatus.MAINTENANCE
    db.session.commit()
    for actor in (researcher, create_manager(create_lab())):
        with pytest.raises(PermissionDenied) as refused:
            closures.cancel_bookings_ahead(db.session, actor, instrument, [booking.id],
                                           notice="Broken", now=NOW)
        assert refused.value.message == "Only the lab's managers change its instruments."
    assert booking.state == BookingState.APPROVED
    assert closures.cancel_bookings_ahead(db.session, manager, instrument, [booking.id],
                                          notice="Broken", now=NOW) == [booking]


def test_bookings_ahead_are_those_not_over_by_now_soonest_first(instrument, researcher):
    later = create_booking(instrument=instrument, user=researcher, start_at=END,
                           end_at=END + HOUR, state=BookingState.PENDING)
    over = create_booking(instrument=instrument, user=researcher, start_at=START - HOUR,
                          end_at=START)
    last_minute = create_booking(instrument=instrument, user=researcher, start_at=START,
                                 end_at=END, state=BookingState.IN_USE)
    create_booking(instrument=create_instrument(lab=instrument.lab), user=researcher,
                   start_at=START, end_at=END)  # another instrument's
    assert closures.bookings_ahead(db.session, instrument, now=START) == [last_minute, later]
    assert closures.bookings_ahead(db.session, instrument, now=END - MINUTE) == [last_minute,
                                                                                later]
    assert closures.bookings_ahead(db.session, instrument, now=END) == [later]
    assert over.state == BookingState.APPROVED
