"""Migration 0019: today's service requests become one-line orders with nothing lost, and
downgrading takes them out again; on the engine under test, in a database of its own."""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from labbook import create_app
from labbook.accounts.models import PriceTier
from labbook.billing.models import Charge, ChargeKind
from labbook.extensions import db
from labbook.orders.models import Order, OrderLine, Sample
from labbook.testing.models import ServiceRequest, ServiceRequestState
from tests.factories import create_service, create_user

CONVERSION = Path(__file__).resolve().parents[2] / "migrations" / "versions" / \
    "0019_service_requests_become_orders.py"


def run_conversion(direction: str) -> None:
    """Run migration 0019's upgrade or downgrade on the database as it is."""
    spec = importlib.util.spec_from_file_location("conversion", CONVERSION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with db.engine.begin() as connection, \
            Operations.context(MigrationContext.configure(connection)):
        getattr(module, direction)()


@pytest.fixture
def migration_app(app: Flask, database_url: str, tmp_path) -> Iterator[Flask]:
    """An app on an empty database of its own (the test database must keep its schema)."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        name = f"{url.database}_migration"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        other_url = url.set(database=name).render_as_string(hide_password=False)
    else:
        other_url = f"sqlite:///{tmp_path / 'migration.sqlite'}"
    other = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": other_url})
    yield other
    with other.app_context():
        db.engine.dispose()


def _request(service, requester, state: ServiceRequestState, samples: int, **values):
    now = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
    request = ServiceRequest(
        service=service, requester=requester, organization=requester.organization,
        samples=samples, sample_description="钢板拉伸试样，Q235", is_express=True,
        notes="请尽快", state=state, tier=PriceTier.EXTERNAL,
        quoted_unit_price=Decimal("100.00"), express_surcharge_percent=50,
        quoted_express_surcharge=Decimal("50.00") * samples,
        quoted_total=Decimal("150.00") * samples, created_at=now, updated_at=now,
        **{"decision_note": "", **values})
    db.session.add(request)
    db.session.commit()
    return request


def test_service_requests_become_orders_and_back(migration_app):
    with migration_app.app_context():
        # The rows are written with today's models; the conversion's own downgrade (nothing to
        # undo yet) and upgrade then run on them. Later migrations' downgrades are theirs to
        # test (on SQLite, rebuilding a table with rows under foreign keys needs care).
        upgrade()
        service = create_service(standard="GB/T 228.1-2021")
        requester = create_user(name="钱申请")
        decided = dt.datetime(2026, 11, 21, 1, 0, tzinfo=dt.UTC)
        completed = _request(service, requester, ServiceRequestState.COMPLETED, 3,
                             decided_at=decided, due_date=dt.date(2026, 11, 30),
                             started_at=decided, completed_at=decided, decision_note="收到",
                             report_path="x.pdf", report_filename="报告.pdf")
        rejected = _request(service, requester, ServiceRequestState.REJECTED, 1,
                            decided_at=decided, decision_note="样品不符合要求")
        submitted = _request(service, requester, ServiceRequestState.SUBMITTED, 2)
        charge = Charge(kind=ChargeKind.SERVICE, organization_id=requester.organization_id,
                        lab_id=service.lab_id, service_request_id=completed.id,
                        service_id=service.id, occurred_at=decided, period="2026-11",
                        tier=PriceTier.EXTERNAL, samples=3, unit_price=Decimal("100.00"),
                        surcharge=Decimal("150.00"), amount=Decimal("450.00"), reason="")
        db.session.add(charge)
        db.session.commit()
        ids = (completed.id, rejected.id, submitted.id, charge.id)
        lab_code = service.lab.code
        db.session.remove()
        run_conversion("downgrade")
        run_conversion("upgrade")
        orders = {order.legacy_request_id: order for order in db.session.scalars(select(Order))}
        assert set(orders) == set(ids[:3])
        done = orders[ids[0]]
        assert done.number == f"{lab_code}-SR-{ids[0]}"
        assert (done.state.value, done.quoted_total, done.requester.name) == (
            "completed", Decimal("450.00"), "钱申请")
        assert done.notes == "钢板拉伸试样，Q235\n\n请尽快\n\n收到"
        [line] = done.lines
        assert (line.state.value, line.method, line.is_express, line.unit_price,
                line.express_surcharge, line.total, line.due_date, line.completed_at) == (
            "completed", "GB/T 228.1-2021", True, Decimal("100.00"), Decimal("150.00"),
            Decimal("450.00"), dt.date(2026, 11, 30), decided)
        assert [(s.position, s.number, s.intake_status.value) for s in line.samples] == [
            (n, f"{lab_code}-SR{ids[0]}-{n}", "accepted") for n in (1, 2, 3)]
        assert db.session.get(Charge, ids[3]).order_line_id == line.id
        refused = orders[ids[1]]
        assert refused.state.value == "refused"
        assert [(s.intake_status.value, s.intake_note) for s in refused.lines[0].samples] == [
            ("refused", "样品不符合要求")]
        waiting = orders[ids[2]]
        assert (waiting.state.value, waiting.lines[0].state.value) == ("submitted", "waiting")
        assert [s.number for s in waiting.lines[0].samples] == [None, None]
        db.session.remove()

        run_conversion("downgrade")
        with db.engine.connect() as connection:
            counts = [connection.scalar(select(func.count()).select_from(model))
                      for model in (Order, OrderLine, Sample)]
            assert counts == [0, 0, 0]
            assert connection.scalar(text("SELECT order_line_id FROM charges WHERE id = :id"),
                                     {"id": ids[3]}) is None
            assert connection.execute(text(
                "SELECT state, samples, report_filename FROM service_requests WHERE id = :id"),
                {"id": ids[0]}).one() == ("completed", 3, "报告.pdf")
        run_conversion("upgrade")
        assert db.session.scalar(select(func.count()).select_from(Order)) == 3
        db.session.remove()


def test_the_whole_chain_goes_down_past_the_conversion_and_up_again(migration_app):
    with migration_app.app_context():
        upgrade()
        downgrade(revision="0018")
        upgrade()
        with db.engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM orders")) == 0
