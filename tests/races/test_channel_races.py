"""N + 10 clients race for the last free channels of a battery cycler, against a multi-worker
server: exactly as many succeed as channels were free, each on channels of its own, and the
others are refused with ``overlap`` (never a server error or a shared channel)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from labbook.booking.models import SLOT_HOLDING, Booking, channel_numbers
from labbook.extensions import db
from tests.factories import create_booking, create_instrument, create_user, lab_time, next_weekday
from tests.races.harness import Call, api_headers, assert_answered, fire

pytestmark = pytest.mark.slow

CHANNELS = 8


@pytest.mark.parametrize(("taken", "asked"), [(5, 1), (0, 1), (2, 2)],
                         ids=["3 left, 1 each", "8 free, 1 each", "6 left, 2 each"])
def test_racers_get_exactly_the_free_channels(server, taken, asked):
    instrument = create_instrument(channels=CHANNELS, max_minutes=60 * 24)
    day = next_weekday(2)
    start, end = lab_time(day, 9), lab_time(day, 17)
    if taken:
        # Channels 1..taken are held all day by an earlier booking.
        create_booking(instrument=instrument, start_at=lab_time(day, 8),
                       end_at=lab_time(day, 18), channel_mask=(1 << taken) - 1)
    free = CHANNELS - taken
    racers = free // asked + 10
    calls = [Call("book", "POST", "/api/v1/bookings", api_headers(create_user()), json={
        "instrument_id": instrument.id, "start": start.isoformat(), "end": end.isoformat(),
        "purpose": f"racer {n}", "channels": asked}, statuses={201: "ok"})
        for n in range(racers)]

    answers = fire(server, calls)

    assert_answered(answers)
    won = [a for a in answers if a.status == 201]
    lost = [a for a in answers if a.status != 201]
    assert len(won) == free // asked
    assert {(a.status, a.code) for a in lost} == {(409, "overlap")}
    db.session.rollback()
    held = db.session.scalars(select(Booking.channel_mask).where(
        Booking.instrument_id == instrument.id, Booking.state.in_(SLOT_HOLDING),
        Booking.start_at < end, Booking.blocked_until > start)).all()
    channels = [n for mask in held for n in channel_numbers(mask)]
    assert len(channels) == len(set(channels)) == taken + len(won) * asked
    assert sorted(channels) == list(range(1, taken + len(won) * asked + 1))
    assert sorted(n for a in won for n in a.body["channels"]) == \
        list(range(taken + 1, taken + len(won) * asked + 1))


def test_a_single_channel_instrument_still_takes_one_booking(server):
    instrument = create_instrument()
    day = next_weekday(3)
    start = lab_time(day, 10)
    calls = [Call("book", "POST", "/api/v1/bookings", api_headers(create_user()), json={
        "instrument_id": instrument.id, "start": start.isoformat(),
        "end": (start + dt.timedelta(hours=1)).isoformat(), "purpose": f"racer {n}"},
        statuses={201: "ok"}) for n in range(11)]
    answers = fire(server, calls)
    assert_answered(answers)
    assert sorted(a.status for a in answers) == [201] + [409] * 10
