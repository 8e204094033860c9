"""Racing clients against a real multi-worker server: one slot, exactly one winner; one
booking, changes one after the other; one organization, its quota kept."""

import datetime as dt
import json
import threading
import urllib.error
import urllib.request

from sqlalchemy import func, select

from labbook.audit.models import AuditEvent
from labbook.booking.models import Booking, BookingState
from labbook.extensions import db
from tests.factories import (
    bearer,
    create_booking,
    create_instrument,
    create_manager,
    create_organization,
    create_user,
    lab_time,
    next_weekday,
    reload,
)
from tests.live import live_server

CLIENTS = 24
#: Rounds of approve ‖ cancel: enough for a missing lock to show on PostgreSQL.
ROUNDS = 12
#: People of one organization booking at once, in as many weeks.
QUOTA_CLIENTS = 10
QUOTA_ROUNDS = 6


def post(url: str, headers: dict, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def race(base_url: str, calls: list[tuple[dict, str, dict]]) -> list[tuple[int, dict]]:
    """POST ``calls`` (headers, path, payload) all at one moment; the answers in their order."""
    barrier = threading.Barrier(len(calls))
    answers: list[tuple[int, dict]] = [(0, {})] * len(calls)

    def send(index: int, headers: dict, path: str, payload: dict) -> None:
        barrier.wait()
        answers[index] = post(f"{base_url}{path}", headers, payload)

    threads = [threading.Thread(target=send, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def test_concurrent_requests_for_one_slot_yield_one_booking(database_url):
    instrument = create_instrument()
    monday = next_weekday(0)
    slot = {"instrument_id": instrument.id, "purpose": "抢同一时段",
            "start": lab_time(monday, 9).isoformat(), "end": lab_time(monday, 10).isoformat()}
    calls = [(bearer(create_user()), "/api/v1/bookings", slot) for _ in range(CLIENTS)]
    db.session.rollback()

    with live_server(database_url, workers=4) as base_url:
        answers = race(base_url, calls)

    statuses = sorted(status for status, _body in answers)
    assert len(answers) == CLIENTS
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == CLIENTS - 1, statuses
    for status, body in answers:
        if status == 409:
            assert body["code"] == "overlap"
            assert [p["code"] for p in body["problems"]] == ["overlap"]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Booking).where(
        Booking.instrument_id == instrument.id)) == 1


def test_back_to_back_bookings_race_without_refusing_each_other(database_url):
    instrument_id = create_instrument().id
    monday = next_weekday(0)
    calls = []
    for index in range(8):
        start = lab_time(monday, 9) + dt.timedelta(hours=index)
        calls.append((bearer(create_user()), "/api/v1/bookings", {
            "instrument_id": instrument_id, "purpose": "相邻时段",
            "start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()}))
    db.session.rollback()
    with live_server(database_url, workers=4) as base_url:
        answers = race(base_url, calls)
    assert [status for status, _body in answers] == [201] * len(calls)


def test_approve_and_cancel_at_once_end_as_one_after_the_other(database_url):
    """Either the cancellation comes first and the approval is refused, or the approval comes
    first and is then cancelled: the booking ends cancelled, as the booker was told, and its
    history holds each transition once, each from the state the one before left."""
    instrument = create_instrument(requires_approval=True)
    booker, manager = create_user(), create_manager(instrument.lab)
    monday = next_weekday(0, weeks_ahead=2)
    bookings = [create_booking(instrument=instrument, user=booker, state=BookingState.PENDING,
                               start_at=lab_time(monday, 9) + dt.timedelta(hours=round_),
                               end_at=lab_time(monday, 10) + dt.timedelta(hours=round_))
                for round_ in range(ROUNDS)]
    booker_headers, manager_headers = bearer(booker), bearer(manager)
    db.session.rollback()

    with live_server(database_url, workers=4) as base_url:
        rounds = [race(base_url, [
            (manager_headers, f"/api/v1/bookings/{booking_id}/approve", {}),
            (booker_headers, f"/api/v1/bookings/{booking_id}/cancel", {})])
            for booking_id in [booking.id for booking in bookings]]

    for booking, ((approved, approval), (cancelled, cancellation)) in zip(bookings, rounds,
                                                                         strict=True):
        assert cancelled == 200 and cancellation["state"] == "cancelled", cancellation
        assert approved in (200, 409), approval
        if approved == 409:
            assert approval["code"] == "invalid_state"
        assert reload(booking).state == BookingState.CANCELLED
        history = [(e.action, e.from_state, e.to_state) for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.object_type == "bookings",
                                     AuditEvent.object_id == booking.id)
            .order_by(AuditEvent.id))]
        expected = [("approve", "pending", "approved"), ("cancel", "approved", "cancelled")] \
            if approved == 200 else [("cancel", "pending", "cancelled")]
        assert history == expected


def test_one_organizations_bookings_at_once_stay_within_its_weekly_quota(database_url):
    """Several people of one organization book different instruments at the same moment: its
    quota fits one booking a week, and in each week raced only one is made."""
    organization = create_organization(weekly_quota_hours=1)
    lab = create_instrument().lab
    instruments = [create_instrument(lab=lab) for _ in range(QUOTA_CLIENTS)]
    headers = [bearer(create_user(organization=organization)) for _ in instruments]
    weeks = [next_weekday(0, weeks_ahead=week) for week in range(1, QUOTA_ROUNDS + 1)]
    db.session.rollback()

    with live_server(database_url, workers=4) as base_url:
        rounds = [race(base_url, [
            (client, "/api/v1/bookings", {
                "instrument_id": instrument.id, "purpose": "同一企业同时预约",
                "start": lab_time(monday, 9).isoformat(),
                "end": lab_time(monday, 10).isoformat()})
            for client, instrument in zip(headers, instruments, strict=True)])
            for monday in weeks]

    for answers in rounds:
        statuses = sorted(status for status, _body in answers)
        assert statuses == [201] + [409] * (QUOTA_CLIENTS - 1), answers
        assert all(body["code"] == "quota_exceeded" for status, body in answers
                   if status == 409)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Booking).where(
        Booking.organization_id == organization.id)) == QUOTA_ROUNDS
