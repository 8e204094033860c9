"""Which statements and charges each person finds in their lists, in which order, and the line a
completed test request becomes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from labbook.accounts.models import PriceTier
from labbook.billing import lines
from labbook.billing import services as billing
from labbook.billing.models import ChargeKind, StatementState
from labbook.core.engine import write_transaction
from labbook.extensions import db
from labbook.orders.models import LineState
from tests.billing.test_services import AFTER_OCTOBER, OCT_12, OCT_20, charges
from tests.factories import (
    create_admin,
    create_charge,
    create_lab,
    create_manager,
    create_organization,
    create_service,
    create_statement,
    create_user,
    lab_time,
)
from tests.orders.factories import create_order


def statement_of(organization, period: str, number: str, *, lab=None,
                 state: StatementState = StatementState.ISSUED):
    day = dt.date(int(period[:4]), int(period[5:]), 10)
    charge = create_charge(organization=organization, lab=lab or create_lab(),
                           occurred_at=lab_time(day, 10))
    statement = create_statement([charge], number=number, period=period,
                                 year=int(period[:4]), sequence=int(number[-6:]))
    statement.state = state
    db.session.commit()
    return statement


def listed(actor, **filters) -> list[str]:
    return [s.number for s in db.session.scalars(
        billing.visible_statements(db.session, actor, **filters))]


def test_statements_are_listed_newest_month_first_then_by_number_descending():
    alpha, beta = create_organization(), create_organization()
    statement_of(alpha, "2026-10", "LB-2026-000001")
    statement_of(beta, "2026-10", "LB-2026-000002")
    statement_of(alpha, "2026-11", "LB-2026-000003")
    statement_of(beta, "2026-09", "LB-2026-000009")
    admin = create_admin()
    assert listed(admin) == ["LB-2026-000003", "LB-2026-000002", "LB-2026-000001",
                             "LB-2026-000009"]
    assert listed(admin, period="2026-10") == ["LB-2026-000002", "LB-2026-000001"]
    assert listed(admin, organization_id=alpha.id) == ["LB-2026-000003", "LB-2026-000001"]


def test_a_lab_manager_who_is_a_billing_contact_sees_both_kinds_of_statement():
    lab, elsewhere = create_lab(), create_lab()
    own, client = create_organization(), create_organization()
    manager = create_manager(lab, organization=own)
    own.billing_contact = manager
    db.session.commit()
    statement_of(own, "2026-10", "LB-2026-000001", lab=elsewhere)
    statement_of(client, "2026-10", "LB-2026-000002", lab=lab, state=StatementState.DRAFT)
    statement_of(client, "2026-09", "LB-2026-000003", lab=elsewhere)
    statement_of(own, "2026-09", "LB-2026-000004", lab=elsewhere, state=StatementState.DRAFT)
    assert listed(manager) == ["LB-2026-000002", "LB-2026-000001"]
    assert listed(manager, state=StatementState.DRAFT) == ["LB-2026-000002"]


def test_charges_are_listed_newest_first_billed_or_not_and_per_lab():
    lab, other_lab = create_lab(), create_lab()
    organization = create_organization()
    at = lab_time(OCT_12, 10)
    first = create_charge(organization=organization, lab=lab, occurred_at=at)
    second = create_charge(organization=organization, lab=lab, occurred_at=at)
    earlier = create_charge(organization=organization, lab=lab,
                            occurred_at=at - dt.timedelta(days=1))
    later = create_charge(organization=organization, lab=other_lab,
                          occurred_at=at + dt.timedelta(days=1))
    statement = create_statement([earlier])
    admin, manager = create_admin(), create_manager(lab)

    def ids(query) -> list[int]:
        return [charge.id for charge in db.session.scalars(query)]

    assert ids(billing.visible_charges(db.session, admin)) \
        == [later.id, second.id, first.id, earlier.id]
    assert ids(billing.unbilled_charges(db.session, admin)) == [later.id, second.id, first.id]
    assert ids(billing.visible_charges(db.session, manager)) \
        == [second.id, first.id, earlier.id]
    assert ids(billing.visible_charges(db.session, manager, lab_ids=[other_lab.id])) == []
    assert ids(billing.visible_charges(db.session, admin, lab_ids=[other_lab.id])) == [later.id]
    assert ids(billing.unbilled_charges(db.session, manager, lab_ids=[lab.id, other_lab.id])) \
        == [second.id, first.id]
    assert earlier.statement_id == statement.id


def test_an_order_line_is_charged_its_quote_in_the_month_it_was_completed():
    service = create_service(express_surcharge_percent=50)
    organization = create_organization(tier=PriceTier.PARTNER)
    researcher = create_user(organization=organization)
    line = create_order(service, researcher, samples=2, line_state=LineState.COMPLETED)
    # partner ¥80.00 × 2 = 160.00, express +50 % = 80.00
    line.is_express, line.unit_price, line.express_surcharge_percent = True, Decimal("80.00"), 50
    line.express_surcharge, line.total = Decimal("80.00"), Decimal("240.00")
    line.completed_at = lab_time(dt.date(2026, 10, 31), 23, 30)
    db.session.commit()
    charged_at = lab_time(dt.date(2026, 11, 1), 0, 30)
    with write_transaction(db.session):
        billing.charge_order_line(db.session, line, now=charged_at)
    [charge] = charges()
    assert (charge.kind, charge.tier, charge.samples, charge.unit_price, charge.surcharge,
            charge.share_percent, charge.amount) \
        == (ChargeKind.SERVICE, PriceTier.PARTNER, 2, Decimal("80.00"), Decimal("80.00"), 100,
            Decimal("240.00"))
    assert (charge.occurred_at, charge.period, charge.created_at, charge.reason) \
        == (line.completed_at, "2026-10", charged_at, "")
    assert line.order.number in lines.describe(charge)
    with write_transaction(db.session):
        again = billing.charge_order_line(db.session, line, now=lab_time(OCT_20, 9))
    assert again.id == charge.id and len(charges()) == 1


def test_a_months_statements_are_numbered_in_the_order_of_their_organizations():
    organizations = [create_organization() for _ in range(6)]
    lab = create_lab()
    for organization in reversed(organizations):
        create_charge(organization=organization, lab=lab, occurred_at=lab_time(OCT_12, 10))
    with write_transaction(db.session):
        result = billing.close_month(db.session, None, "2026-10", now=AFTER_OCTOBER)
    assert [(s.number, s.organization_id) for s in result.statements] \
        == [(f"LB-2026-{n:06d}", organization.id)
            for n, organization in enumerate(organizations, start=1)]
