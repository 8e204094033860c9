"""A week's availability of an instrument with channels against a single-channel one, measured
in alternation in the same run (Flask test client; a SQLite file, or PostgreSQL).

Both instruments hold the same number of bookings in the week: the single-channel one a full
working week of one-hour bookings, the 16-channel cycler as many longer runs spread over its
channels. Prints JSON: wall-clock and CPU p50/p95 in milliseconds and the Python function calls
per request for each, and their ratios; the target is a ratio of at most 1.5.

    python benchmarks/channel_availability.py
    python benchmarks/channel_availability.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/channel_availability.py --smoke   # does it still run? (few iterations)
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from benchmarks.cli import Run, Timings, alternating, calls_per_request, settle
from labbook import create_app
from labbook.accounts.models import Organization, PriceTier, Role, User
from labbook.booking.models import Booking, BookingState
from labbook.catalogue.models import Category, Instrument, Lab, OpeningHours
from labbook.config import TestingConfig
from labbook.core.time import LAB_TZ
from labbook.extensions import db

TARGET_RATIO = 1.5
CHANNELS = 16


def lab_time(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), LAB_TZ).astimezone(dt.UTC)


def next_monday() -> dt.date:
    today = dt.datetime.now(LAB_TZ).date()
    return today + dt.timedelta(days=7 - today.weekday())


def setup(database_url: str) -> tuple:
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    app = create_app(Config)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        lab = Lab(code="NEM", name_zh="新能源实验室", name_en="New Energy Lab")
        lab.opening_hours = [OpeningHours(weekday=d, opens_at=dt.time(8), closes_at=dt.time(18))
                             for d in range(5)]
        category = Category(key="battery-cycler", name_zh="电池测试", name_en="Battery testing")
        single = Instrument(code="NEM-001", lab=lab, category=category, name_zh="单通道",
                            name_en="Single", value_cny=Decimal("1.00"))
        cycler = Instrument(code="NEM-002", lab=lab, category=category, name_zh="电池测试系统",
                            name_en="Battery cycler", value_cny=Decimal("1.00"),
                            channels=CHANNELS, max_minutes=60 * 24 * 7)
        organization = Organization(name="基准测试单位", uscc="91410800MA0000001P",
                                    tier=PriceTier.INTERNAL)
        user = User(email="bench@example.cn", name="Bench", role=Role.RESEARCHER,
                    organization=organization, password_hash="!")  # noqa: S106  (no login)
        db.session.add_all([lab, category, single, cycler, organization, user])
        db.session.commit()
        monday = next_monday()
        rows = []

        def row(instrument: Instrument, start: dt.datetime, end: dt.datetime, mask: int) -> dict:
            return {"instrument_id": instrument.id, "user_id": user.id,
                    "organization_id": organization.id, "start_at": start, "end_at": end,
                    "blocked_until": end, "state": BookingState.APPROVED, "channel_mask": mask,
                    "purpose": "bench", "project_ref": "", "is_override": False,
                    "is_late_cancellation": False, "decision_note": "", "sequence": 0,
                    "created_at": start, "updated_at": start}

        for day in (monday + dt.timedelta(days=n) for n in range(5)):
            for hour in range(8, 18):
                rows.append(row(single, lab_time(day, hour), lab_time(day, hour + 1), 1))
            # As many runs on the cycler: each day, ten runs of 3-6 hours on ten channels.
            for n in range(10):
                channel = (n + day.weekday() * 3) % CHANNELS
                start = lab_time(day, 8 + n % 4)
                rows.append(row(cycler, start, start + dt.timedelta(hours=3 + n % 4),
                                1 << channel))
        db.session.execute(insert(Booking), rows)
        db.session.commit()
        settle(db.engine)
        return app, single.id, cycler.id, monday


def measure(run: Run, iterations: int) -> dict:
    with tempfile.TemporaryDirectory() as folder, run.database(folder) as database_url:
        app, single_id, cycler_id, monday = setup(database_url)
        client = app.test_client()
        window = {"start": lab_time(monday, 0).isoformat(),
                  "end": lab_time(monday + dt.timedelta(days=7), 0).isoformat()}

        def week(instrument_id: int) -> None:
            response = client.get(f"/api/v1/instruments/{instrument_id}/availability",
                                  query_string=window)
            assert response.status_code == 200, response.json

        assert client.get(f"/api/v1/instruments/{cycler_id}/availability",
                          query_string=window).json["capacity"]
        timings = {single_id: Timings(), cycler_id: Timings()}
        # Alternated, so that whatever else the machine does weighs on both alike.
        for _round, instrument_id in alternating(iterations, timings):
            timings[instrument_id](week, instrument_id)
        skip = min(10, iterations // 10)
        single = {**timings[single_id].summary(skip),
                  "python_calls": calls_per_request(lambda _n: week(single_id), 20)}
        channelled = {**timings[cycler_id].summary(skip),
                      "python_calls": calls_per_request(lambda _n: week(cycler_id), 20)}
        with app.app_context():
            db.engine.dispose()
        ratio = channelled["p50_ms"] / single["p50_ms"]
        return {"bookings_per_week_each": 50, "channels": CHANNELS,
                "single_channel_week": single, "channelled_week": channelled,
                "ratio_p50": round(ratio, 3),
                "ratio_cpu_p50": round(channelled["cpu_p50_ms"] / single["cpu_p50_ms"], 3),
                "ratio_python_calls": round(channelled["python_calls"]
                                            / single["python_calls"], 3),
                "target_ratio": TARGET_RATIO, "within_target": ratio <= TARGET_RATIO}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    run = Run(parser, smoke={"iterations": 20})
    run.report(measure(run, run.args.iterations))


if __name__ == "__main__":
    main()
