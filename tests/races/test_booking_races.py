"""Booking transitions that contradict each other, sent at the same moment.

Each round races two requests on a fresh booking (on an instrument of its own, so that rounds
never overlap) and checks that the answers, the booking's final state, its charge and its audit
trail are what one of the two orders of the requests would have given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from labbook.accounts.models import User
from labbook.billing.models import Charge
from labbook.booking.models import Booking, BookingState
from labbook.catalogue.models import Category, Lab
from labbook.extensions import db
from tests.factories import (
    create_booking,
    create_category,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    lab_time,
    next_weekday,
)
from tests.races.harness import (
    Call,
    Transition,
    api_headers,
    assert_serializable,
    becomes,
    fire,
    play_rounds,
    trail,
)

pytestmark = pytest.mark.slow

#: A booking as the model sees it: its state and the kinds of its charges.
BookingView = tuple[str, tuple[str, ...]]


def charging(kind: str, *, when_leaving: BookingState | None = None
             ) -> Callable[[str, tuple[str, ...]], tuple[str, ...]]:
    """A transition's charge: ``kind`` is added (only when leaving ``when_leaving``, if given)."""

    def charge(source: str, charges: tuple[str, ...]) -> tuple[str, ...]:
        if when_leaving is not None and source != when_leaving:
            return charges
        return tuple(sorted((*charges, kind)))

    return charge


MODEL: dict[str, Transition] = {
    "approve": becomes(BookingState.APPROVED, BookingState.PENDING),
    "reject": becomes(BookingState.REJECTED, BookingState.PENDING),
    "cancel": becomes(BookingState.CANCELLED, BookingState.PENDING, BookingState.APPROVED),
    # The booker's own cancellation inside the cancellation window: charged if approved.
    "late cancel": becomes(BookingState.CANCELLED, BookingState.PENDING, BookingState.APPROVED,
                           then=charging("late_cancellation",
                                         when_leaving=BookingState.APPROVED)),
    "check in": becomes(BookingState.IN_USE, BookingState.APPROVED),
    "check out": becomes(BookingState.COMPLETED, BookingState.IN_USE,
                         then=charging("usage")),
    "no-show": becomes(BookingState.NO_SHOW, BookingState.APPROVED, then=charging("no_show")),
}


def told_state(body: dict[str, Any]) -> str:
    return body["state"]


def booking_state(state: BookingView) -> str:
    return state[0]


@dataclass
class Scene:
    lab: Lab
    category: Category
    booker: User
    booker_api: dict[str, str]
    manager_api: dict[str, str]
    other_manager_api: dict[str, str]


@pytest.fixture
def scene() -> Scene:
    lab = create_lab()
    booker = create_user()
    return Scene(lab, create_category(), booker, api_headers(booker),
                 api_headers(create_manager(lab)), api_headers(create_manager(lab)))


def action(op: str, path: str, headers: dict[str, str], json: Any = None) -> Call:
    return Call(op, "POST", path, headers, json, told=told_state)


def race(server: str, scene: Scene, *, state: BookingState, start: dt.timedelta | None,
         calls: Any, **booking: Any) -> None:
    """Race ``calls(path)`` (``path``: the booking's URL in the API) on a new booking of
    ``state`` starting ``start`` from now (next Monday 10:00 without it), one hour long, round
    after round."""

    def play(_round: int) -> None:
        begin = lab_time(next_weekday(0), 10) if start is None \
            else dt.datetime.now(dt.UTC) + start
        instrument = create_instrument(lab=scene.lab, category=scene.category)
        row = create_booking(instrument=instrument, user=scene.booker, state=state,
                             start_at=begin, end_at=begin + dt.timedelta(hours=1), **booking)
        booking_id = row.id
        answers = fire(server, calls(f"/api/v1/bookings/{booking_id}"))
        assert_serializable((state.value, ()), MODEL, answers, final_state(booking_id),
                            view=booking_state, trail=trail(Booking, booking_id))

    play_rounds(play)


def final_state(booking_id: int) -> BookingView:
    db.session.rollback()
    state = db.session.scalar(select(Booking.state).where(Booking.id == booking_id))
    kinds = db.session.scalars(select(Charge.kind).where(Charge.booking_id == booking_id))
    return state.value, tuple(sorted(kind.value for kind in kinds))


def test_approve_races_the_bookers_cancellation(server, scene):
    race(server, scene, state=BookingState.PENDING, start=None, calls=lambda path: [
        action("approve", f"{path}/approve", scene.manager_api),
        action("cancel", f"{path}/cancel", scene.booker_api, {"note": "计划有变"})])


def test_approve_races_reject(server, scene):
    race(server, scene, state=BookingState.PENDING, start=None, calls=lambda path: [
        action("approve", f"{path}/approve", scene.manager_api),
        action("reject", f"{path}/reject", scene.other_manager_api, {"note": "设备检修"})])


def test_late_cancellation_races_check_in(server, scene):
    race(server, scene, state=BookingState.APPROVED, start=-dt.timedelta(minutes=5),
         calls=lambda path: [
             action("late cancel", f"{path}/cancel", scene.booker_api),
             action("check in", f"{path}/check-in", scene.booker_api)])


def test_two_check_outs_race(server, scene):
    def calls(path: str) -> list[Call]:
        return [action("check out", f"{path}/check-out", scene.booker_api),
                action("check out", f"{path}/check-out", scene.manager_api)]

    race(server, scene, state=BookingState.IN_USE, start=-dt.timedelta(minutes=30),
         calls=calls, checked_in_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30))


def test_no_show_races_check_in(server, scene):
    race(server, scene, state=BookingState.APPROVED, start=-dt.timedelta(minutes=40),
         calls=lambda path: [
             action("no-show", f"{path}/no-show", scene.manager_api),
             action("check in", f"{path}/check-in", scene.booker_api)])
