"""Instruments with channels (a battery cycler's channels, a climate chamber's places): a
booking takes k of them, the lowest free for all of its time; the database refuses two bookings
sharing a channel at once on either engine; single-channel instruments behave as before."""

from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from labbook.booking import changes, rules, services
from labbook.booking.models import Booking, BookingState
from labbook.booking.recurrence import Recurrence
from labbook.booking.services import BookingRefused
from labbook.catalogue.models import Instrument
from labbook.core.errors import Conflict
from labbook.extensions import db
from tests.factories import (
    bearer,
    create_booking,
    create_instrument,
    create_user,
    lab_time,
    next_weekday,
)

DAY = next_weekday(2)


@pytest.fixture
def cycler():
    return create_instrument(channels=8, max_minutes=60 * 24 * 7, code="NEM-9024")


def book(instrument, start, end, channels=1, user=None):
    return services.create_booking(db.session, user or create_user(),
                                   instrument_id=instrument.id, start=start, end=end,
                                   purpose="循环测试", channels=channels,
                                   now=dt.datetime.now(dt.UTC))


def test_bookings_take_the_lowest_free_channels(cycler):
    first = book(cycler, lab_time(DAY, 9), lab_time(DAY, 12), channels=3)
    second = book(cycler, lab_time(DAY, 10), lab_time(DAY, 11), channels=2)
    later = book(cycler, lab_time(DAY, 12), lab_time(DAY, 13), channels=4)
    assert first.channel_numbers == [1, 2, 3]
    assert second.channel_numbers == [4, 5]
    assert later.channel_numbers == [1, 2, 3, 4]  # the first booking's channels are free again


def test_the_last_channels_go_and_then_the_instrument_is_full(cycler):
    book(cycler, lab_time(DAY, 9), lab_time(DAY, 17), channels=6)
    assert book(cycler, lab_time(DAY, 10), lab_time(DAY, 11), channels=2).channel_numbers == \
        [7, 8]
    with pytest.raises(BookingRefused) as refused, force_locale("en"):
        book(cycler, lab_time(DAY, 10), lab_time(DAY, 11))
    problem = refused.value.problems[0]
    assert problem.code == "overlap" and "0 of the instrument's 8 channels" in problem.message
    assert refused.value.suggestions[0].start == lab_time(DAY, 11)


def test_an_instrument_of_two_channels_takes_a_second_booking_beside_the_first():
    pair = create_instrument(channels=2, code="CHI-760")
    first = book(pair, lab_time(DAY, 9), lab_time(DAY, 10))
    second = book(pair, lab_time(DAY, 9), lab_time(DAY, 10))
    assert (first.channel_numbers, second.channel_numbers) == ([1], [2])


def test_a_booking_needs_channels_free_for_all_of_its_time(cycler):
    # Channels 1-4 busy in the morning, 5-8 in the afternoon: at no moment are more than four
    # held, but no channel is free all day, since samples stay where they were put.
    book(cycler, lab_time(DAY, 9), lab_time(DAY, 13), channels=4)
    book(cycler, lab_time(DAY, 12), lab_time(DAY, 17), channels=4)
    with pytest.raises(BookingRefused) as refused:
        book(cycler, lab_time(DAY, 9), lab_time(DAY, 17))
    assert refused.value.problems[0].code == "overlap"
    assert book(cycler, lab_time(DAY, 13), lab_time(DAY, 17)).channel_numbers == [1]



def test_a_booking_moves_only_where_all_its_channels_are_free(cycler):
    user = create_user()
    moving = book(cycler, lab_time(DAY, 9), lab_time(DAY, 10), channels=3, user=user)
    book(cycler, lab_time(DAY, 14), lab_time(DAY, 15), channels=6)

    def move_to(hour):
        return changes.change_booking(db.session, user, moving.id, start=lab_time(DAY, hour),
                                      end=lab_time(DAY, hour + 1), now=dt.datetime.now(dt.UTC))

    with pytest.raises(BookingRefused) as refused, force_locale("en"):
        move_to(14)
    problem = refused.value.problems[0]
    assert problem.code == "overlap" and "2 of the instrument's 8 channels" in problem.message
    assert move_to(15).booking.channel_numbers == [1, 2, 3]

def test_channels_taken_past_the_check_are_refused_not_given_short(cycler):
    """Were a write to skip the instrument's turn, the channels a booking would hold are
    refused as taken rather than fewer: a booking never holds (and pays for) fewer channels
    than it booked."""
    book(cycler, lab_time(DAY, 9), lab_time(DAY, 12), channels=6)
    request = rules.BookingRequest(cycler, create_user(), None, lab_time(DAY, 10),
                                   lab_time(DAY, 11), channels=3)
    with pytest.raises(Conflict) as taken, force_locale("en"):
        rules.choose_channels(db.session, request)
    assert taken.value.code == "overlap"
    assert taken.value.message == ("The instrument's channels were taken for this time "
                                   "meanwhile; please choose another time.")
    two = rules.BookingRequest(cycler, create_user(), None, lab_time(DAY, 10),
                               lab_time(DAY, 11), channels=2)
    assert rules.choose_channels(db.session, two) == 0b11000000


def test_a_moved_booking_whose_channels_were_taken_meanwhile_is_refused(cycler):
    moving = book(cycler, lab_time(DAY, 15), lab_time(DAY, 16), channels=3)
    book(cycler, lab_time(DAY, 9), lab_time(DAY, 12), channels=6)
    with pytest.raises(Conflict) as taken:
        rules.channels_after_move(db.session, moving, lab_time(DAY, 10), lab_time(DAY, 11))
    assert taken.value.code == "overlap"
    assert rules.channels_after_move(db.session, moving, lab_time(DAY, 13),
                                     lab_time(DAY, 14)) == moving.channel_mask


def held(instrument, start, end, channels):
    """A booking written straight to the database holding ``channels`` (numbers from 1)."""
    return create_booking(instrument=instrument, start_at=start, end_at=end,
                          channel_mask=sum(1 << (n - 1) for n in channels))


def test_a_booking_moved_within_its_own_time_keeps_its_channels(cycler):
    held(cycler, lab_time(DAY, 8), lab_time(DAY, 12), [1])
    moving = held(cycler, lab_time(DAY, 9), lab_time(DAY, 10), [4, 5])
    # Its own time does not count as taken; 2 and 3 are free too but it stays where it is.
    assert rules.channels_after_move(db.session, moving, lab_time(DAY, 9, 30),
                                     lab_time(DAY, 10, 30)) == moving.channel_mask


def test_a_two_channel_booking_moved_onto_its_taken_channel_takes_the_other():
    pair = create_instrument(channels=2)
    moving = held(pair, lab_time(DAY, 9), lab_time(DAY, 10), [1])
    held(pair, lab_time(DAY, 14), lab_time(DAY, 15), [1])
    assert rules.channels_after_move(db.session, moving, lab_time(DAY, 14),
                                     lab_time(DAY, 15)) == 0b10


def test_channels_are_chosen_free_for_the_buffer_after_the_booking_too():
    chamber = create_instrument(channels=3, buffer_minutes=30)
    held(chamber, lab_time(DAY, 11, 15), lab_time(DAY, 12), [1])
    request = rules.BookingRequest(chamber, create_user(), None, lab_time(DAY, 10),
                                   lab_time(DAY, 11))
    assert rules.choose_channels(db.session, request) == 0b10


def test_channels_are_chosen_around_the_moved_booking_and_the_series_held_so_far(cycler):
    moving = held(cycler, lab_time(DAY, 9), lab_time(DAY, 10), [1, 2])
    request = rules.BookingRequest(cycler, create_user(), None, lab_time(DAY, 9),
                                   lab_time(DAY, 10), exclude_booking_id=moving.id,
                                   channels=2)
    assert rules.choose_channels(db.session, request) == 0b11
    series_so_far = [(lab_time(DAY, 9), lab_time(DAY, 10), 0b1)]
    assert rules.choose_channels(db.session, request, held_channels=series_so_far) == 0b110


def test_more_channels_than_the_instrument_has_is_refused_clearly(client, cycler):
    response = client.post("/api/v1/bookings", headers=bearer(create_user()), json={
        "instrument_id": cycler.id, "start": lab_time(DAY, 9).isoformat(),
        "end": lab_time(DAY, 10).isoformat(), "purpose": "x", "channels": 9})
    assert response.status_code == 422 and response.json["code"] == "too_many_channels"
    assert response.json["problems"] == [{
        "code": "too_many_channels", "message": "该仪器有 8 个通道，请申请 1 至 8 个。",
        "start": lab_time(DAY, 9).astimezone(dt.UTC).isoformat(),
        "end": lab_time(DAY, 10).astimezone(dt.UTC).isoformat()}]  # in the user's language
    zero = client.post("/api/v1/bookings", headers=bearer(create_user()), json={
        "instrument_id": cycler.id, "start": lab_time(DAY, 9).isoformat(),
        "end": lab_time(DAY, 10).isoformat(), "purpose": "x", "channels": 0})
    assert zero.status_code == 422
    assert db.session.scalar(select(Booking.id)) is None


def test_a_single_channel_instrument_refuses_two_channels_and_overlaps_as_before(client):
    instrument = create_instrument()
    two = client.post("/api/v1/bookings", headers=bearer(create_user()), json={
        "instrument_id": instrument.id, "start": lab_time(DAY, 9).isoformat(),
        "end": lab_time(DAY, 10).isoformat(), "purpose": "x", "channels": 2})
    assert two.status_code == 422 and two.json["code"] == "too_many_channels"
    made = book(instrument, lab_time(DAY, 9), lab_time(DAY, 10))
    assert made.channel_numbers == [1]
    with pytest.raises(BookingRefused) as refused:
        book(instrument, lab_time(DAY, 9, 30), lab_time(DAY, 10, 30))
    assert refused.value.problems[0].extra == {"start": lab_time(DAY, 9).isoformat(),
                                               "end": lab_time(DAY, 10).isoformat()}


def test_the_database_refuses_a_shared_channel_whatever_writes_it(cycler):
    create_booking(instrument=cycler, start_at=lab_time(DAY, 9), end_at=lab_time(DAY, 12),
                   channel_mask=0b0110)
    create_booking(instrument=cycler, start_at=lab_time(DAY, 9), end_at=lab_time(DAY, 12),
                   channel_mask=0b1001)  # channels 1 and 4: no channel in common
    create_booking(instrument=cycler, start_at=lab_time(DAY, 9), end_at=lab_time(DAY, 12),
                   channel_mask=0b0100, state=BookingState.CANCELLED)
    with pytest.raises(IntegrityError):
        create_booking(instrument=cycler, start_at=lab_time(DAY, 11),
                       end_at=lab_time(DAY, 13), channel_mask=0b0100)
    db.session.rollback()
    cancelled = db.session.scalar(select(Booking).where(
        Booking.state == BookingState.CANCELLED))
    cancelled.state = BookingState.APPROVED  # taking its channel back in use clashes too
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_channel_64_is_stored_and_read_back(client):
    big = create_instrument(channels=64)
    last = create_booking(instrument=big, channel_mask=1 << 63)
    other = create_booking(instrument=big, channel_mask=(1 << 63) - 1)
    db.session.expire_all()
    assert db.session.get(Booking, last.id).channel_numbers == [64]
    assert db.session.get(Booking, other.id).channel_numbers == list(range(1, 64))
    with pytest.raises(IntegrityError):
        create_booking(instrument=big, channel_mask=(1 << 63) | 1)
    db.session.rollback()


def test_a_series_books_channels_occurrence_by_occurrence(cycler):
    book(cycler, lab_time(DAY, 9), lab_time(DAY, 17), channels=7)
    result = services.create_series(
        db.session, create_user(), instrument_id=cycler.id, start=lab_time(DAY, 9),
        end=lab_time(DAY, 10), purpose="循环", channels=2, skip_conflicts=True,
        recurrence=Recurrence(frequency="daily", count=2), now=dt.datetime.now(dt.UTC))
    assert [b.channel_numbers for b in result.created] == [[1, 2]]
    assert [problems[0].code for _s, _e, problems in result.skipped] == ["overlap"]


def test_availability_shows_free_capacity(client, cycler):
    book(cycler, lab_time(DAY, 9), lab_time(DAY, 12), channels=3)
    book(cycler, lab_time(DAY, 10), lab_time(DAY, 18), channels=5)
    answer = client.get(f"/api/v1/instruments/{cycler.id}/availability", query_string={
        "start": lab_time(DAY, 0).isoformat(),
        "end": lab_time(DAY + dt.timedelta(days=1), 0).isoformat()}).json
    assert answer["channels"] == 8
    spans = [(s["start"], s["end"], s["free_channels"]) for s in answer["capacity"]]
    assert spans == [(lab_time(DAY, 8).isoformat(), lab_time(DAY, 9).isoformat(), 8),
                     (lab_time(DAY, 9).isoformat(), lab_time(DAY, 10).isoformat(), 5),
                     (lab_time(DAY, 12).isoformat(), lab_time(DAY, 18).isoformat(), 3)]
    assert [(f["start"], f["end"]) for f in answer["free"]] == [(s, e) for s, e, _n in spans]


def test_the_calendar_page_lists_free_channels_and_offers_a_channels_field(login_as, cycler):
    book(cycler, lab_time(DAY, 9), lab_time(DAY, 12), channels=3)
    client = login_as(create_user())
    page = client.get(f"/instruments/{cycler.id}/calendar").get_data(as_text=True)
    assert 'id="free-capacity"' in page and 'name="channels"' in page
    plain = create_instrument()
    page = client.get(f"/instruments/{plain.id}/calendar").get_data(as_text=True)
    assert 'id="free-capacity"' not in page and 'name="channels"' not in page


def test_booking_channels_from_the_page(client, login_as, cycler):
    user = create_user()
    response = login_as(user).post(f"/instruments/{cycler.id}/book", data={
        "date": DAY.isoformat(), "start_time": "09:00", "end_time": "10:00",
        "purpose": "循环", "repeat": "none", "channels": "3"})
    assert response.status_code == 302
    booking = db.session.scalar(select(Booking))
    assert booking.channel_numbers == [1, 2, 3]
    detail = login_as(user).get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="booking-channels">1, 2, 3<' in detail


def test_the_catalogue_gives_battery_cyclers_and_chambers_channels(catalogue_loaded):
    channels = dict(db.session.execute(select(Instrument.code, Instrument.channels)).all())
    assert channels["NEM-024"] == 64 and channels["NEM-026"] == 8
    assert channels["NEM-033"] > 1 and channels["NEM-001"] == 1


@pytest.fixture
def catalogue_loaded():
    from labbook.catalogue.loader import load_catalogue

    return load_catalogue(db.session, dt.date(2026, 11, 27))
