"""Billing in the browser: statements (list, month close, one statement, downloads, issue,
payment, adjustments), unbilled charges, adjustments and rate cards — each page for every kind
of visitor."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from labbook.accounts.models import PriceTier
from labbook.audit.models import AuditEvent
from labbook.billing import services as billing
from labbook.billing.models import (
    Charge,
    ChargeKind,
    MonthClose,
    RateCard,
    Statement,
    StatementState,
)
from labbook.billing.services import previous_period
from labbook.booking.models import BookingState
from labbook.core.time import LAB_TZ
from labbook.extensions import db
from tests.booking.test_views import assert_well_formed
from tests.factories import (
    create_admin,
    create_booking,
    create_charge,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_service,
    create_statement,
    create_user,
    lab_time,
    reload,
)

VISITORS = ["anonymous", "researcher", "contact", "other_contact", "other_manager", "manager",
            "admin"]


def text(response) -> str:
    return response.get_data(as_text=True)


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def lab_today() -> dt.date:
    return dt.datetime.now(LAB_TZ).date()


@pytest.fixture
def nem():
    return create_lab(code="NEM", name_en="New-Energy Materials Lab")


@pytest.fixture
def food():
    return create_lab(code="FOOD", name_en="Green Food Lab")


@pytest.fixture
def organization():
    return create_organization(name="Acme Batteries", tier=PriceTier.EXTERNAL)


@pytest.fixture
def people(nem, food, organization):
    """One of each kind of visitor (None for the anonymous one), all reading English."""
    contact = create_user(name="Contact Li", organization=organization, locale="en")
    organization.billing_contact = contact
    other_organization = create_organization(name="Other Foods")
    other_contact = create_user(name="Contact Sun", organization=other_organization,
                                locale="en")
    other_organization.billing_contact = other_contact
    db.session.commit()
    return {
        "anonymous": None,
        "researcher": create_user(name="Researcher Zhao", organization=organization,
                                  locale="en"),
        "contact": contact,
        "other_contact": other_contact,
        "other_manager": create_manager(create_lab(code="MFG"), name="Manager Ma", locale="en"),
        "manager": create_manager(nem, name="Manager Wang", locale="en"),
        "admin": create_admin(name="Admin Qian", locale="en"),
    }


@pytest.fixture
def visit(client, login_as, people):
    """A client signed in as one of ``people`` (or not signed in)."""
    def as_(who: str):
        return client if people[who] is None else login_as(people[who])

    return as_


@pytest.fixture
def statement(nem, food, organization):
    """A draft of November 2026 with two NEM lines and one FOOD line."""
    service = create_service(lab=food, code="FOOD-S001", name_en="Pesticide residues")
    lines = [
        create_charge(organization=organization, lab=nem, amount=Decimal("28.13"),
                      reason="Calibration run", occurred_at=lab_time(dt.date(2026, 11, 3), 9)),
        create_charge(organization=organization, lab=nem, amount=Decimal("-12.50"),
                      reason="Credit for downtime",
                      occurred_at=lab_time(dt.date(2026, 11, 2), 9)),
        create_charge(organization=organization, lab=food, kind=ChargeKind.SERVICE,
                      service=service, samples=5, unit_price=Decimal("120.00"),
                      amount=Decimal("600.00"), reason="",
                      occurred_at=lab_time(dt.date(2026, 11, 20), 15)),
    ]
    return create_statement(lines, number="LB-2026-000042", period="2026-11")


@pytest.fixture
def issued(statement):
    statement.state = StatementState.ISSUED
    statement.issued_at = lab_time(dt.date(2026, 12, 2), 10)
    db.session.commit()
    return statement


def assert_signs_in(response):
    assert response.status_code == 302 and "/login" in response.location


# -- one statement, for every visitor -----------------------------------------------------------


@pytest.mark.parametrize(("who", "status"), [
    ("researcher", 404), ("contact", 200), ("other_contact", 404), ("other_manager", 404),
    ("manager", 200), ("admin", 200)])
def test_an_issued_statement_page_by_visitor(visit, issued, who, status):
    response = visit(who).get(f"/statements/{issued.id}")
    assert response.status_code == status
    if status != 200:
        assert "LB-2026-000042" not in text(response)
        return
    page = text(response)
    assert_well_formed(page)
    assert "Statement LB-2026-000042" in page and "Acme Batteries" in page
    assert issued.organization.uscc in page and "2026-11" in page and "Issued" in page
    assert "New-Energy Materials Lab" in page and "Adjustment: Calibration run" in page
    assert "2026-11-03" in page and "¥28.13" in page and "-¥12.50" in page
    assert "Subtotal New-Energy Materials Lab" in page and "¥15.63" in page
    assert f'href="/statements/{issued.id}.csv"' in page
    assert f'href="/statements/{issued.id}.xlsx"' in page
    if who == "manager":
        # Only the NEM lines and their subtotal: neither the FOOD line nor the grand total.
        assert "Pesticide residues" not in page and "¥600.00" not in page
        assert "¥615.63" not in page and "grand-total" not in page
        assert "only the lines of the labs you manage" in page
    else:
        assert "FOOD-S001 Pesticide residues, 5 samples" in page
        assert "5 samples × ¥120.00 = ¥600.00" in page
        assert "Subtotal Green Food Lab" in page and "¥615.63" in page
    # Issuing and adding lines are over; recording the payment is the admins'.
    assert "/issue" not in page and "/adjustments" not in page
    assert (f'action="/statements/{issued.id}/paid"' in page) == (who == "admin")


def test_a_statement_needs_sign_in(visit, issued):
    for path in (f"/statements/{issued.id}", f"/statements/{issued.id}.csv",
                 f"/statements/{issued.id}.xlsx", "/statements"):
        assert_signs_in(visit("anonymous").get(path))


@pytest.mark.parametrize(("who", "status"), [
    ("researcher", 404), ("contact", 404), ("other_contact", 404), ("other_manager", 404),
    ("manager", 200), ("admin", 200)])
def test_a_draft_is_for_the_institute_only(visit, statement, who, status):
    response = visit(who).get(f"/statements/{statement.id}")
    assert response.status_code == status
    if status == 200:
        page = text(response)
        assert "Draft" in page
        assert f'action="/statements/{statement.id}/adjustments"' in page
        assert (f'action="/statements/{statement.id}/issue"' in page) == (who == "admin")


def test_an_unknown_statement_is_not_found(visit, people):
    assert visit("admin").get("/statements/999999").status_code == 404
    assert visit("admin").get("/statements/99999999999").status_code == 404


def test_the_statement_prints_on_a4(visit, issued, client):
    page = text(visit("admin").get(f"/statements/{issued.id}"))
    assert 'href="/static/css/statement.css"' in page
    assert "<thead>" in page and 'class="no-print' in page
    response = client.get("/static/css/statement.css")
    css = text(response)
    response.close()  # a static file is streamed from an open file
    assert "@media print" in css and re.search(r"@page\s*{[^}]*size:\s*A4", css)
    assert re.search(r"@page\s*{[^}]*margin:", css)
    assert re.search(r"thead\s*{\s*display:\s*table-header-group", css)
    assert "break-inside: avoid" in css and ".navbar" in css and ".no-print" in css


def test_a_line_of_instrument_time_shows_who_booked_it_and_the_project_reference(
        visit, people, nem, organization):
    instrument = create_instrument(lab=nem, rates={PriceTier.EXTERNAL: Decimal("60.00")})
    start = lab_time(dt.date(2026, 11, 9), 9)
    booking = create_booking(instrument=instrument, user=people["researcher"], start_at=start,
                             end_at=start + dt.timedelta(hours=1),
                             state=BookingState.COMPLETED, project_ref="PO-2026-118")
    charge = billing.charge_completed_booking(db.session, booking, now=start)
    db.session.commit()
    statement = create_statement([charge])
    page = text(visit("admin").get(f"/statements/{statement.id}"))
    assert "Booked by: Researcher Zhao" in page
    assert 'Project or PO reference: <span class="spec-text">PO-2026-118</span>' in page


# -- downloads ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "status"), [
    ("researcher", 404), ("contact", 200), ("other_contact", 404), ("other_manager", 404),
    ("manager", 200), ("admin", 200)])
def test_csv_and_xlsx_follow_the_statement_page(visit, issued, who, status):
    client = visit(who)
    csv_response = client.get(f"/statements/{issued.id}.csv")
    xlsx_response = client.get(f"/statements/{issued.id}.xlsx")
    assert csv_response.status_code == xlsx_response.status_code == status
    if status != 200:
        return
    assert csv_response.mimetype == "text/csv"
    assert csv_response.headers["Content-Disposition"] == \
        "attachment; filename=LB-2026-000042.csv"
    assert xlsx_response.headers["Content-Disposition"] == \
        "attachment; filename=LB-2026-000042.xlsx"
    assert "no-store" in csv_response.headers["Cache-Control"]
    csv_text = text(csv_response)
    sheet = load_workbook(io.BytesIO(xlsx_response.data)).active
    cells = [str(cell.value) for row in sheet.iter_rows() for cell in row
             if cell.value is not None]
    assert "LB-2026-000042" in csv_text and "LB-2026-000042" in cells
    assert ("Pesticide residues" in csv_text) == (who != "manager")
    assert any("Pesticide residues" in cell for cell in cells) == (who != "manager")


def test_a_managers_export_of_a_draft_and_nobody_elses(visit, statement):
    assert visit("manager").get(f"/statements/{statement.id}.csv").status_code == 200
    assert visit("contact").get(f"/statements/{statement.id}.csv").status_code == 404


# -- the list -----------------------------------------------------------------------------------


@pytest.fixture
def other_statement(food, people):
    """An issued statement of the other organization, with a FOOD line only."""
    line = create_charge(organization=people["other_contact"].organization, lab=food,
                         amount=Decimal("50.00"), reason="Sieve analysis")
    return create_statement([line], number="LB-2026-000043", period="2026-11",
                            state=StatementState.ISSUED)


@pytest.mark.parametrize(("who", "shown"), [
    ("researcher", []), ("contact", ["LB-2026-000042"]), ("other_contact", ["LB-2026-000043"]),
    ("other_manager", []), ("manager", ["LB-2026-000042"]),
    ("admin", ["LB-2026-000042", "LB-2026-000043"])])
def test_the_list_shows_what_each_visitor_may_see(visit, issued, other_statement, who, shown):
    response = visit(who).get("/statements")
    assert response.status_code == 200
    page = text(response)
    assert_well_formed(page)
    assert [number for number in ("LB-2026-000042", "LB-2026-000043")
            if number in page] == shown
    if not shown:
        assert "No statements here." in page
    if who == "manager":
        assert "¥15.63" in page and "¥615.63" not in page and "your labs' lines" in page
    if who == "admin":
        assert "¥615.63" in page and "Close a month" in page
    else:
        assert "/statements/close" not in page


def test_billing_contacts_do_not_see_drafts_in_the_list(visit, statement):
    assert "LB-2026-000042" not in text(visit("contact").get("/statements"))


def test_the_admin_filters_by_month_organization_and_state(visit, issued, other_statement,
                                                            people):
    client = visit("admin")
    other_id = people["other_contact"].organization_id
    page = text(client.get(f"/statements?organization={other_id}"))
    assert "LB-2026-000043" in page and "LB-2026-000042" not in page
    page = text(client.get("/statements?period=2026-10"))
    assert "LB-2026-0000" not in page and "No statements here." in page
    page = text(client.get("/statements?period=2026-11&state=issued"))
    assert "LB-2026-000042" in page and "LB-2026-000043" in page
    page = text(client.get("/statements?state=paid"))
    assert "LB-2026-0000" not in page
    for bad in ("period=2026-13", "state=lost", "organization=abc"):
        response = client.get(f"/statements?{bad}")
        assert response.status_code == 200
        assert "invalid-feedback" in text(response)
        assert "LB-2026-0000" not in text(response)
    # Not a filter on the form but a broken link: an error page that names the parameter.
    broken = client.get("/statements?page=0")
    assert broken.status_code == 422 and "page" in text(broken)


def test_the_nav_links_statements_and_charges_to_those_who_may_use_them(visit, people):
    for who in VISITORS[1:]:
        page = text(visit(who).get("/"))
        assert ('href="/statements"' in page) == (who != "researcher"), who
        assert ('href="/charges"' in page) == (who in ("manager", "other_manager", "admin")), \
            who


# -- closing a month ----------------------------------------------------------------------------


def test_the_close_form_offers_the_previous_month_not_this_one(visit, people):
    page = text(visit("admin").get("/statements"))
    last_month = previous_period(dt.datetime.now(dt.UTC))
    assert f'<option selected value="{last_month}">' in page
    assert f'value="{lab_today():%Y-%m}"' not in page


def test_closing_a_month_builds_drafts_and_a_second_close_creates_nothing(visit, nem,
                                                                           organization):
    last_month = previous_period(dt.datetime.now(dt.UTC))
    first_day = dt.date.fromisoformat(last_month + "-01")
    create_charge(organization=organization, lab=nem, occurred_at=lab_time(first_day, 10))
    create_charge(organization=create_organization(), lab=nem,
                  occurred_at=lab_time(first_day, 11))
    client = visit("admin")

    response = client.post("/statements/close", data={"close-period": last_month})
    assert response.status_code == 302
    assert response.location == f"/statements?period={last_month}"
    page = text(client.get(response.location))
    assert f"{last_month} is closed: 2 draft statements were created." in page
    assert page.count("/statements/") >= 2 and "Draft" in page
    assert count(Statement) == 2
    assert count(Charge) == 2
    assert db.session.scalar(select(func.count()).select_from(Charge)
                             .where(Charge.statement_id.is_(None))) == 0

    response = client.post("/statements/close", data={"close-period": last_month},
                           follow_redirects=True)
    closed = db.session.scalars(select(MonthClose)).one().closed_at
    assert f"{last_month} was already closed on " \
        f"{closed.astimezone(LAB_TZ):%Y-%m-%d %H:%M}; nothing new was created." in text(response)
    assert count(Statement) == 2


def test_closing_a_month_without_charges_says_so(visit, people):
    response = visit("admin").post("/statements/close", data={"close-period": "2020-01"},
                                   follow_redirects=True)
    assert "2020-01 is closed: there were no unbilled charges" in text(response)
    assert count(MonthClose) == 1 and count(Statement) == 0


def test_a_month_that_has_not_ended_is_refused_on_the_form(visit, people):
    this_month = f"{lab_today():%Y-%m}"
    response = visit("admin").post("/statements/close", data={"close-period": this_month},
                                   follow_redirects=True)
    assert response.status_code == 200
    page = text(response)
    assert_well_formed(page)
    assert f"{this_month} has not ended yet; it can be closed from" in page
    assert 'class="form-select is-invalid"' in page
    assert count(MonthClose) == 0


@pytest.mark.parametrize("bad", ["", "2026-13", "soon", "1999-12"])
def test_a_bad_month_is_a_form_error(visit, people, bad):
    response = visit("admin").post("/statements/close", data={"close-period": bad},
                                   follow_redirects=True)
    assert response.status_code == 200
    assert "is-invalid" in text(response)
    assert count(MonthClose) == 0


@pytest.mark.parametrize("who", ["researcher", "contact", "manager"])
def test_only_admins_close_a_month(visit, who):
    assert visit(who).post("/statements/close", data={"close-period": "2020-01"}) \
        .status_code == 403
    assert count(MonthClose) == 0


# -- issue, payment, adjustments on the statement -----------------------------------------------


def test_issue_then_an_adjustment_is_refused_and_nothing_changes(visit, statement, nem):
    client = visit("admin")
    page = text(client.get(f"/statements/{statement.id}"))
    assert 'data-confirm="Issue statement LB-2026-000042?' in page
    response = client.post(f"/statements/{statement.id}/issue")
    assert response.status_code == 302
    page = text(client.get(response.location))
    assert "Statement LB-2026-000042 is issued" in page
    assert re.search(r"<strong>Issued</strong>\s*· Admin Qian", page)  # the audit history
    assert f'action="/statements/{statement.id}/adjustments"' not in page
    assert reload(statement).state == StatementState.ISSUED

    lines_before = count(Charge)
    response = client.post(f"/statements/{statement.id}/adjustments", data={
        "lab_id": nem.id, "amount": "10.00", "reason": "Forgotten calibration"})
    assert response.status_code == 303
    assert "is no longer a draft and never changes" in text(client.get(response.location))
    assert count(Charge) == lines_before
    assert reload(statement).total == Decimal("615.63")

    again = client.post(f"/statements/{statement.id}/issue", follow_redirects=True)
    assert "already issued" in text(again)


def test_mark_paid_with_a_note(visit, issued):
    client = visit("admin")
    response = client.post(f"/statements/{issued.id}/paid",
                           data={"note": "Bank transfer 2026-12-20"})
    assert response.status_code == 302
    page = text(client.get(response.location))
    assert "Statement LB-2026-000042 is marked as paid." in page
    assert "Bank transfer 2026-12-20" in page and "Marked as paid" in page
    statement = reload(issued)
    assert statement.state == StatementState.PAID and statement.paid_at is not None
    response = client.post(f"/statements/{issued.id}/paid", data={"note": ""},
                           follow_redirects=True)
    assert "already paid" in text(response)


def test_a_long_payment_note_is_a_form_error(visit, issued):
    response = visit("admin").post(f"/statements/{issued.id}/paid", data={"note": "x" * 501},
                                   follow_redirects=True)
    assert response.status_code == 200
    assert "is-invalid" in text(response)
    assert reload(issued).state == StatementState.ISSUED


def test_a_draft_cannot_be_marked_paid(visit, statement):
    response = visit("admin").post(f"/statements/{statement.id}/paid", data={},
                                   follow_redirects=True)
    assert "issue it before recording the payment" in text(response)
    assert reload(statement).state == StatementState.DRAFT


@pytest.mark.parametrize("who", ["contact", "manager"])
def test_only_admins_issue_and_mark_paid(visit, issued, statement, who):
    client = visit(who)
    assert client.post(f"/statements/{statement.id}/issue").status_code == 403
    assert client.post(f"/statements/{issued.id}/paid", data={}).status_code == 403
    assert reload(issued).state == StatementState.ISSUED


def test_a_manager_adds_an_adjustment_to_a_draft(visit, statement, nem, food):
    client = visit("manager")
    page = text(client.get(f"/statements/{statement.id}"))
    labs = re.search(r'<select[^>]*id="lab_id".*?</select>', page, re.S).group(0)
    assert "New-Energy Materials Lab" in labs and "Green Food Lab" not in labs
    response = client.post(f"/statements/{statement.id}/adjustments", data={
        "lab_id": nem.id, "amount": "-20.00", "reason": "Goodwill credit"})
    assert response.status_code == 302
    page = text(client.get(response.location))
    assert "An adjustment of -¥20.00 was added to the statement." in page
    assert "Adjustment: Goodwill credit" in page and "¥-4.37" not in page
    assert "-¥4.37" in page  # the NEM subtotal: 28.13 - 12.50 - 20.00
    assert reload(statement).total == Decimal("595.63")
    charge = db.session.scalars(select(Charge).where(Charge.reason == "Goodwill credit")).one()
    assert charge.statement_id == statement.id and charge.created_by.name == "Manager Wang"


@pytest.mark.parametrize(("data", "message"), [
    ({"amount": "10", "reason": " "}, "Give the reason for the adjustment."),
    ({"amount": "", "reason": "x"}, "Enter the amount in yuan, e.g. 120.50."),
    ({"amount": "12.345", "reason": "x"}, "Amounts have at most two decimals (fen)."),
    ({"amount": "ten", "reason": "x"}, "Give the amount in yuan as plain digits"),
    ({"amount": "1e30", "reason": "x"}, "Give the amount in yuan as plain digits"),
    ({"amount": "0", "reason": "x"}, "An adjustment of zero changes nothing."),
    ({"amount": "2000000", "reason": "x"}, "An adjustment is at most ¥1,000,000.00 either way."),
])
def test_bad_adjustments_on_a_draft_are_form_errors(visit, statement, nem, data, message):
    before = count(Charge)
    response = visit("manager").post(f"/statements/{statement.id}/adjustments",
                                     data={"lab_id": nem.id, **data}, follow_redirects=True)
    # Post/Redirect/Get: the statement shows the form again with what was typed.
    assert [r.status_code for r in response.history] == [303]
    assert response.request.path == f"/statements/{statement.id}"
    assert response.status_code == 200
    page = text(response)
    assert_well_formed(page)
    assert message in page and "is-invalid" in page
    assert count(Charge) == before and reload(statement).total == Decimal("615.63")


def test_a_manager_cannot_adjust_another_labs_lines(visit, statement, food):
    response = visit("manager").post(f"/statements/{statement.id}/adjustments", data={
        "lab_id": food.id, "amount": "5.00", "reason": "Not mine"}, follow_redirects=True)
    assert response.status_code == 200 and "Not a valid choice" in text(response)
    response = visit("other_manager").post(f"/statements/{statement.id}/adjustments", data={
        "lab_id": food.id, "amount": "5.00", "reason": "Not mine"})
    assert response.status_code == 404
    assert count(Charge) == 3


# -- unbilled charges and adjustments -----------------------------------------------------------


@pytest.fixture
def unbilled(nem, food, organization):
    return [
        create_charge(organization=organization, lab=nem, amount=Decimal("30.00"),
                      reason="Extra sample prep", occurred_at=lab_time(dt.date(2026, 11, 5), 9)),
        create_charge(organization=organization, lab=nem, amount=Decimal("12.50"),
                      reason="Cryogen top-up", occurred_at=lab_time(dt.date(2026, 10, 5), 9)),
        create_charge(organization=organization, lab=food, amount=Decimal("7.00"),
                      reason="Courier", occurred_at=lab_time(dt.date(2026, 11, 6), 9)),
    ]


@pytest.mark.parametrize(("who", "status"), [
    ("researcher", 403), ("contact", 403), ("other_contact", 403), ("other_manager", 200),
    ("manager", 200), ("admin", 200)])
def test_the_unbilled_charges_by_visitor(visit, unbilled, who, status):
    response = visit(who).get("/charges")
    assert response.status_code == status
    if status != 200:
        return
    page = text(response)
    assert_well_formed(page)
    if who == "other_manager":
        assert "No unbilled charges here." in page and "Extra sample prep" not in page
    elif who == "manager":
        assert "Extra sample prep" in page and "Cryogen top-up" in page
        assert "Courier" not in page
        assert 'id="charges-total">¥42.50<' in page
    else:
        assert "Courier" in page and 'id="charges-total">¥49.50<' in page
        assert "Acme Batteries" in page


def test_charges_need_sign_in(visit, people):
    assert_signs_in(visit("anonymous").get("/charges"))
    assert_signs_in(visit("anonymous").get("/charges/adjust"))


def test_charges_filter_by_lab_and_month(visit, unbilled, statement):
    client = visit("admin")
    page = text(client.get("/charges?lab=FOOD"))
    assert "Courier" in page and "Extra sample prep" not in page
    assert 'id="charges-total">¥7.00<' in page
    page = text(client.get("/charges?period=2026-10"))
    assert "Cryogen top-up" in page and "Extra sample prep" not in page
    assert "Calibration run" not in page  # on a statement already
    page = text(client.get("/charges?lab=NEM&period=2026-11"))
    assert 'id="charges-total">¥30.00<' in page
    for refused in (client.get("/charges?lab=NOPE"), client.get("/charges?period=11-2026"),
                    # A manager cannot pick a lab they do not manage.
                    visit("manager").get("/charges?lab=FOOD")):
        assert refused.status_code == 200 and "invalid-feedback" in text(refused)
        assert 'id="charges-total"' not in text(refused)


@pytest.mark.parametrize(("who", "status"), [
    ("researcher", 403), ("contact", 403), ("manager", 200), ("admin", 200)])
def test_the_adjustment_form_by_visitor(visit, who, status, nem, food):
    response = visit(who).get("/charges/adjust")
    assert response.status_code == status
    if status == 200:
        page = text(response)
        assert_well_formed(page)
        assert "Acme Batteries" in page and "Other Foods" in page
        labs = re.search(r'<select[^>]*id="lab_id".*?</select>', page, re.S).group(0)
        assert ("Green Food Lab" in labs) == (who == "admin")
        assert f'<option value="{nem.id}">' in labs


def test_a_manager_records_a_credit_for_the_next_statement(visit, nem, organization):
    client = visit("manager")
    response = client.post("/charges/adjust", data={
        "organization_id": organization.id, "lab_id": nem.id, "amount": "-45.00",
        "reason": "Refund: run aborted by an instrument fault"})
    assert response.status_code == 302 and response.location == "/charges"
    page = text(client.get("/charges"))
    assert "An adjustment of -¥45.00 for Acme Batteries was recorded" in page
    assert "Refund: run aborted by an instrument fault" in page
    charge = db.session.scalars(select(Charge)).one()
    assert charge.amount == Decimal("-45.00") and charge.statement_id is None
    assert charge.created_by.name == "Manager Wang"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "adjust")).one()
    assert event.note == "Refund: run aborted by an instrument fault"


@pytest.mark.parametrize(("data", "message"), [
    ({"reason": ""}, "Give the reason for the adjustment."),
    ({"amount": "abc"}, "Give the amount in yuan as plain digits"),
    ({"amount": "9.999"}, "Amounts have at most two decimals (fen)."),
    ({"amount": "0.00"}, "An adjustment of zero changes nothing."),
    ({"organization_id": "999999"}, "Not a valid choice"),
    ({"lab_id": "abc"}, "Invalid Choice"),
])
def test_bad_adjustments_are_form_errors(visit, nem, food, organization, data, message):
    values = {"organization_id": organization.id, "lab_id": nem.id, "amount": "10.00",
              "reason": "Something"}
    values.update(data)
    response = visit("manager").post("/charges/adjust", data=values, follow_redirects=True)
    assert response.status_code == 200
    page = text(response)
    assert_well_formed(page)
    assert message in page
    assert count(Charge) == 0


def test_a_manager_cannot_adjust_for_another_lab(visit, food, organization):
    response = visit("manager").post("/charges/adjust", data={
        "organization_id": organization.id, "lab_id": food.id, "amount": "10.00",
        "reason": "Not mine"}, follow_redirects=True)
    assert response.status_code == 200 and "Not a valid choice" in text(response)
    assert count(Charge) == 0


# -- rate cards ---------------------------------------------------------------------------------


@pytest.fixture
def instrument(nem):
    return create_instrument(lab=nem, name_en="X-ray diffractometer")


def rates_path(instrument) -> str:
    return f"/instruments/{instrument.id}/rates"


def rate_form(**overrides) -> dict:
    values = {"tier": "partner",
              "effective_from": (lab_today() + dt.timedelta(days=10)).isoformat(),
              "hourly_rate": "95.50", "billing_basis": "larger", "rounding_minutes": "30",
              "minimum_minutes": "60", "no_show_percent": "80", "late_cancel_percent": "40"}
    values.update(overrides)
    return values


@pytest.mark.parametrize(("who", "status"), [
    ("researcher", 403), ("contact", 403), ("other_contact", 403), ("other_manager", 403),
    ("manager", 200), ("admin", 200)])
def test_the_rates_page_by_visitor(visit, instrument, who, status):
    client = visit(who)
    assert client.get(rates_path(instrument)).status_code == status
    assert client.post(rates_path(instrument), data=rate_form()).status_code == \
        (302 if status == 200 else status)
    detail = text(client.get(f"/instruments/{instrument.id}"))
    assert (f'href="{rates_path(instrument)}"' in detail) == (status == 200)


def test_the_rates_page_needs_sign_in(visit, instrument):
    assert_signs_in(visit("anonymous").get(rates_path(instrument)))
    assert f'href="{rates_path(instrument)}"' not in text(
        visit("anonymous").get(f"/instruments/{instrument.id}"))


def test_the_rates_page_shows_the_cards_per_tier(visit, instrument):
    page = text(visit("manager").get(rates_path(instrument)))
    assert_well_formed(page)
    assert "Rate cards of X-ray diffractometer" in page
    assert page.count("In force") == 3
    assert "¥60.00" in page and "¥80.00" in page and "¥100.00" in page
    assert f'value="{lab_today().isoformat()}"' in page  # a new card starts today by default


def test_a_manager_adds_a_future_card_and_withdraws_it(visit, instrument):
    client = visit("manager")
    start = lab_today() + dt.timedelta(days=10)
    response = client.post(rates_path(instrument), data=rate_form())
    assert response.status_code == 302
    page = text(client.get(response.location))
    assert f"The Partner rate of ¥95.50 per hour applies from {start.isoformat()}." in page
    assert "Upcoming" in page and "The larger of booked and actual" in page
    assert f"Partner from {start.isoformat()}, ¥95.50 per hour" in page  # the changes
    card = db.session.scalars(select(RateCard).where(RateCard.hourly_rate == Decimal("95.50"))
                              ).one()
    assert (card.rounding_minutes, card.minimum_minutes, card.no_show_percent,
            card.late_cancel_percent) == (30, 60, 80, 40)
    assert db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == "rate_cards")).all() == ["create"]

    response = client.post(f"{rates_path(instrument)}/{card.id}/withdraw")
    assert response.status_code == 302
    page = text(client.get(response.location))
    assert "The rate card was withdrawn." in page and "Withdrawn" in page
    assert count(RateCard) == 3


def test_a_card_in_force_cannot_be_withdrawn(visit, instrument):
    card = instrument.rate_cards[0]
    response = visit("admin").post(f"{rates_path(instrument)}/{card.id}/withdraw",
                                   follow_redirects=True)
    assert "already in force" in text(response)
    assert count(RateCard) == 3
    other = create_instrument()
    assert visit("admin").post(f"{rates_path(instrument)}/{other.rate_cards[0].id}/withdraw"
                               ).status_code == 404


@pytest.mark.parametrize(("overrides", "message"), [
    ({"effective_from": (lab_today() - dt.timedelta(days=3)).isoformat()},
     "A rate card starts today or later"),
    ({"effective_from": "2020-01-01", "tier": "external"}, "A rate card starts today or later"),
    ({"effective_from": "3000-01-01"}, "Give a date between 2000 and 2099."),
    ({"effective_from": "next week"}, "Enter a date like 2026-12-31."),
    ({"hourly_rate": "-1"}, "The hourly rate is ¥0.00 to ¥100,000.00."),
    ({"hourly_rate": "lots"}, "Give the amount in yuan as plain digits"),
    ({"hourly_rate": ""}, "Enter the amount in yuan, e.g. 120.50."),
    ({"rounding_minutes": "0"}, "The rounding increment is 1 to 1440 minutes."),
    ({"rounding_minutes": "quarter"}, "Enter a whole number."),
    ({"minimum_minutes": "99999999999999999999"}, "The minimum is 0 to 1440 minutes."),
    ({"no_show_percent": "150"}, "A share is 0 to 100 percent."),
    ({"late_cancel_percent": "-5"}, "A share is 0 to 100 percent."),
    ({"tier": "gold"}, "Not a valid choice"),
    ({"billing_basis": "guess"}, "Not a valid choice"),
])
def test_bad_rate_cards_are_form_errors(visit, instrument, overrides, message):
    response = visit("manager").post(rates_path(instrument), data=rate_form(**overrides),
                                     follow_redirects=True)
    assert response.status_code == 200
    page = text(response)
    assert_well_formed(page)
    assert message in page and "is-invalid" in page
    assert count(RateCard) == 3


def test_a_second_card_on_the_same_day_is_a_form_error(visit, instrument):
    client = visit("manager")
    assert client.post(rates_path(instrument), data=rate_form()).status_code == 302
    response = client.post(rates_path(instrument), data=rate_form(hourly_rate="99.00"),
                           follow_redirects=True)
    assert response.status_code == 200
    assert "already has a rate card for the Partner tier starting on" in text(response)
    assert count(RateCard) == 4
