"""Multi-process smoke test: the production shape under a few hundred mixed requests.

gunicorn with 4 workers and one ``flask --app wsgi labbook scheduler`` process, both on the
PostgreSQL test database, while concurrent clients browse the catalogue, read availability,
book overlapping slots, cancel, approve (a lab manager), fetch iCal feeds and list statements.
Afterwards: no 5xx, no connection error, no two slot-holding bookings overlapping on any
instrument, and the scheduler still alive with job runs in its log.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from labbook.booking.models import SLOT_HOLDING, Booking
from labbook.calendars.services import Scope, create_feed_token
from labbook.extensions import db
from tests.factories import (
    bearer,
    create_charge,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_service,
    create_statement,
    create_user,
    lab_time,
    next_weekday,
)
from tests.live import live_server, scheduler_process

pytestmark = [pytest.mark.slow, pytest.mark.smoke]

CLIENTS = 12
REQUESTS_PER_CLIENT = 25


class Recorder:
    """Every answer's status, and every request that got no answer at all."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.server_errors: list[str] = []
        self.connection_errors: list[str] = []

    def request(self, method: str, url: str, headers: dict[str, str] | None = None,
                payload: dict | None = None) -> tuple[int, bytes]:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={
            **(headers or {}), **({"Content-Type": "application/json"} if data else {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        except OSError as error:
            with self.lock:
                self.connection_errors.append(f"{method} {url}: {error!r}")
            return 0, b""
        with self.lock:
            self.statuses[status] += 1
            if status >= 500:
                self.server_errors.append(f"{method} {url}: {status} {body[:300]!r}")
        return status, body


def overlapping_pairs() -> list[tuple[int, int]]:
    """Pairs of slot-holding bookings on one instrument whose buffered times overlap."""
    a, b = aliased(Booking), aliased(Booking)
    return [tuple(row) for row in db.session.execute(
        select(a.id, b.id).join(b, (a.instrument_id == b.instrument_id) & (a.id < b.id)
                                & (a.start_at < b.blocked_until)
                                & (b.start_at < a.blocked_until))
        .where(a.state.in_(SLOT_HOLDING), b.state.in_(SLOT_HOLDING)))]


def test_gunicorn_and_the_scheduler_take_a_few_hundred_mixed_requests(database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("the multi-process smoke test runs on PostgreSQL: set "
                    "LABBOOK_TEST_DATABASE_URL=postgresql://… (CI does)")
    lab = create_lab(code="SMK")
    manager = create_manager(lab)
    instruments = [create_instrument(lab=lab), create_instrument(lab=lab),
                   create_instrument(lab=lab, requires_approval=True)]
    create_service(lab=lab, instruments=instruments[:1])
    orgs = [create_organization() for _ in range(3)]
    researchers = [create_user(organization=orgs[n % 3]) for n in range(CLIENTS)]
    now = dt.datetime.now(dt.UTC)
    feeds = []
    for user in researchers:
        _token, secret = create_feed_token(db.session, user, Scope.parse("mine"), now=now)
        feeds.append(secret)
    _token, manager_feed = create_feed_token(db.session, manager, Scope.parse("lab:SMK"),
                                             now=now)
    db.session.commit()
    for org in orgs:
        create_statement([create_charge(organization=org, lab=lab)])
    tokens = [bearer(user) for user in researchers]
    manager_token = bearer(manager)
    db.session.rollback()

    # A small pool of slots on few days, so that clients keep colliding.
    days = [next_weekday(weekday) for weekday in (0, 1)]
    slots = [(instrument, day, hour, length) for instrument in instruments for day in days
             for hour in range(9, 16) for length in (1, 2)]
    recorder = Recorder()
    server_log, scheduler_log = tmp_path / "gunicorn.log", tmp_path / "scheduler.log"
    env = {"LABBOOK_MAIL_DIR": str(tmp_path / "outbox"), "LABBOOK_LOG_FORMAT": "text"}
    started = time.monotonic()
    with scheduler_process(database_url, extra_env=env, log_file=scheduler_log) as scheduler, \
            live_server(database_url, workers=4, extra_env=env, log_file=server_log) as base:
        api = f"{base}/api/v1"
        created: Counter[int] = Counter()
        stop_approving = threading.Event()

        def researcher(n: int) -> None:
            rng = random.Random(n)
            headers, feed = tokens[n], feeds[n]
            mine: list[int] = []
            for _ in range(REQUESTS_PER_CLIENT):
                action = rng.choices(["catalogue", "availability", "book", "cancel", "feed",
                                      "statements", "list"], [3, 3, 6, 2, 1, 1, 1])[0]
                instrument = rng.choice(instruments)
                if action == "catalogue":
                    path = rng.choice(["/instruments", f"/instruments/{instrument.id}",
                                       "/services", "/api/v1/instruments?q=Instrument",
                                       f"/api/v1/instruments/{instrument.id}"])
                    recorder.request("GET", base + path)
                elif action == "availability":
                    day = rng.choice(days)
                    recorder.request("GET", f"{api}/instruments/{instrument.id}/availability?"
                                     + urlencode({"start": lab_time(day, 0).isoformat(),
                                                  "end": lab_time(day + dt.timedelta(days=7),
                                                                  0).isoformat()}))
                elif action == "book" or (action == "cancel" and not mine):
                    instrument, day, hour, length = rng.choice(slots)
                    status, body = recorder.request("POST", f"{api}/bookings", headers, {
                        "instrument_id": instrument.id, "purpose": f"smoke {n}",
                        "start": lab_time(day, hour).isoformat(),
                        "end": lab_time(day, hour + length).isoformat()})
                    if status == 201:
                        mine.append(json.loads(body)["id"])
                        with recorder.lock:
                            created[n] += 1
                elif action == "cancel":
                    booking_id = mine.pop(rng.randrange(len(mine)))
                    recorder.request("POST", f"{api}/bookings/{booking_id}/cancel", headers,
                                     {"note": "smoke"})
                elif action == "feed":
                    recorder.request("GET", f"{base}/ical/{feed}.ics")
                elif action == "statements":
                    recorder.request("GET", f"{api}/statements", headers)
                else:
                    recorder.request("GET", f"{api}/bookings?per_page=20", headers)

        def approver() -> None:
            while not stop_approving.is_set():
                status, body = recorder.request(
                    "GET", f"{api}/bookings?lab=SMK&state=pending&per_page=50", manager_token)
                for booking in (json.loads(body)["items"] if status == 200 else [])[:5]:
                    recorder.request("POST", f"{api}/bookings/{booking['id']}/approve",
                                     manager_token, {"note": "ok"})
                recorder.request("GET", f"{base}/ical/{manager_feed}.ics")
                stop_approving.wait(0.3)

        threads = [threading.Thread(target=researcher, args=(n,)) for n in range(CLIENTS)]
        manager_thread = threading.Thread(target=approver)
        manager_thread.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        stop_approving.set()
        manager_thread.join(timeout=60)
        # The scheduler ran its jobs alongside (each runs once at start, the outbox every 5 s).
        deadline = time.monotonic() + 20
        while "job outbox done" not in scheduler_log.read_text() \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert scheduler.poll() is None, scheduler_log.read_text()[-3000:]
        scheduler_output = scheduler_log.read_text()
        assert not any(thread.is_alive() for thread in threads)
    elapsed = time.monotonic() - started
    assert scheduler.returncode == 0, scheduler_log.read_text()[-3000:]

    total = sum(recorder.statuses.values())
    print(f"smoke: {total} requests in {elapsed:.1f} s, statuses {dict(recorder.statuses)}, "
          f"{sum(created.values())} bookings created")
    assert not recorder.connection_errors, recorder.connection_errors[:10]
    assert not recorder.server_errors, recorder.server_errors[:10]
    assert total >= CLIENTS * REQUESTS_PER_CLIENT
    assert recorder.statuses[201] > 0 and recorder.statuses[409] > 0  # bookings won and lost
    assert "holds the lock; running jobs" in scheduler_output
    assert "job outbox done" in scheduler_output, scheduler_output[-3000:]
    assert "Traceback" not in Path(server_log).read_text()
    db.session.rollback()
    holding = db.session.scalar(select(func.count()).select_from(Booking)
                                .where(Booking.state.in_(SLOT_HOLDING)))
    assert holding > 0
    assert overlapping_pairs() == []
