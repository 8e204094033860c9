"""The waiting list: joining for a taken slot or a window, offers of freed time in the order of
the line, lapsing offers, claiming through the rules."""

import datetime as dt
import html
import re

import pytest
from sqlalchemy import select

from labbook.audit.models import AuditEvent
from labbook.billing import payments
from labbook.booking import changes, offers, rules, schedule, services, waitlist
from labbook.booking.models import (
    Blackout,
    Booking,
    BookingState,
    WaitlistEntry,
    WaitlistState,
)
from labbook.booking.training import grant_qualification
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict, NotFound, ValidationError
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from tests.billing.test_money import issued_statement
from tests.booking.test_views import assert_well_formed
from tests.factories import (
    bearer,
    create_booking,
    create_instrument,
    create_manager,
    create_user,
    lab_time,
    next_weekday,
    reload,
)
from tests.postgresql import skip_unless_postgresql
from tests.statements import Sent

MONDAY = next_weekday(0)
BEFORE = lab_time(MONDAY - dt.timedelta(days=3), 7)


@pytest.fixture
def instrument():
    return create_instrument()


def join(user, instrument, start, end, minutes=None, now=BEFORE, **wish):
    wish.setdefault("purpose", "候补测试")
    entry = waitlist.join_waitlist(db.session, user, instrument_id=instrument.id, start=start,
                                   end=end, minutes=minutes, now=now, **wish)
    db.session.commit()
    return entry


def offers_to(user) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "waitlist_offer", OutboxMessage.recipient == user.email)))


def test_freed_time_is_offered_to_the_first_in_line_then_the_next(instrument):
    holder, first, second = create_user(), create_user(), create_user()
    booking = create_booking(instrument=instrument, user=holder, start_at=lab_time(MONDAY, 10))
    slot = (lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    entry_1, entry_2 = join(first, instrument, *slot), join(second, instrument, *slot)

    services.cancel_booking(db.session, holder, reload(booking), now=BEFORE)
    db.session.commit()
    entry_1, entry_2 = reload(entry_1), reload(entry_2)
    assert entry_1.state == WaitlistState.OFFERED and entry_2.state == WaitlistState.WAITING
    assert (entry_1.offer_start, entry_1.offer_end) == slot
    assert entry_1.offer_expires_at == BEFORE + dt.timedelta(minutes=30)
    [message] = offers_to(first)
    assert f"/waitlist/claim/{entry_1.offer_token}" in message.body_text
    assert not offers_to(second)

    # Before the offer lapses the job changes nothing; after, the next in line gets the time.
    assert offers.make_all_offers(db.session, now=BEFORE + dt.timedelta(minutes=29)) == []
    later = BEFORE + dt.timedelta(minutes=30)
    schedule.invalidate()  # the job runs in the scheduler's process: no schedule cached there
    offered = [entry.id for entry in offers.make_all_offers(db.session, now=later)]
    db.session.commit()
    assert offered == [entry_2.id]
    assert reload(entry_1).state == WaitlistState.LAPSED
    assert reload(entry_2).state == WaitlistState.OFFERED and len(offers_to(second)) == 1
    assert offers.make_all_offers(db.session, now=later) == []
    assert len(offers_to(second)) == 1

    booking = waitlist.claim_offer(db.session, second, entry_2.id, now=later)
    db.session.commit()
    assert (booking.user_id, booking.start_at, booking.end_at) == (second.id, *slot)
    assert reload(entry_2).state == WaitlistState.CLAIMED
    with pytest.raises(Conflict):
        waitlist.claim_offer(db.session, first, entry_1.id, now=later)


def test_a_window_wish_gets_time_a_shortening_frees(instrument):
    holder, waiter = create_user(), create_user()
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10),
                   end_at=lab_time(MONDAY, 12))
    long_one = create_booking(instrument=instrument, user=holder, start_at=lab_time(MONDAY, 12),
                              end_at=lab_time(MONDAY, 14))
    entry = join(waiter, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 14), minutes=60)
    changes.change_booking(db.session, holder, long_one.id, start=lab_time(MONDAY, 12),
                           end=lab_time(MONDAY, 13), now=BEFORE)
    db.session.commit()
    entry = reload(entry)
    assert entry.state == WaitlistState.OFFERED
    assert (entry.offer_start, entry.offer_end) == (lab_time(MONDAY, 13), lab_time(MONDAY, 14))



def test_a_move_offers_the_time_it_frees_to_the_one_waiting_for_it(client, instrument):
    holder, waiter, other_waiter = create_user(), create_user(), create_user()
    booking = create_booking(instrument=instrument, user=holder, start_at=lab_time(MONDAY, 10))
    slot = (lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    entry = join(waiter, instrument, *slot)
    other = create_instrument()
    create_booking(instrument=other, start_at=lab_time(MONDAY, 14))
    elsewhere = join(other_waiter, other, lab_time(MONDAY, 14), lab_time(MONDAY, 15))

    response = client.patch(f"/api/v1/bookings/{booking.id}", headers=bearer(holder), json={
        "start": lab_time(MONDAY, 14).isoformat(), "end": lab_time(MONDAY, 15).isoformat()})
    assert response.status_code == 200, response.json
    entry = reload(entry)
    assert entry.state == WaitlistState.OFFERED
    assert (entry.offer_start, entry.offer_end) == slot
    assert len(offers_to(waiter)) == 1
    # Only the moved booking's instrument had time freed.
    assert reload(elsewhere).state == WaitlistState.WAITING and not offers_to(other_waiter)


def test_joining_writes_the_entry_and_its_audit_event():
    cycler = create_instrument(channels=3)
    create_booking(instrument=cycler, start_at=lab_time(MONDAY, 10), end_at=lab_time(MONDAY, 12),
                   channel_mask=0b111)
    waiter = create_user()
    entry = join(waiter, cycler, lab_time(MONDAY, 10), lab_time(MONDAY, 12), minutes=60,
                 channels=2, purpose="  电池循环  ")
    entry = reload(entry)
    assert (entry.instrument_id, entry.user_id, entry.window_start, entry.window_end,
            entry.minutes, entry.channels, entry.purpose, entry.state, entry.created_at,
            entry.updated_at) == (
        cycler.id, waiter.id, lab_time(MONDAY, 10), lab_time(MONDAY, 12), 60, 2, "电池循环",
        WaitlistState.WAITING, BEFORE, BEFORE)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "join")).one()
    assert (event.actor_id, event.object_type, event.object_id, event.from_state,
            event.to_state, event.details) == (
        waiter.id, "waitlist_entries", entry.id, None, "waiting", {
            "instrument_id": cycler.id, "start": lab_time(MONDAY, 10).isoformat(),
            "end": lab_time(MONDAY, 12).isoformat(), "minutes": 60, "channels": 2})


def test_a_wish_is_for_one_channel_unless_it_says_more(instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10))
    entry = waitlist.join_waitlist(db.session, create_user(), instrument_id=instrument.id,
                                   start=lab_time(MONDAY, 10), end=lab_time(MONDAY, 11),
                                   minutes=None, purpose="候补", now=BEFORE)
    assert entry.channels == 1


def test_a_wish_needs_a_purpose(instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10))
    with pytest.raises(ValidationError) as refused:
        join(create_user(), instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11),
             purpose="   ")
    assert [(p.code, p.field) for p in refused.value.problems] == [("required", "purpose")]


@pytest.mark.usefixtures("english")
def test_one_waits_once_in_a_window_and_in_windows_beside_it_too(instrument):
    """Someone already waiting in a window is told so; windows that only touch it, another
    instrument's time and a line one has left are no such thing."""
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 8),
                   end_at=lab_time(MONDAY, 13))
    other = create_instrument()
    create_booking(instrument=other, start_at=lab_time(MONDAY, 10))
    waiter = create_user()
    entry = join(waiter, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    with pytest.raises(Conflict) as refused:
        join(waiter, instrument, lab_time(MONDAY, 10, 30), lab_time(MONDAY, 12))
    assert (refused.value.code, str(refused.value)) == (
        "already_waiting", "You are already waiting for time of this instrument in this window.")
    join(waiter, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))
    join(waiter, instrument, lab_time(MONDAY, 11), lab_time(MONDAY, 12))
    join(waiter, instrument, lab_time(MONDAY, 8), lab_time(MONDAY, 9))
    join(waiter, instrument, lab_time(MONDAY, 12), lab_time(MONDAY, 13))
    join(waiter, other, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    waitlist.leave_waitlist(db.session, waiter, entry.id, now=BEFORE)
    db.session.commit()
    assert join(waiter, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11)).id != entry.id


@pytest.mark.usefixtures("english")
def test_joining_for_a_free_time_says_which_slot_to_book(instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10))
    with pytest.raises(Conflict) as refused:
        join(create_user(), instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 12), minutes=60)
    assert str(refused.value) == (f"{MONDAY.isoformat()} 11:00 – {MONDAY.isoformat()} 12:00 is "
                                  "free: book it instead of waiting.")
    assert [p.as_dict() for p in refused.value.problems] == [{
        "code": "slot_free", "message": "This time is free.",
        "start": lab_time(MONDAY, 11).isoformat(), "end": lab_time(MONDAY, 12).isoformat()}]


def test_joining_holds_the_instrument_with_a_share_lock(instrument):
    """So that the instrument cannot be taken out of service (an update of its row) between
    the rules' read of it and the entry."""
    skip_unless_postgresql("row locks")
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10))
    with Sent() as sent:
        join(create_user(), instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    [read] = [sql for sql in sent if sql.startswith("SELECT instruments.")]
    assert read.endswith(" FOR SHARE"), read


def test_joining_is_refused_clearly(instrument):
    researcher = create_user()
    with pytest.raises(ValidationError) as refused:
        join(researcher, instrument, BEFORE - dt.timedelta(hours=2), BEFORE + dt.timedelta(hours=1))
    assert refused.value.code == "in_past"
    with pytest.raises(Conflict) as refused:
        join(researcher, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    assert refused.value.code == "slot_free"
    with pytest.raises(ValidationError) as refused:
        join(researcher, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11), minutes=90)
    assert refused.value.code == "invalid_length"
    trained_only = create_instrument(requires_qualification=True)
    create_booking(instrument=trained_only, start_at=lab_time(MONDAY, 10))
    with pytest.raises(services.BookingRefused) as refused:
        join(researcher, trained_only, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    assert [p.code for p in refused.value.problems] == ["not_qualified"]
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10))
    join(researcher, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    with pytest.raises(Conflict) as refused:
        join(researcher, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    assert refused.value.code == "already_waiting"
    assert db.session.scalar(select(WaitlistEntry.id).where(
        WaitlistEntry.instrument_id == trained_only.id)) is None


def test_leaving_with_an_offer_passes_it_on(instrument):
    holder, first, second = create_user(), create_user(), create_user()
    booking = create_booking(instrument=instrument, user=holder, start_at=lab_time(MONDAY, 10))
    slot = (lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    entry_1, entry_2 = join(first, instrument, *slot), join(second, instrument, *slot)
    services.cancel_booking(db.session, holder, reload(booking), now=BEFORE)
    db.session.commit()
    with pytest.raises(NotFound):
        waitlist.leave_waitlist(db.session, second, entry_1.id, now=BEFORE)
    waitlist.leave_waitlist(db.session, first, entry_1.id, now=BEFORE)
    db.session.commit()
    assert reload(entry_1).state == WaitlistState.LEFT
    assert reload(entry_2).state == WaitlistState.OFFERED


def test_a_claim_goes_through_the_rules(instrument):
    holder, waiter = create_user(), create_user()
    booking = create_booking(instrument=instrument, user=holder, start_at=lab_time(MONDAY, 10))
    entry = join(waiter, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    services.cancel_booking(db.session, holder, reload(booking), now=BEFORE)
    db.session.commit()
    # A manager books the slot meanwhile (the lab's own bookings ignore offers).
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10))
    with pytest.raises(services.BookingRefused) as refused:
        waitlist.claim_offer(db.session, waiter, entry.id, now=BEFORE)
    assert [p.code for p in refused.value.problems] == ["overlap"]
    assert reload(entry).state == WaitlistState.OFFERED


def test_windows_that_pass_leave_the_line(instrument):
    waiter = create_user()
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10))
    entry = join(waiter, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    offers.make_all_offers(db.session, now=lab_time(MONDAY, 11))
    db.session.commit()
    assert reload(entry).state == WaitlistState.EXPIRED


# -- the API and the pages ----------------------------------------------------------------------


def test_the_api_joins_lists_claims_and_leaves(client, instrument):
    holder, waiter = create_user(), create_user()
    start = lab_time(MONDAY, 10)
    booking = create_booking(instrument=instrument, user=holder, start_at=start)
    headers = bearer(waiter)
    response = client.post("/api/v1/waitlist", headers=headers, json={
        "instrument_id": instrument.id, "start": start.isoformat(),
        "end": (start + dt.timedelta(hours=1)).isoformat(), "purpose": "候补"})
    assert response.status_code == 201, response.json
    entry_id = response.json["id"]
    assert response.json["state"] == "waiting" and response.json["minutes"] == 60
    past = client.post("/api/v1/waitlist", headers=headers, json={
        "instrument_id": instrument.id, "start": "2020-01-06T10:00:00+08:00",
        "end": "2020-01-06T11:00:00+08:00", "purpose": "候补"})
    assert past.status_code == 422 and past.json["code"] == "in_past"

    assert client.post(f"/api/v1/bookings/{booking.id}/cancel",
                       headers=bearer(holder)).status_code == 200
    listed = client.get("/api/v1/waitlist", headers=headers).json
    assert listed["items"][0]["state"] == "offered"
    assert listed["items"][0]["offer"]["start"] == start.isoformat()
    stranger = client.post(f"/api/v1/waitlist/{entry_id}/claim", headers=bearer(create_user()))
    assert stranger.status_code == 404
    claimed = client.post(f"/api/v1/waitlist/{entry_id}/claim", headers=headers)
    assert claimed.status_code == 201, claimed.json
    assert claimed.json["user"]["id"] == waiter.id
    gone = client.delete(f"/api/v1/waitlist/{entry_id}", headers=headers)
    assert gone.status_code == 409


def test_the_pages_join_and_claim(login_as, instrument):
    holder, waiter = create_user(), create_user()
    booking = create_booking(instrument=instrument, user=holder, start_at=lab_time(MONDAY, 10))
    client = login_as(waiter)
    form = client.get(f"/instruments/{instrument.id}/waitlist?date={MONDAY.isoformat()}"
                      "&start_time=10:00&end_time=11:00")
    assert form.status_code == 200 and 'value="10:00"' in form.text
    assert 'name="channels"' not in form.text  # asked on instruments with several only
    response = client.post(f"/instruments/{instrument.id}/waitlist", data={
        "date": MONDAY.isoformat(), "start_time": "10:00", "end_time": "11:00",
        "purpose": "候补"})
    assert response.status_code == 302
    entry = db.session.scalars(select(WaitlistEntry)).one()
    assert "/waitlist/" in client.get("/bookings").text
    services.cancel_booking(db.session, holder, reload(booking),
                            now=dt.datetime.now(dt.UTC))
    db.session.commit()
    token = reload(entry).offer_token
    page = client.get(f"/waitlist/claim/{token}")
    assert page.status_code == 200
    assert client.get("/waitlist/claim/not-a-token").status_code == 404
    client.post(f"/waitlist/claim/{token}")
    claimed = db.session.scalars(select(Booking).where(Booking.user_id == waiter.id)).one()
    assert claimed.state == BookingState.APPROVED


def test_an_entry_offered_nothing_cannot_be_claimed(instrument):
    waiter = create_user()
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10))
    entry = join(waiter, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    with pytest.raises(Conflict) as refused:
        waitlist.claim_offer(db.session, waiter, entry.id, now=BEFORE)
    assert refused.value.code == "invalid_state"
    assert reload(entry).state == WaitlistState.WAITING


def test_a_claim_checks_the_training_record_to_the_offered_end(instrument):
    instrument.requires_qualification = True
    holder, waiter = create_user(), create_user()
    record = grant_qualification(db.session, create_manager(instrument.lab), waiter, instrument,
                                 now=BEFORE)
    booking = create_booking(instrument=instrument, user=holder, start_at=lab_time(MONDAY, 10))
    entry = join(waiter, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    services.cancel_booking(db.session, holder, reload(booking), now=BEFORE)
    # Since joining, the record was given an end within the time offered.
    record.expires_at = lab_time(MONDAY, 10, 30)
    db.session.commit()
    with pytest.raises(services.BookingRefused) as refused:
        waitlist.claim_offer(db.session, waiter, entry.id, now=BEFORE)
    assert [p.code for p in refused.value.problems] == ["not_qualified"]
    assert reload(entry).state == WaitlistState.OFFERED


def offered(instrument, waiter, **booking):
    """``waiter``'s entry for Monday 10:00–11:00 on ``instrument``, offered the time that the
    cancellation of the booking there (``booking``: its other values) frees."""
    holder = create_user()
    taken = create_booking(instrument=instrument, user=holder, start_at=lab_time(MONDAY, 10),
                           **booking)
    entry = join(waiter, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    services.cancel_booking(db.session, holder, reload(taken), now=BEFORE)
    db.session.commit()
    entry = reload(entry)
    assert entry.state == WaitlistState.OFFERED
    return entry


@pytest.mark.usefixtures("english")
def test_a_claim_books_the_offered_time_and_closes_the_entry(instrument):
    waiter = create_user()
    entry = offered(instrument, waiter)
    booking = waitlist.claim_offer(db.session, waiter, entry.id, now=BEFORE)
    db.session.commit()
    assert (booking.user_id, booking.organization_id, booking.start_at, booking.end_at,
            booking.purpose, booking.project_ref) == (
        waiter.id, waiter.organization_id, lab_time(MONDAY, 10), lab_time(MONDAY, 11),
        "候补测试", "")
    entry = reload(entry)
    assert (entry.state, entry.booking_id, entry.offer_token) == (
        WaitlistState.CLAIMED, booking.id, None)
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "waitlist_entries", AuditEvent.action == "claim")).one()
    assert (event.object_id, event.actor_id, event.from_state, event.to_state,
            event.details) == (entry.id, waiter.id, "offered", "claimed",
                               {"booking_id": booking.id})
    with pytest.raises(Conflict) as again:
        waitlist.claim_offer(db.session, waiter, entry.id, now=BEFORE)
    assert (again.value.code, str(again.value)) == ("invalid_state",
                                                    "This offer is no longer open.")


@pytest.mark.usefixtures("english")
def test_an_offer_is_claimed_until_the_moment_it_lapses(instrument):
    waiter = create_user()
    entry = offered(instrument, waiter)
    lapses = entry.offer_expires_at
    with pytest.raises(Conflict) as late:
        waitlist.claim_offer(db.session, waiter, entry.id, now=lapses)
    assert (late.value.code, str(late.value)) == (
        "offer_lapsed", f"The offer lapsed at {rules.fmt(lapses)} (lab time); the time went "
                        "to the next in line.")
    assert db.session.scalar(select(Booking.id).where(Booking.user_id == waiter.id)) is None
    booking = waitlist.claim_offer(db.session, waiter, entry.id, project_ref="XM-7",
                                   now=lapses - dt.timedelta(seconds=1))
    assert (booking.user_id, booking.project_ref) == (waiter.id, "XM-7")


def test_a_claim_is_refused_by_rules_that_changed_since_the_offer(instrument):
    waiter = create_user()
    entry = offered(instrument, waiter)
    # The lab now wants a week's notice: a soft rule, which only its managers override.
    instrument.min_notice_minutes = 7 * 24 * 60
    db.session.commit()
    with pytest.raises(services.BookingRefused) as refused:
        waitlist.claim_offer(db.session, waiter, entry.id, now=BEFORE)
    assert [p.code for p in refused.value.problems] == ["too_soon"]


def test_a_claim_is_refused_while_the_organization_s_payment_is_overdue(instrument):
    waiter = create_user()
    entry = offered(instrument, waiter)
    # Issued two months before: long past its due date, beyond a block after a day.
    issued_statement(waiter.organization, "100.00", issued=BEFORE - dt.timedelta(days=60))
    with write_transaction(db.session):
        payments.locked_profile(db.session, waiter.organization_id,
                                now=BEFORE).overdue_block_days = 1
    with pytest.raises(services.BookingRefused) as refused:
        waitlist.claim_offer(db.session, waiter, entry.id, now=BEFORE)
    assert [p.code for p in refused.value.problems] == ["payment_overdue"]


@pytest.mark.usefixtures("english")
def test_a_claim_by_someone_who_left_their_organization_has_nobody_to_bill(instrument):
    waiter = create_user()
    entry = offered(instrument, waiter)
    waiter.organization = None
    db.session.commit()
    with pytest.raises(ValidationError) as refused:
        waitlist.claim_offer(db.session, waiter, entry.id, now=BEFORE)
    assert [(p.code, p.message) for p in refused.value.problems] == [
        ("no_organization",
         "Your account belongs to no organization, so there is nobody to bill.")]


def test_a_claim_takes_the_lowest_channel_free_at_the_time_offered():
    """Channel 1 stays taken; the cancellation frees channels 2 and 3: the claim takes 2."""
    cycler = create_instrument(channels=3)
    waiter = create_user()
    create_booking(instrument=cycler, start_at=lab_time(MONDAY, 10), channel_mask=0b001)
    entry = offered(cycler, waiter, channel_mask=0b110)
    booking = waitlist.claim_offer(db.session, waiter, entry.id, now=BEFORE)
    assert booking.user_id == waiter.id and booking.channel_numbers == [2]


def cycler_taken(channels, *masks):
    """An instrument with ``channels`` channels, booked on Monday 10:00–11:00 on each of
    ``masks`` by a holder of its own: the instrument, the holders and their bookings."""
    cycler = create_instrument(channels=channels)
    holders = [create_user() for _mask in masks]
    taken = [create_booking(instrument=cycler, user=holder, start_at=lab_time(MONDAY, 10),
                            channel_mask=mask) for holder, mask in zip(holders, masks, strict=True)]
    return cycler, holders, taken


def test_on_an_instrument_with_channels_a_freed_channel_goes_to_the_line_one_each():
    """Both channels taken, two people wait: the first channel freed is offered to the first
    in line and kept for them; the second, freed later, to the next."""
    cycler, holders, taken = cycler_taken(2, 0b01, 0b10)
    slot = (lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    first, second = join(create_user(), cycler, *slot), join(create_user(), cycler, *slot)
    services.cancel_booking(db.session, holders[1], reload(taken[1]), now=BEFORE)
    db.session.commit()
    assert (reload(first).state, reload(second).state) == (WaitlistState.OFFERED,
                                                           WaitlistState.WAITING)
    assert (reload(first).offer_start, reload(first).offer_end) == slot
    services.cancel_booking(db.session, holders[0], reload(taken[0]), now=BEFORE)
    db.session.commit()
    assert reload(second).state == WaitlistState.OFFERED
    claimed = [waitlist.claim_offer(db.session, entry.user, entry.id, now=BEFORE)
               for entry in (reload(second), reload(first))]
    assert sorted(booking.channel_numbers[0] for booking in claimed) == [1, 2]


def test_an_offered_channel_booked_by_someone_else_meanwhile_holds_no_other():
    """The offer keeps its channel from the line, not from a booking made directly: once that
    takes it, the offer holds no channel, and the line is gone through as before."""
    cycler = create_instrument(channels=2)
    holder = create_user()
    create_booking(instrument=cycler, start_at=lab_time(MONDAY, 10), channel_mask=0b01)
    taken = create_booking(instrument=cycler, user=holder, start_at=lab_time(MONDAY, 10),
                           channel_mask=0b10)
    slot = (lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    first, second = join(create_user(), cycler, *slot), join(create_user(), cycler, *slot)
    services.cancel_booking(db.session, holder, reload(taken), now=BEFORE)
    create_booking(instrument=cycler, start_at=lab_time(MONDAY, 10), channel_mask=0b10)
    db.session.commit()
    assert offers.make_all_offers(db.session, now=BEFORE + dt.timedelta(minutes=1)) == []
    assert (reload(first).state, reload(second).state) == (WaitlistState.OFFERED,
                                                           WaitlistState.WAITING)


def test_an_offer_keeps_its_cleaning_time_from_the_line():
    """An offer of 10:00–11:00 on an instrument cleaned for 30 minutes after each booking
    keeps it until 11:30: the next in line, waiting for 11:00–12:00, is not offered a time
    the first one's claim would make impossible."""
    instrument = create_instrument(buffer_minutes=30)
    holder = create_user()
    taken = create_booking(instrument=instrument, user=holder, start_at=lab_time(MONDAY, 10),
                           end_at=lab_time(MONDAY, 12))
    first = join(create_user(), instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    second = join(create_user(), instrument, lab_time(MONDAY, 11), lab_time(MONDAY, 12))
    services.cancel_booking(db.session, holder, reload(taken), now=BEFORE)
    db.session.commit()
    assert (reload(first).state, reload(second).state) == (WaitlistState.OFFERED,
                                                           WaitlistState.WAITING)


def test_an_offer_lapsing_this_very_moment_keeps_nothing(instrument):
    holder = create_user()
    taken = create_booking(instrument=instrument, user=holder, start_at=lab_time(MONDAY, 10))
    offered = join(create_user(), instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    services.cancel_booking(db.session, holder, reload(taken), now=BEFORE)
    db.session.commit()
    lapse = reload(offered).offer_expires_at
    with pytest.raises(Conflict) as refused:
        join(create_user(), instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11), now=lapse)
    assert refused.value.code == "slot_free"
    waiter = join(create_user(), instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11),
                  now=lapse - dt.timedelta(seconds=1))
    assert reload(waiter).state == WaitlistState.WAITING


def test_a_waiter_whose_account_was_closed_is_passed_over(instrument):
    holder, closed = create_user(), create_user()
    taken = create_booking(instrument=instrument, user=holder, start_at=lab_time(MONDAY, 10))
    slot = (lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    first, second = join(closed, instrument, *slot), join(create_user(), instrument, *slot)
    closed.is_active = False
    db.session.commit()
    services.cancel_booking(db.session, holder, reload(taken), now=BEFORE)
    db.session.commit()
    assert (reload(first).state, reload(second).state) == (WaitlistState.WAITING,
                                                           WaitlistState.OFFERED)


def test_joining_for_a_time_with_a_channel_free_is_told_to_book_it():
    cycler = create_instrument(channels=2)
    create_booking(instrument=cycler, start_at=lab_time(MONDAY, 10), channel_mask=0b01)
    with pytest.raises(Conflict) as refused:
        join(create_user(), cycler, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    assert refused.value.code == "slot_free"


@pytest.mark.parametrize("monday", ["booked", "closed", "too_soon", "one_channel_free"])
def test_freed_time_is_offered_past_a_day_that_nobody_could_book(monday):
    """All of Monday is booked, closed, within the notice or, for a wish of two channels, has
    one free: more grid times than the offers try at once (``offers.MAX_CANDIDATES``).
    Tuesday, once freed, is offered all the same."""
    tuesday = MONDAY + dt.timedelta(days=1)
    notice = (lab_time(MONDAY, 18) - BEFORE) // dt.timedelta(minutes=1)
    channels = 2 if monday == "one_channel_free" else 1
    instrument = create_instrument(slot_minutes=15, channels=channels,
                                   min_notice_minutes=notice if monday == "too_soon" else 60)
    if monday in ("booked", "one_channel_free"):
        create_booking(instrument=instrument, start_at=lab_time(MONDAY, 8),
                       end_at=lab_time(MONDAY, 18))
    elif monday == "closed":
        db.session.add(Blackout(instrument=instrument, start_at=lab_time(MONDAY, 8),
                                end_at=lab_time(MONDAY, 18), reason="保养"))
    holder = create_user()
    taken = create_booking(instrument=instrument, user=holder, start_at=lab_time(tuesday, 8),
                           end_at=lab_time(tuesday, 18), channel_mask=(1 << channels) - 1)
    entry = join(create_user(), instrument, lab_time(MONDAY, 8), lab_time(tuesday, 18),
                 minutes=60, channels=channels)
    services.cancel_booking(db.session, holder, reload(taken), now=BEFORE)
    db.session.commit()
    entry = reload(entry)
    assert (entry.state, entry.offer_start) == (WaitlistState.OFFERED, lab_time(tuesday, 8))


def test_a_wish_for_several_channels_waits_until_as_many_are_free():
    cycler, holders, taken = cycler_taken(3, 0b001, 0b010, 0b100)
    waiter = create_user(locale="en")
    entry = join(waiter, cycler, lab_time(MONDAY, 10), lab_time(MONDAY, 11), channels=2)
    assert reload(entry).channels == 2
    services.cancel_booking(db.session, holders[2], reload(taken[2]), now=BEFORE)
    db.session.commit()
    assert reload(entry).state == WaitlistState.WAITING  # one channel free of the two
    services.cancel_booking(db.session, holders[1], reload(taken[1]), now=BEFORE)
    db.session.commit()
    assert reload(entry).state == WaitlistState.OFFERED
    [offer] = offers_to(waiter)
    assert "2 channels" in offer.body_text and "2 channels" in offer.body_html
    booking = waitlist.claim_offer(db.session, waiter, entry.id, now=BEFORE)
    assert booking.channel_numbers == [2, 3]


def test_the_claim_page_says_how_many_channels_are_offered(login_as):
    cycler, holders, taken = cycler_taken(2, 0b11)
    waiter = create_user()
    entry = join(waiter, cycler, lab_time(MONDAY, 10), lab_time(MONDAY, 11), channels=2)
    services.cancel_booking(db.session, holders[0], reload(taken[0]), now=BEFORE)
    db.session.commit()
    page = login_as(waiter).get(f"/waitlist/claim/{reload(entry).offer_token}")
    assert re.search(r'id="offer-channels">2<', page.text), page.text


def test_an_offer_for_several_channels_keeps_as_many_from_the_line():
    """Channels 2 and 3 are freed together: both go to the first in line, who waits for two;
    the next, for one, gets channel 1 once it is freed."""
    cycler, holders, taken = cycler_taken(3, 0b001, 0b110)
    slot = (lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    first = join(create_user(), cycler, *slot, channels=2)
    second = join(create_user(), cycler, *slot)
    services.cancel_booking(db.session, holders[1], reload(taken[1]), now=BEFORE)
    db.session.commit()
    assert (reload(first).state, reload(second).state) == (WaitlistState.OFFERED,
                                                           WaitlistState.WAITING)
    services.cancel_booking(db.session, holders[0], reload(taken[0]), now=BEFORE)
    db.session.commit()
    assert reload(second).state == WaitlistState.OFFERED


@pytest.mark.usefixtures("english")
def test_a_wish_for_more_channels_than_the_instrument_has_is_refused():
    cycler = create_instrument(channels=2)
    create_booking(instrument=cycler, start_at=lab_time(MONDAY, 10), channel_mask=0b11)
    with pytest.raises(services.BookingRefused) as refused:
        join(create_user(), cycler, lab_time(MONDAY, 10), lab_time(MONDAY, 11), channels=3)
    assert (refused.value.status, [p.code for p in refused.value.problems]) == (
        422, ["too_many_channels"])
    assert db.session.scalars(select(WaitlistEntry)).all() == []


def test_the_api_and_the_pages_wait_for_several_channels(client, login_as):
    cycler = create_instrument(channels=4)
    start = lab_time(MONDAY, 10)
    create_booking(instrument=cycler, start_at=start, channel_mask=0b1111)
    response = client.post("/api/v1/waitlist", headers=bearer(create_user()), json={
        "instrument_id": cycler.id, "start": start.isoformat(),
        "end": (start + dt.timedelta(hours=1)).isoformat(), "channels": 3, "purpose": "候补"})
    assert response.status_code == 201 and response.json["channels"] == 3, response.json
    waiter = create_user(locale="en")
    client = login_as(waiter)
    # The refused booking's way to the waiting list carries the channels asked for.
    refused = client.post(f"/instruments/{cycler.id}/book", data={
        "date": MONDAY.isoformat(), "start_time": "10:00", "end_time": "11:00",
        "channels": "2", "purpose": "循环测试"}, follow_redirects=True)
    [join_link] = re.findall(rf'href="(/instruments/{cycler.id}/waitlist\?[^"]*)"',
                             html.unescape(refused.text))
    assert "&channels=2&" in join_link, join_link
    form = client.get(join_link)
    [channels] = re.findall(r'<input[^>]*name="channels"[^>]*>', form.text)
    assert all(attribute in channels for attribute in ('min="1"', 'max="4"', 'value="2"')), \
        channels
    client.post(f"/instruments/{cycler.id}/waitlist", data={
        "date": MONDAY.isoformat(), "start_time": "10:00", "end_time": "11:00",
        "channels": "2", "purpose": "循环测试"})
    entry = db.session.scalars(select(WaitlistEntry).where(
        WaitlistEntry.user_id == waiter.id)).one()
    assert entry.channels == 2
    assert "2 channels" in client.get("/bookings").text


def test_the_api_claim_refused_for_want_of_training_says_how_to_ask_for_it(client, instrument):
    instrument.requires_qualification = True
    holder, waiter = create_user(), create_user()
    now = utcnow()
    record = grant_qualification(db.session, create_manager(instrument.lab), waiter, instrument,
                                 now=now)
    booking = create_booking(instrument=instrument, user=holder, start_at=lab_time(MONDAY, 10))
    entry = join(waiter, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11), now=now)
    services.cancel_booking(db.session, holder, reload(booking), now=now)
    record.expires_at = lab_time(MONDAY, 10, 30)
    db.session.commit()
    refused = client.post(f"/api/v1/waitlist/{entry.id}/claim", headers=bearer(waiter))
    assert refused.status_code == 409 and refused.json["code"] == "not_qualified"
    assert refused.json["problems"][0]["training"]["request"] == {
        "method": "POST", "href": "/api/v1/training-requests",
        "body": {"instrument_id": instrument.id}}


def claim_page_refused(login_as, instrument, waiter, *, then=None):
    """The claim page's answer to ``waiter`` booking the time offered (the real clock), after
    ``then`` has changed things since the offer."""
    holder = create_user()
    now = utcnow()
    booking = create_booking(instrument=instrument, user=holder, start_at=lab_time(MONDAY, 10))
    entry = join(waiter, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11), now=now)
    services.cancel_booking(db.session, holder, reload(booking), now=now)
    db.session.commit()
    if then is not None:
        then()
        db.session.commit()
    token = reload(entry).offer_token
    page = login_as(waiter).post(f"/waitlist/claim/{token}")
    assert reload(entry).state == WaitlistState.OFFERED
    return page, token


@pytest.mark.usefixtures("english")
def test_the_claim_page_refused_for_a_taken_time_lists_why_and_other_slots(login_as, instrument):
    waiter = create_user(locale="en")
    page, token = claim_page_refused(login_as, instrument, waiter, then=lambda: create_booking(
        instrument=instrument, start_at=lab_time(MONDAY, 10)))
    assert page.status_code == 409
    assert_well_formed(page.text)
    assert "The booking could not be made." in page.text and 'data-code="overlap"' in page.text
    assert "Free slots of the same length" in page.text
    assert f'href="/instruments/{instrument.id}/calendar?date=' in page.text
    assert f'action="/waitlist/claim/{token}"' in page.text  # it can be tried again


@pytest.mark.usefixtures("english")
def test_the_claim_page_refused_for_want_of_training_says_how_to_get_it(login_as, instrument):
    instrument.requires_qualification = True
    waiter = create_user(locale="en")
    record = grant_qualification(db.session, create_manager(instrument.lab), waiter, instrument,
                                 now=utcnow())

    def lapses_within_the_offer() -> None:
        record.expires_at = lab_time(MONDAY, 10, 30)

    page, token = claim_page_refused(login_as, instrument, waiter, then=lapses_within_the_offer)
    assert page.status_code == 409
    assert 'data-code="not_qualified"' in page.text
    assert "How to get trained on this instrument" in page.text
    assert f'action="/training/instruments/{instrument.id}/request"' in page.text
    assert f'value="/waitlist/claim/{token}"' in page.text
