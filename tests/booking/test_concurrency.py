"""Racing clients against a real multi-worker server: one slot, exactly one winner."""

import datetime as dt
import json
import threading
import urllib.error
import urllib.request

from sqlalchemy import func, select

from labbook.booking.models import Booking
from labbook.extensions import db
from tests.factories import bearer, create_instrument, create_user, lab_time, next_weekday
from tests.live import live_server

CLIENTS = 24


def post(url: str, headers: dict, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_concurrent_requests_for_one_slot_yield_one_booking(database_url):
    instrument = create_instrument()
    monday = next_weekday(0)
    slot = {"instrument_id": instrument.id, "purpose": "抢同一时段",
            "start": lab_time(monday, 9).isoformat(), "end": lab_time(monday, 10).isoformat()}
    clients = [bearer(create_user()) for _ in range(CLIENTS)]
    db.session.rollback()

    with live_server(database_url, workers=4) as base_url:
        barrier = threading.Barrier(CLIENTS)
        answers: list[tuple[int, dict]] = []
        lock = threading.Lock()

        def race(headers: dict) -> None:
            barrier.wait()
            answer = post(f"{base_url}/api/v1/bookings", headers, slot)
            with lock:
                answers.append(answer)

        threads = [threading.Thread(target=race, args=(headers,)) for headers in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

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
    clients = [bearer(create_user()) for _ in range(8)]
    db.session.rollback()
    with live_server(database_url, workers=4) as base_url:
        barrier = threading.Barrier(len(clients))
        statuses: list[int] = []

        def book(index: int, headers: dict) -> None:
            start = lab_time(monday, 9) + dt.timedelta(hours=index)
            barrier.wait()
            status, _body = post(f"{base_url}/api/v1/bookings", headers, {
                "instrument_id": instrument_id, "purpose": "相邻时段",
                "start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()})
            statuses.append(status)

        threads = [threading.Thread(target=book, args=(i, h)) for i, h in enumerate(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert statuses == [201] * len(clients)
