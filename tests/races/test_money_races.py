"""Money's changes sent at the same moment: two payments racing for the last amount of a
statement, and a voucher applied twice to a draft at once.

Whatever the order, a statement is paid exactly once up to its amount (never more: the second
payment is refused and no money goes astray to the balance), and a voucher pays a line once,
its balance going down once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from labbook.billing.models import (
    BillingProfile,
    ChargeKind,
    Payment,
    Statement,
    StatementState,
    Voucher,
    VoucherUse,
)
from labbook.extensions import db
from tests.factories import (
    create_admin,
    create_charge,
    create_lab,
    create_organization,
    create_service,
    create_statement,
    lab_time,
)
from tests.races.harness import ROUNDS, Call, api_headers, assert_serializable, fire, play_rounds

pytestmark = pytest.mark.slow

TOTAL, ALREADY_PAID, PART = Decimal("100.00"), Decimal("60.00"), Decimal("40.00")

#: A statement as the model sees it: its state and what has been paid of it.
PaidView = tuple[str, Decimal]


def pay(state: PaidView) -> list[tuple[str, PaidView]]:
    phase, paid = state
    if phase != StatementState.ISSUED.value or paid >= TOTAL:
        return [("refused", state)]
    paid = paid + PART
    return [("ok", (StatementState.PAID.value if paid >= TOTAL else phase, paid))]


def test_two_payments_race_for_the_last_amount_of_a_statement(server):
    admins = [api_headers(create_admin()), api_headers(create_admin())]

    def play(_round: int) -> None:
        organization = create_organization()
        statement = create_statement([create_charge(organization=organization,
                                                    amount=TOTAL)])
        statement_id, organization_id = statement.id, organization.id
        body = {"organization_id": organization_id, "received_on": "2026-11-02",
                "method": "bank_transfer", "statement_ids": [statement_id]}
        [issued] = fire(server, [Call("issue", "POST",
                                      f"/api/v1/statements/{statement_id}/issue", admins[0])])
        [first] = fire(server, [Call("pay", "POST", "/api/v1/payments", admins[0],
                                     {**body, "amount": str(ALREADY_PAID)})])
        assert (issued.status, first.status) == (200, 201), (issued, first)
        body["amount"] = str(PART)
        answers = fire(server, [Call("pay", "POST", "/api/v1/payments", headers, body,
                                     statuses={201: "ok"}) for headers in admins])
        db.session.rollback()
        final = db.session.execute(select(Statement.state, Statement.paid_amount)
                                   .where(Statement.id == statement_id)).one()
        assert_serializable((StatementState.ISSUED.value, ALREADY_PAID), {"pay": pay}, answers,
                            (final[0].value, final[1]))
        assert [answer.code for answer in answers if answer.status == 409] == ["already_paid"]
        assert db.session.scalar(select(func.count()).select_from(Payment).where(
            Payment.organization_id == organization_id)) == 2
        balance = db.session.scalar(select(BillingProfile.balance).where(
            BillingProfile.organization_id == organization_id))
        assert balance == Decimal("0.00")

    play_rounds(play, ROUNDS)


def test_a_voucher_applied_twice_at_once_pays_its_line_once(server):
    admins = [api_headers(create_admin()), api_headers(create_admin())]
    lab = create_lab()
    service = create_service(lab=lab)

    def apply(covered: bool) -> list[tuple[str, bool]]:
        return [("refused", covered)] if covered else [("ok", True)]

    def play(round_no: int) -> None:
        organization = create_organization()
        day = dt.date(2026, 11, 2)
        voucher = Voucher(organization_id=organization.id, number=f"KJQ-R{round_no}",
                          authority="科技局", face_value=Decimal("100.00"),
                          balance=Decimal("100.00"), share_percent=50, lab_ids=[], kinds=[],
                          valid_from=day, valid_to=day, created_at=dt.datetime.now(dt.UTC))
        db.session.add(voucher)
        line = create_charge(organization=organization, lab=lab, kind=ChargeKind.SERVICE,
                             service=service, samples=1, unit_price=Decimal("90.00"),
                             amount=Decimal("90.00"), occurred_at=lab_time(day, 10))
        statement = create_statement([line])
        statement_id, voucher_id = statement.id, voucher.id
        answers = fire(server, [
            Call("apply", "POST", f"/api/v1/statements/{statement_id}/apply-vouchers", headers)
            for headers in admins])
        db.session.rollback()
        voucher_part = db.session.scalar(select(Statement.voucher_amount)
                                         .where(Statement.id == statement_id))
        assert_serializable(False, {"apply": apply}, answers, voucher_part > 0)
        assert voucher_part == Decimal("45.00")
        assert db.session.scalar(select(Voucher.balance).where(Voucher.id == voucher_id)) == \
            Decimal("55.00")
        assert db.session.scalar(select(func.count()).select_from(VoucherUse).where(
            VoucherUse.voucher_id == voucher_id)) == 1

    play_rounds(play, ROUNDS)
