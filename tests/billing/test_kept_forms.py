"""Billing's refused forms go back to the page that shows them (Post/Redirect/Get), which shows
what was typed and why it was refused — again on reload, and in the other language after the
language switch — and nothing is written (labbook.web: keep_refused, restore_kept)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from labbook.audit.models import AuditEvent
from labbook.billing import payments
from labbook.billing.models import Invoice, Statement, StatementState
from labbook.extensions import db
from tests.billing.test_views import rate_form
from tests.factories import (
    create_admin,
    create_charge,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_statement,
    create_user,
)


@pytest.fixture
def scene(login_as):
    lab = create_lab(code="NEM")
    organization = create_organization(name="焦作某某科技有限公司")
    contact = create_user(organization=organization, locale="zh_CN")
    organization.billing_contact = contact
    db.session.commit()
    issued = create_statement([create_charge(organization=organization, lab=lab,
                                             amount=Decimal("88.00"))],
                              state=StatementState.ISSUED,
                              issued_at=dt.datetime(2026, 12, 2, 2, tzinfo=dt.UTC),
                              verification_code=payments.new_verification_code())
    asked = login_as(contact).post(f"/billing/organizations/{organization.id}/invoices", data={
        "statement_ids": [str(issued.id)], "kind": "ordinary", "medium": "electronic"},
        follow_redirects=True)
    assert asked.status_code == 200
    admin = create_admin(locale="zh_CN")
    prepaid = login_as(admin).post(f"/billing/organizations/{organization.id}/settings",
                                   data={"prepaid": "y"}, follow_redirects=True)
    assert prepaid.status_code == 200  # so that the page offers to record a deposit
    return {"admin": admin,
            "manager": create_manager(lab, locale="zh_CN"),
            "lab": lab.id, "organization": organization.id, "issued": issued.id,
            "instrument": create_instrument(lab=lab).id,
            "invoice": db.session.scalar(select(Invoice.id))}


@dataclass
class Case:
    """A form of billing's pages, refused: who sends what where, which page shows it again with
    what of the input, and the refusal in Chinese and in English."""

    name: str
    who: str
    post: Callable[[dict], str]
    page: Callable[[dict], str]
    data: Callable[[dict], dict]
    typed: str | None
    zh: str
    en: str


def _organization(scene: dict) -> str:
    return f"/billing/organizations/{scene['organization']}"


def _invoice(scene: dict) -> str:
    return f"/billing/invoices/{scene['invoice']}"


CASES = [
    Case("close the month", "admin", lambda s: "/statements/close", lambda s: "/statements",
         lambda s: {"close-period": "2026-13"}, None,
         "请按 YYYY-MM 格式填写月份，例如 2026-11。", "Give the month as YYYY-MM, e.g. 2026-11."),
    Case("adjustment for the next statement", "manager", lambda s: "/charges/adjust",
         lambda s: "/charges/adjust",
         lambda s: {"organization_id": s["organization"], "lab_id": s["lab"], "amount": "12.34",
                    "reason": ""},
         'value="12.34"', "请填写调整原因。", "Give the reason for the adjustment."),
    Case("rate card", "manager", lambda s: f"/instruments/{s['instrument']}/rates",
         lambda s: f"/instruments/{s['instrument']}/rates",
         lambda s: rate_form(rounding_minutes="一刻钟"), 'value="一刻钟"',
         "请输入整数。", "Enter a whole number."),
    Case("deposit", "admin", lambda s: _organization(s) + "/deposits", _organization,
         lambda s: {"amount": "", "note": "转账 HX-2026"}, 'value="转账 HX-2026"',
         "请输入金额（元），例如 120.50。", "Enter the amount in yuan, e.g. 120.50."),
    Case("finance settings", "admin", lambda s: _organization(s) + "/settings", _organization,
         lambda s: {"prepaid": "y", "overdue_block_days": "一周"}, 'value="一周"',
         "请输入整数。", "Enter a whole number."),
    Case("voucher", "admin", lambda s: _organization(s) + "/vouchers", _organization,
         lambda s: {"number": "KJQ-2026-007", "authority": "科技局", "face_value": "",
                    "share_percent": "50", "valid_from": "2026-01-01",
                    "valid_to": "2026-12-31"},
         'value="KJQ-2026-007"', "请输入金额（元），例如 120.50。",
         "Enter the amount in yuan, e.g. 120.50."),
    Case("invoice issued", "admin", lambda s: _invoice(s) + "/issue", _invoice,
         lambda s: {"invoice_number": "INV-2026-77", "issued_on": "", "amount": "88.00"},
         'value="INV-2026-77"', "请填写开票日期。", "Give the invoice date."),
]


def main(response) -> str:
    assert response.status_code == 200
    return response.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]


def audit_events() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_refused_form_comes_back_to_its_page_in_either_language(login_as, scene, case):
    client = login_as(scene[case.who])
    written = audit_events()
    page = case.page(scene)
    answer = client.post(case.post(scene), data=case.data(scene))
    assert answer.status_code == 303 and answer.headers["Location"] == page

    for _ in range(2):  # the page, then a reload of it
        chinese = main(client.get(page))
        assert case.zh in chinese and "is-invalid" in chinese
        assert case.typed is None or case.typed in chinese

    switched = client.post("/language", data={"locale": "en", "next": page})
    assert switched.status_code == 303 and switched.headers["Location"] == page
    english = main(client.get(page))
    assert case.en in english and case.zh not in english and "is-invalid" in english
    assert case.typed is None or case.typed in english
    assert audit_events() == written


def test_only_the_refused_form_of_the_organizations_page_is_filled_again(login_as, scene):
    client = login_as(scene["admin"])
    page = _organization(scene)
    client.post(page + "/deposits", data={"amount": "", "note": "转账 HX-2026"})
    shown = main(client.get(page))
    assert shown.count("is-invalid") == 1 and shown.count('value="转账 HX-2026"') == 1


def test_the_services_refusal_is_shown_again_with_the_input(login_as, scene):
    client = login_as(scene["admin"])
    page = _organization(scene)
    answer = client.post(page + "/details", data={"invoice_title": "焦作某某科技有限公司",
                                                  "taxpayer_id": "12345"})
    assert answer.status_code == 303 and answer.headers["Location"] == page
    shown = main(client.get(page))
    assert "统一社会信用代码" in shown and 'value="12345"' in shown


def test_a_refused_payment_note_comes_back_to_its_statement(login_as, scene):
    client = login_as(scene["admin"])
    page = f"/statements/{scene['issued']}"
    note = "银行转账 " + "长" * 500
    answer = client.post(page + "/paid", data={"note": note})
    assert answer.status_code == 303 and answer.headers["Location"] == page
    for locale in ("zh_CN", "en"):
        client.post("/language", data={"locale": locale, "next": page})
        shown = main(client.get(page))
        assert note in shown and "is-invalid" in shown
    assert db.session.get(Statement, scene["issued"]).state == StatementState.ISSUED
