"""The owners' pages: admins keep agreements and contacts and see every settlement; a contact
person sees their own owner's instruments and settlements, by organization only; nobody else
does."""

import datetime as dt
import io
from decimal import Decimal

from openpyxl import load_workbook
from sqlalchemy import select

from labbook.booking.models import BookingState
from labbook.extensions import db
from labbook.owners.models import OwnerAgreement, OwnerContact
from tests.factories import create_admin, create_booking, create_user, lab_time
from tests.statements import Sums

D = Decimal


def _contact(owner, **overrides):
    user = create_user(**overrides)
    db.session.add(OwnerContact(owner_id=owner.id, user_id=user.id))
    db.session.commit()
    return user


def test_admins_add_agreements_and_contacts(month, client, login_as):
    login_as(create_admin())
    page = client.get(f"/admin/owners/{month.owner_a.code}").get_data(as_text=True)
    assert "2026-11-16" in page
    response = client.post(f"/admin/owners/{month.owner_a.code}/agreements",
                           data={"effective_from": "2027-01-01", "time_share_percent": "30",
                                 "testing_share_percent": "20"})
    assert response.status_code == 302
    refused = client.post(f"/admin/owners/{month.owner_a.code}/agreements",
                          data={"effective_from": "2027-01-01", "time_share_percent": "101",
                                "testing_share_percent": "20"})
    assert refused.status_code == 303
    assert refused.headers["Location"] == f"/admin/owners/{month.owner_a.code}"
    assert db.session.scalars(select(OwnerAgreement.time_share_percent).where(
        OwnerAgreement.effective_from == dt.date(2027, 1, 1))).all() == [30]
    again = client.post(f"/admin/owners/{month.owner_a.code}/agreements",
                        data={"effective_from": "2027-01-01", "time_share_percent": "40",
                              "testing_share_percent": "20"}, follow_redirects=True)
    assert again.status_code == 200 and 'value="40"' in again.get_data(as_text=True)
    person = create_user(email="contact@owner.example.cn")
    assert client.post(f"/admin/owners/{month.owner_a.code}/contacts",
                       data={"email": "CONTACT@owner.example.cn"}).status_code == 302
    assert db.session.scalar(select(OwnerContact.user_id)) == person.id
    assert client.post(f"/admin/owners/{month.owner_a.code}/contacts",
                       data={"email": "nobody@example.cn"}).status_code == 303


def test_the_settlements_sums_over_the_month_are_planned_each_time(month, client, login_as):
    """PostgreSQL plans them for their own values every time (``core.engine``'s
    ``PLANNED_EACH_TIME``), as it does the lab reports' (tests/reports/test_planning.py)."""
    login_as(create_admin())
    with Sums() as sums:
        assert client.get("/reports/settlements?month=2026-11").status_code == 200
        assert client.get(f"/reports/settlements/{month.owner_a.code}.xlsx?month=2026-11"
                          ).status_code == 200
    assert sums
    assert [statement for statement, planned in sums if not planned] == []


def test_the_overview_reconciles_and_each_settlement_exports(month, client, login_as):
    login_as(create_admin())
    page = client.get("/reports/settlements?month=2026-11").get_data(as_text=True)
    assert "¥343.35" in page and "¥141.68" in page and "¥30.00" in page
    response = client.get(f"/reports/settlements/{month.owner_a.code}.xlsx?month=2026-11")
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[-1][-1] == 141.68 and values[-1][-3] == 253.35
    csv = client.get(f"/reports/settlements/{month.owner_a.code}.csv?month=2026-11")
    assert "客户企业" in csv.get_data(as_text=True)
    assert client.get("/reports/settlements?month=2026-13").status_code == 422


def test_a_contact_sees_their_owner_only_and_no_people_or_purposes(month, client, login_as):
    i1 = month.instruments[0]
    booker = create_user(organization=month.customer, name="订票人张三")
    create_booking(instrument=i1, user=booker, purpose="秘密课题",
                   start_at=lab_time(dt.date(2026, 11, 3), 9),
                   end_at=lab_time(dt.date(2026, 11, 3), 11), state=BookingState.COMPLETED)
    contact = _contact(month.owner_a)
    login_as(contact)
    page = client.get("/owner?year=2026").get_data(as_text=True)
    assert i1.code in page and "客户企业" in page
    assert "订票人张三" not in page and "秘密课题" not in page
    settlement = client.get(f"/reports/settlements/{month.owner_a.code}?month=2026-11")
    assert settlement.status_code == 200
    text = settlement.get_data(as_text=True)
    assert "¥141.68" in text and "订票人张三" not in text and "秘密课题" not in text
    assert client.get(f"/reports/settlements/{month.owner_b.code}?month=2026-11"
                      ).status_code == 403
    assert client.get("/reports/settlements?month=2026-11").status_code == 403


def test_people_who_are_no_contacts_see_no_owner_pages(month, client, login_as):
    login_as(create_user())
    assert client.get("/owner").status_code == 403
    assert client.get(f"/reports/settlements/{month.owner_a.code}").status_code == 403


def test_the_settlement_as_json_line_by_line(month, client):
    from tests.factories import bearer

    admin = create_admin()
    body = client.get(f"/api/v1/owners/{month.owner_a.code}/settlement?month=2026-11",
                      headers=bearer(admin)).get_json()
    assert [(line["kind"], line["part"], line["amount"], line["percent"], line["share"])
            for line in body["lines"]] == [
        ("usage", "time", "100.01", 70, "70.01"), ("service", "testing", "50.01", 40, "20.00"),
        ("no_show", "time", "33.33", 50, "16.67"), ("service", "testing", "80.00", 50, "40.00"),
        ("adjustment", "time", "-10.00", 50, "-5.00")]
    assert body["totals"]["share"] == "141.68" and body["totals"]["revenue"] == "253.35"
    overview = client.get("/api/v1/settlements?month=2026-11", headers=bearer(admin)).get_json()
    assert (overview["total_revenue"], overview["not_attributed"]) == ("343.35", "30.00")
    contact = _contact(month.owner_b)
    assert client.get(f"/api/v1/owners/{month.owner_a.code}/settlement?month=2026-11",
                      headers=bearer(contact)).status_code == 403
    assert client.get(f"/api/v1/owners/{month.owner_b.code}/settlement?month=2026-11",
                      headers=bearer(contact)).get_json()["totals"]["share"] == "36.00"
    assert client.get("/api/v1/settlements?month=2026-99",
                      headers=bearer(admin)).status_code == 422
