"""The public report verification page, in-process (the target: p50 ≤ 20 ms).

Builds a database (SQLite, or PostgreSQL) with REPORTS issued reports, then asks for
``/verify/<code>`` (the page the QR code opens), ``/verify?number=…&code=…`` (the form) and
``/api/v1/verify/<code>`` ITERATIONS times each, in turn, for codes picked at random, and prints
JSON: wall-clock and CPU time per
request (p50/p95 in milliseconds) and whether each met the target. The rate limit is off: it
would answer 429 long before the figures mean anything.

    python benchmarks/verification.py --reports 20000 --iterations 300
    python benchmarks/verification.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/verification.py --smoke   # does it still run? (tiny data, no figures)
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from benchmarks.cli import Run, Timings, alternating, settle
from labbook import create_app
from labbook.accounts.models import Organization, PriceTier, Role, User
from labbook.catalogue.models import Category, Lab, TestingService
from labbook.config import TestingConfig
from labbook.extensions import db
from labbook.orders.models import (
    LineState,
    Order,
    OrderLine,
    OrderState,
    Remains,
    Report,
    ReportLanguage,
    ReportState,
)

TARGET_P50_MS = 20.0


def build(reports: int) -> list[tuple[str, str]]:
    """``reports`` issued reports, one order each; returns their (number, code)."""
    now = dt.datetime.now(dt.UTC)
    lab = Lab(code="FOOD", name_zh="食品检测实验室", name_en="Food Testing Lab")
    category = Category(key="food", name_zh="食品", name_en="Food")
    service = TestingService(lab=lab, category=category, code="FOOD-T01", name_zh="蛋白质测定",
                             name_en="Protein", standard="GB 5009.5-2016", turnaround_days=5,
                             price_internal=Decimal("100.00"), price_partner=Decimal("120.00"),
                             price_external=Decimal("150.00"))
    organization = Organization(name="焦作市示例食品科技有限公司", uscc="91410800MA0000001P",
                                tier=PriceTier.EXTERNAL)
    user = User(email="bench@example.cn", name="Bench", role=Role.RESEARCHER,
                organization=organization, password_hash="!")  # noqa: S106  (no login)
    db.session.add_all([lab, category, service, organization, user])
    db.session.commit()
    rng = random.Random(42)
    order_rows, line_rows, report_rows, keys = [], [], [], []
    for n in range(1, reports + 1):
        number, code = f"FOOD-BG-2026-{n:06d}", f"{rng.getrandbits(64):016x}"
        keys.append((number, code))
        order_rows.append({
            "id": n, "number": f"FOOD-WT-2026-{n:06d}", "lab_id": lab.id,
            "organization_id": organization.id, "requester_id": user.id,
            "state": OrderState.COMPLETED, "remains": Remains.DISPOSE,
            "report_language": ReportLanguage.ZH_CN, "notes": "", "contact_name": user.name,
            "contact_phone": "", "contact_email": user.email, "tier": PriceTier.EXTERNAL,
            "quoted_total": Decimal("150.00"), "terms": "", "confirmed_at": now,
            "created_at": now, "updated_at": now})
        line_rows.append({
            "order_id": n, "position": 1, "service_id": service.id, "method": service.standard,
            "is_express": False, "state": LineState.COMPLETED, "unit_price": Decimal("150.00"),
            "express_surcharge_percent": 0, "express_surcharge": Decimal("0.00"),
            "total": Decimal("150.00")})
        report_rows.append({
            "order_id": n, "number": number, "state": ReportState.ISSUED,
            "language": ReportLanguage.ZH_CN, "conclusion": "符合要求。", "amendment_reason": "",
            "verification_code": code, "prepared_by_id": user.id, "prepared_at": now,
            "issued_on": now.date(), "pdf_path": f"report-{n}.pdf", "sha256": f"{n:064x}",
            "withdrawal_reason": ""})
    for model, rows in ((Order, order_rows), (OrderLine, line_rows), (Report, report_rows)):
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(model), rows[start:start + 5000])
    db.session.commit()
    settle(db.engine)
    return keys


def measure(run: Run, reports: int, iterations: int) -> dict:
    with tempfile.TemporaryDirectory() as folder, run.database(folder) as database_url:
        class Config(TestingConfig):
            SQLALCHEMY_DATABASE_URI = database_url
            RATELIMIT_ENABLED = False

        app = create_app(Config)
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            keys = build(reports)
        client = app.test_client()
        rng = random.Random(7)
        kinds = {
            "page": lambda number, code: f"/verify/{code}",
            "form": lambda number, code: f"/verify?number={number}&code={code}",
            "api": lambda number, code: f"/api/v1/verify/{code}",
        }
        timings = {kind: Timings() for kind in kinds}
        # The first request of each kind warms its templates up, and is left out.
        for _round, kind in alternating(iterations + 1, kinds):
            number, code = rng.choice(keys)
            response = timings[kind](client.get, kinds[kind](number, code))
            assert response.status_code == 200, (kind, response.status_code)
            assert number in response.get_data(as_text=True)
        with app.app_context():
            db.engine.dispose()
        results = {}
        for kind, timed in timings.items():
            figures = timed.summary(skip=1)
            results[kind] = {**figures, "meets_target": figures["p50_ms"] <= TARGET_P50_MS}
        return {"benchmark": "verification", "reports": reports, "iterations": iterations,
                "target_p50_ms": TARGET_P50_MS, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20000)
    parser.add_argument("--iterations", type=int, default=300)
    run = Run(parser, smoke={"reports": 20, "iterations": 5})
    args = run.args
    run.report(measure(run, args.reports, args.iterations))


if __name__ == "__main__":
    main()
