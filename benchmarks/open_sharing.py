"""Open-sharing statistics, owner settlements and the public open-sharing page, measured
in-process (SQLite file or PostgreSQL).

Loads the real catalogue (163 instruments with their owner units) and a whole calendar year
of use — last year, as ``benchmarks/reports.py`` builds it: BOOKINGS bookings in a realistic
mix of states with their charges, SERVICE_REQUESTS testing-service requests with theirs —
gives every owner an agreement, and then times:

* the year's open-sharing statistics of every lab (``reports.sharing.sharing_statistics``,
  every figure of every large instrument and lab; target ≤ 1 s);
* the owners' settlement overview of one month (``reports.settlements.owner_totals``);
* the statistics page and its XLSX, fetched by an admin;
* the public open-sharing page (``/open-sharing``, no sign-in; target p50 ≤ 50 ms), the
  first fetch (the year's figures computed) apart from the rest (the figures cached).

Prints JSON: wall and CPU p50/p95 of each, and whether the targets are met.

    python benchmarks/open_sharing.py --bookings 100000 --service-requests 20000
    python benchmarks/open_sharing.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/open_sharing.py --smoke   # does it still run? (tiny data, no figures)
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from benchmarks import reports as year_of_use
from benchmarks.cli import Run, Timings, settle
from labbook import create_app
from labbook.billing.models import Charge
from labbook.booking.models import Booking
from labbook.catalogue.models import Lab, Owner
from labbook.config import TestingConfig
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.owners.models import OwnerAgreement
from labbook.reports import public, settlements, sharing
from labbook.reports.periods import month_period

YEAR = year_of_use.TODAY.year - 1
STATISTICS_TARGET_SECONDS = 1.0
PUBLIC_TARGET_MS = 50


def _timed(action: Callable[[], object], iterations: int) -> dict:
    timings = Timings()
    for _ in range(iterations):
        timings(action)
    return timings.summary()


def measure(run: Run, bookings: int, service_requests: int, organizations: int,
            iterations: int) -> dict:
    # The year of use is last year, Monday to Friday, from 1 January.
    year_of_use.FIRST_DAY = dt.date(YEAR, 1, 1)
    with tempfile.TemporaryDirectory() as folder, run.database(folder) as database_url:
        class Config(TestingConfig):
            SQLALCHEMY_DATABASE_URI = database_url

        app = create_app(Config)
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            started = time.perf_counter()
            year_of_use.build(bookings, service_requests, organizations)
            for owner in db.session.scalars(select(Owner)):
                db.session.add(OwnerAgreement(owner_id=owner.id,
                                              effective_from=dt.date(YEAR - 1, 1, 1),
                                              time_share_percent=60, testing_share_percent=40))
            db.session.commit()
            settle(db.engine)
            built_in = time.perf_counter() - started
            counts = {"bookings": db.session.scalar(select(func.count(Booking.id))),
                      "charges": db.session.scalar(select(func.count(Charge.id))),
                      "instruments_with_an_owner": db.session.scalar(
                          select(func.count()).select_from(Owner).join(Owner.instruments))}
            labs = list(db.session.scalars(select(Lab).order_by(Lab.code)))
            now = utcnow()
            result = sharing.sharing_statistics(db.session, labs, YEAR, now=now)
            figures = {"large_instruments": sum(len(lab.instruments) for lab in result.labs),
                       "effective_hours": round(result.totals.effective_seconds / 3600),
                       "counted_bookings": result.totals.bookings}
            statistics_time = _timed(lambda: sharing.sharing_statistics(
                db.session, labs, YEAR, now=now), iterations)
            settlement_time = _timed(lambda: settlements.owner_totals(
                db.session, month_period(dt.date(YEAR, 6, 1))), iterations)
        admin = app.test_client()
        signed_in = admin.post("/login", data={"email": year_of_use.ADMIN_EMAIL,
                                               "password": year_of_use.ADMIN_PASSWORD})
        assert signed_in.status_code == 302, "the admin could not sign in"

        def fetch(client, url: str) -> Callable[[], None]:
            def get() -> None:
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
            return get

        pages = {url: _timed(fetch(admin, url), max(1, iterations // 2))
                 for url in (f"/reports/open-sharing?year={YEAR}",
                             f"/reports/open-sharing.xlsx?year={YEAR}")}
        visitor = app.test_client()
        public.forget_figures()
        first = _timed(fetch(visitor, "/open-sharing"), 1)
        public_page = _timed(fetch(visitor, "/open-sharing"), iterations * 5)
        other_labs = {lab.code: _timed(fetch(visitor, f"/open-sharing?lab={lab.code}"),
                                       iterations * 2) for lab in labs}
        with app.app_context():
            db.engine.dispose()
    statistics_seconds = statistics_time["p50_ms"] / 1000
    return {
        "year": YEAR, "rows": counts, "figures": figures, "setup_seconds": round(built_in, 1),
        "statistics": statistics_time, "settlement_overview_month": settlement_time,
        "pages": pages, "public_page_first_fetch": first, "public_page": public_page,
        "public_page_by_lab": other_labs,
        "statistics_target_seconds": STATISTICS_TARGET_SECONDS,
        "statistics_within_target": statistics_seconds <= STATISTICS_TARGET_SECONDS,
        "public_target_ms": PUBLIC_TARGET_MS,
        "public_within_target": public_page["p50_ms"] <= PUBLIC_TARGET_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=100_000)
    parser.add_argument("--service-requests", type=int, default=20_000)
    parser.add_argument("--organizations", type=int, default=300)
    parser.add_argument("--iterations", type=int, default=10)
    run = Run(parser, smoke={"bookings": 500, "service_requests": 50, "organizations": 10,
                             "iterations": 1})
    args = run.args
    run.report(measure(run, args.bookings, args.service_requests, args.organizations,
                       args.iterations))


if __name__ == "__main__":
    main()
