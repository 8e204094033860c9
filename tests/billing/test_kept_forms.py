"""Billing's refused forms go back to the page that shows them (Post/Redirect/Get), which shows
what was typed and why it was refused — again on reload, and in the other language after the
language switch — and nothing is written (labbook.web: keep_refused, restore_kept)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from labbook.billing import payments
from labbook.billing.models import (
    BalanceEntry,
    BillingProfile,
    Charge,
    Invoice,
    MonthClose,
    RateCard,
    Statement,
    StatementState,
    Voucher,
)
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
from tests.refused_forms import Refusal, assert_kept_through_the_switch


@pytest.fixture
def scene(login_as):
    """An issued statement of a prepaid organization whose billing contact asked for its
    invoice; finance and the lab's manager read Chinese."""
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


def _organization(scene: dict) -> str:
    return f"/billing/organizations/{scene['organization']}"


def _invoice(scene: dict) -> str:
    return f"/billing/invoices/{scene['invoice']}"


def _rows() -> tuple:
    """What billing's forms write, beyond the audit trail and the outbox."""
    return (*(db.session.scalar(select(func.count()).select_from(model)) for model in
              (MonthClose, Charge, RateCard, BalanceEntry, Voucher)),
            db.session.execute(select(BillingProfile.prepaid, BillingProfile.overdue_block_days,
                                      BillingProfile.taxpayer_id)).all(),
            db.session.execute(select(Invoice.state, Invoice.invoice_number)).all())


AMOUNT = ("请输入金额（元），例如 120.50。", "Enter the amount in yuan, e.g. 120.50.")
FEN = ("金额最多保留两位小数（到分）。", "Amounts have at most two decimals (fen).")
WHOLE_NUMBER = ("请输入整数。", "Enter a whole number.")

#: Each form of billing's pages, refused, and who sends it.
REFUSED: dict[str, tuple[str, Callable[[dict], Refusal]]] = {
    "month close": ("admin", lambda s: Refusal(
        "/statements/close", "/statements", {"close-period": "2026-13"}, [],
        "请按 YYYY-MM 格式填写月份，例如 2026-11。", "Give the month as YYYY-MM, e.g. 2026-11.")),
    "adjustment for the next statement": ("manager", lambda s: Refusal(
        "/charges/adjust", "/charges/adjust",
        {"organization_id": s["organization"], "lab_id": s["lab"], "amount": "12.34",
         "reason": ""}, ['value="12.34"'],
        "请填写调整原因。", "Give the reason for the adjustment.")),
    "rate card": ("manager", lambda s: Refusal(
        f"/instruments/{s['instrument']}/rates", f"/instruments/{s['instrument']}/rates",
        rate_form(rounding_minutes="一刻钟"), ['value="一刻钟"'], *WHOLE_NUMBER)),
    "deposit": ("admin", lambda s: Refusal(
        _organization(s) + "/deposits", _organization(s),
        {"amount": "", "note": "转账 HX-2026"}, ['value="转账 HX-2026"'], *AMOUNT)),
    "finance settings": ("admin", lambda s: Refusal(
        _organization(s) + "/settings", _organization(s),
        {"prepaid": "y", "overdue_block_days": "一周"}, ['value="一周"'], *WHOLE_NUMBER)),
    "a mistyped amount": ("admin", lambda s: Refusal(
        _organization(s) + "/deposits", _organization(s),
        {"amount": "120.505", "note": "转账 HX-2026"},
        ['value="120.505"', 'value="转账 HX-2026"'], *FEN)),
    "voucher": ("admin", lambda s: Refusal(
        _organization(s) + "/vouchers", _organization(s),
        {"number": "KJQ-2026-007", "authority": "科技局", "face_value": "",
         "share_percent": "50", "valid_from": "2026-01-01", "valid_to": "2026-12-31"},
        ['value="KJQ-2026-007"', 'value="科技局"'], *AMOUNT)),
    "invoice issued": ("admin", lambda s: Refusal(
        _invoice(s) + "/issue", _invoice(s),
        {"invoice_number": "INV-2026-77", "issued_on": "", "amount": "88.00"},
        ['value="INV-2026-77"'], "请填写开票日期。", "Give the invoice date.")),
}


@pytest.mark.parametrize(("who", "refusal_of"), REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_form_comes_back_on_its_page_in_either_language(who, refusal_of, scene,
                                                                  login_as):
    assert_kept_through_the_switch(login_as(scene[who]), refusal_of(scene), _rows)


def main(response) -> str:
    assert response.status_code == 200
    return response.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]


def test_a_refusal_of_the_service_comes_back_in_the_language_switched_to(login_as, scene):
    client, page, before = login_as(scene["admin"]), _organization(scene), _rows()
    answer = client.post(page + "/details", data={"invoice_title": "焦作某某科技有限公司",
                                                  "taxpayer_id": "12345"})
    assert answer.status_code == 303 and answer.headers["Location"] == page
    client.post("/language", data={"locale": "en", "next": page})
    english = main(client.get(page))
    assert "The taxpayer identification number is the 18-character unified social credit " \
        "code." in english and "纳税人识别号是" not in english and 'value="12345"' in english
    assert _rows() == before


def test_a_refused_payment_note_comes_back_to_its_statement(login_as, scene):
    """The note's only check is WTForms' own length, in WTForms' words."""
    client = login_as(scene["admin"])
    page = f"/statements/{scene['issued']}"
    note = "银行转账 " + "长" * 500
    answer = client.post(page + "/paid", data={"note": note})
    assert answer.status_code == 303 and answer.headers["Location"] == page
    for locale in ("zh_CN", "en"):
        client.post("/language", data={"locale": locale, "next": page})
        shown = main(client.get(page))
        assert note in shown and shown.count("is-invalid") == 1
    assert db.session.get(Statement, scene["issued"]).state == StatementState.ISSUED
