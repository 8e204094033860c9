"""Booking API latency with a large history, measured in-process (Flask test client).

Books as an ordinary researcher of a member organization, trained on every instrument that
needs it (so the qualification check runs, and a booking of an instrument that needs approval
waits for it and e-mails the lab's manager), and as an administrator (who skips both), in the
same run, and reports both. For each: wall-clock and CPU time (p50/p95, milliseconds) of
creating a booking (all rules checked), moving it an hour later (``PATCH``, all rules checked
again), a refused one (overlap, with suggestions) and one week of an instrument's availability,
and the function calls one request makes: a measure of the work that, unlike the timings, does
not change with whatever else a shared machine is doing. The creates are also timed apart for
bookings made at once and bookings that wait for approval (``approved_at_once``,
``waiting_for_approval``): a researcher's are a mixture of the two, whose p50 moves with the
share of each.

The history is ``--history`` bookings (repeatable: one database each) placed by
``--placement`` (repeatable too): ``past`` (finished bookings over the last ten years),
``future`` (approved bookings filling the coming months, from the fifth week on, after the days
the benchmark books) or ``both`` (half each). ``--database-url`` (repeatable too) is ``sqlite``
or a PostgreSQL server. Every combination gets a database of its own, and the requests go to
them and to the two actors in turn (A, B, A, B …), so that all of them see the same machine;
the JSON gives each one's p50 against the first's. Beside the timings, each kind of request's
SQL statements and COMMITs sent, and on PostgreSQL its BEGINs (there each a round trip to the
server; psycopg sends BEGIN only before a write or lock, ``core.engine.begin_at_first_write``,
and a request that only read sends no COMMIT either). On PostgreSQL the
CPU time is this process's only: the database server's work shows in the wall-clock time, and
so does each commit's wait for the disk, which SQLite in WAL mode does not make (its
``synchronous=NORMAL`` syncs at checkpoints): a PostgreSQL URL with
``?options=-c%20synchronous_commit%3Doff`` measures PostgreSQL without that wait.

    python benchmarks/booking_api.py --history 100000
    python benchmarks/booking_api.py --history 1000 --history 100000 --placement future
    python benchmarks/booking_api.py --history 100000 --placement past --placement future
    python benchmarks/booking_api.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/booking_api.py --history 100000 --database-url sqlite \
        --database-url postgresql://postgres@127.0.0.1:5432/postgres   # side by side
    python benchmarks/booking_api.py --database-url sqlite \
        --database-url postgresql://postgres@127.0.0.1:5432/postgres \
        --database-url 'postgresql://postgres@127.0.0.1:5432/postgres?options=-c%20synchronous_commit%3Doff'
    python benchmarks/booking_api.py --smoke   # does it still run? (tiny data, no figures)
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import random
import statistics
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from psycopg.pq import TransactionStatus
from sqlalchemy import event, func, insert, select

from benchmarks.cli import Run, Timings, alternating, calls_per_request, percentiles, settle
from labbook import create_app
from labbook.accounts.models import Organization, PriceTier, Role, User
from labbook.accounts.services import create_api_token
from labbook.booking.models import Booking, BookingState, Qualification
from labbook.catalogue.loader import load_catalogue
from labbook.catalogue.models import Instrument, Lab
from labbook.config import TestingConfig
from labbook.core.time import LAB_TZ
from labbook.extensions import db
from labbook.notify.models import OutboxMessage

TODAY = dt.datetime.now(LAB_TZ).date()
ACTORS = ("researcher", "admin")
PLACEMENTS = ("past", "future", "both")
KINDS = ("create", "move", "refuse_overlap", "availability_week")
#: Future history starts this many days ahead, after every day the benchmark books or reads.
FUTURE_FROM_DAYS = 28
#: Future history: a one-hour booking every two hours (no instrument's buffer exceeds an hour).
FUTURE_EVERY = dt.timedelta(hours=2)


def lab_time(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), LAB_TZ).astimezone(dt.UTC)


def weekdays_ahead(count: int) -> list[dt.date]:
    """The next ``count`` weekdays from the third day on: no instrument asks for more than two
    days' notice, and whatever the hour today, a slot two days after tomorrow is further off."""
    days, day = [], TODAY + dt.timedelta(days=3)
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


@dataclass
class Bench:
    """A database filled for the benchmark, and the app serving it."""

    app: Flask
    #: The API token secret of each actor.
    secrets: dict[str, str]
    #: The instruments one-hour bookings ten days ahead can be made on.
    instrument_ids: list[int]
    #: Taken slots (instrument, start) of one hour, to be refused.
    busy_slots: list[tuple[int, dt.datetime]]
    history: int = 0
    placement: str = "past"
    #: sqlite or postgresql
    database: str = "sqlite"


def bench_app(database_url: str) -> Flask:
    """The app the benchmark talks to, on the database at ``database_url``."""
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    return create_app(Config)


def setup(database_url: str, history: int, placement: str = "past",
          database: str | None = None) -> Bench:
    """Migrate the empty database at ``database_url``, load the catalogue, add the actors (an
    administrator, a researcher trained on every instrument, a manager for each lab) and
    ``history`` bookings placed as ``placement`` says, and book every usable instrument
    09:00–10:00 on the coming weekdays."""
    app = bench_app(database_url)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        load_catalogue(db.session, TODAY)
        now = dt.datetime.now(dt.UTC)
        institute = Organization(name="基准测试单位", uscc="91410800MA0000001P",
                                 tier=PriceTier.INTERNAL)
        university = Organization(name="基准测试大学", uscc="12410000MB0000002Q",
                                  tier=PriceTier.PARTNER)
        admin = User(email="bench@example.cn", name="Bench", role=Role.ADMIN,
                     organization=institute, password_hash="!")  # noqa: S106  (no login)
        researcher = User(email="researcher@example.cn", name="王研究", role=Role.RESEARCHER,
                          organization=university, password_hash="!")  # noqa: S106
        labs = list(db.session.scalars(select(Lab).order_by(Lab.id)))
        managers = [User(email=f"manager-{lab.code.lower()}@example.cn", name=f"{lab.code} 管理员",
                         role=Role.LAB_MANAGER, organization=institute, password_hash="!",  # noqa: S106
                         managed_labs=[lab]) for lab in labs]
        db.session.add_all([institute, university, admin, researcher, *managers])
        db.session.flush()
        instruments = list(db.session.scalars(select(Instrument).order_by(Instrument.id)))
        db.session.add_all(Qualification(user_id=researcher.id, instrument_id=instrument.id,
                                         granted_by_id=admin.id, granted_at=now)
                           for instrument in instruments if instrument.requires_qualification)
        db.session.commit()
        secrets = {}
        for name, user in (("researcher", researcher), ("admin", admin)):
            _token, secrets[name] = create_api_token(db.session, user, name="bench", now=now)
        db.session.commit()
        _fill_history(instruments, admin, institute, history, placement)
        usable = [i for i in instruments if i.slot_minutes <= 60 and i.min_minutes <= 60
                  <= i.max_minutes and i.horizon_days >= 30 and i.min_notice_minutes <= 2880
                  and i.status.value == "available"]
        busy_slots = _future_bookings(usable, admin, institute)
        settle(db.engine)
        return Bench(app, secrets, [instrument.id for instrument in usable], busy_slots,
                     history, placement, database or db.engine.dialect.name)


def _fill_history(instruments, user, organization, history: int, placement: str) -> None:
    """``history`` bookings: finished ones spread over the past ten years, approved ones
    packed into the coming months (from FUTURE_FROM_DAYS on), or half each."""
    future = {"past": 0, "future": history, "both": history // 2}[placement]
    rows = itertools.chain(_past_rows(instruments, user, organization, history - future),
                           _future_rows(instruments, user, organization, future))
    batch = list(itertools.islice(rows, 20_000))
    while batch:
        db.session.execute(insert(Booking), batch)
        db.session.commit()
        batch = list(itertools.islice(rows, 20_000))


def _past_rows(instruments, user, organization, count: int):
    rng = random.Random(42)
    for n in range(count):
        instrument = instruments[n % len(instruments)]
        start = lab_time(TODAY - dt.timedelta(days=1 + rng.randrange(3650)), 8 + rng.randrange(9))
        yield _row(instrument.id, user, organization, start, BookingState.COMPLETED, "history")


def _future_rows(instruments, user, organization, count: int):
    first = lab_time(TODAY + dt.timedelta(days=FUTURE_FROM_DAYS), 0)
    for n in range(count):
        instrument = instruments[n % len(instruments)]
        start = first + (n // len(instruments)) * FUTURE_EVERY
        yield _row(instrument.id, user, organization, start, BookingState.APPROVED, "planned")


def _row(instrument_id: int, user, organization, start: dt.datetime, state: BookingState,
         purpose: str) -> dict:
    end = start + dt.timedelta(hours=1)
    return {"instrument_id": instrument_id, "user_id": user.id,
            "organization_id": organization.id, "start_at": start, "end_at": end,
            "blocked_until": end, "state": state, "purpose": purpose, "project_ref": "",
            "is_override": False, "is_late_cancellation": False, "decision_note": "",
            "sequence": 0, "created_at": start, "updated_at": start}


def _future_bookings(instruments, user, organization) -> list[tuple[int, dt.datetime]]:
    """Every usable instrument is booked 09:00–10:00 on the coming weekdays."""
    slots = [(instrument.id, lab_time(day, 9)) for instrument in instruments
             for day in weekdays_ahead(15)]
    db.session.execute(insert(Booking), [
        _row(instrument_id, user, organization, start, BookingState.APPROVED, "future")
        for instrument_id, start in slots])
    db.session.commit()
    return slots


class Requests:
    """The four requests of the benchmark against one bench, as one actor."""

    def __init__(self, bench: Bench, actor: str, free_slots: list[tuple[int, dt.datetime]]
                 ) -> None:
        self.app = bench.app
        self.client = bench.app.test_client()
        self.headers = {"Authorization": f"Bearer {bench.secrets[actor]}"}
        self.busy = bench.busy_slots
        self.free = free_slots
        self.pending: list[bool] = []

    def open(self, method: str, path: str, **kwargs):
        return self.client.open(path, method=method, headers=self.headers, **kwargs)

    def create(self, n: int) -> int:
        response = self.open("POST", "/api/v1/bookings", json=_booking(*self.free[n]))
        assert response.status_code == 201, response.json
        #: Whether each booking made waits for approval (its manager e-mailed), in order.
        self.pending.append(response.json["state"] == "pending")
        return response.json["id"]

    def move(self, n: int, booking_id: int) -> None:
        later = self.free[n][1] + dt.timedelta(hours=1)
        response = self.open("PATCH", f"/api/v1/bookings/{booking_id}", json={
            "start": later.isoformat(), "end": (later + dt.timedelta(hours=1)).isoformat()})
        assert response.status_code == 200, response.json

    def refuse(self, n: int) -> None:
        response = self.open("POST", "/api/v1/bookings",
                             json=_booking(*self.busy[n % len(self.busy)]))
        assert response.status_code == 409 and response.json["code"] == "overlap", response.json

    def work_per_request(self, first_free: int, samples: int) -> dict[str, dict]:
        """Function calls, SQL statements and commits of each kind of request, creating and
        moving bookings in the free slots from ``first_free`` on."""
        created: list[int] = []
        return {
            "create": self._work(lambda n: created.append(self.create(first_free + n)),
                                 samples),
            "move": self._work(lambda n: self.move(first_free + n, created[n]), samples),
            "refuse_overlap": self._work(self.refuse, samples),
            "availability_week": self._work(self.availability, samples),
        }

    def _work(self, request: Callable[[int], object], samples: int) -> dict:
        with self.app.app_context():
            engine = db.engine
        counts = {"statements": 0, "begins": 0, "commits": 0}
        on_postgresql = engine.dialect.name == "postgresql"

        def statement(connection, *_args) -> None:
            counts["statements"] += 1
            # psycopg sends BEGIN before a statement that finds no transaction open, unless in
            # autocommit mode (this listener runs after core.engine's, which decides that).
            driver = connection.connection.driver_connection
            if on_postgresql and not driver.autocommit and not _in_transaction(driver):
                counts["begins"] += 1

        def commit(connection) -> None:
            # Before the driver's commit, which sends nothing where no transaction is open.
            if _in_transaction(connection.connection.driver_connection):
                counts["commits"] += 1

        listeners = [("before_cursor_execute", statement), ("commit", commit)]
        for name, listener in listeners:
            event.listen(engine, name, listener)
        try:
            calls = calls_per_request(request, samples)
        finally:
            for name, listener in listeners:
                event.remove(engine, name, listener)
        return {"python_calls": calls,
                "sql_statements": round(counts["statements"] / samples, 1),
                # SQLite's BEGINs are no round trips, and a write begins twice in place
                # (core.engine.write_transaction): counted on PostgreSQL only.
                "begins": round(counts["begins"] / samples, 1) if on_postgresql else None,
                "commits": round(counts["commits"] / samples, 1)}

    def availability(self, n: int) -> None:
        instrument_id = self.busy[n % len(self.busy)][0]
        week_start = lab_time(TODAY + dt.timedelta(days=n % 14), 0)
        response = self.open("GET", f"/api/v1/instruments/{instrument_id}/availability",
                             query_string={"start": week_start.isoformat(),
                                           "end": (week_start + dt.timedelta(days=7)).isoformat()})
        assert response.status_code == 200, response.json


def _in_transaction(driver_connection) -> bool:
    """Whether the driver's connection has a transaction open (psycopg or sqlite3)."""
    info = getattr(driver_connection, "info", None)
    if info is not None and hasattr(info, "transaction_status"):
        return info.transaction_status != TransactionStatus.IDLE
    return driver_connection.in_transaction


#: Round after round both actors book the same instrument on the same day, one at 10 o'clock
#: and the other at 14 (moved an hour later, with the longest buffer of 30 minutes, neither
#: reaches the other): their figures compare the same bookings.
ACTOR_HOURS = {"researcher": 10, "admin": 14}


def free_slots(bench: Bench, actor: str) -> list[tuple[int, dt.datetime]]:
    """The one-hour slots (instrument, start) that ``actor`` books, in the order booked."""
    days = [(instrument_id, day) for day in weekdays_ahead(15)
            for instrument_id in bench.instrument_ids]
    random.Random(7).shuffle(days)
    return [(instrument_id, lab_time(day, ACTOR_HOURS[actor])) for instrument_id, day in days]


def _booking(instrument_id: int, start: dt.datetime) -> dict:
    return {"instrument_id": instrument_id, "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=1)).isoformat(), "purpose": "bench"}


def measure(benches: list[Bench], iterations: int) -> list[dict]:
    """Round after round, on each bench as each actor in turn: create, move, refuse and read a
    week's availability; then count the function calls of each kind of request."""
    requests = {(id(bench), actor): Requests(bench, actor, free_slots(bench, actor))
                for bench in benches for actor in ACTORS}
    timings = {key: {kind: Timings() for kind in KINDS} for key in requests}
    for n, key in alternating(iterations, list(requests)):
        request, timed = requests[key], timings[key]
        booking_id = timed["create"](request.create, n)
        timed["move"](request.move, n, booking_id)
        timed["refuse_overlap"](request.refuse, n)
        timed["availability_week"](request.availability, n)
    # Python function calls per request: the work done, whatever else the machine is doing
    # (timings on a shared machine vary by half between runs; these do not).
    samples = min(50, iterations)
    results = []
    # The first requests warm caches and the connection pool; leave them out.
    skip = min(20, iterations // 10)
    for bench in benches:
        result: dict = {"database": bench.database, "history_bookings": bench.history,
                        "placement": bench.placement}
        for actor in ACTORS:
            request, timed = requests[id(bench), actor], timings[id(bench), actor]
            work = request.work_per_request(first_free=iterations, samples=samples)
            figures = {kind: {**timed[kind].summary(skip), **work[kind]} for kind in KINDS}
            figures["create"] |= _by_approval(timed["create"], request.pending, skip)
            figures["move_vs_create"] = {
                "p50_ratio": _ratio(timed["move"].wall[skip:], timed["create"].wall[skip:]),
                "cpu_p50_ratio": _ratio(timed["move"].cpu[skip:], timed["create"].cpu[skip:]),
                "python_calls_ratio": round(work["move"]["python_calls"]
                                            / work["create"]["python_calls"], 2)}
            result[actor] = figures
        with bench.app.app_context():
            result["researcher"]["approval_emails_queued"] = db.session.scalar(
                select(func.count()).select_from(OutboxMessage)
                .where(OutboxMessage.kind == "booking_requested"))
        results.append(result)
    return results


def _by_approval(timed: Timings, pending: list[bool], skip: int) -> dict:
    """The creates' timings apart for bookings made at once and bookings that wait for
    approval (and e-mail the lab's manager): a researcher's creates are a mixture of the two,
    whose p50 moves with the share of each among the slots booked."""
    parts = {}
    for name, waits in (("approved_at_once", False), ("waiting_for_approval", True)):
        chosen = [n for n in range(skip, len(timed.wall)) if pending[n] == waits]
        if chosen:
            parts[name] = percentiles([timed.wall[n] for n in chosen],
                                      [timed.cpu[n] for n in chosen])
    return parts


def _ratio(samples: list[float], base: list[float]) -> float:
    return round(statistics.median(samples) / statistics.median(base), 2)


def ratios_to_first(results: list[dict]) -> list[dict]:
    """Each database's p50 (wall and CPU) and function calls against the first one's."""
    base = results[0]
    return [{"database": result["database"], "history_bookings": result["history_bookings"],
             "placement": result["placement"],
             **{actor: {kind: {
                 "p50_ratio": round(result[actor][kind]["p50_ms"]
                                    / base[actor][kind]["p50_ms"], 2),
                 "cpu_p50_ratio": round(result[actor][kind]["cpu_p50_ms"]
                                        / base[actor][kind]["cpu_p50_ms"], 2),
                 "python_calls_ratio": round(result[actor][kind]["python_calls"]
                                             / base[actor][kind]["python_calls"], 2)}
                 for kind in KINDS} for actor in ACTORS}}
            for result in results[1:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=int, action="append",
                        help="bookings in the database besides the benchmark's (repeatable: a "
                             "database each); default 100000")
    parser.add_argument("--placement", choices=PLACEMENTS, action="append",
                        help="where the history lies: past, future (the coming months) or "
                             "both (half each); repeatable; default past")
    parser.add_argument("--iterations", type=int, default=500,
                        help="requests of each kind, on each database, as each actor")
    run = Run(parser, compare_databases=True,
              smoke={"history": [200], "placement": ["past", "future"], "iterations": 5})
    args = run.args
    os.environ.setdefault("LABBOOK_ENV", "testing")
    configurations = [(server, history, placement) for server in run.servers
                      for history in args.history or [100_000]
                      for placement in args.placement or ["past"]]
    with tempfile.TemporaryDirectory() as folder, ExitStack() as databases:
        benches = [setup(databases.enter_context(run.database(folder, server)), history,
                         placement, run.dialect(server))
                   for server, history, placement in configurations]
        try:
            results = measure(benches, args.iterations)
        finally:
            for bench in benches:
                with bench.app.app_context():
                    db.engine.dispose()
    run.report({"runs": results,
                **({"ratios_to_first": ratios_to_first(results)} if len(results) > 1 else {})})


if __name__ == "__main__":
    main()
