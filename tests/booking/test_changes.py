"""Changing a booking without cancelling it: moves, extensions and shortenings, by the booker
within the rules and by the lab's managers with their overrides."""

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from labbook.audit.models import AuditEvent
from labbook.billing.models import Charge, ChargeKind
from labbook.booking import changes
from labbook.booking.models import (
    Blackout,
    BookingChange,
    BookingState,
    BookingSuspension,
    ChangeState,
)
from labbook.booking.services import BookingRefused
from labbook.booking.training import grant_qualification
from labbook.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from tests.concurrency import race
from tests.factories import (
    bearer,
    create_admin,
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_user,
    lab_time,
    next_weekday,
    reload,
)
from tests.statements import Sent

MONDAY = next_weekday(0)
#: The Friday before MONDAY, early: every booking on MONDAY is days ahead.
BEFORE = lab_time(MONDAY - dt.timedelta(days=3), 7)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()


@pytest.fixture
def researcher():
    return create_user()


@pytest.fixture
def instrument():
    return create_instrument()


def change(actor, booking, start, end, now=BEFORE, **extra):
    return changes.change_booking(db.session, actor, booking.id, start=start, end=end, now=now,
                                  **extra)


def times(booking) -> tuple[dt.datetime, dt.datetime]:
    booking = reload(booking)
    return booking.start_at, booking.end_at


def test_the_booker_moves_a_booking_and_its_calendar_sequence_rises(researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    result = change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    db.session.commit()
    assert not result.is_pending and result.change.note == ""
    booking = reload(booking)
    assert times(booking) == (lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    assert booking.state == BookingState.APPROVED and booking.sequence == 1
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "bookings", AuditEvent.object_id == booking.id,
        AuditEvent.action == "move")).one()
    assert event.actor_id == researcher.id
    assert event.details["old_start"] == lab_time(MONDAY, 10).isoformat()
    assert event.details["new_start"] == lab_time(MONDAY, 14).isoformat()


@pytest.mark.parametrize(("lapses", "refused"), [(None, False), (17, False), (15, True)])
def test_a_move_on_an_instrument_that_asks_for_training_checks_the_record_to_the_new_end(
        researcher, lapses, refused):
    instrument = create_instrument(requires_qualification=True)
    expires_at = None if lapses is None else lab_time(MONDAY, lapses)
    grant_qualification(db.session, create_manager(lab=instrument.lab), researcher, instrument,
                        now=BEFORE, expires_at=expires_at)
    db.session.commit()
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    if refused:
        # The record lapses at 15:00, within the new time but after the old one; one lapsing
        # at 17:00 covers it.
        with pytest.raises(BookingRefused) as error:
            change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 16))
        assert [p.code for p in error.value.problems] == ["not_qualified"]
        return
    change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 16))
    db.session.commit()
    assert times(booking) == (lab_time(MONDAY, 14), lab_time(MONDAY, 16))


@pytest.mark.parametrize(("lapses", "refused"), [((11, 0), False), ((10, 59), True)])
def test_an_earlier_start_alone_checks_the_training_record_to_the_booking_s_own_end(
        researcher, lapses, refused):
    instrument = create_instrument(requires_qualification=True)
    grant_qualification(db.session, create_manager(lab=instrument.lab), researcher, instrument,
                        now=BEFORE, expires_at=lab_time(MONDAY, *lapses))
    db.session.commit()
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))  # until 11:00
    if refused:
        with pytest.raises(BookingRefused) as error:
            change(researcher, booking, lab_time(MONDAY, 9), None)
        assert [p.code for p in error.value.problems] == ["not_qualified"]
        return
    change(researcher, booking, lab_time(MONDAY, 9), None)
    db.session.commit()
    assert times(booking) == (lab_time(MONDAY, 9), lab_time(MONDAY, 11))


def test_a_lab_manager_moves_their_own_booking_without_a_training_record(instrument):
    instrument.requires_qualification = True
    manager = create_manager(lab=instrument.lab)
    db.session.commit()
    booking = create_booking(instrument=instrument, user=manager, start_at=lab_time(MONDAY, 10))
    change(manager, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    db.session.commit()
    assert times(booking) == (lab_time(MONDAY, 14), lab_time(MONDAY, 15))


def test_a_move_overlapping_its_own_old_time_is_no_conflict(researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10), end_at=lab_time(MONDAY, 12))
    change(researcher, booking, lab_time(MONDAY, 11), lab_time(MONDAY, 13))
    db.session.commit()
    assert times(booking) == (lab_time(MONDAY, 11), lab_time(MONDAY, 13))


def test_a_move_onto_another_booking_is_refused_and_changes_nothing(researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 14))
    with pytest.raises(BookingRefused) as refused:
        change(researcher, booking, lab_time(MONDAY, 14, 30), lab_time(MONDAY, 15, 30))
    assert [p.code for p in refused.value.problems] == ["overlap"]
    assert refused.value.suggestions
    assert times(booking) == (lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    assert reload(booking).sequence == 0
    assert db.session.scalar(select(BookingChange.id)) is None


def test_every_rule_checks_the_new_time(researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    with pytest.raises(BookingRefused) as refused:
        change(researcher, booking, lab_time(MONDAY, 17), lab_time(MONDAY, 19, 10))
    assert {p.code for p in refused.value.problems} == {"outside_hours", "not_aligned"}
    with pytest.raises(BookingRefused) as refused:
        change(researcher, booking, lab_time(MONDAY, 10), lab_time(MONDAY, 10) +
               dt.timedelta(minutes=instrument.max_minutes + 30))
    assert "too_long" in {p.code for p in refused.value.problems}


def test_the_quota_counts_the_new_length_instead_of_the_old(instrument):
    organization = create_organization(weekly_quota_hours=3)
    researcher = create_user(organization=organization)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 9), end_at=lab_time(MONDAY, 11))
    change(researcher, booking, lab_time(MONDAY, 9), lab_time(MONDAY, 12))
    db.session.commit()
    assert times(booking)[1] == lab_time(MONDAY, 12)
    with pytest.raises(BookingRefused) as refused:
        change(researcher, booking, lab_time(MONDAY, 9), lab_time(MONDAY, 12, 30))
    assert [p.code for p in refused.value.problems] == ["quota_exceeded"]


def test_someone_elses_booking_is_not_found_and_stays(researcher, instrument):
    booking = create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10))
    with pytest.raises(NotFound):
        change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    assert times(booking) == (lab_time(MONDAY, 10), lab_time(MONDAY, 11))



def test_a_booking_that_does_not_exist_is_not_found(client, researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    missing = booking.id + 1000
    with pytest.raises(NotFound, match=str(missing)):
        changes.change_booking(db.session, researcher, missing, start=lab_time(MONDAY, 14),
                               end=lab_time(MONDAY, 15), now=BEFORE)
    response = client.patch(f"/api/v1/bookings/{missing}", headers=bearer(researcher), json={
        "start": iso(lab_time(MONDAY, 14)), "end": iso(lab_time(MONDAY, 15))})
    assert response.status_code == 404 and response.json["code"] == "not_found", response.json
    assert times(booking) == (lab_time(MONDAY, 10), lab_time(MONDAY, 11))


def test_managers_override_soft_rules_and_tell_the_user(researcher, instrument):
    manager = create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    with pytest.raises(PermissionDenied):
        change(researcher, booking, lab_time(MONDAY, 18), lab_time(MONDAY, 19), override=True)
    result = change(manager, booking, lab_time(MONDAY, 18), lab_time(MONDAY, 19),
                    override=True, note="夜间测试")
    db.session.commit()
    booking = reload(booking)
    assert times(booking) == (lab_time(MONDAY, 18), lab_time(MONDAY, 19))
    assert booking.is_override and db.session.get(BookingChange, result.change.id).is_override
    message = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "booking_changed")).one()
    assert message.recipient == researcher.email and message.created_at == BEFORE
    assert "SEQUENCE:1" in message.attachments[0].content.decode()
    [moved] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "move"))
    [applied] = db.session.scalars(select(BookingChange))
    # What the log answers for later: which change, the times, what the manager overrode.
    assert (moved.actor_id, moved.note, moved.details) == (manager.id, "夜间测试", {
        "change_id": applied.id, "old_start": lab_time(MONDAY, 10).isoformat(),
        "old_end": lab_time(MONDAY, 11).isoformat(),
        "new_start": lab_time(MONDAY, 18).isoformat(),
        "new_end": lab_time(MONDAY, 19).isoformat(), "given_back_minutes": 60,
        "overridden": ["outside_hours"]})


def test_a_finished_or_cancelled_booking_cannot_change(researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10), state=BookingState.CANCELLED)
    with pytest.raises(Conflict) as refused:
        change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    assert refused.value.code == "invalid_state"


def test_the_same_time_again_is_nothing_to_change(researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    with pytest.raises(ValidationError) as refused:
        change(researcher, booking, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    assert (refused.value.code, refused.value.message) == (
        "no_change", "预约已是这个时间，无需更改。")


def test_a_booking_in_use_only_changes_its_end_under_every_rule_but_those_of_its_start(
        researcher):
    instrument = create_instrument(max_minutes=120)
    start = lab_time(MONDAY, 10)
    booking = create_booking(instrument=instrument, user=researcher, start_at=start,
                             state=BookingState.IN_USE, checked_in_at=start)
    now = start + dt.timedelta(minutes=20)
    with pytest.raises(Conflict) as refused:
        change(researcher, booking, lab_time(MONDAY, 11), lab_time(MONDAY, 12), now=now)
    assert refused.value.code == "already_started"
    with pytest.raises(BookingRefused) as too_long:
        change(researcher, booking, start, lab_time(MONDAY, 12, 30), now=now)
    assert [p.code for p in too_long.value.problems] == ["too_long"]
    change(researcher, booking, start, lab_time(MONDAY, 12), now=now)
    db.session.commit()
    assert times(booking) == (start, lab_time(MONDAY, 12))


def test_a_booking_starting_this_very_minute_is_extended_whatever_notice_it_needed(researcher):
    instrument = create_instrument(min_notice_minutes=60)
    start = lab_time(MONDAY, 10)
    booking = create_booking(instrument=instrument, user=researcher, start_at=start)
    change(researcher, booking, start, lab_time(MONDAY, 12), now=start)
    db.session.commit()
    assert times(booking) == (start, lab_time(MONDAY, 12))


def test_a_booking_yet_to_start_is_extended_as_a_new_request_would_be_made(researcher):
    """Its start counts as a new booking's would: inside the instrument's notice, an extension
    waits for a manager's override."""
    instrument = create_instrument(min_notice_minutes=60)
    start = lab_time(MONDAY, 10)
    booking = create_booking(instrument=instrument, user=researcher, start_at=start)
    with pytest.raises(BookingRefused) as refused:
        change(researcher, booking, start, lab_time(MONDAY, 12),
               now=start - dt.timedelta(minutes=30))
    assert [p.code for p in refused.value.problems] == ["too_soon"]


def test_two_moves_into_one_free_hour_at_once_leave_it_to_the_first(app, researcher, instrument):
    """The second starts while the first waits to commit. On SQLite it waits for the write
    lock and its rules see the first's new time; on PostgreSQL its rules see the hour free,
    and its UPDATE meets the exclusion constraint once the first commits: refused either way
    as an overlap, with other times."""
    other = create_user()  # of another organization: neither waits for the other's lock
    mine = create_booking(instrument=instrument, user=researcher, start_at=lab_time(MONDAY, 9))
    theirs = create_booking(instrument=instrument, user=other, start_at=lab_time(MONDAY, 16))
    free_hour = (lab_time(MONDAY, 12), lab_time(MONDAY, 13))

    def move(user, booking_id):
        return lambda session: changes.change_booking(
            session, session.get(type(user), user.id), booking_id,
            start=free_hour[0], end=free_hour[1], now=BEFORE).booking.id

    first, second = race(app, move(researcher, mine.id), move(other, theirs.id))
    assert first == mine.id
    assert isinstance(second, BookingRefused)
    assert [p.code for p in second.problems] == ["overlap"]
    assert second.suggestions
    assert times(mine) == free_hour and times(theirs)[0] == lab_time(MONDAY, 16)


def test_a_suspended_person_moves_nothing_but_the_labs_managers_move_it_for_them(researcher):
    instrument = create_instrument(lab=create_lab(no_show_limit=3))
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    db.session.add(BookingSuspension(user_id=researcher.id, lab_id=instrument.lab_id,
                                     starts_at=BEFORE - dt.timedelta(days=1),
                                     ends_at=BEFORE + dt.timedelta(days=30), no_shows=3,
                                     window_days=30))
    db.session.commit()
    with pytest.raises(BookingRefused) as refused:
        change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    assert [p.code for p in refused.value.problems] == ["suspended"]
    change(create_manager(instrument.lab), booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    db.session.commit()
    assert times(booking) == (lab_time(MONDAY, 14), lab_time(MONDAY, 15))

def test_shortening_inside_the_window_is_charged_as_a_late_cancellation(researcher,
                                                                        instrument):
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10), end_at=lab_time(MONDAY, 12))
    inside = lab_time(MONDAY, 7)
    result = change(researcher, booking, lab_time(MONDAY, 10), lab_time(MONDAY, 11), now=inside)
    db.session.commit()
    assert result.change.is_late and result.change.given_back_minutes == 60
    charge = db.session.scalars(select(Charge)).one()
    # An hour at the external rate (100.00), at the card's late-cancellation share (50 %).
    assert charge.kind == ChargeKind.LATE_CANCELLATION
    assert charge.amount == Decimal("50.00")
    assert charge.booking_change_id == result.change.id and charge.booking_id is None
    assert charge.created_at == inside
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "move")).one()
    assert event.details == {
        "change_id": result.change.id, "old_start": lab_time(MONDAY, 10).isoformat(),
        "old_end": lab_time(MONDAY, 12).isoformat(),
        "new_start": lab_time(MONDAY, 10).isoformat(),
        "new_end": lab_time(MONDAY, 11).isoformat(), "given_back_minutes": 60, "late": True}


#: A booking MONDAY 10:00-12:00 gives time back late from 24 hours before its start on (the
#: instrument's cancellation window).
WINDOW_OPENS = lab_time(MONDAY - dt.timedelta(days=1), 10)


@pytest.mark.parametrize(("now", "end", "late"), [
    (WINDOW_OPENS, lab_time(MONDAY, 11, 59), True),  # a minute back, at the window's edge
    (WINDOW_OPENS - dt.timedelta(minutes=1), lab_time(MONDAY, 11, 59), False),
    (lab_time(MONDAY, 7), lab_time(MONDAY, 13), False),  # an extension gives nothing back
])
def test_time_given_back_is_late_from_the_window_s_first_moment(researcher, now, end, late):
    instrument = create_instrument(slot_minutes=1)  # a single minute can be given back
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10), end_at=lab_time(MONDAY, 12))
    result = change(researcher, booking, lab_time(MONDAY, 10), end, now=now)
    db.session.commit()
    assert result.change.is_late is late
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "move")).one()
    assert event.details.get("late", False) is late


def test_a_lab_manager_s_own_booking_gives_time_back_late_for_free(instrument):
    manager = create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=manager,
                             start_at=lab_time(MONDAY, 10), end_at=lab_time(MONDAY, 12))
    result = change(manager, booking, lab_time(MONDAY, 10), lab_time(MONDAY, 11),
                    now=lab_time(MONDAY, 7))
    db.session.commit()
    assert result.change.given_back_minutes == 60 and not result.change.is_late
    assert db.session.scalar(select(Charge.id)) is None


def test_a_moved_booking_holds_the_instrument_s_cleaning_time_after_its_new_end(researcher):
    instrument = create_instrument(buffer_minutes=30)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    db.session.commit()
    assert reload(booking).blocked_until == lab_time(MONDAY, 15, 30)
    with pytest.raises(BookingRefused) as refused:
        change(researcher, create_booking(instrument=instrument, user=researcher,
                                          start_at=lab_time(MONDAY, 8)),
               lab_time(MONDAY, 15), lab_time(MONDAY, 16))
    assert [p.code for p in refused.value.problems] == ["overlap"]


def test_a_moved_booking_keeps_its_channels_unless_they_are_taken_then(researcher):
    """The samples stay where they are if they can; else the lowest free channel."""
    cycler = create_instrument(channels=3)
    mine = create_booking(instrument=cycler, user=researcher, start_at=lab_time(MONDAY, 10),
                          channel_mask=0b010)
    create_booking(instrument=cycler, start_at=lab_time(MONDAY, 14), channel_mask=0b011)
    create_booking(instrument=cycler, start_at=lab_time(MONDAY, 16), channel_mask=0b001)
    change(researcher, mine, lab_time(MONDAY, 16), lab_time(MONDAY, 17))
    assert reload(mine).channel_numbers == [2]
    change(researcher, mine, lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    db.session.commit()
    assert reload(mine).channel_numbers == [3]


def test_a_move_asks_whether_anyone_waits_in_the_round_trip_of_its_update(researcher,
                                                                          instrument):
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    db.session.commit()
    with Sent() as sent:
        change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    asking = [sql for sql in sent if "waitlist_entries" in sql]
    assert len(asking) == 1 and "UPDATE bookings" in asking[0], asking


def test_a_move_writes_its_change_record_and_event_with_the_new_time(
        researcher, instrument):
    """On PostgreSQL the change record's id is drawn with the booking's lock, so the record,
    the audit event and the new time go in one statement; on SQLite in three, as ever. Either
    way the same rows."""
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    db.session.commit()
    with Sent() as sent:
        result = change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15),
                        note="改到下午")
    db.session.commit()
    writes = [sql for sql in sent if not sql.startswith(("SELECT", "BEGIN", "COMMIT"))]
    if db.engine.dialect.name == "postgresql":
        assert len(writes) == 1, writes
        assert all(part in writes[0] for part in (
            "INSERT INTO booking_changes", "INSERT INTO audit_events", "UPDATE bookings"))
    else:
        assert [sql.split()[:3] for sql in writes] == [
            ["INSERT", "INTO", "booking_changes"], ["UPDATE", "bookings", "SET"],
            ["INSERT", "INTO", "audit_events"]], writes
    record = db.session.scalars(select(BookingChange)).one()
    assert (record.id, record.state, record.note, record.new_start_at, record.decided_at) == (
        result.change.id, ChangeState.APPLIED, "改到下午", lab_time(MONDAY, 14), BEFORE)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "move")).one()
    assert (event.object_type, event.object_id, event.actor_id, event.note, event.at) == (
        "bookings", booking.id, researcher.id, "改到下午", BEFORE)
    assert event.details == {
        "change_id": record.id, "old_start": lab_time(MONDAY, 10).isoformat(),
        "old_end": lab_time(MONDAY, 11).isoformat(),
        "new_start": lab_time(MONDAY, 14).isoformat(),
        "new_end": lab_time(MONDAY, 15).isoformat(), "given_back_minutes": 60}
    assert times(booking) == (lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    assert reload(booking).sequence == 1


def test_a_move_is_written_by_the_statement_that_reads_what_is_in_its_way(researcher,
                                                                         instrument):
    """On PostgreSQL the bookings and closures in the way of the new time are read by the
    statement that moves the booking and writes its change record and audit event, which
    writes nothing where it finds one: a round trip fewer. SQLite reads them and then
    writes."""
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 16))
    db.session.add(Blackout(instrument=instrument, start_at=lab_time(MONDAY, 12),
                            end_at=lab_time(MONDAY, 13), reason="保养"))
    db.session.commit()
    for start, refused_for in ((lab_time(MONDAY, 12, 30), "blackout"),
                               (lab_time(MONDAY, 15, 30), "overlap"),
                               (lab_time(MONDAY, 10, 30), None)):
        with Sent() as sent:
            try:
                change(researcher, booking, start, start + dt.timedelta(hours=1))
            except BookingRefused as refused:
                assert [p.code for p in refused.problems] == [refused_for]
                assert refused.suggestions
            else:
                assert refused_for is None
        calendar = next(sql for sql in sent if "FROM blackouts" in sql)
        if db.engine.dialect.name == "postgresql":
            assert calendar.startswith("WITH") and all(part in calendar for part in (
                "UPDATE bookings", "INSERT INTO booking_changes", "INSERT INTO audit_events"))
            # A refusal too: it wrote nothing, and its statements stay prepared.
            assert sent[-1] == "COMMIT", sent
        else:
            assert calendar.startswith("SELECT"), calendar
        db.session.commit()
    # Only the last, which meets the booking's own old time, moved it.
    assert times(booking) == (lab_time(MONDAY, 10, 30), lab_time(MONDAY, 11, 30))
    assert reload(booking).sequence == 1
    assert db.session.scalars(select(BookingChange.new_start_at)).all() == [
        lab_time(MONDAY, 10, 30)]
    assert db.session.scalars(select(AuditEvent.object_id).where(
        AuditEvent.action == "move")).all() == [booking.id]


def test_a_refused_move_lists_what_is_in_its_way_before_the_other_rules(researcher,
                                                                        instrument):
    """Closures, then bookings in the way, then the other rules: whether the other rules
    refused the move first (the calendar then read apart) or only the calendar did, as for a
    new booking."""
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 14))
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 9))
    db.session.add(Blackout(instrument=instrument, start_at=lab_time(MONDAY, 8),
                            end_at=lab_time(MONDAY, 9, 30), reason="保养"))
    db.session.commit()
    now = lab_time(MONDAY, 8, 30)  # nine o'clock is too soon
    with pytest.raises(BookingRefused) as refused:
        change(researcher, booking, lab_time(MONDAY, 9), lab_time(MONDAY, 10), now=now)
    assert [p.code for p in refused.value.problems] == ["blackout", "overlap", "too_soon"]
    manager = create_manager(instrument.lab)
    with pytest.raises(BookingRefused) as refused:
        change(manager, booking, lab_time(MONDAY, 9), lab_time(MONDAY, 10), now=now,
               override=True)
    # The manager's override lets the notice pass; what is in the way it cannot.
    assert [p.code for p in refused.value.problems] == ["blackout", "overlap"]
    assert times(booking) == (lab_time(MONDAY, 14), lab_time(MONDAY, 15))


def test_a_move_refused_for_what_is_in_its_way_leaves_the_change_that_waits(researcher):
    """A manager's move takes the place of the booker's change that waits, unless it is
    refused: then the change still waits, as if the move had never been asked for."""
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 16))
    waiting = change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15)).change
    db.session.commit()
    with pytest.raises(BookingRefused) as refused:
        change(manager, booking, lab_time(MONDAY, 16), lab_time(MONDAY, 17))
    assert [p.code for p in refused.value.problems] == ["overlap"]
    assert reload(waiting).state == ChangeState.PENDING
    assert changes.pending_change(db.session, reload(booking)).id == waiting.id
    assert not db.session.scalars(select(AuditEvent).where(
        AuditEvent.action.in_(["withdraw", "move"]))).all()
    assert times(booking) == (lab_time(MONDAY, 10), lab_time(MONDAY, 11))


@pytest.mark.usefixtures("english")
def test_what_a_refused_change_says(researcher, instrument):
    start = lab_time(MONDAY, 10)
    over = create_booking(instrument=instrument, user=researcher, start_at=start,
                          state=BookingState.CANCELLED)
    with pytest.raises(Conflict) as refused:
        change(researcher, over, lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    assert (refused.value.code, str(refused.value)) == (
        "invalid_state",
        "A booking that is over, cancelled or decided against cannot be changed.")
    # A booking whose start is now has started, in use or not: only its end can change.
    starting = create_booking(instrument=instrument, user=researcher,
                              start_at=lab_time(MONDAY, 14))
    with pytest.raises(Conflict) as refused:
        change(researcher, starting, lab_time(MONDAY, 15), lab_time(MONDAY, 16),
               now=lab_time(MONDAY, 14))
    assert (refused.value.code, str(refused.value)) == (
        "already_started", "This booking has started: only its end can change.")
    # Its end can change, but not to a moment already gone (now itself included).
    with pytest.raises(BookingRefused) as refused:
        change(researcher, starting, None, lab_time(MONDAY, 14, 30),
               now=lab_time(MONDAY, 14, 30))
    assert [p.as_dict() for p in refused.value.problems] == [{
        "code": "in_past",
        "message": f"The new end ({MONDAY:%Y-%m-%d} 14:30) has already passed.",
        "start": lab_time(MONDAY, 14).isoformat(),
        "end": lab_time(MONDAY, 14, 30).isoformat()}]
    with pytest.raises(ValidationError) as refused:
        change(researcher, starting, lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    assert [p.as_dict() for p in refused.value.problems] == [{
        "code": "no_change", "field": "start",
        "message": "The booking already has this time: there is nothing to change."}]
    with pytest.raises(ValidationError) as refused:
        change(researcher, starting, None, lab_time(MONDAY, 16), note="备" * 1001)
    assert [(p.code, p.field) for p in refused.value.problems] == [("too_long_text", "note")]
    with pytest.raises(NotFound) as refused:
        change(create_user(), starting, None, lab_time(MONDAY, 17), now=lab_time(MONDAY, 14))
    assert str(refused.value) == f"No booking with id {starting.id}."
    with pytest.raises(NotFound) as refused:
        changes.change_booking(db.session, researcher, starting.id + 1000, start=None,
                               end=lab_time(MONDAY, 17), now=lab_time(MONDAY, 14))
    assert str(refused.value) == f"No booking with id {starting.id + 1000}."
    # A booking whose end is now is over.
    with pytest.raises(Conflict) as refused:
        change(researcher, starting, None, lab_time(MONDAY, 16), now=lab_time(MONDAY, 15))
    assert refused.value.code == "invalid_state"


class _NoOffset(dt.tzinfo):
    """A zone that knows no offset: its times are as ambiguous as naive ones."""

    def utcoffset(self, _moment: dt.datetime | None) -> None:
        return None

    def dst(self, _moment: dt.datetime | None) -> None:
        return None

    def tzname(self, _moment: dt.datetime | None) -> str:
        return "?"


@pytest.mark.parametrize(("start", "end", "code"), [
    (lab_time(MONDAY, 14).replace(tzinfo=None), lab_time(MONDAY, 15), "naive_datetime"),
    (lab_time(MONDAY, 14), lab_time(MONDAY, 15).replace(tzinfo=_NoOffset()),
     "naive_datetime"),
    (lab_time(MONDAY, 14).replace(tzinfo=None), None, "naive_datetime"),  # the start alone
    (lab_time(MONDAY, 14), lab_time(MONDAY, 14), "invalid_interval"),
    (None, lab_time(MONDAY, 10), "invalid_interval"),  # the end alone, at the start
])
def test_a_move_to_times_without_an_offset_or_without_a_span_is_refused(researcher,
                                                                         instrument, start,
                                                                         end, code):
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    with pytest.raises(BookingRefused) as refused:
        change(researcher, booking, start, end)
    assert [p.code for p in refused.value.problems] == [code]
    assert times(booking) == (lab_time(MONDAY, 10), lab_time(MONDAY, 11))


def test_shortening_outside_the_window_or_by_the_lab_is_free(researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10), end_at=lab_time(MONDAY, 12))
    change(researcher, booking, lab_time(MONDAY, 10), lab_time(MONDAY, 11, 30))
    manager = create_manager(instrument.lab)
    change(manager, booking, lab_time(MONDAY, 10), lab_time(MONDAY, 11), now=lab_time(MONDAY, 7))
    db.session.commit()
    assert db.session.scalar(select(Charge.id)) is None


def test_on_an_approval_instrument_a_move_waits_and_keeps_the_old_time(researcher):
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    result = change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15),
                    note="样品下午到")
    db.session.commit()
    assert result.is_pending
    assert times(booking) == (lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    assert db.session.scalars(select(OutboxMessage.recipient).where(
        OutboxMessage.kind == "booking_change_requested")).all() == [manager.email]
    asked = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "request_change")).one()
    assert (asked.actor_id, asked.object_id, asked.note, asked.details) == (
        researcher.id, booking.id, "样品下午到", {
        "change_id": result.change.id, "old_start": lab_time(MONDAY, 10).isoformat(),
        "old_end": lab_time(MONDAY, 11).isoformat(),
        "new_start": lab_time(MONDAY, 14).isoformat(),
        "new_end": lab_time(MONDAY, 15).isoformat()})
    assert result.change.decided_at is None and result.change.decided_by_id is None

    changes.decide_change(db.session, manager, result.change.id, approve=True, now=BEFORE)
    db.session.commit()
    assert times(booking) == (lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    assert reload(result.change).state == ChangeState.APPLIED
    with pytest.raises(Conflict):
        changes.decide_change(db.session, manager, result.change.id, approve=False,
                              note="晚了", now=BEFORE)


def test_a_rejected_change_is_dropped(researcher):
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    result = change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    db.session.commit()
    with pytest.raises(ValidationError):
        changes.decide_change(db.session, manager, result.change.id, approve=False, now=BEFORE)
    with pytest.raises(PermissionDenied):
        changes.decide_change(db.session, researcher, result.change.id, approve=True,
                              now=BEFORE)
    later = BEFORE + dt.timedelta(hours=1)
    changes.decide_change(db.session, manager, result.change.id, approve=False,
                          note="该时段已安排维护", now=later)
    db.session.commit()
    assert times(booking) == (lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    rejected = reload(result.change)
    assert (rejected.state, rejected.decided_by_id, rejected.decided_at,
            rejected.decision_note) == (ChangeState.REJECTED, manager.id, later, "该时段已安排维护")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "reject")).one()
    assert (event.actor_id, event.object_type, event.object_id, event.from_state,
            event.to_state, event.note, event.details) == (
        manager.id, "booking_changes", rejected.id, "pending", "rejected", "该时段已安排维护",
        {"booking_id": booking.id})
    message = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "booking_change_rejected")).one()
    assert message.recipient == researcher.email and manager.name in message.body_text


#: A booking at ten on MONDAY, and the change to two o'clock it waits for (``waiting_change``).
TEN, TWO, THREE = lab_time(MONDAY, 10), lab_time(MONDAY, 14), lab_time(MONDAY, 15)


def waiting_change(researcher, start=TEN, new_start=TWO, new_end=THREE):
    """A one-hour booking of ``researcher``'s at ``start`` on an instrument that needs
    approval, and the change to ``[new_start, new_end)`` it waits for: the booking, the change
    and the lab's manager."""
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=researcher, start_at=start)
    waiting = change(researcher, booking, new_start, new_end).change
    db.session.commit()
    return booking, waiting, manager


@pytest.mark.usefixtures("english")
def test_what_a_refused_decision_says(researcher):
    _booking, waiting, manager = waiting_change(researcher)
    with pytest.raises(PermissionDenied) as refused:
        changes.decide_change(db.session, researcher, waiting.id, approve=True, now=BEFORE)
    assert (refused.value.code, str(refused.value)) == (
        "not_lab_manager", "Only the lab's managers decide on changes.")
    with pytest.raises(ValidationError) as refused:
        changes.decide_change(db.session, manager, waiting.id, approve=False, now=BEFORE)
    assert [(p.code, p.field) for p in refused.value.problems] == [("required", "note")]
    changes.decide_change(db.session, manager, waiting.id, approve=False, note="不行",
                          now=BEFORE)
    db.session.commit()
    with pytest.raises(Conflict) as refused:
        changes.decide_change(db.session, manager, waiting.id, approve=True, now=BEFORE)
    assert (refused.value.code, str(refused.value)) == (
        "invalid_state", "This change is no longer waiting for a decision.")


def test_an_approved_change_is_recorded_and_overrides_what_became_too_soon(researcher):
    """Approving checks the new time again with the soft rules overridden: one that has come
    too close meanwhile is moved all the same, and the move says what was overridden."""
    booking, waiting, manager = waiting_change(researcher, start=lab_time(MONDAY, 15),
                                               new_start=lab_time(MONDAY, 12),
                                               new_end=lab_time(MONDAY, 13))
    late = lab_time(MONDAY, 11, 30)  # the new start is less than the hour's notice away
    changes.decide_change(db.session, manager, waiting.id, approve=True, note="同意",
                          now=late)
    db.session.commit()
    approved = reload(waiting)
    assert (approved.state, approved.decided_by_id, approved.decided_at,
            approved.decision_note) == (ChangeState.APPLIED, manager.id, late, "同意")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "approve")).one()
    assert (event.actor_id, event.object_id, event.from_state, event.to_state, event.note,
            event.details) == (manager.id, approved.id, "pending", "applied", "同意",
                               {"booking_id": booking.id})
    moved = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "move")).one()
    assert (moved.actor_id, moved.details["overridden"]) == (manager.id, ["too_soon"])
    assert reload(booking).is_override


def test_a_change_of_the_end_alone_is_approved_once_the_booking_has_started(researcher):
    booking, waiting, manager = waiting_change(researcher, new_start=None,
                                               new_end=lab_time(MONDAY, 12))
    changes.decide_change(db.session, manager, waiting.id, approve=True,
                          now=lab_time(MONDAY, 10, 30))
    db.session.commit()
    assert times(booking) == (lab_time(MONDAY, 10), lab_time(MONDAY, 12))


def test_a_manager_approves_the_change_of_someone_suspended_since(researcher):
    """The lab's managers book and move for a suspended person; approving a change asked
    before the suspension is their decision too."""
    instrument = create_instrument(lab=create_lab(no_show_limit=3), requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    waiting = change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15)).change
    db.session.add(BookingSuspension(user_id=researcher.id, lab_id=instrument.lab_id,
                                     starts_at=BEFORE - dt.timedelta(days=1),
                                     ends_at=BEFORE + dt.timedelta(days=30), no_shows=3,
                                     window_days=30))
    db.session.commit()
    changes.decide_change(db.session, manager, waiting.id, approve=True, now=BEFORE)
    db.session.commit()
    assert times(booking) == (lab_time(MONDAY, 14), lab_time(MONDAY, 15))



def test_a_change_that_waits_records_the_old_and_new_time_as_asked(researcher):
    instrument = create_instrument(requires_approval=True)
    create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10), end_at=lab_time(MONDAY, 11))
    result = change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 16),
                    note="换到下午 / afternoon")
    db.session.commit()
    stored = reload(result.change)
    assert (stored.booking_id, stored.requested_by_id, stored.old_start_at, stored.old_end_at,
            stored.new_start_at, stored.new_end_at, stored.state, stored.is_override,
            stored.is_late, stored.given_back_minutes, stored.note, stored.requested_at,
            stored.decided_by_id, stored.decided_at) == (
        booking.id, researcher.id, lab_time(MONDAY, 10), lab_time(MONDAY, 11),
        lab_time(MONDAY, 14), lab_time(MONDAY, 16), ChangeState.PENDING, False, False, 60,
        "换到下午 / afternoon", BEFORE, None, None)

def test_approval_checks_the_calendar_again(researcher):
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    result = change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    db.session.commit()
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 14, 30))
    with pytest.raises(BookingRefused) as refused:
        changes.decide_change(db.session, manager, result.change.id, approve=True, now=BEFORE)
    # Found by the rules, which name the booking in the way (not by the database's guard).
    assert [(p.code, p.extra) for p in refused.value.problems] == [("overlap", {
        "start": lab_time(MONDAY, 14, 30).isoformat(),
        "end": lab_time(MONDAY, 15, 30).isoformat()})]
    assert reload(result.change).state == ChangeState.PENDING


def change_past_training(researcher, **manager):
    """A change of ``researcher``'s booking at ten to two o'clock on an instrument that needs
    approval and training, waiting for the lab's manager (made with ``manager``), and the
    training record granted again since, to lapse after the booking's end but before the
    change's new end: the booking, the change and the manager."""
    instrument = create_instrument(requires_approval=True, requires_qualification=True)
    lab_manager = create_manager(instrument.lab, **manager)
    grant_qualification(db.session, lab_manager, researcher, instrument, now=BEFORE)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    waiting = change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15)).change
    db.session.commit()
    grant_qualification(db.session, lab_manager, researcher, instrument, now=BEFORE,
                        expires_at=lab_time(MONDAY, 14, 30))
    db.session.commit()
    return booking, waiting, lab_manager


def test_approval_reads_the_training_record_to_the_new_end_with_the_locks(researcher):
    """Approving asks whether the person holds a training record valid until the change's new
    end, with the booking's lock, and the organization's overdue setting with its lock: no
    statement of their own. A record that now lapses before the new end refuses it."""
    booking, waiting, manager = change_past_training(researcher)
    with pytest.raises(BookingRefused) as refused:
        changes.decide_change(db.session, manager, waiting.id, approve=True, now=BEFORE)
    assert "not_qualified" in [p.code for p in refused.value.problems]
    grant_qualification(db.session, manager, researcher, booking.instrument, now=BEFORE,
                        expires_at=lab_time(MONDAY, 15))
    db.session.commit()
    with Sent() as sent:
        changes.decide_change(db.session, manager, waiting.id, approve=True, now=BEFORE)
    db.session.commit()
    assert times(booking) == (lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    [training] = [sql for sql in sent if "qualifications" in sql]
    assert training.startswith("SELECT bookings."), training
    [settings] = [sql for sql in sent if "billing_profiles" in sql]
    assert "JOIN organizations" in settings and "FROM instruments" in settings, settings


def test_cancelling_drops_the_change_that_waits(researcher):
    from labbook.booking.services import cancel_booking

    instrument = create_instrument(requires_approval=True)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    result = change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    db.session.commit()
    cancel_booking(db.session, researcher, reload(booking), now=BEFORE)
    db.session.commit()
    assert reload(result.change).state == ChangeState.WITHDRAWN


@pytest.mark.parametrize(("start", "end"), [
    (lab_time(MONDAY, 10), lab_time(MONDAY, 11)),  # the end earlier
    (lab_time(MONDAY, 11), lab_time(MONDAY, 12)),  # the start later, the end as it was
])
def test_a_shortening_applies_at_once_even_where_approval_is_needed(researcher, start, end):
    instrument = create_instrument(requires_approval=True)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10), end_at=lab_time(MONDAY, 12))
    result = change(researcher, booking, start, end, note="提前结束")
    assert not result.is_pending
    assert (result.change.decided_at, result.change.note) == (BEFORE, "提前结束")
    assert result.price is None  # not asked for
    db.session.commit()
    assert times(booking) == (start, end)



def test_a_new_change_takes_the_place_of_the_one_that_waits(researcher):
    instrument = create_instrument(requires_approval=True)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    first = change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15)).change
    db.session.commit()
    later = BEFORE + dt.timedelta(minutes=5)
    second = change(researcher, booking, lab_time(MONDAY, 16), lab_time(MONDAY, 17),
                    now=later).change
    db.session.commit()
    first, second = reload(first), reload(second)
    assert (first.state, first.decided_at) == (ChangeState.WITHDRAWN, later)
    assert second.state == ChangeState.PENDING
    assert db.session.execute(select(AuditEvent.action, AuditEvent.actor_id).where(
        AuditEvent.object_type == "booking_changes", AuditEvent.object_id == first.id)
    ).all() == [("withdraw", researcher.id)]
    assert times(booking) == (lab_time(MONDAY, 10), lab_time(MONDAY, 11))


def test_a_shortening_withdraws_the_change_that_waits(researcher):
    instrument = create_instrument(requires_approval=True)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10), end_at=lab_time(MONDAY, 12))
    waiting = change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 16)).change
    db.session.commit()
    result = change(researcher, booking, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    db.session.commit()
    assert not result.is_pending
    assert reload(waiting).state == ChangeState.WITHDRAWN
    assert times(booking) == (lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    assert changes.pending_change(db.session, reload(booking)) is None


# -- the API ------------------------------------------------------------------------------------


def test_patch_moves_a_booking(client, researcher, instrument):
    start = lab_time(MONDAY, 10)
    booking = create_booking(instrument=instrument, user=researcher, start_at=start)
    response = client.patch(f"/api/v1/bookings/{booking.id}", headers=bearer(researcher),
                            json={"start": iso(lab_time(MONDAY, 15)),
                                  "end": iso(lab_time(MONDAY, 16))})
    assert response.status_code == 200, response.json
    assert dt.datetime.fromisoformat(response.json["start"]) == lab_time(MONDAY, 15)
    assert response.json["sequence"] == 1
    assert response.json["change"]["state"] == "applied"


@pytest.mark.parametrize("mover", ["person", "booker", "admin"])
def test_a_moved_booking_answers_with_its_own_person_booker_and_organization(
        client, researcher, instrument, mover):
    """A booking made on someone's behalf keeps its booker, whoever moves it."""
    booker = create_manager(instrument.lab)
    admin = create_admin()
    booking = create_booking(instrument=instrument, user=researcher, booked_by=booker,
                             start_at=lab_time(MONDAY, 10))
    actor = {"person": researcher, "booker": booker, "admin": admin}[mover]
    response = client.patch(f"/api/v1/bookings/{booking.id}", headers=bearer(actor),
                            json={"start": iso(lab_time(MONDAY, 15)),
                                  "end": iso(lab_time(MONDAY, 16))})
    assert response.status_code == 200, response.json
    assert response.json["user"]["id"] == researcher.id
    assert response.json["booked_by"] == {"id": booker.id, "name": booker.name}
    assert response.json["organization"] == researcher.organization.name
    assert response.json["instrument_code"] == instrument.code


def test_patch_answers_the_applied_change_as_it_was_written_once(client, researcher,
                                                                  instrument):
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    response = client.patch(f"/api/v1/bookings/{booking.id}", headers=bearer(researcher),
                            json={"start": iso(lab_time(MONDAY, 15)),
                                  "end": iso(lab_time(MONDAY, 16)), "note": "换个时间"})
    assert response.status_code == 200, response.json
    answered = response.json["change"]
    [stored] = db.session.scalars(select(BookingChange).where(
        BookingChange.booking_id == booking.id)).all()
    assert {key: answered[key] for key in ("id", "booking_id", "state", "requested_by",
                                           "given_back_minutes", "is_late", "note",
                                           "decision_note")} == {
        "id": stored.id, "booking_id": booking.id, "state": "applied",
        "requested_by": researcher.id, "given_back_minutes": 60, "is_late": False,
        "note": "换个时间", "decision_note": ""}
    assert [dt.datetime.fromisoformat(answered[key]) for key in (
        "old_start", "old_end", "new_start", "new_end", "requested_at")] == [
        stored.old_start_at, stored.old_end_at, stored.new_start_at, stored.new_end_at,
        stored.requested_at]
    assert (stored.new_start_at, stored.new_end_at) == (lab_time(MONDAY, 15), lab_time(MONDAY, 16))


def test_patch_extends_with_the_end_alone(client, researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    response = client.patch(f"/api/v1/bookings/{booking.id}", headers=bearer(researcher),
                            json={"end": iso(lab_time(MONDAY, 12))})
    assert response.status_code == 200, response.json
    assert times(booking) == (lab_time(MONDAY, 10), lab_time(MONDAY, 12))


def test_patch_refusals_change_nothing(client, researcher, instrument):
    mine = create_booking(instrument=instrument, user=researcher, start_at=lab_time(MONDAY, 10))
    theirs = create_booking(instrument=instrument, start_at=lab_time(MONDAY, 14))
    headers = bearer(researcher)
    response = client.patch(f"/api/v1/bookings/{theirs.id}", headers=headers,
                            json={"start": iso(lab_time(MONDAY, 16)),
                                  "end": iso(lab_time(MONDAY, 17))})
    assert response.status_code == 404
    response = client.patch(f"/api/v1/bookings/{mine.id}", headers=headers,
                            json={"start": iso(lab_time(MONDAY, 14)),
                                  "end": iso(lab_time(MONDAY, 15))})
    assert response.status_code == 409 and response.json["code"] == "overlap"
    response = client.patch(f"/api/v1/bookings/{mine.id}", headers=headers, json={})
    assert response.status_code == 422
    response = client.patch(f"/api/v1/bookings/{mine.id}", headers=headers,
                            json={"start": "2026-12-01T09:00:00"})
    assert response.status_code == 422
    response = client.patch(f"/api/v1/bookings/{mine.id}", headers=headers,
                            json={"start": iso(lab_time(MONDAY, 12)),
                                  "end": iso(lab_time(MONDAY, 11))})
    assert response.status_code == 422
    assert times(mine) == (lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    assert times(theirs) == (lab_time(MONDAY, 14), lab_time(MONDAY, 15))


def test_patch_on_an_approval_instrument_answers_202_and_managers_decide(client, researcher):
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    response = client.patch(f"/api/v1/bookings/{booking.id}", headers=bearer(researcher),
                            json={"start": iso(lab_time(MONDAY, 14)),
                                  "end": iso(lab_time(MONDAY, 15))})
    assert response.status_code == 202, response.json
    assert dt.datetime.fromisoformat(response.json["start"]) == lab_time(MONDAY, 10)
    pending = response.json["pending_change"]
    assert pending["state"] == "pending"
    answer = client.post(f"/api/v1/booking-changes/{pending['id']}/approve",
                         headers=bearer(manager))
    assert answer.status_code == 200 and answer.json["state"] == "applied"
    assert times(booking) == (lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    again = client.post(f"/api/v1/booking-changes/{pending['id']}/reject",
                        headers=bearer(manager), json={"note": "不行"})
    assert again.status_code == 409
    stranger = client.post(f"/api/v1/booking-changes/{pending['id']}/approve",
                           headers=bearer(create_user()))
    assert stranger.status_code == 404


# -- the pages ----------------------------------------------------------------------------------


def change_form(day=MONDAY, start="14:00", end="15:00", **extra):
    return {f"change-{name}": value for name, value in {
        "date": day.isoformat(), "start_time": start, "end_time": end, **extra}.items()}


def test_the_booking_page_changes_a_booking(login_as, researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    client = login_as(researcher)
    page = client.get(f"/bookings/{booking.id}")
    assert page.status_code == 200
    assert f'action="/bookings/{booking.id}/change"' in page.text
    response = client.post(f"/bookings/{booking.id}/change", data=change_form())
    assert response.status_code == 302
    assert times(booking) == (lab_time(MONDAY, 14), lab_time(MONDAY, 15))


def test_the_page_shows_why_a_change_is_refused(login_as, instrument):
    researcher = create_user(locale="en")
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 14))
    client = login_as(researcher)
    response = client.post(f"/bookings/{booking.id}/change", data=change_form())
    assert response.status_code == 200
    assert "already booked" in response.text
    response = client.post(f"/bookings/{booking.id}/change", data=change_form(start=""))
    assert response.status_code == 200 and "Give the start time." in response.text
    assert times(booking) == (lab_time(MONDAY, 10), lab_time(MONDAY, 11))


def test_managers_decide_a_change_on_the_booking_page(login_as, researcher):
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    result = change(researcher, booking, lab_time(MONDAY, 14), lab_time(MONDAY, 15))
    db.session.commit()
    client = login_as(manager)
    page = client.get(f"/bookings/{booking.id}")
    assert f"/booking-changes/{result.change.id}/approve" in page.text
    response = client.post(f"/booking-changes/{result.change.id}/reject",
                           data={"decision-note": ""})
    assert response.status_code == 302
    assert reload(result.change).state == ChangeState.PENDING
    client.post(f"/booking-changes/{result.change.id}/approve", data={})
    assert times(booking) == (lab_time(MONDAY, 14), lab_time(MONDAY, 15))


def test_a_change_the_rules_now_refuse_tells_its_approver_every_reason(login_as, researcher):
    """Between the request and the decision the new time was taken and the training record
    cut short: the manager is told both, not the first alone, and the change still waits."""
    booking, waiting, manager = change_past_training(researcher, locale="en")
    create_booking(instrument=booking.instrument, start_at=lab_time(MONDAY, 14, 30))
    db.session.commit()
    response = login_as(manager).post(f"/booking-changes/{waiting.id}/approve",
                                      data={}, follow_redirects=True)
    assert response.status_code == 200
    assert response.request.path == f"/bookings/{booking.id}"
    alerts = re.findall(r'<div class="alert alert-danger" role="alert">([^<]*)</div>',
                        html.unescape(response.text))
    assert len(alerts) == 2 and "already booked" in alerts[0], alerts
    assert alerts[1] == f"{researcher.name} has no valid training record for this instrument."
    assert reload(waiting).state == ChangeState.PENDING
    assert times(booking) == (lab_time(MONDAY, 10), lab_time(MONDAY, 11))


def test_a_change_answers_the_change_waiting_as_the_booking_shows_it_afterwards(client,
                                                                               researcher):
    """The answer to a PATCH names the change waiting for approval (the one just asked for,
    or none once a manager's change took the place of it) as reading the booking again does."""
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 10))
    for who, hours, waits in ((researcher, (14, 15), True), (manager, (16, 17), False)):
        response = client.patch(f"/api/v1/bookings/{booking.id}", headers=bearer(who),
                                json={"start": iso(lab_time(MONDAY, hours[0])),
                                      "end": iso(lab_time(MONDAY, hours[1]))})
        assert response.status_code == (202 if waits else 200), response.json
        again = client.get(f"/api/v1/bookings/{booking.id}", headers=bearer(who)).json
        assert response.json["pending_change"] == again["pending_change"]
        assert (again["pending_change"] is not None) == waits
