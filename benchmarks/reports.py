"""Report pages over a year of use, measured in-process (Flask test client; SQLite file or
PostgreSQL).

Loads the real catalogue (3 labs, 163 instruments, 277 testing services), then the last 365
days of use: BOOKINGS bookings in a realistic mix of states with their charges (usage,
no-show, late cancellation), SERVICE_REQUESTS completed testing-service requests with theirs,
and some adjustments. Every report page and export is then fetched by an admin for that year
and all labs, each row choice in turn, and so are the dashboards. Prints JSON: wall-clock and
CPU p50/p95 in milliseconds and the SQL statements per page, and the slowest page's p50 against
the target.
The admin signs in through the sign-in form, as a person does.

    python benchmarks/reports.py --bookings 100000
    python benchmarks/reports.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/reports.py --smoke   # does it still run? (tiny data, no figures)
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, func, insert, select

from benchmarks.booking_api import lab_time
from benchmarks.cli import Run, Timings, settle
from labbook import create_app
from labbook.accounts.models import Organization, PriceTier, Role, User
from labbook.accounts.services import hash_password
from labbook.billing.models import Charge, ChargeKind
from labbook.booking.models import Booking, BookingState
from labbook.catalogue.loader import load_catalogue
from labbook.catalogue.models import Instrument, TestingService
from labbook.config import TestingConfig
from labbook.core.time import LAB_TZ
from labbook.extensions import db
from labbook.orders.models import (
    LineState,
    Order,
    OrderLine,
    OrderState,
    Remains,
    ReportLanguage,
)
from labbook.reports import views

TODAY = dt.datetime.now(LAB_TZ).date()
FIRST_DAY = TODAY - dt.timedelta(days=364)
TARGET_MS = 500
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.cn", "benchmark-admin-password"
TIERS = list(PriceTier)
HOURLY = {PriceTier.INTERNAL: 60, PriceTier.PARTNER: 80, PriceTier.EXTERNAL: 100}
# Shares of the bookings' states, by weight: most are used, a few missed or called off.
STATES = ([BookingState.COMPLETED] * 80 + [BookingState.NO_SHOW] * 4
          + [BookingState.CANCELLED] * 9 + [BookingState.REJECTED] * 3
          + [BookingState.EXPIRED] * 2 + [BookingState.APPROVED] * 2)
#: The lab-time hours a generated booking may start at on a weekday.
DAILY_STARTS = (8, 13, 18)
BATCH = 20_000


def build(bookings: int, service_requests: int, organizations: int) -> None:
    load_catalogue(db.session, TODAY)
    orgs = [Organization(name=f"基准企业{n:04d}", uscc=f"91410800MA{n:07d}X",
                         tier=TIERS[n % 3]) for n in range(organizations)]
    users = [User(email=f"user{n}@example.cn", name=f"研究员{n}", role=Role.RESEARCHER,
                  organization=org, password_hash="!")  # noqa: S106  (nobody signs in)
             for n, org in enumerate(orgs)]
    admin = User(email=ADMIN_EMAIL, name="管理员", role=Role.ADMIN, organization=orgs[0],
                 password_hash=hash_password(ADMIN_PASSWORD))
    db.session.add_all([*orgs, *users, admin])
    db.session.commit()
    instruments = db.session.execute(select(Instrument.id, Instrument.lab_id)).all()
    people = db.session.execute(select(User.id, User.organization_id, Organization.tier)
                                .join(User.organization).where(User.role == Role.RESEARCHER)
                                ).all()
    rng = random.Random(42)
    weekdays = [day for day in (FIRST_DAY + dt.timedelta(days=n) for n in range(365))
                if day.weekday() < 5]
    # Each instrument's day has three places a booking of up to four hours may start in, so
    # that no two overlap (the database refuses that on both engines). Bookings are made as
    # time goes by, so the table holds them roughly in order of time.
    places = len(instruments) * len(weekdays) * len(DAILY_STARTS)
    if bookings > places:
        raise SystemExit(f"at most {places} bookings fit in the year without overlapping")
    chosen = sorted(rng.sample(range(places), bookings),
                    key=lambda place: (place // len(DAILY_STARTS)) % len(weekdays))
    booking_rows, charge_specs = [], []
    for n, place in enumerate(chosen):
        slot, day_and_instrument = place % len(DAILY_STARTS), place // len(DAILY_STARTS)
        instrument_id, lab_id = instruments[day_and_instrument // len(weekdays)]
        start = lab_time(weekdays[day_and_instrument % len(weekdays)], DAILY_STARTS[slot])
        user_id, org_id, tier = people[rng.randrange(len(people))]
        length = 1 + rng.randrange(4)
        end = start + dt.timedelta(hours=length)
        state = STATES[rng.randrange(len(STATES))]
        late = state == BookingState.CANCELLED and rng.random() < 0.3
        used = state == BookingState.COMPLETED
        booking_rows.append({
            "instrument_id": instrument_id, "user_id": user_id,
            "organization_id": org_id, "start_at": start, "end_at": end,
            "blocked_until": end, "state": state, "purpose": "基准", "project_ref": "",
            "is_override": False, "is_late_cancellation": late, "decision_note": "",
            "sequence": 0, "created_at": start - dt.timedelta(days=3), "updated_at": start,
            "checked_in_at": start + dt.timedelta(minutes=rng.randrange(15)) if used else None,
            "checked_out_at": end - dt.timedelta(minutes=rng.randrange(30)) if used else None})
        kind = {BookingState.COMPLETED: ChargeKind.USAGE, BookingState.NO_SHOW:
                ChargeKind.NO_SHOW}.get(state, ChargeKind.LATE_CANCELLATION if late else None)
        if kind is not None:
            share = {ChargeKind.USAGE: 100, ChargeKind.NO_SHOW: 100}.get(kind, 50)
            charge_specs.append((n, kind, org_id, lab_id, instrument_id, start,
                                 tier, Decimal(HOURLY[tier] * length * share) / 100))
    for offset in range(0, len(booking_rows), BATCH):
        db.session.execute(insert(Booking), booking_rows[offset:offset + BATCH])
    db.session.commit()
    first_id = db.session.scalar(select(func.min(Booking.id)))
    charges = [{"kind": kind, "organization_id": org_id, "lab_id": lab_id,
                "booking_id": first_id + n, "instrument_id": instrument_id,
                "occurred_at": start, "period": start.astimezone(LAB_TZ).strftime("%Y-%m"),
                "tier": tier, "share_percent": 100, "amount": amount, "reason": "",
                "created_at": start}
               for n, kind, org_id, lab_id, instrument_id, start, tier, amount in charge_specs]
    services = db.session.execute(select(TestingService.id, TestingService.lab_id)).all()
    # Testing: one-line orders, completed and charged, as the orders area leaves them.
    orders, lines = [], []
    for n in range(service_requests):
        service_id, lab_id = services[rng.randrange(len(services))]
        user_id, org_id, tier = people[rng.randrange(len(people))]
        created = lab_time(weekdays[rng.randrange(len(weekdays) - 15)], 9 + rng.randrange(8))
        completed = created + dt.timedelta(days=1 + rng.randrange(14), hours=rng.randrange(6))
        price = Decimal(200 + 10 * rng.randrange(60))
        orders.append({
            "id": n + 1, "number": f"BENCH-{n + 1:06d}", "lab_id": lab_id,
            "organization_id": org_id, "requester_id": user_id, "state": OrderState.COMPLETED,
            "remains": Remains.DISPOSE, "report_language": ReportLanguage.ZH_CN, "notes": "",
            "contact_name": "基准", "contact_phone": "", "contact_email": "bench@example.cn",
            "tier": tier, "quoted_total": price, "terms": "条款", "confirmed_at": created,
            "created_at": created, "updated_at": completed, "received_at": created})
        lines.append({
            "id": n + 1, "order_id": n + 1, "position": 1, "service_id": service_id,
            "method": "", "is_express": rng.random() < 0.1, "state": LineState.COMPLETED,
            "unit_price": price, "express_surcharge_percent": 0,
            "express_surcharge": Decimal("0.00"), "total": price,
            "started_at": created, "completed_at": completed})
        charges.append({"kind": ChargeKind.SERVICE, "organization_id": org_id,
                        "lab_id": lab_id, "service_id": service_id, "order_line_id": n + 1,
                        "occurred_at": completed,
                        "period": completed.astimezone(LAB_TZ).strftime("%Y-%m"),
                        "tier": tier, "samples": 1, "share_percent": 100,
                        "amount": price, "reason": "", "created_at": completed})
    for offset in range(0, len(orders), BATCH):
        db.session.execute(insert(Order), orders[offset:offset + BATCH])
        db.session.execute(insert(OrderLine), lines[offset:offset + BATCH])
    for n in range(200):
        moment = lab_time(weekdays[rng.randrange(len(weekdays))], 11)
        _user_id, org_id, tier = people[rng.randrange(len(people))]
        charges.append({"kind": ChargeKind.ADJUSTMENT, "organization_id": org_id,
                        "lab_id": instruments[n % len(instruments)][1], "occurred_at": moment,
                        "period": moment.astimezone(LAB_TZ).strftime("%Y-%m"), "tier": tier,
                        "share_percent": 100, "amount": Decimal(-50 - rng.randrange(100)),
                        "reason": "基准", "created_at": moment})
    charges.sort(key=lambda charge: charge["occurred_at"])
    for offset in range(0, len(charges), BATCH):
        db.session.execute(insert(Charge), charges[offset:offset + BATCH])
    db.session.commit()


def pages() -> list[str]:
    """Every report page with each of its row choices, one export of each kind, dashboards."""
    period = f"from={FIRST_DAY.isoformat()}&to={TODAY.isoformat()}"
    urls = []
    for name, page in views.PAGES.items():
        if not page.for_managers:
            continue
        # A page that shows a table for each choice is one page, whatever ``by`` says.
        for by in page.choices[:1] if page.shows_every_choice else page.choices:
            urls.append(f"/reports/{name}?{period}&by={by}")
    urls += [f"/reports/utilization.csv?{period}&by=instrument",
             f"/reports/revenue.xlsx?{period}&by=organization",
             "/dashboard", "/dashboard/institute"]
    return urls


def measure(run: Run, bookings: int, service_requests: int, organizations: int,
            iterations: int) -> dict:
    with tempfile.TemporaryDirectory() as folder, run.database(folder) as database_url:
        class Config(TestingConfig):
            SQLALCHEMY_DATABASE_URI = database_url

        app = create_app(Config)
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            started = time.perf_counter()
            build(bookings, service_requests, organizations)
            built_in = time.perf_counter() - started
            settle(db.engine)
            engine = db.engine
            counts = {"bookings": db.session.scalar(select(func.count(Booking.id))),
                      "charges": db.session.scalar(select(func.count(Charge.id))),
                      "order_lines": db.session.scalar(
                          select(func.count(OrderLine.id)))}
        client = app.test_client()
        signed_in = client.post("/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert signed_in.status_code == 302 and "/login" not in signed_in.location, \
            "the admin could not sign in"
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        results = {}
        for url in pages():
            timings = Timings()
            for _ in range(iterations + 1):
                statements.clear()
                response = timings(client.get, url)
                assert response.status_code == 200, (url, response.status_code)
            queries = sum(1 for s in statements if not s.startswith(("BEGIN", "COMMIT",
                                                                       "ROLLBACK")))
            # The first fetch of each page warms Jinja's template cache. CPU time is what the
            # request cost this process, which other load on a shared machine inflates less.
            name = url.split("?")[0] + ("?by=" + url.split("&by=")[1] if "&by=" in url else "")
            results[name] = {**timings.summary(skip=1), "sql_statements": queries}
        event.remove(engine, "before_cursor_execute", count)
        with app.app_context():
            db.engine.dispose()
        slowest = max(results.items(), key=lambda item: item[1]["p50_ms"])
        return {"period": [FIRST_DAY.isoformat(), TODAY.isoformat()], "rows": counts,
                "setup_seconds": round(built_in, 1), "pages": results,
                "slowest_page": slowest[0], "slowest_p50_ms": slowest[1]["p50_ms"],
                "target_ms": TARGET_MS, "within_target": slowest[1]["p50_ms"] <= TARGET_MS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=100_000)
    parser.add_argument("--service-requests", type=int, default=5_000)
    parser.add_argument("--organizations", type=int, default=300)
    parser.add_argument("--iterations", type=int, default=10)
    run = Run(parser, smoke={"bookings": 500, "service_requests": 50, "organizations": 10,
                             "iterations": 1})
    args = run.args
    run.report(measure(run, args.bookings, args.service_requests, args.organizations,
                       args.iterations))


if __name__ == "__main__":
    main()
