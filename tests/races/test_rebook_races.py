"""Changes of bookings raced against each other on a multi-worker server: two moves into the
same free slot, and a move racing a new booking for that slot. Exactly one wins; the loser is
told `overlap` and keeps its old time."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from labbook.booking.models import Booking
from labbook.catalogue.models import Category, Lab
from labbook.extensions import db
from tests.factories import (
    create_booking,
    create_category,
    create_instrument,
    create_lab,
    create_user,
    lab_time,
    next_weekday,
)
from tests.races.harness import Call, api_headers, assert_answered, fire, play_rounds

pytestmark = pytest.mark.slow

DAY = next_weekday(2)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def times(booking_id: int) -> tuple[dt.datetime, dt.datetime]:
    db.session.rollback()
    row = db.session.execute(select(Booking.start_at, Booking.end_at)
                             .where(Booking.id == booking_id)).one()
    return row.start_at, row.end_at


@pytest.fixture
def scene() -> tuple[Lab, Category]:
    return create_lab(), create_category()


def test_two_moves_into_the_same_slot_exactly_one_wins(server, scene):
    lab, category = scene
    first, second = create_user(), create_user()
    headers = [api_headers(first), api_headers(second)]
    wanted = (lab_time(DAY, 14), lab_time(DAY, 15))

    def play(_round: int) -> None:
        instrument = create_instrument(lab=lab, category=category)
        bookings = [create_booking(instrument=instrument, user=user,
                                   start_at=lab_time(DAY, hour))
                    for user, hour in ((first, 9), (second, 11))]
        ids = [booking.id for booking in bookings]
        answers = fire(server, [
            Call("move", "PATCH", f"/api/v1/bookings/{booking_id}", header,
                 {"start": iso(wanted[0]), "end": iso(wanted[1])}, statuses={200: "ok"})
            for booking_id, header in zip(ids, headers, strict=True)])
        assert_answered(answers)
        statuses = sorted(answer.status for answer in answers)
        assert statuses == [200, 409], [str(answer) for answer in answers]
        loser = answers[0] if answers[0].status == 409 else answers[1]
        assert loser.body["code"] == "overlap"
        held = [times(booking_id) for booking_id in ids]
        assert held.count(wanted) == 1
        old = (lab_time(DAY, 9), lab_time(DAY, 10)), (lab_time(DAY, 11), lab_time(DAY, 12))
        assert all(h in (wanted, o) for h, o in zip(held, old, strict=True))

    play_rounds(play)


def test_a_move_races_a_new_booking_for_the_slot(server, scene):
    lab, category = scene
    mover, booker = create_user(), create_user()
    mover_api, booker_api = api_headers(mover), api_headers(booker)
    wanted = (lab_time(DAY, 14), lab_time(DAY, 15))

    def play(_round: int) -> None:
        instrument = create_instrument(lab=lab, category=category)
        booking_id = create_booking(instrument=instrument, user=mover,
                                    start_at=lab_time(DAY, 9)).id
        answers = fire(server, [
            Call("move", "PATCH", f"/api/v1/bookings/{booking_id}", mover_api,
                 {"start": iso(wanted[0]), "end": iso(wanted[1])}),
            Call("book", "POST", "/api/v1/bookings", booker_api,
                 {"instrument_id": instrument.id, "start": iso(wanted[0]),
                  "end": iso(wanted[1]), "purpose": "抢占同一时段"}, statuses={201: "ok"})])
        assert_answered(answers)
        assert sorted(answer.outcome for answer in answers) == ["ok", "refused"], \
            [str(answer) for answer in answers]
        db.session.rollback()
        holding = db.session.scalars(select(Booking.id).where(
            Booking.instrument_id == instrument.id, Booking.start_at == wanted[0])).all()
        assert len(holding) == 1

    play_rounds(play)
