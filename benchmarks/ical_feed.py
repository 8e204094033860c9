"""iCal feed cost, measured in-process (Flask test client; a SQLite file, or PostgreSQL).

Prints JSON: wall-clock and CPU p50/p95 in milliseconds for a lab feed with N events (every
booking with names, the richest feed), fetched in full (warm: the steady state of polling
clients; cold: the first request a freshly started worker serves, with no statement or label
compiled yet, its database connection opened as the worker started, as gunicorn's workers open
it with ``labbook.serving``) and revalidated with If-None-Match or If-Modified-Since (304),
plus the SQL statements each request runs and the size of the body.

    python benchmarks/ical_feed.py --events 1000
    python benchmarks/ical_feed.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/ical_feed.py --smoke   # does it still run? (tiny data, no figures)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, insert

from benchmarks.booking_api import lab_time
from benchmarks.cli import Run, percentiles, settle
from labbook import create_app
from labbook.accounts.models import Organization, PriceTier, Role, User
from labbook.booking.models import Booking, BookingState
from labbook.calendars import services as feed_services
from labbook.catalogue.models import Category, Instrument, Lab
from labbook.config import TestingConfig
from labbook.core.time import LAB_TZ
from labbook.extensions import db
from labbook.serving import post_worker_init

STATES = [BookingState.APPROVED] * 6 + [BookingState.PENDING, BookingState.COMPLETED,
                                        BookingState.CANCELLED, BookingState.IN_USE]


def setup(database_url: str, events: int) -> tuple:
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        # Every request here is one client polling far faster than any real one would.
        RATELIMIT_ENABLED = False

    app = create_app(Config)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        lab = Lab(code="NEM", name_zh="新能源材料开放共享实验室",
                  name_en="New-Energy Materials Lab",
                  location_zh="焦作市产业技术科学院 A座1–4层",
                  location_en="Jiaozuo Institute of Industrial Technology, Building A")
        category = Category(key="xrd", name_zh="X射线衍射", name_en="X-ray diffraction")
        instruments = [Instrument(code=f"NEM-{n:03d}", lab=lab, category=category,
                                  name_zh=f"X射线衍射仪 {n}", name_en=f"X-ray Diffractometer {n}",
                                  room=f"A{300 + n}") for n in range(20)]
        organizations = [Organization(name=f"基准单位{n}", uscc=f"91410800MA{n:07d}X",
                                      tier=PriceTier.EXTERNAL) for n in range(5)]
        users = [User(email=f"user{n}@example.cn", name=f"研究员{n}", role=Role.RESEARCHER,
                      organization=organizations[n % 5], password_hash="!")  # noqa: S106
                 for n in range(25)]
        manager = User(email="manager@example.cn", name="王主任", role=Role.LAB_MANAGER,
                       organization=organizations[0], managed_labs=[lab], locale="zh_CN",
                       password_hash="!")  # noqa: S106  (nobody signs in)
        db.session.add_all([lab, category, *instruments, *organizations, *users, manager])
        db.session.commit()
        today = dt.datetime.now(LAB_TZ).date()
        yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        rows = []
        for n in range(events):
            start = lab_time(today + dt.timedelta(days=n // 8 - 60), 8 + n % 8)
            end = start + dt.timedelta(hours=1)
            state = STATES[n % len(STATES)]
            changed = yesterday if state == BookingState.CANCELLED else start - dt.timedelta(days=2)
            rows.append({"instrument_id": instruments[n % 20].id, "user_id": users[n % 25].id,
                         "organization_id": users[n % 25].organization_id, "start_at": start,
                         "end_at": end, "blocked_until": end, "state": state,
                         "purpose": f"正极材料 XRD 物相分析，第 {n} 批样品",
                         "project_ref": f"PO-{n}",
                         "is_override": False, "is_late_cancellation": False,
                         "decision_note": "", "sequence": n % 3,
                         "cancelled_at": changed if state == BookingState.CANCELLED else None,
                         "created_at": changed - dt.timedelta(days=1), "updated_at": changed})
        db.session.execute(insert(Booking), rows)
        db.session.commit()
        _token, secret = feed_services.create_feed_token(
            db.session, manager, feed_services.Scope.parse("lab:NEM"),
            now=dt.datetime.now(dt.UTC))
        db.session.commit()
        settle(db.engine)
    return app, f"/ical/{secret}.ics"


def measure(run: Run, events: int, iterations: int) -> dict:
    with tempfile.TemporaryDirectory() as folder, run.database(folder) as database_url:
        app, path = setup(database_url, events)
        client = app.test_client()
        statements: list[str] = []
        with app.app_context():
            engine = db.engine

        def count(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        def timed(**headers) -> tuple[tuple[float, float], object, int]:
            statements.clear()
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(path, headers=headers)
            elapsed = time.perf_counter() - started, time.process_time() - started_cpu
            return elapsed, response, sum(1 for s in statements
                                          if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK")))

        event.listen(engine, "before_cursor_execute", count)
        _elapsed, first, _n = timed()  # writes last_used_at once
        assert first.status_code == 200
        etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
        shown = first.data.count(b"BEGIN:VEVENT")

        warm, cold, by_etag, by_date = [], [], [], []
        queries = {}
        # Each kind in a run of its own, as a poller sees it: interleaving 750 kB renders with
        # 304s would mostly measure the garbage the renders leave behind.
        for _ in range(iterations):
            elapsed, response, queries["full"] = timed()
            assert response.status_code == 200 and response.headers["ETag"] == etag
            warm.append(elapsed)
        for _ in range(iterations):
            elapsed, response, queries["304_if_none_match"] = timed(**{"If-None-Match": etag})
            assert response.status_code == 304
            by_etag.append(elapsed)
        for _ in range(iterations):
            elapsed, response, queries["304_if_modified_since"] = timed(
                **{"If-Modified-Since": last_modified})
            assert response.status_code == 304
            by_date.append(elapsed)
        for _ in range(max(5, iterations // 10)):
            fresh = create_app(type("Config", (TestingConfig,), {
                "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                "RATELIMIT_ENABLED": False}))
            post_worker_init(SimpleNamespace(wsgi=fresh))
            started, started_cpu = time.perf_counter(), time.process_time()
            response = fresh.test_client().get(path)
            elapsed = time.perf_counter() - started, time.process_time() - started_cpu
            assert response.headers["ETag"] == etag
            cold.append(elapsed)
            with fresh.app_context():
                db.engine.dispose()
        event.remove(engine, "before_cursor_execute", count)
        with app.app_context():
            db.engine.dispose()
        skip = min(10, iterations // 10)
        return {
            "events_in_feed": shown, "body_bytes": len(first.data),
            "full_feed_warm": wall_and_cpu(warm[skip:]),
            "full_feed_cold_render": wall_and_cpu(cold),
            "revalidate_304_if_none_match": wall_and_cpu(by_etag[skip:]),
            "revalidate_304_if_modified_since": wall_and_cpu(by_date[skip:]),
            "sql_statements_per_request": queries,
        }


def wall_and_cpu(samples: list[tuple[float, float]]) -> dict[str, float]:
    wall, cpu = zip(*samples, strict=True)
    return percentiles(wall, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, action="append",
                        help="bookings in the feed (repeatable); default 1000")
    parser.add_argument("--iterations", type=int, default=200)
    run = Run(parser, smoke={"events": [50], "iterations": 5})
    os.environ.setdefault("LABBOOK_ENV", "testing")
    results = [measure(run, n, run.args.iterations) for n in run.args.events or [1000]]
    run.report(results[0] if len(results) == 1 else {"runs": results})


if __name__ == "__main__":
    main()
