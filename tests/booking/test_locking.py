"""Booking state changes decide on the booking as it is now, not as the caller last saw it.

Each test loads a booking into the test's session, lets another session (another request,
another worker) change it and commit, and then hands the stale object to a service: the service
reads the row afresh under a lock, so it answers as it would have had it come second, and
nothing is done or recorded twice.
"""

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from flask import current_app
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from labbook.accounts.models import Organization, User
from labbook.audit.models import AuditEvent
from labbook.billing.models import Charge
from labbook.booking import attendance, changes, closures, services, waitlist
from labbook.booking.models import (
    Booking,
    BookingSeries,
    BookingState,
    ChangeState,
    WaitlistEntry,
    WaitlistState,
)
from labbook.catalogue import services as catalogue
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab
from labbook.core.engine import locked, write_transaction
from labbook.core.errors import Conflict, ValidationError
from labbook.extensions import db
from tests.factories import (
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    lab_time,
    next_weekday,
    reload,
)
from tests.postgresql import skip_unless_postgresql

MONDAY = next_weekday(0)
START = lab_time(MONDAY, 10)
END = lab_time(MONDAY, 12)
MINUTE = dt.timedelta(minutes=1)
BEFORE = START - dt.timedelta(days=3)


@pytest.fixture
def lab():
    return create_lab()


@pytest.fixture
def instrument(lab):
    return create_instrument(lab=lab, requires_approval=True)


@pytest.fixture
def researcher():
    return create_user()


@pytest.fixture
def manager(lab):
    return create_manager(lab)


def booking_in(state, instrument, researcher, **values):
    return create_booking(instrument=instrument, user=researcher, start_at=START, end_at=END,
                          state=state, **values)


@contextmanager
def elsewhere() -> Iterator[Session]:
    """Another session on the same database, whose changes are committed on leaving."""
    other = Session(db.engine)
    try:
        with write_transaction(other):
            yield other
    finally:
        other.close()


def as_elsewhere(change: Callable, user: User, booking: Booking, **arguments) -> None:
    """``change`` applied by ``user`` to ``booking`` in another session, and committed."""
    with elsewhere() as other:
        change(other, other.get(User, user.id), other.get(Booking, booking.id), **arguments)


def stale(change: Callable, user: User, booking: Booking, **arguments):
    """``change`` applied in the test's session to the object it loaded before."""
    with write_transaction(db.session):
        return change(db.session, user, booking, **arguments)


def events(booking: Booking, action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "bookings", AuditEvent.object_id == booking.id,
        AuditEvent.action == action))


def charges(booking: Booking) -> int:
    return db.session.scalar(select(func.count()).select_from(Charge).where(
        Charge.booking_id == booking.id))


def test_approving_a_booking_cancelled_meanwhile_is_refused(instrument, researcher, manager):
    booking = booking_in(BookingState.PENDING, instrument, researcher)
    as_elsewhere(services.cancel_booking, researcher, booking, now=BEFORE)

    with pytest.raises(Conflict) as refused:
        stale(services.approve_booking, manager, booking, now=BEFORE)

    assert refused.value.code == "invalid_state"
    assert reload(booking).state == BookingState.CANCELLED
    assert (events(booking, "cancel"), events(booking, "approve")) == (1, 0)


def test_rejecting_a_booking_approved_meanwhile_is_refused(instrument, researcher, manager):
    booking = booking_in(BookingState.PENDING, instrument, researcher)
    as_elsewhere(services.approve_booking, manager, booking, now=BEFORE)

    with pytest.raises(Conflict) as refused:
        stale(services.reject_booking, manager, booking, now=BEFORE, note="没有培训记录")

    assert refused.value.code == "invalid_state"
    assert reload(booking).state == BookingState.APPROVED
    assert events(booking, "reject") == 0


def test_a_cancellation_after_an_approval_meanwhile_counts_as_late(instrument, researcher,
                                                                   manager):
    """Decided on the approved booking: inside the window that is a late cancellation."""
    booking = booking_in(BookingState.PENDING, instrument, researcher)
    as_elsewhere(services.approve_booking, manager, booking, now=START - 2 * MINUTE)

    stale(services.cancel_booking, researcher, booking, now=START - MINUTE)

    booking = reload(booking)
    assert (booking.state, booking.is_late_cancellation) == (BookingState.CANCELLED, True)
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_id == booking.id, AuditEvent.action == "cancel")).one()
    assert event.from_state == "approved"


def test_cancelling_twice_records_one_cancellation(instrument, researcher):
    booking = booking_in(BookingState.APPROVED, instrument, researcher)
    as_elsewhere(services.cancel_booking, researcher, booking, now=START - MINUTE)

    with pytest.raises(Conflict) as refused:
        stale(services.cancel_booking, researcher, booking, now=START - MINUTE)

    assert refused.value.code == "invalid_state"
    assert events(booking, "cancel") == 1
    assert charges(booking) == 1


def test_checking_in_twice_is_already_checked_in(instrument, researcher):
    booking = booking_in(BookingState.APPROVED, instrument, researcher)
    as_elsewhere(attendance.check_in, researcher, booking, now=START)

    with pytest.raises(Conflict) as refused:
        stale(attendance.check_in, researcher, booking, now=START + MINUTE)

    assert refused.value.code == "already_checked_in"
    assert reload(booking).checked_in_at == START
    assert events(booking, "check_in") == 1


def test_checking_out_twice_is_already_checked_out(instrument, researcher):
    booking = booking_in(BookingState.IN_USE, instrument, researcher, checked_in_at=START)
    as_elsewhere(attendance.check_out, researcher, booking, now=END)

    with pytest.raises(Conflict) as refused:
        stale(attendance.check_out, researcher, booking, now=END + MINUTE)

    assert refused.value.code == "already_checked_out"
    assert reload(booking).checked_out_at == END
    assert events(booking, "check_out") == 1
    assert charges(booking) == 1


def test_a_no_show_for_a_booking_checked_in_meanwhile_is_refused(instrument, researcher,
                                                                 manager):
    booking = booking_in(BookingState.APPROVED, instrument, researcher)
    as_elsewhere(attendance.check_in, researcher, booking, now=START + 29 * MINUTE)

    with pytest.raises(Conflict) as refused:
        stale(attendance.mark_no_show, manager, booking, now=START + 31 * MINUTE)

    assert refused.value.code == "invalid_state"
    assert reload(booking).state == BookingState.IN_USE
    assert (events(booking, "no_show"), charges(booking)) == (0, 0)


def test_a_correction_sees_a_check_out_made_meanwhile(instrument, researcher, manager):
    """The booking was completed meanwhile, so the correction must give its check-out too."""
    booking = booking_in(BookingState.IN_USE, instrument, researcher, checked_in_at=START)
    as_elsewhere(attendance.check_out, researcher, booking, now=END)

    with pytest.raises(ValidationError) as refused:
        stale(attendance.correct_actual_times, manager, booking,
              checked_in_at=START + 5 * MINUTE, checked_out_at=None, reason="迟到五分钟",
              now=END + MINUTE)

    assert [p.field for p in refused.value.problems] == ["checked_out_at"]
    booking = reload(booking)
    assert (booking.state, booking.checked_out_at) == (BookingState.COMPLETED, END)


def test_bulk_decisions_decide_on_each_booking_as_it_is_now(instrument, researcher, manager):
    kept = booking_in(BookingState.PENDING, instrument, researcher)
    cancelled = create_booking(instrument=instrument, user=researcher, start_at=END,
                               end_at=END + dt.timedelta(hours=1), state=BookingState.PENDING)
    as_elsewhere(services.cancel_booking, researcher, cancelled, now=BEFORE)

    with write_transaction(db.session):
        decisions = services.decide_bookings(db.session, manager, [cancelled.id, kept.id],
                                             approve=True, note="", now=BEFORE)

    assert [(d.booking_id, d.is_done, d.was_already_decided) for d in decisions] == [
        (cancelled.id, False, True), (kept.id, True, False)]
    assert (reload(kept).state, reload(cancelled).state) == (BookingState.APPROVED,
                                                             BookingState.CANCELLED)
    assert events(cancelled, "approve") == 0


def test_cancelling_a_series_passes_over_a_booking_cancelled_meanwhile(instrument, researcher):
    series = BookingSeries(instrument_id=instrument.id, user_id=researcher.id,
                           frequency="weekly", count=2)
    db.session.add(series)
    db.session.commit()
    first = booking_in(BookingState.APPROVED, instrument, researcher, series=series)
    second = create_booking(instrument=instrument, user=researcher, series=series,
                            start_at=START + dt.timedelta(days=7),
                            end_at=END + dt.timedelta(days=7))
    assert len(series.bookings) == 2
    as_elsewhere(services.cancel_booking, researcher, first, now=BEFORE)

    cancelled = stale(services.cancel_series, researcher, series, now=BEFORE)

    assert [b.id for b in cancelled] == [second.id]
    assert (events(first, "cancel"), events(second, "cancel")) == (1, 1)


def test_a_closure_leaves_a_booking_checked_in_meanwhile_alone(instrument, researcher,
                                                               manager):
    booking = booking_in(BookingState.APPROVED, instrument, researcher)
    hit = [booking]
    as_elsewhere(attendance.check_in, researcher, booking, now=START)

    with write_transaction(db.session):
        cancelled = closures.cancel_hit_bookings(db.session, manager, hit, [booking.id],
                                                 notice="停电检修", now=START + MINUTE)

    assert cancelled == []
    assert reload(booking).state == BookingState.IN_USE
    assert events(booking, "cancel") == 0


def test_cancelling_the_bookings_of_an_instrument_made_available_meanwhile_is_refused(
        instrument, researcher, manager):
    booking = booking_in(BookingState.APPROVED, instrument, researcher)
    with write_transaction(db.session):
        catalogue.change_instrument_status(db.session, manager, instrument, "maintenance", "校准",
                                           now=BEFORE)
    assert instrument.status == InstrumentStatus.MAINTENANCE  # as the test's session saw it
    with elsewhere() as other:
        catalogue.change_instrument_status(other, other.get(User, manager.id),
                                           other.get(Instrument, instrument.id), "available",
                                           "校准提前完成", now=BEFORE)

    with pytest.raises(Conflict) as refused, write_transaction(db.session):
        closures.cancel_bookings_ahead(db.session, manager, instrument, [booking.id],
                                       notice="校准", now=BEFORE)

    assert refused.value.code == "instrument_available"
    assert reload(booking).state == BookingState.APPROVED
    assert events(booking, "cancel") == 0


# -- against a writer in flight: the second waits for the first and sees what it did ----------


def behind(writer: Session, work: Callable[[Session], object],
           meanwhile: Callable[[], object] | None = None) -> object:
    """Run ``work`` in a write transaction of its own, on another thread, while ``writer`` holds
    the locks of its uncommitted changes; once ``work`` waits for them, call ``meanwhile`` (if
    given) and commit ``writer``. Returns what ``work`` returned or raised."""
    outcome: list = []
    app = current_app._get_current_object()

    def run() -> None:
        with app.app_context():
            session = Session(db.engine)
            try:
                with write_transaction(session):
                    outcome.append(work(session))
            except Exception as error:  # handed to the test to assert on
                outcome.append(error)
            finally:
                session.close()

    runner = threading.Thread(target=run)
    runner.start()
    _wait_until_blocked(writer)
    if meanwhile is not None:
        meanwhile()
    writer.commit()
    runner.join(timeout=60)
    assert not runner.is_alive()
    return outcome[0]


def _wait_until_blocked(writer: Session) -> None:
    """Until another connection waits for a lock (PostgreSQL), or a moment (SQLite, where the
    other cannot even begin its write transaction while ``writer`` holds the database's lock)."""
    if writer.get_bind().dialect.name != "postgresql":
        time.sleep(0.5)
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if writer.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")):
            return
        time.sleep(0.05)
    raise AssertionError("nothing ever waited for the writer's locks")


@pytest.fixture
def writer() -> Iterator[Session]:
    session = Session(db.engine)
    yield session
    session.close()


def test_the_no_show_job_waits_for_a_check_in_in_flight(writer, instrument, researcher):
    """The job leaves the booking alone instead of marking it a no-show over the check-in."""
    booking = booking_in(BookingState.APPROVED, instrument, researcher)
    attendance.check_in(writer, writer.get(User, researcher.id), writer.get(Booking, booking.id),
                        now=START + 29 * MINUTE)
    writer.flush()

    marked = behind(writer, lambda session: attendance.mark_no_shows(
        session, now=START + 31 * MINUTE))

    assert marked == []
    assert reload(booking).state == BookingState.IN_USE
    assert events(booking, "no_show") == 0


def close_in_writer(writer, instrument, manager, scope: str) -> None:
    """The ``writer``'s transaction closes ``instrument`` (or, ``scope`` "lab", its lab) from
    START to END, and holds its locks until it commits."""
    closed = {"instrument": writer.get(Instrument, instrument.id)} if scope == "instrument" \
        else {"lab": writer.get(Lab, instrument.lab_id)}
    closures.create_blackout(writer, writer.get(User, manager.id), reason="停电检修",
                             start=START, end=END, now=BEFORE, **closed)
    writer.flush()


@pytest.mark.parametrize("scope", ["instrument", "lab"])
def test_a_booking_waits_for_a_closure_in_flight_and_is_refused(writer, instrument, manager,
                                                                scope):
    booker = create_user()
    db.session.rollback()
    close_in_writer(writer, instrument, manager, scope)

    refused = behind(writer, lambda session: services.create_booking(
        session, session.get(User, booker.id), instrument_id=instrument.id, start=START,
        end=START + dt.timedelta(hours=1), purpose="停电时段", now=BEFORE))

    assert isinstance(refused, services.BookingRefused)
    assert [p.code for p in refused.problems] == ["blackout"]


@pytest.mark.parametrize("scope", ["instrument", "lab"])
def test_a_move_waits_for_a_closure_in_flight_and_is_refused(writer, instrument, manager,
                                                             researcher, scope):
    """A move share-locks the instrument and its lab as a new booking does."""
    booking = create_booking(instrument=instrument, user=researcher, start_at=END,
                             end_at=END + dt.timedelta(hours=1))
    db.session.rollback()
    close_in_writer(writer, instrument, manager, scope)

    refused = behind(writer, lambda session: changes.change_booking(
        session, session.get(User, researcher.id), booking.id, start=START,
        end=START + dt.timedelta(hours=1), now=BEFORE))

    assert isinstance(refused, services.BookingRefused)
    assert [p.code for p in refused.problems] == ["blackout"]
    assert (reload(booking).start_at, reload(booking).end_at) == (END, END + dt.timedelta(hours=1))


def _free_to_lock(statement) -> bool:
    """Whether another connection could take the locks of ``statement`` now, without waiting."""
    with db.engine.connect() as probe:
        try:
            # A row lock asked for without waiting fails; an advisory lock's try answers false.
            return probe.execute(statement).scalar() is not False
        except OperationalError:
            return False
        finally:
            probe.rollback()


def test_a_new_booking_waiting_for_its_instrument_holds_no_lock_on_its_organization(
        writer, instrument, manager):
    """The instrument and its organization are locked in one statement, in the architecture's
    order: waiting behind a closure for the instrument, the booking has not locked its
    organization yet (else a closure that waits for that organization would deadlock)."""
    skip_unless_postgresql("row locks taken in one statement, one table after another")
    booker = create_user()
    db.session.rollback()
    close_in_writer(writer, instrument, manager, "instrument")
    organization_free: list[bool] = []
    refused = behind(writer, lambda session: services.create_booking(
        session, session.get(User, booker.id), instrument_id=instrument.id, start=START,
        end=START + dt.timedelta(hours=1), purpose="XRD", now=BEFORE),
        meanwhile=lambda: organization_free.append(_free_to_lock(
            select(Organization.id).where(Organization.id == booker.organization_id)
            .with_for_update(nowait=True))))
    assert organization_free == [True]
    # Then, the closure committed, it is refused for it.
    assert [p.code for p in refused.problems] == ["blackout"]


def test_a_move_waiting_for_its_instrument_holds_no_lock_on_its_organization(
        writer, instrument, manager, researcher):
    """A change of a booking locks its instrument and its organization (found through the
    booking) in one statement, the instrument first, as a new booking does."""
    skip_unless_postgresql("row locks taken in one statement, one table after another")
    booking = create_booking(instrument=instrument, user=researcher, start_at=END,
                             end_at=END + dt.timedelta(hours=1))
    db.session.rollback()
    close_in_writer(writer, instrument, manager, "instrument")
    organization_free: list[bool] = []
    moved = behind(writer, lambda session: changes.change_booking(
        session, session.get(User, researcher.id), booking.id, start=END + MINUTE * 60,
        end=END + dt.timedelta(hours=2), now=BEFORE).change.state,
        meanwhile=lambda: organization_free.append(_free_to_lock(
            select(Organization.id).where(Organization.id == researcher.organization_id)
            .with_for_update(nowait=True))))
    assert organization_free == [True]
    # Then, the closure committed (before the new time), the change waits for approval.
    assert moved == ChangeState.PENDING
    assert reload(booking).start_at == END


def test_a_new_booking_takes_its_channels_turn_after_its_organization(writer):
    """Waiting for its organization, a booking of an instrument with channels holds its
    instrument shared but has not taken the channels' turn: every booking takes it after the
    organization, so two of them cannot each hold what the other waits for."""
    skip_unless_postgresql("advisory locks")
    cycler = create_instrument(channels=4)
    booker = create_user()
    db.session.rollback()
    locked(writer, Organization, booker.organization_id)
    seen: list[tuple[bool, bool]] = []
    made = behind(writer, lambda session: services.create_booking(
        session, session.get(User, booker.id), instrument_id=cycler.id, start=START,
        end=START + dt.timedelta(hours=1), purpose="电池循环", now=BEFORE),
        meanwhile=lambda: seen.append((
            _free_to_lock(select(func.pg_try_advisory_xact_lock(services.CHANNELS_LOCK,
                                                                cycler.id))),
            _free_to_lock(select(Instrument.id).where(Instrument.id == cycler.id)
                          .with_for_update(nowait=True)))))
    assert isinstance(made, Booking)
    assert seen == [(True, False)]


def offered_entry(instrument: Instrument, waiter: User) -> WaitlistEntry:
    """``waiter``'s waiting-list entry for START and an hour on ``instrument``, offered that
    time until two hours after BEFORE."""
    slot_end = START + dt.timedelta(hours=1)
    entry = WaitlistEntry(instrument_id=instrument.id, user_id=waiter.id, window_start=START,
                          window_end=slot_end, minutes=60, purpose="候补测试",
                          state=WaitlistState.OFFERED, offer_start=START, offer_end=slot_end,
                          offer_expires_at=BEFORE + dt.timedelta(hours=2),
                          offer_token=f"offer-{waiter.id}")
    db.session.add(entry)
    db.session.commit()
    return entry


def test_a_claimed_offer_waits_for_a_booking_in_flight_and_takes_another_channel(writer):
    """Claiming the time offered from the waiting list takes the instrument's channels' turn
    as a new booking does: behind a booking in flight it sees the channel that booking takes,
    and books the other one, instead of choosing the same and losing the race."""
    pair = create_instrument(channels=2)
    booker, waiter = create_user(), create_user()
    entry = offered_entry(pair, waiter)
    # A booking of the other's in flight, as ``services.create_booking`` makes it.
    instrument = services._instrument(writer, pair.id, share_lock=True)
    organization = locked(writer, Organization, booker.organization_id)
    services._lock_channels(writer, instrument)
    booker_there = writer.get(User, booker.id)
    in_flight = services.book_locked(
        writer, booker_there, booker_there, instrument, organization, start=START,
        end=START + dt.timedelta(hours=1), purpose="电池循环", project_ref="", override=False,
        now=BEFORE)
    writer.flush()
    assert in_flight.channel_numbers == [1]

    claimed = behind(writer, lambda session: waitlist.claim_offer(
        session, session.get(User, waiter.id), entry.id, now=BEFORE).channel_numbers)

    assert claimed == [2]
    assert reload(entry).state == WaitlistState.CLAIMED


def test_a_claimed_offer_behind_a_booking_of_the_same_time_is_refused_as_taken(writer):
    """The time offered, booked meanwhile by someone else whose booking is in flight: the claim
    waits for it (PostgreSQL: at the exclusion constraint; SQLite: for the write lock) and is
    refused as taken, with other times; the entry keeps its offer."""
    instrument = create_instrument()
    booker, waiter = create_user(), create_user()
    entry = offered_entry(instrument, waiter)
    # Booked in a transaction not yet committed, as ``services.create_booking`` books.
    booker_there = writer.get(User, booker.id)
    services.book_locked(
        writer, booker_there, booker_there, services._instrument(writer, instrument.id,
                                                                 share_lock=True),
        locked(writer, Organization, booker.organization_id), start=START,
        end=START + dt.timedelta(hours=1), purpose="插队", project_ref="", override=False,
        now=BEFORE)
    writer.flush()

    refused = behind(writer, lambda session: waitlist.claim_offer(
        session, session.get(User, waiter.id), entry.id, now=BEFORE))

    assert isinstance(refused, services.BookingRefused)
    assert [p.code for p in refused.problems] == ["overlap"]
    assert refused.suggestions
    assert reload(entry).state == WaitlistState.OFFERED


def test_a_closure_waits_for_a_booking_in_flight_and_hits_it(writer, instrument, researcher,
                                                             manager):
    """A booking being made holds its instrument shared until it commits: the closure made
    meanwhile waits for it, and then finds it among the bookings it hits."""
    writer.execute(select(Instrument.id).where(Instrument.id == instrument.id)
                   .with_for_update(read=True))
    booking = Booking(instrument_id=instrument.id, user_id=researcher.id,
                      organization_id=researcher.organization_id, start_at=START, end_at=END,
                      blocked_until=END, state=BookingState.APPROVED, purpose="XRD",
                      created_at=BEFORE, updated_at=BEFORE)
    writer.add(booking)
    writer.flush()
    db.session.rollback()

    blackout_and_hit = behind(writer, lambda session: [b.id for b in closures.create_blackout(
        session, session.get(User, manager.id), reason="停电检修",
        instrument=session.get(Instrument, instrument.id), start=START, end=END,
        now=BEFORE)[1]])

    assert blackout_and_hit == [booking.id]
