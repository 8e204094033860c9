"""Month close cost, measured in-process on a SQLite file or PostgreSQL.

Builds a month of billable use — ORGANIZATIONS enterprises with BOOKINGS completed bookings
among them, each with its usage charge priced on the rate card — then closes the month and
prints JSON: the seconds the close took (wall-clock and CPU), the statements it built and the
sum of their totals (which must equal the sum of the charges).

    python benchmarks/month_close.py --organizations 2000 --bookings 20000
    python benchmarks/month_close.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/month_close.py --smoke   # does it still run? (tiny data, no figures)
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select

from benchmarks.booking_api import lab_time
from benchmarks.cli import Run, Timings, settle
from labbook import create_app
from labbook.accounts.models import Organization, PriceTier, Role, User
from labbook.billing import services as billing
from labbook.billing.models import Charge, ChargeKind, RateCard, Statement
from labbook.billing.pricing import price_time
from labbook.booking.models import Booking, BookingState
from labbook.catalogue.models import Category, Instrument, Lab
from labbook.config import TestingConfig
from labbook.core.engine import write_transaction
from labbook.extensions import db

PERIOD = "2026-10"
TIERS = list(PriceTier)


def build(organizations: int, bookings: int) -> None:
    lab = Lab(code="NEM", name_zh="新能源材料开放共享实验室", name_en="New-Energy Materials Lab")
    category = Category(key="xrd", name_zh="X射线衍射", name_en="X-ray diffraction")
    instruments = [Instrument(code=f"NEM-{n:03d}", lab=lab, category=category,
                              name_zh=f"X射线衍射仪 {n}", name_en=f"X-ray Diffractometer {n}")
                   for n in range(50)]
    for n, instrument in enumerate(instruments):
        instrument.rate_cards = [RateCard(tier=tier, effective_from=dt.date(2020, 1, 1),
                                          hourly_rate=Decimal(150 + 10 * n + 40 * t) / 4,
                                          rounding_minutes=15, minimum_minutes=30)
                                 for t, tier in enumerate(TIERS)]
    orgs = [Organization(name=f"基准企业{n}", uscc=f"91410800MA{n:07d}X", tier=TIERS[n % 3])
            for n in range(organizations)]
    users = [User(email=f"user{n}@example.cn", name=f"研究员{n}", role=Role.RESEARCHER,
                  organization=org, password_hash="!")  # noqa: S106  (nobody signs in)
             for n, org in enumerate(orgs)]
    db.session.add_all([lab, category, *instruments, *orgs, *users])
    db.session.commit()

    rows = []
    for n in range(bookings):
        day = dt.date(2026, 10, 1) + dt.timedelta(days=n % 31)
        start = lab_time(day, 8 + n // 31 % 10) + dt.timedelta(minutes=n % 4 * 15)
        end = start + dt.timedelta(minutes=31 + n % 120)
        user = users[n % organizations]
        rows.append({"instrument_id": instruments[n % 50].id, "user_id": user.id,
                     "organization_id": user.organization_id, "start_at": start,
                     "end_at": end, "blocked_until": end, "state": BookingState.COMPLETED,
                     "purpose": "benchmark", "project_ref": "", "is_override": False,
                     "is_late_cancellation": False, "decision_note": "", "sequence": 2,
                     "checked_in_at": start, "checked_out_at": end,
                     "created_at": start, "updated_at": end})
    ids = db.session.scalars(insert(Booking).returning(Booking.id), rows).all()
    cards = {(card.instrument_id, card.tier): card
             for card in db.session.scalars(select(RateCard))}
    tiers = {org.id: org.tier for org in orgs}
    charges = []
    for booking_id, row in zip(ids, rows, strict=True):
        tier = tiers[row["organization_id"]]
        card = cards[row["instrument_id"], tier]
        minutes = int((row["end_at"] - row["start_at"]).total_seconds() // 60)
        price = price_time(card, booked=minutes, actual=minutes)
        charges.append({"kind": ChargeKind.USAGE, "organization_id": row["organization_id"],
                        "lab_id": lab.id, "booking_id": booking_id,
                        "instrument_id": row["instrument_id"], "rate_card_id": card.id,
                        "occurred_at": row["start_at"], "period": PERIOD, "tier": tier,
                        "basis": price.basis, "booked_minutes": minutes,
                        "actual_minutes": minutes, "rounding_minutes": 15,
                        "minimum_minutes": 30, "billed_minutes": price.billed_minutes,
                        "unit_price": price.hourly_rate, "share_percent": 100,
                        "amount": price.amount, "reason": "", "created_at": row["end_at"]})
    db.session.execute(insert(Charge), charges)
    db.session.commit()
    settle(db.engine)


def close_month(now: dt.datetime) -> billing.CloseResult:
    with write_transaction(db.session):
        return billing.close_month(db.session, None, PERIOD, now=now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organizations", type=int, default=2000)
    parser.add_argument("--bookings", type=int, default=20000)
    run = Run(parser, smoke={"organizations": 20, "bookings": 200})
    args = run.args
    with tempfile.TemporaryDirectory() as tmp, run.database(tmp) as database_url:
        class Config(TestingConfig):
            SQLALCHEMY_DATABASE_URI = database_url

        app = create_app(Config)
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            build(args.organizations, args.bookings)
            charged = db.session.scalar(select(func.sum(Charge.amount)))
            now = lab_time(dt.date(2026, 11, 1), 2)
            timed = Timings()
            result = timed(close_month, now)
            totals = db.session.scalar(select(func.sum(Statement.total)))
            db.session.close()
            db.engine.dispose()
            run.report({
                "organizations": args.organizations, "bookings": args.bookings,
                "close_seconds": round(timed.wall[0], 3),
                "close_cpu_seconds": round(timed.cpu[0], 3), "statements": len(result.statements),
                "statements_total": str(totals), "charges_total": str(charged),
                "totals_match": totals == charged, "target_seconds": 10,
            })


if __name__ == "__main__":
    main()
