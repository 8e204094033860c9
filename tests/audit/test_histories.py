"""The histories on an invoice's and an order's page name every action and state in the
reader's language, never by the codes the log keeps."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from sqlalchemy import select

from labbook.audit.services import record
from labbook.billing import invoices
from labbook.billing.models import Invoice, InvoiceKind, InvoiceMedium
from labbook.core.engine import write_transaction
from labbook.extensions import db
from labbook.orders.models import LineState, Order
from tests.billing.test_money import issued_statement
from tests.factories import create_admin, create_lab, create_service, create_user, lab_time
from tests.orders.factories import create_order

NOW = lab_time(dt.date(2026, 11, 20), 10)


def page(browser, path: str) -> str:
    response = browser.get(path)
    assert response.status_code == 200, path
    return html.unescape(response.get_data(as_text=True))


@pytest.mark.parametrize(("locale", "asked", "refused"), [
    ("zh_CN", "已申请开票", "已拒绝开票"),
    ("en", "invoice requested", "invoice refused"),
])
def test_an_invoices_history_reads_in_the_page_language(login_as, locale, asked, refused):
    finance = create_admin(locale=locale)
    statement = issued_statement(create_user().organization, "88.00")
    with write_transaction(db.session):
        invoice = invoices.request_invoice(
            db.session, finance, statement.organization_id, [statement.id],
            kind=InvoiceKind.ORDINARY, medium=InvoiceMedium.ELECTRONIC, note="", now=NOW)
    with write_transaction(db.session):
        invoices.refuse_invoice(db.session, finance, db.session.get(Invoice, invoice.id),
                                "抬头有误", now=NOW + dt.timedelta(hours=1))
    text = page(login_as(finance), f"/billing/invoices/{invoice.id}")
    requested, refused_state = (("待开具", "已拒绝") if locale == "zh_CN"
                                else ("Requested", "Refused"))
    assert f"{asked}" in text and f"({requested})" in text
    assert refused in text and f"({requested} → {refused_state})" in text
    for code in ("requested", "refuse", "refused"):
        assert f"({code}" not in text and f"{code})" not in text and f">{code}<" not in text


@pytest.mark.parametrize(("locale", "started", "states"), [
    ("zh_CN", "已开始检测", "(已收样 → 检测中)"),
    ("en", "testing started", "(Samples received → In progress)"),
])
def test_a_line_started_on_an_order_reads_as_the_lines_states(login_as, locale, started,
                                                               states):
    customer = create_user(locale=locale)
    line = create_order(create_service(lab=create_lab()), customer)
    order = db.session.scalar(select(Order).where(Order.id == line.order_id))
    record(db.session, customer, order, "start_line", at=NOW,
           from_state=LineState.RECEIVED.value, to_state=LineState.IN_PROGRESS.value)
    db.session.commit()
    text = page(login_as(customer), f"/orders/{order.id}")
    assert started in text and states in text
    assert "in_progress" not in text
