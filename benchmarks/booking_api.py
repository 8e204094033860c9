"""Booking API latency with a large history, measured in-process (Flask test client, SQLite file).

Prints JSON: p50/p95 in milliseconds for creating a booking (all rules checked), for moving one
an hour later (``PATCH``, all rules checked again), for a refused one (overlap, with
suggestions) and for one week of an instrument's availability, and for each
the function calls one request makes: a measure of the work that, unlike the timings, does not
change with whatever else a shared machine is doing.

    python benchmarks/booking_api.py --history 100000
    python benchmarks/booking_api.py --history 1000 --history 1000000   # cost vs. history
    python benchmarks/booking_api.py --smoke   # does it still run? (tiny data, no figures)
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select

from benchmarks.cli import Run
from labbook import create_app
from labbook.accounts.models import Organization, PriceTier, Role, User
from labbook.accounts.services import create_api_token
from labbook.booking.models import Booking, BookingState
from labbook.catalogue.loader import load_catalogue
from labbook.catalogue.models import Instrument
from labbook.config import TestingConfig
from labbook.core.time import LAB_TZ
from labbook.extensions import db

TODAY = dt.datetime.now(LAB_TZ).date()


def lab_time(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), LAB_TZ).astimezone(dt.UTC)


def weekdays_ahead(count: int, start_in_days: int = 2) -> list[dt.date]:
    days, day = [], TODAY + dt.timedelta(days=start_in_days)
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def setup(database: Path, history: int) -> tuple:
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{database}"

    app = create_app(Config)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        load_catalogue(db.session, TODAY)
        organization = Organization(name="基准测试单位", uscc="91410800MA0000001P",
                                    tier=PriceTier.INTERNAL)
        admin = User(email="bench@example.cn", name="Bench", role=Role.ADMIN,
                     organization=organization, password_hash="!")  # noqa: S106  (no login)
        db.session.add_all([organization, admin])
        db.session.commit()
        _token, secret = create_api_token(db.session, admin, name="bench",
                                          now=dt.datetime.now(dt.UTC))
        db.session.commit()
        instruments = list(db.session.scalars(select(Instrument).order_by(Instrument.id)))
        _fill_history(instruments, admin, organization, history)
        usable = [i for i in instruments if i.slot_minutes <= 60 and i.min_minutes <= 60
                  <= i.max_minutes and i.horizon_days >= 30 and i.min_notice_minutes <= 2880
                  and i.status.value == "available"]
        busy_slots = _future_bookings(usable, admin, organization)
        return app, secret, [instrument.id for instrument in usable], busy_slots


def _fill_history(instruments, user, organization, history: int) -> None:
    """Finished bookings spread over the past years: the history the checks must not scan."""
    rng = random.Random(42)
    rows, batch = [], 20_000
    for n in range(history):
        instrument = instruments[n % len(instruments)]
        start = lab_time(TODAY - dt.timedelta(days=1 + rng.randrange(3650)), 8 + rng.randrange(9))
        end = start + dt.timedelta(hours=1)
        rows.append({"instrument_id": instrument.id, "user_id": user.id,
                     "organization_id": organization.id, "start_at": start, "end_at": end,
                     "blocked_until": end, "state": BookingState.COMPLETED,
                     "purpose": "history", "project_ref": "", "is_override": False,
                     "is_late_cancellation": False, "decision_note": "", "sequence": 0,
                     "created_at": start, "updated_at": start})
        if len(rows) >= batch:
            db.session.execute(insert(Booking), rows)
            db.session.commit()
            rows = []
    if rows:
        db.session.execute(insert(Booking), rows)
        db.session.commit()


def _future_bookings(instruments, user, organization) -> list[tuple[int, dt.datetime]]:
    """Every usable instrument is booked 09:00–10:00 on the coming weekdays."""
    slots = [(instrument.id, lab_time(day, 9)) for instrument in instruments
             for day in weekdays_ahead(15)]
    db.session.execute(insert(Booking), [
        {"instrument_id": instrument_id, "user_id": user.id, "organization_id": organization.id,
         "start_at": start, "end_at": start + dt.timedelta(hours=1),
         "blocked_until": start + dt.timedelta(hours=1), "state": BookingState.APPROVED,
         "purpose": "future", "project_ref": "", "is_override": False,
         "is_late_cancellation": False, "decision_note": "", "sequence": 0,
         "created_at": start, "updated_at": start} for instrument_id, start in slots])
    db.session.commit()
    return slots


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 3),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 3),
            "n": len(ordered)}


def measure(history: int, iterations: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        app, secret, instruments, busy = setup(Path(folder) / "bench.sqlite", history)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {secret}"}
        free_slots = [(instrument_id, lab_time(day, hour)) for day in weekdays_ahead(15)
                      for hour in (10, 13, 15) for instrument_id in instruments]
        random.Random(7).shuffle(free_slots)

        def timed(method: str, path: str, **kwargs) -> tuple[float, object]:
            started = time.perf_counter()
            response = client.open(path, method=method, headers=headers, **kwargs)
            return time.perf_counter() - started, response

        def booking(instrument_id: int, start: dt.datetime) -> dict:
            return {"instrument_id": instrument_id, "start": start.isoformat(),
                    "end": (start + dt.timedelta(hours=1)).isoformat(), "purpose": "bench"}

        # Each kind in a run of its own, as in the statement of the targets.
        created, moved, refused, availability = [], [], [], []
        created_ids = []
        for n in range(iterations):
            elapsed, response = timed("POST", "/api/v1/bookings", json=booking(*free_slots[n]))
            assert response.status_code == 201, response.json
            created.append(elapsed)
            created_ids.append(response.json["id"])
        # Free slots start at 10, 13 and 15 o'clock: an hour later is free too.
        for n, booking_id in enumerate(created_ids):
            elapsed, response = timed("PATCH", f"/api/v1/bookings/{booking_id}",
                                      json=moved_later(free_slots[n][1]))
            assert response.status_code == 200, response.json
            moved.append(elapsed)
        for n in range(iterations):
            elapsed, response = timed("POST", "/api/v1/bookings",
                                      json=booking(*busy[n % len(busy)]))
            assert response.status_code == 409 and response.json["code"] == "overlap"
            refused.append(elapsed)
        for n in range(iterations):
            instrument_id = busy[n % len(busy)][0]
            week_start = lab_time(TODAY + dt.timedelta(days=n % 14), 0)
            elapsed, response = timed(
                "GET", f"/api/v1/instruments/{instrument_id}/availability",
                query_string={"start": week_start.isoformat(),
                              "end": (week_start + dt.timedelta(days=7)).isoformat()})
            assert response.status_code == 200
            availability.append(elapsed)
        # Python function calls per request: the work done, whatever else the machine is doing
        # (timings on a shared machine vary by half between runs; these do not).
        samples = min(50, iterations)
        fresh_ids: list[int] = []

        def create(n: int) -> None:
            _elapsed, response = timed("POST", "/api/v1/bookings",
                                       json=booking(*free_slots[iterations + n]))
            fresh_ids.append(response.json["id"])

        calls = {
            "create": calls_per_request(create, samples),
            "move": calls_per_request(lambda n: timed(
                "PATCH", f"/api/v1/bookings/{fresh_ids[n]}",
                json=moved_later(free_slots[iterations + n][1])), samples),
            "refuse_overlap": calls_per_request(lambda n: timed("POST", "/api/v1/bookings",
                                                                json=booking(*busy[n])), samples),
            "availability_week": calls_per_request(lambda n: timed(
                "GET", f"/api/v1/instruments/{busy[n][0]}/availability",
                query_string={"start": lab_time(TODAY, 0).isoformat(),
                              "end": lab_time(TODAY + dt.timedelta(days=7), 0).isoformat()}),
                samples),
        }
        # The first requests warm caches and the connection pool; leave them out.
        skip = min(20, iterations // 10)
        return {"history_bookings": history,
                "create": {**percentiles(created[skip:]), "python_calls": calls["create"]},
                "move": {**percentiles(moved[skip:]), "python_calls": calls["move"]},
                "move_vs_create": {
                    "p50_ratio": round(statistics.median(moved[skip:])
                                       / statistics.median(created[skip:]), 2),
                    "python_calls_ratio": round(calls["move"] / calls["create"], 2)},
                "refuse_overlap": {**percentiles(refused[skip:]),
                                   "python_calls": calls["refuse_overlap"]},
                "availability_week": {**percentiles(availability[skip:]),
                                      "python_calls": calls["availability_week"]}}


def moved_later(start: dt.datetime) -> dict:
    later = start + dt.timedelta(hours=1)
    return {"start": later.isoformat(), "end": (later + dt.timedelta(hours=1)).isoformat()}


def calls_per_request(request, samples: int) -> int:
    """Function calls (Python and C) that one request makes, on average over ``samples``."""
    profile = cProfile.Profile()
    profile.enable()
    for n in range(samples):
        request(n)
    profile.disable()
    return round(pstats.Stats(profile).total_calls / samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=int, action="append",
                        help="finished bookings in the database (repeatable); default 100000")
    parser.add_argument("--iterations", type=int, default=500)
    run = Run(parser, smoke={"history": [200], "iterations": 5})
    args = run.args
    os.environ.setdefault("LABBOOK_ENV", "testing")
    results = [measure(history, args.iterations) for history in args.history or [100_000]]
    if len(results) > 1:
        base, top = results[0], results[-1]
        ratios = {kind: round(top[kind]["p50_ms"] / base[kind]["p50_ms"], 2)
                  for kind in ("create", "move", "refuse_overlap", "availability_week")}
        run.report({"runs": results, "p50_ratio_last_to_first": ratios})
    else:
        run.report(results[0])


if __name__ == "__main__":
    main()
