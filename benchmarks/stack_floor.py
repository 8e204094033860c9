"""What the chosen stack costs at the least for one booking, beside what labbook's API costs.

The issue's latency targets are measured in-process with the Flask test client on a SQLite file.
This script puts a bare endpoint on the benchmark's app that does only the irreducible work of a
booking and none of labbook's rules: it finds the token's user, takes the write lock, reads the
instrument, its closures and its held time, inserts the booking and its audit event, commits
and answers JSON — all in SQLAlchemy Core, no ORM objects, one transaction. The same app's
request hooks (request id, log line, rate limiter, security headers) run for both endpoints.
Requests to the two endpoints alternate, so that both see the same machine. Prints JSON: wall
and CPU time of each.

    python benchmarks/stack_floor.py --history 100000
    python benchmarks/stack_floor.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/stack_floor.py --smoke   # does it still run? (tiny data, no figures)
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask, request  # noqa: E402
from sqlalchemy import bindparam, select  # noqa: E402

from benchmarks.booking_api import lab_time, setup, weekdays_ahead  # noqa: E402
from benchmarks.cli import Run, Timings, alternating  # noqa: E402
from labbook.accounts.models import ApiToken, User  # noqa: E402
from labbook.audit.models import AuditEvent  # noqa: E402
from labbook.booking.models import SLOT_HOLDING, Blackout, Booking, BookingState  # noqa: E402
from labbook.catalogue.models import Instrument  # noqa: E402
from labbook.core.engine import BEGIN_IMMEDIATE  # noqa: E402
from labbook.extensions import db  # noqa: E402

USERS, TOKENS = User.__table__, ApiToken.__table__
INSTRUMENTS, BOOKINGS, BLACKOUTS = Instrument.__table__, Booking.__table__, Blackout.__table__

TOKEN_USER = (
    select(USERS.c.id, USERS.c.organization_id, USERS.c.name, USERS.c.email)
    .join(TOKENS, TOKENS.c.user_id == USERS.c.id)
    .where(TOKENS.c.token_hash == bindparam("token_hash"), TOKENS.c.revoked_at.is_(None),
           USERS.c.is_active.is_(True)))
INSTRUMENT = select(
    INSTRUMENTS.c.lab_id, INSTRUMENTS.c.buffer_minutes, INSTRUMENTS.c.requires_approval,
).where(INSTRUMENTS.c.id == bindparam("instrument_id"))
CLOSURES = select(BLACKOUTS.c.id).where(
    (BLACKOUTS.c.instrument_id == bindparam("instrument_id"))
    | (BLACKOUTS.c.lab_id == bindparam("lab_id")),
    BLACKOUTS.c.end_at > bindparam("start"), BLACKOUTS.c.start_at < bindparam("end"))
HELD = select(BOOKINGS.c.id).where(
    BOOKINGS.c.instrument_id == bindparam("instrument_id"),
    BOOKINGS.c.blocked_until > bindparam("start"), BOOKINGS.c.start_at < bindparam("end"),
    BOOKINGS.c.state.in_(SLOT_HOLDING))
INSERT_BOOKING = BOOKINGS.insert().returning(BOOKINGS.c.id)
INSERT_EVENT = AuditEvent.__table__.insert()


def add_bare_endpoint(app: Flask) -> None:
    """``POST /bare/bookings``: the least a booking needs, for comparison only."""

    @app.post("/bare/bookings")
    def bare_booking():
        body = request.get_json()
        secret = request.headers["Authorization"].removeprefix("Bearer ")
        instrument_id = int(body["instrument_id"])
        start = dt.datetime.fromisoformat(body["start"])
        end = dt.datetime.fromisoformat(body["end"])
        now = dt.datetime.now(dt.UTC)
        connection = db.session.connection(execution_options={BEGIN_IMMEDIATE: True})
        user = connection.execute(TOKEN_USER, {
            "token_hash": hashlib.sha256(secret.encode()).hexdigest()}).one()
        instrument = connection.execute(INSTRUMENT, {"instrument_id": instrument_id}).one()
        blocked_until = end + dt.timedelta(minutes=instrument.buffer_minutes)
        window = {"instrument_id": instrument_id, "start": start, "end": blocked_until}
        if (connection.execute(CLOSURES, {**window, "lab_id": instrument.lab_id}).first()
                or connection.execute(HELD, window).first()):
            db.session.rollback()
            return {"code": "overlap"}, 409
        booking_id = connection.execute(INSERT_BOOKING, {
            "instrument_id": instrument_id, "user_id": user.id,
            "organization_id": user.organization_id, "start_at": start, "end_at": end,
            "blocked_until": blocked_until, "state": BookingState.APPROVED,
            "purpose": body["purpose"], "project_ref": "", "is_override": False,
            "is_late_cancellation": False, "decision_note": "", "sequence": 0,
            "created_at": now, "updated_at": now, "decided_by_id": user.id,
            "decided_at": now}).scalar_one()
        connection.execute(INSERT_EVENT, {
            "actor_id": user.id, "object_type": "bookings", "object_id": booking_id,
            "action": "create", "from_state": None, "to_state": "approved", "note": "",
            "details": {}, "at": now})
        db.session.commit()
        return {"id": booking_id, "instrument_id": instrument_id, "state": "approved",
                "start": start.isoformat(), "end": end.isoformat(),
                "user": {"id": user.id, "name": user.name, "email": user.email}}, 201


def measure(run: Run, history: int, iterations: int) -> dict:
    with tempfile.TemporaryDirectory() as folder, run.database(folder) as database_url:
        bench = setup(database_url, history)
        add_bare_endpoint(bench.app)
        client = bench.app.test_client()
        headers = {"Authorization": f"Bearer {bench.secrets['admin']}"}
        slots = [(instrument_id, lab_time(day, hour)) for day in weekdays_ahead(15)
                 for hour in (10, 13, 15) for instrument_id in bench.instrument_ids]
        random.Random(7).shuffle(slots)
        paths = {"labbook": "/api/v1/bookings", "bare": "/bare/bookings"}
        timings = {kind: Timings() for kind in paths}
        for n, (_round, kind) in enumerate(alternating(iterations, ("bare", "labbook"))):
            instrument_id, start = slots[n]
            response = timings[kind](
                client.post, paths[kind], headers=headers,
                json={"instrument_id": instrument_id, "start": start.isoformat(),
                      "end": (start + dt.timedelta(hours=1)).isoformat(), "purpose": "bench"})
            assert response.status_code == 201, response.json
        healthz = Timings()
        for _ in range(iterations):
            healthz(client.get, "/healthz")
        with bench.app.app_context():
            db.engine.dispose()
        skip = min(20, iterations // 10)
        return {"history_bookings": history,
                "create_labbook": timings["labbook"].summary(skip),
                "create_bare_core": timings["bare"].summary(skip),
                "healthz": healthz.summary(skip)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=500)
    run = Run(parser, smoke={"history": 200, "iterations": 5})
    os.environ.setdefault("LABBOOK_ENV", "testing")
    run.report(measure(run, run.args.history, run.args.iterations))


if __name__ == "__main__":
    main()
