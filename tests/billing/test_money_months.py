"""Three months of one enterprise's statements with innovation vouchers, corrections, partial
payments, an overpayment, invoices and a red-letter reversal, played through the API on a
controlled clock, with every amount and balance checked against a hand computation.

Enterprise E, lab L. Vouchers of 焦作市科学技术局:
  V1 ¥1,000.00, at most 50 % of a line, valid 2026-01-01 – 2026-03-31;
  V2 ¥300.00, at most 60 % of a line, valid 2026-03-01 – 2026-06-30.
Soonest expiry first: V1 before V2. A line's voucher part never passes the share of the
voucher that tops it up.

January: test 800.00 (10th), instrument use 333.33 (20th), a credit of -20.00 (25th).
  800.00: V1 50 % = 400.00 (V1 left 600.00); V2 not yet valid.
  333.33: V1 50 % = 166.665 → 166.67 (half-up; V1 left 433.33).
  Total 1,113.33, vouchers 566.67, to pay 546.66 (伍佰肆拾陆元陆角陆分).
  Issued Feb 2nd; due Mar 4th. Paid ¥300.00 on Feb 10th: 246.66 left.
February: test 1,000.00 (5th); on the 15th the 800.00 line is corrected by -200.00.
  Correction: the line is 600.00 now, V1 may pay 300.00 of it, it paid 400.00: 100.00 back
  (V1 433.33 + 100.00 = 533.33). 1,000.00: V1 50 % = 500.00 (V1 left 33.33).
  Total 800.00, vouchers 400.00, to pay 400.00. Issued Mar 2nd.
  On Mar 5th (08:00): January is 31 days old (31–60 bucket, 246.66), February 3 (0–30,
  400.00); January is 1 day overdue. Then ¥700.00 for both: 246.66 + 400.00, 53.34 to the
  balance. An invoice for both: 546.66 + 400.00 = 946.66, issued as such.
March: instrument use 100.00 (10th); on the 12th the 1,000.00 line is corrected by -50.00.
  Correction: 950.00 → V1 may pay 475.00, paid 500.00: 25.00 back (V1 33.33 + 25 = 58.33).
  100.00: V1 50 % = 50.00 (V1 left 8.33); V2 tops up to 60 %: 60.00 - 50.00 = 10.00 (V2 left
  290.00). Total 50.00, vouchers -25.00 + 50.00 + 10.00 = 35.00, to pay 15.00.
  Issued Apr 2nd; paid from the balance: 53.34 - 15.00 = 38.34 left. The February invoice is
  reversed (red letter) for the correction, and January and February can be invoiced again.
Redemption packs: January 566.67, February 400.00 (500.00 - 100.00), March 35.00 (V1 50.00 -
25.00 and V2 10.00), of which V1's is 25.00.
"""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal

import pytest

from labbook.billing import receivables
from labbook.billing.models import BillingBasis, ChargeKind
from labbook.core.errors import Conflict
from labbook.extensions import db
from tests.factories import (
    bearer,
    create_admin,
    create_charge,
    create_instrument,
    create_lab,
    create_organization,
    create_service,
    create_user,
    lab_time,
)

AUTHORITY = "焦作市科学技术局"


def at(month: int, day: int, hour: int = 10) -> dt.datetime:
    return lab_time(dt.date(2026, month, day), hour)


def line(organization, lab, kind: ChargeKind, amount: str, month: int, day: int):
    """A line of ``kind`` written straight to the database: a test of one sample, an hour of
    an instrument, or an adjustment."""
    source = {ChargeKind.SERVICE: {"service": create_service(lab=lab), "samples": 1,
                                   "unit_price": Decimal(amount)},
              ChargeKind.USAGE: {"instrument": create_instrument(lab=lab),
                                 "basis": BillingBasis.BOOKED, "booked_minutes": 60,
                                 "billed_minutes": 60, "rounding_minutes": 15,
                                 "minimum_minutes": 0, "unit_price": Decimal(amount)},
              }.get(kind, {})
    return create_charge(organization=organization, lab=lab, kind=kind,
                         amount=Decimal(amount), occurred_at=at(month, day), reason="",
                         **source)


def test_three_months_of_vouchers_payments_credits_and_invoices(client, clock):
    lab = create_lab(code="L")
    enterprise = create_organization(name="焦作市某某科技有限公司")
    contact = create_user(organization=enterprise)
    enterprise.billing_contact = contact
    db.session.commit()
    admin = bearer(create_admin())
    billing_contact = bearer(contact)

    def call(verb: str, path: str, headers=admin, expect: int = 200, **body):
        response = getattr(client, verb)(f"/api/v1{path}", headers=headers,
                                           json=body or None)
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def statement(statement_id: int) -> dict:
        return call("get", f"/statements/{statement_id}")

    def close_and_issue(period: str, issue_at: dt.datetime) -> dict:
        clock.now = issue_at - dt.timedelta(hours=20)
        created = call("post", "/statements/close", expect=201, period=period)["statements"]
        assert len(created) == 1
        clock.now = issue_at
        return call("post", f"/statements/{created[0]['id']}/issue")

    def voucher(voucher_id: int) -> dict:
        return call("get", f"/vouchers/{voucher_id}")

    clock.now = at(1, 2)
    v1 = call("post", "/vouchers", expect=201, organization_id=enterprise.id, number="KJQ-1",
              authority=AUTHORITY, face_value="1000.00", share_percent=50,
              valid_from="2026-01-01", valid_to="2026-03-31")
    v2 = call("post", "/vouchers", expect=201, organization_id=enterprise.id, number="KJQ-2",
              authority=AUTHORITY, face_value="300.00", share_percent=60,
              valid_from="2026-03-01", valid_to="2026-06-30")

    # January
    test_800 = line(enterprise, lab, ChargeKind.SERVICE, "800.00", 1, 10)
    line(enterprise, lab, ChargeKind.USAGE, "333.33", 1, 20)
    line(enterprise, lab, ChargeKind.ADJUSTMENT, "-20.00", 1, 25)
    january = close_and_issue("2026-01", at(2, 2))
    assert (january["total"], january["voucher_amount"], january["amount_due"]) == \
        ("1113.33", "566.67", "546.66")
    assert january["amount_in_words"] == "伍佰肆拾陆元陆角陆分"
    assert january["payment_reference"] == january["number"]
    assert [(line_["amount"], line_["voucher_amount"], line_["own_amount"])
            for line_ in january["lines"]] == [("800.00", "400.00", "400.00"),
                                               ("333.33", "166.67", "166.66"),
                                               ("-20.00", "0.00", "-20.00")]
    assert voucher(v1["id"])["balance"] == "433.33"

    clock.now = at(2, 10)
    payment = call("post", "/payments", expect=201, organization_id=enterprise.id,
                   received_on="2026-02-10", amount="300.00", method="bank_transfer",
                   reference="HX0210", statement_ids=[january["id"]])
    assert payment["credited"] == "0.00"
    january = statement(january["id"])
    assert (january["state"], january["paid_amount"], january["outstanding"]) == \
        ("issued", "300.00", "246.66")

    # February
    test_1000 = line(enterprise, lab, ChargeKind.SERVICE, "1000.00", 2, 5)
    clock.now = at(2, 15)
    call("post", "/charges", expect=201, organization_id=enterprise.id, lab="L",
         amount="-200.00", reason="复测后减少样品", corrects_charge_id=test_800.id)
    february = close_and_issue("2026-02", at(3, 2))
    assert (february["total"], february["voucher_amount"], february["amount_due"]) == \
        ("800.00", "400.00", "400.00")
    assert voucher(v1["id"])["balance"] == "33.33"

    clock.now = at(3, 5, 8)
    ageing = call("get", "/receivables")["items"]
    assert [(row["name"], row["buckets"], row["total"]) for row in ageing] == [
        (enterprise.name, ["400.00", "246.66", "0.00", "0.00"], "646.66")]
    enterprise_id = enterprise.id
    call("put", f"/organizations/{enterprise_id}/billing", overdue_block_days=0)
    with pytest.raises(Conflict) as refused:
        receivables.refuse_if_overdue(db.session, enterprise_id, at(3, 5, 8))
    assert refused.value.code == "payment_overdue"
    call("put", f"/organizations/{enterprise_id}/billing", overdue_block_days=1)
    receivables.refuse_if_overdue(db.session, enterprise_id, at(3, 5, 8))

    clock.now = at(3, 5)
    payment = call("post", "/payments", expect=201, organization_id=enterprise_id,
                   received_on="2026-03-05", amount="700.00", method="bank_transfer",
                   reference="HX0305", statement_ids=[february["id"], january["id"]])
    assert [(a["statement_number"], a["amount"]) for a in payment["allocations"]] == [
        (january["number"], "246.66"), (february["number"], "400.00")]
    assert payment["credited"] == "53.34"
    assert statement(january["id"])["state"] == statement(february["id"])["state"] == "paid"
    assert call("get", f"/organizations/{enterprise_id}/billing")["balance"] == "53.34"
    assert call("get", "/receivables")["items"] == []
    # Paying a covered statement again is refused and changes nothing.
    call("post", "/payments", expect=409, organization_id=enterprise_id,
         received_on="2026-03-05", amount="1.00", method="cash",
         statement_ids=[january["id"]])

    invoice = call("post", "/invoices", headers=billing_contact, expect=201,
                   organization_id=enterprise_id, statement_ids=[january["id"], february["id"]],
                   kind="ordinary", medium="electronic")
    assert invoice["amount"] == "946.66"
    assert invoice["taxpayer_id"] == enterprise.uscc
    call("post", "/invoices", headers=billing_contact, expect=409,
         organization_id=enterprise_id, statement_ids=[january["id"]], kind="ordinary",
         medium="paper")
    pdf = base64.b64encode(b"%PDF-1.4 invoice").decode()
    call("post", f"/invoices/{invoice['id']}/issue", expect=422, invoice_number="044001",
         issued_on="2026-03-06", amount="946.67", file_base64=pdf)
    clock.now = at(3, 6)
    issued = call("post", f"/invoices/{invoice['id']}/issue", invoice_number="044001",
                  issued_on="2026-03-06", amount="946.66", file_base64=pdf, file_name="a.pdf")
    assert (issued["state"], issued["issued_amount"]) == ("issued", "946.66")
    assert client.get(issued["file_url"], headers=billing_contact).data == b"%PDF-1.4 invoice"

    # March
    line(enterprise, lab, ChargeKind.USAGE, "100.00", 3, 10)
    clock.now = at(3, 12)
    correction = call("post", "/charges", expect=201, organization_id=enterprise_id, lab="L",
                      amount="-50.00", reason="数据复核", corrects_charge_id=test_1000.id)
    march = close_and_issue("2026-03", at(4, 2))
    assert (march["total"], march["voucher_amount"], march["amount_due"]) == \
        ("50.00", "35.00", "15.00")
    assert (voucher(v1["id"])["balance"], voucher(v2["id"])["balance"]) == ("8.33", "290.00")
    march = call("post", f"/statements/{march['id']}/pay-from-balance")
    assert (march["state"], march["paid_amount"]) == ("paid", "15.00")
    assert call("get", f"/organizations/{enterprise_id}/billing")["balance"] == "38.34"

    reversed_ = call("post", f"/invoices/{invoice['id']}/reverse", red_number="044099",
                     issued_on="2026-04-02", reason="二月账单更正",
                     correction_charge_id=correction["id"])
    assert reversed_["state"] == "reversed"
    assert reversed_["reversal"]["correction_charge_id"] == correction["id"]
    again = call("post", "/invoices", headers=billing_contact, expect=201,
                 organization_id=enterprise_id, statement_ids=[january["id"], february["id"]],
                 kind="ordinary", medium="paper")
    assert again["amount"] == "946.66"

    packs = {period: call("get", f"/voucher-redemptions?authority={AUTHORITY}&period={period}")
             for period in ("2026-01", "2026-02", "2026-03")}
    assert [packs[p]["total"] for p in ("2026-01", "2026-02", "2026-03")] == \
        ["566.67", "400.00", "35.00"]
    assert [(line_["voucher_number"], line_["voucher_amount"])
            for line_ in packs["2026-03"]["lines"]] == [
        ("KJQ-1", "50.00"), ("KJQ-2", "10.00"), ("KJQ-1", "-25.00")]
    history = voucher(v1["id"])["history"]
    assert [entry["amount"] for entry in history] == \
        ["400.00", "166.67", "-100.00", "500.00", "-25.00", "50.00"]
