"""The billing API: who sees which statement and charge, what admins and managers may change,
and that refused input is a 422/403/409 problem that writes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from labbook.accounts.models import PriceTier
from labbook.audit.models import AuditEvent
from labbook.billing import services as billing
from labbook.billing.models import (
    BillingBasis,
    Charge,
    MonthClose,
    RateCard,
    Statement,
    StatementState,
)
from labbook.booking.models import BookingState
from labbook.extensions import db
from tests.factories import (
    bearer,
    create_admin,
    create_booking,
    create_charge,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_statement,
    create_user,
    lab_time,
)

DECEMBER = lab_time(dt.date(2026, 12, 1), 9)
PEOPLE = ("researcher_a", "researcher_b", "contact_b", "other_manager", "manager", "admin")


@pytest.fixture
def world():
    """Two organizations with a November statement each: A's only in NEM, B's in NEM and
    FOOD. B's billing contact is a researcher of B; the manager runs NEM, the other FOOD."""
    nem = create_lab(code="NEM", name_en="New-Energy Materials Lab")
    food = create_lab(code="FOOD", name_en="Green Food Lab")
    org_a = create_organization(name="甲公司")
    org_b = create_organization(name="乙公司")
    w = SimpleNamespace(nem=nem, food=food, org_a=org_a, org_b=org_b)
    w.researcher_a = create_user(organization=org_a)
    w.researcher_b = create_user(organization=org_b)
    w.contact_b = create_user(organization=org_b)
    org_b.billing_contact = w.contact_b
    w.manager = create_manager(nem)
    w.other_manager = create_manager(food)
    w.admin = create_admin()
    w.a_line = create_charge(organization=org_a, lab=nem, amount=Decimal("40.00"))
    w.b_nem = create_charge(organization=org_b, lab=nem, amount=Decimal("100.00"))
    w.b_food = create_charge(organization=org_b, lab=food, amount=Decimal("250.50"),
                             occurred_at=lab_time(dt.date(2026, 11, 5), 9))
    w.statement_a = create_statement([w.a_line])
    w.statement_b = create_statement([w.b_nem, w.b_food])
    w.headers = {name: bearer(getattr(w, name)) for name in PEOPLE}
    return w


def snapshot() -> tuple:
    """Everything a refused request must leave as it was."""
    db.session.rollback()
    counts = tuple(db.session.scalar(select(func.count()).select_from(model))
                   for model in (Charge, Statement, RateCard, MonthClose, AuditEvent))
    states = tuple(db.session.scalars(select(Statement.state).order_by(Statement.id)))
    totals = tuple(db.session.scalars(select(Statement.total).order_by(Statement.id)))
    return counts, states, totals


def assert_problem(response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code or code in [p["code"] for p in
                                                     response.json.get("problems", [])]
    if field:
        assert field in [p.get("field") for p in response.json["problems"]]


def issue(statement) -> None:
    statement.state = StatementState.ISSUED
    db.session.commit()


# -- reading statements -------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/statements", "/api/v1/statements/1",
                                  "/api/v1/statements/1.csv", "/api/v1/statements/1.xlsx",
                                  "/api/v1/charges"])
def test_anonymous_callers_get_401(client, path):
    response = client.get(path)
    assert_problem(response, 401, "unauthorized")


@pytest.mark.parametrize(("who", "visible"), [
    ("researcher_a", set()), ("researcher_b", set()), ("contact_b", set()),
    ("other_manager", {"b"}), ("manager", {"a", "b"}), ("admin", {"a", "b"}),
])
def test_who_sees_which_draft_statement(client, world, who, visible):
    ids = {"a": world.statement_a.id, "b": world.statement_b.id}
    listed = client.get("/api/v1/statements?period=2026-11", headers=world.headers[who]).json
    assert {item["id"] for item in listed["items"]} == {ids[k] for k in visible}
    assert listed["total"] == len(visible)
    for key, statement_id in ids.items():
        for suffix in ("", ".csv", ".xlsx"):
            response = client.get(f"/api/v1/statements/{statement_id}{suffix}",
                                  headers=world.headers[who])
            assert response.status_code == (200 if key in visible else 404), (key, suffix)


def test_the_billing_contact_sees_issued_statements_of_their_organization_only(client, world):
    issue(world.statement_b)
    issue(world.statement_a)
    headers = world.headers["contact_b"]
    listed = client.get("/api/v1/statements", headers=headers).json
    assert [item["id"] for item in listed["items"]] == [world.statement_b.id]
    whole = client.get(f"/api/v1/statements/{world.statement_b.id}", headers=headers).json
    assert whole["is_partial"] is False
    assert whole["total"] == whole["lines_total"] == "350.50"
    assert [line["lab"] for line in whole["lines"]] == ["FOOD", "NEM"]
    assert client.get(f"/api/v1/statements/{world.statement_a.id}",
                      headers=headers).status_code == 404
    # Colleagues who are not the contact still see nothing, issued or not.
    assert client.get("/api/v1/statements",
                      headers=world.headers["researcher_b"]).json["items"] == []
    assert client.get(f"/api/v1/statements/{world.statement_b.id}",
                      headers=world.headers["researcher_b"]).status_code == 404


def test_a_manager_sees_only_their_labs_lines_and_no_grand_total(client, world):
    headers = world.headers["manager"]
    data = client.get(f"/api/v1/statements/{world.statement_b.id}", headers=headers).json
    assert data["is_partial"] is True and data["total"] is None
    assert data["lines_total"] == "100.00"
    assert [(s["lab"], s["amount"], s["lines"]) for s in data["subtotals"]] == [
        ("NEM", "100.00", 1)]
    assert [line["id"] for line in data["lines"]] == [world.b_nem.id]
    listed = client.get("/api/v1/statements", headers=headers).json["items"]
    summary = next(item for item in listed if item["id"] == world.statement_b.id)
    assert summary["total"] is None and summary["lines_total"] == "100.00"
    assert "lines" not in summary

    exported = client.get(f"/api/v1/statements/{world.statement_b.id}.csv", headers=headers)
    text = exported.data.decode("utf-8-sig")
    assert "250.50" not in text and "350.50" not in text and "FOOD" not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[-1][-1] == "100.00"


def test_the_statement_document(client, world):
    data = client.get(f"/api/v1/statements/{world.statement_b.id}",
                      headers=world.headers["admin"]).json
    assert data["number"] == world.statement_b.number
    assert data["organization"] == {"id": world.org_b.id, "name": "乙公司",
                                    "uscc": world.org_b.uscc}
    assert (data["period"], data["state"], data["total"]) == ("2026-11", "draft", "350.50")
    assert [(s["lab"], s["amount"]) for s in data["subtotals"]] == [
        ("FOOD", "250.50"), ("NEM", "100.00")]
    line = data["lines"][0]
    assert line["kind"] == "adjustment" and line["date"] == "2026-11-05"
    assert line["amount"] == "250.50" and line["lab"] == "FOOD"
    assert line["description"] and line["computation"]["text"].endswith("250.50")
    assert data["csv_url"].endswith(f"/statements/{world.statement_b.id}.csv")


def test_a_booking_line_says_who_booked_it_and_the_project_reference(client, world):
    instrument = create_instrument(lab=world.nem, rates={PriceTier.EXTERNAL: Decimal("60.00")})
    start = lab_time(dt.date(2026, 11, 9), 9)
    booker = create_user(name="李雷")
    booking = create_booking(instrument=instrument, user=booker, start_at=start,
                             end_at=start + dt.timedelta(hours=1),
                             state=BookingState.COMPLETED, project_ref="PO-2026-118")
    charge = billing.charge_completed_booking(db.session, booking, now=start)
    db.session.commit()
    statement = create_statement([charge])
    [line] = client.get(f"/api/v1/statements/{statement.id}",
                        headers=world.headers["admin"]).json["lines"]
    assert line["booked_by"] == {"id": booker.id, "name": "李雷"}
    assert line["project_ref"] == "PO-2026-118"
    assert line["corrects_charge_id"] is None
    adjustment = client.get(f"/api/v1/statements/{world.statement_a.id}",
                            headers=world.headers["admin"]).json["lines"][0]
    assert (adjustment["booked_by"], adjustment["project_ref"]) == (None, "")


def test_statement_exports_are_attachments(client, world):
    headers = world.headers["admin"]
    sid = world.statement_b.id
    response = client.get(f"/api/v1/statements/{sid}.csv", headers=headers)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="{world.statement_b.number}.csv"'
    assert "乙公司" in response.data.decode("utf-8-sig")
    response = client.get(f"/api/v1/statements/{sid}.xlsx", headers=headers)
    assert response.headers["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet["B1"].value == world.statement_b.number


@pytest.mark.parametrize(("query", "field"), [
    ("period=2026-13", "period"), ("period=November", "period"),
    ("state=sent", "state"), ("organization_id=x", "organization_id"),
    ("per_page=100000", "per_page"),
    # Beyond an id column (32 and 64 bits): refused, not sent to the database.
    ("organization_id=2147483648", "organization_id"),
    ("organization_id=99999999999999999999", "organization_id"),
])
def test_bad_statement_filters_are_422(client, world, query, field):
    response = client.get(f"/api/v1/statements?{query}", headers=world.headers["admin"])
    assert_problem(response, 422, response.json["code"], field)


def test_statement_filters(client, world):
    headers = world.headers["admin"]
    issue(world.statement_b)

    def ids(query):
        return {i["id"] for i in client.get(f"/api/v1/statements?{query}",
                                            headers=headers).json["items"]}

    assert ids(f"organization_id={world.org_a.id}") == {world.statement_a.id}
    assert ids("state=issued") == {world.statement_b.id}
    assert ids("period=2026-10") == set()
    page = client.get("/api/v1/statements?per_page=1&page=2", headers=headers).json
    assert page["total"] == 2 and len(page["items"]) == 1


# -- issue and payment --------------------------------------------------------------------------

def test_issue_and_mark_paid(client, world, clock):
    clock.now = DECEMBER
    admin = world.headers["admin"]
    sid = world.statement_b.id
    response = client.post(f"/api/v1/statements/{sid}/issue", headers=admin)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "issued"
    assert dt.datetime.fromisoformat(response.json["issued_at"]) == DECEMBER
    # A transition the statement's state no longer allows is a conflict.
    assert_problem(client.post(f"/api/v1/statements/{sid}/issue", headers=admin), 409,
                   "invalid_state")
    response = client.post(f"/api/v1/statements/{sid}/paid", headers=admin,
                           json={"note": "银行转账 2026-12-03"})
    assert response.status_code == 200, response.json
    assert response.json["state"] == "paid"
    assert response.json["payment_note"] == "银行转账 2026-12-03"
    assert_problem(client.post(f"/api/v1/statements/{sid}/paid", headers=admin), 409,
                   "invalid_state")


def test_paying_a_draft_is_409_and_changes_nothing(client, world):
    before = snapshot()
    response = client.post(f"/api/v1/statements/{world.statement_a.id}/paid",
                           headers=world.headers["admin"])
    assert_problem(response, 409, "invalid_state")
    assert snapshot() == before


@pytest.mark.parametrize(("who", "status"), [
    ("manager", 403), ("other_manager", 403), ("researcher_b", 404), ("contact_b", 404),
])
def test_only_admins_issue_or_mark_paid(client, world, who, status):
    before = snapshot()
    for action in ("issue", "paid"):
        response = client.post(f"/api/v1/statements/{world.statement_b.id}/{action}",
                               headers=world.headers[who])
        assert response.status_code == status
    assert snapshot() == before


def test_a_payment_note_too_long_or_not_text_is_422(client, world):
    issue(world.statement_b)
    before = snapshot()
    for body in ({"note": "x" * 501}, {"note": 5}, "[]"):
        kwargs = {"data": body, "content_type": "application/json"} if isinstance(body, str) \
            else {"json": body}
        response = client.post(f"/api/v1/statements/{world.statement_b.id}/paid",
                               headers=world.headers["admin"], **kwargs)
        assert response.status_code == 422
    assert snapshot() == before


# -- month close --------------------------------------------------------------------------------

def test_closing_a_month_creates_statements_once(client, clock):
    clock.now = DECEMBER
    admin = create_admin()
    october = create_charge(amount=Decimal("12.00"),
                            occurred_at=lab_time(dt.date(2026, 10, 30), 9))
    november = create_charge(organization=october.organization, amount=Decimal("30.01"))
    response = client.post("/api/v1/statements/close", headers=bearer(admin),
                           json={"period": "2026-11"})
    assert response.status_code == 201, response.json
    assert response.json["already_closed"] is False
    [statement] = response.json["statements"]
    assert statement["total"] == "42.01" and statement["period"] == "2026-11"
    assert statement["number"].startswith("LB-2026-")
    again = client.post("/api/v1/statements/close", headers=bearer(admin),
                        json={"period": "2026-11"})
    assert again.status_code == 200
    assert again.json["already_closed"] is True and again.json["statements"] == []
    assert {c.statement_id for c in (october, november)
            if db.session.refresh(c) is None} == {statement["id"]}


@pytest.mark.parametrize(("body", "code"), [
    ({"period": "2026-12"}, "period_not_ended"),
    ({"period": "2026-13"}, "invalid_period"),
    ({"period": "26-11"}, "invalid_period"),
    ({"period": "9999-12"}, "invalid_period"),
    ({}, "required"),
    ({"period": 202611}, "invalid"),
])
def test_closing_a_month_not_ended_or_badly_named_is_422(client, clock, body, code):
    clock.now = DECEMBER
    create_charge(occurred_at=lab_time(dt.date(2026, 12, 1), 8))
    before = snapshot()
    response = client.post("/api/v1/statements/close", headers=bearer(create_admin()),
                           json=body)
    assert_problem(response, 422, code)
    assert snapshot() == before


def test_only_admins_close_a_month(client, world, clock):
    clock.now = DECEMBER
    before = snapshot()
    for who in ("manager", "contact_b", "researcher_a"):
        response = client.post("/api/v1/statements/close", headers=world.headers[who],
                               json={"period": "2026-11"})
        assert_problem(response, 403, "not_admin")
    assert client.post("/api/v1/statements/close",
                       json={"period": "2026-11"}).status_code == 401
    assert snapshot() == before


# -- charges ------------------------------------------------------------------------------------

def test_who_lists_which_charges(client, world):
    unbilled = create_charge(organization=world.org_a, lab=world.food, amount=Decimal("7.00"))

    def ids(who, query=""):
        response = client.get(f"/api/v1/charges?{query}", headers=world.headers[who])
        assert response.status_code == 200, response.json
        return {item["id"] for item in response.json["items"]}

    everything = {world.a_line.id, world.b_nem.id, world.b_food.id, unbilled.id}
    assert ids("admin") == everything
    assert ids("manager") == {world.a_line.id, world.b_nem.id}
    assert ids("other_manager") == {world.b_food.id, unbilled.id}
    assert ids("admin", "unbilled=true") == {unbilled.id}
    assert ids("admin", "unbilled=false") == everything
    assert ids("admin", f"organization_id={world.org_b.id}") == {world.b_nem.id,
                                                                 world.b_food.id}
    assert ids("admin", "lab=food") == {world.b_food.id, unbilled.id}
    assert ids("manager", "lab=FOOD") == set()
    assert ids("admin", "period=2026-10") == set()
    assert ids("admin", "period=2026-11&lab=NEM") == {world.a_line.id, world.b_nem.id}
    for who in ("researcher_a", "contact_b"):
        assert_problem(client.get("/api/v1/charges", headers=world.headers[who]), 403,
                       "not_lab_manager")


@pytest.mark.parametrize(("query", "field"), [
    ("period=2026-1", "period"), ("unbilled=maybe", "unbilled"), ("lab=XYZ", "lab"),
    ("organization_id=0", "organization_id"), ("page=0", "page"),
    ("organization_id=2147483648", "organization_id"),
    ("organization_id=99999999999999999999", "organization_id"),
])
def test_bad_charge_filters_are_422(client, world, query, field):
    response = client.get(f"/api/v1/charges?{query}", headers=world.headers["admin"])
    assert response.status_code == 422
    assert field in [p.get("field") for p in response.json["problems"]]


def adjustment(world, **changes):
    body = {"organization_id": world.org_b.id, "lab": "NEM", "amount": "-12.50",
            "reason": "仪器故障停机 2 小时退款"}
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def test_a_manager_adjusts_their_lab(client, world, clock):
    clock.now = DECEMBER
    response = client.post("/api/v1/charges", headers=world.headers["manager"],
                           json=adjustment(world))
    assert response.status_code == 201, response.json
    charge = response.json
    assert charge["kind"] == "adjustment" and charge["amount"] == "-12.50"
    assert charge["period"] == "2026-12" and charge["statement_id"] is None
    assert charge["reason"] == "仪器故障停机 2 小时退款"
    assert charge["organization"]["id"] == world.org_b.id
    listed = client.get("/api/v1/charges?unbilled=true", headers=world.headers["manager"])
    assert [item["id"] for item in listed.json["items"]] == [charge["id"]]


def test_an_admin_corrects_a_draft_statement(client, world, clock):
    clock.now = DECEMBER
    response = client.post("/api/v1/charges", headers=world.headers["admin"], json=adjustment(
        world, lab="food", amount=0.5, statement_id=world.statement_b.id))
    assert response.status_code == 201, response.json
    assert response.json["statement_id"] == world.statement_b.id
    assert response.json["period"] == "2026-11"
    data = client.get(f"/api/v1/statements/{world.statement_b.id}",
                      headers=world.headers["admin"]).json
    assert data["total"] == "351.00"
    assert sum(Decimal(line["amount"]) for line in data["lines"]) == Decimal("351.00")


@pytest.mark.parametrize(("changes", "code", "field"), [
    ({"reason": None}, "reason_required", "reason"),
    ({"reason": "   "}, "reason_required", "reason"),
    ({"reason": "x" * 501}, "too_long_text", "reason"),
    ({"amount": None}, "required", "amount"),
    ({"amount": "0.00"}, "invalid_amount", "amount"),
    ({"amount": 0}, "invalid_amount", "amount"),
    ({"amount": "1000000.01"}, "invalid_amount", "amount"),
    ({"amount": "-99999999"}, "invalid_amount", "amount"),
    ({"amount": "12.505"}, "invalid_amount", "amount"),
    ({"amount": "−12.50"}, "invalid_amount", "amount"),  # a typographic minus
    ({"amount": "12.50-"}, "invalid_amount", "amount"),
    ({"amount": "(12.50)"}, "invalid_amount", "amount"),
    ({"amount": "¥12"}, "invalid_amount", "amount"),
    ({"amount": "NaN"}, "invalid_amount", "amount"),
    ({"amount": "Infinity"}, "invalid_amount", "amount"),
    ({"amount": True}, "invalid_amount", "amount"),
    ({"amount": 0.1 + 0.2}, "invalid_amount", "amount"),
    ({"amount": "1_000"}, "invalid_amount", "amount"),
    ({"amount": "1e3"}, "invalid_amount", "amount"),
    ({"organization_id": "2"}, "invalid", "organization_id"),
    ({"lab": None}, "required", "lab"),
])
def test_bad_adjustments_are_422_and_write_nothing(client, world, clock, changes, code, field):
    clock.now = DECEMBER
    before = snapshot()
    response = client.post("/api/v1/charges", headers=world.headers["manager"],
                           json=adjustment(world, **changes))
    assert_problem(response, 422, code, field)
    assert snapshot() == before


def test_adjusting_an_issued_statement_is_refused(client, world, clock):
    clock.now = DECEMBER
    issue(world.statement_b)
    before = snapshot()
    response = client.post("/api/v1/charges", headers=world.headers["admin"],
                           json=adjustment(world, statement_id=world.statement_b.id))
    assert_problem(response, 409, "invalid_state", "statement_id")
    other = client.post("/api/v1/charges", headers=world.headers["admin"],
                        json=adjustment(world, statement_id=world.statement_a.id))
    assert_problem(other, 422, "statement_not_draft", "statement_id")
    assert snapshot() == before


@pytest.mark.parametrize(("who", "changes", "status"), [
    ("other_manager", {}, 403), ("researcher_b", {}, 403), ("contact_b", {}, 403),
    ("manager", {"lab": "FOOD"}, 403), ("manager", {"lab": "XYZ"}, 404),
    ("manager", {"organization_id": 99999}, 404), ("admin", {"statement_id": 99999}, 404),
])
def test_adjustments_refused_for_other_labs_and_unknown_things(client, world, clock, who,
                                                               changes, status):
    clock.now = DECEMBER
    before = snapshot()
    response = client.post("/api/v1/charges", headers=world.headers[who],
                           json=adjustment(world, **changes))
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    assert snapshot() == before


# -- no-shows -----------------------------------------------------------------------------------

def test_a_manager_records_a_no_show(client, clock):
    instrument = create_instrument(rates={PriceTier.EXTERNAL: Decimal("200.00")})
    instrument.rate_cards[0].no_show_percent = 50
    start = lab_time(dt.date(2026, 11, 2), 14)
    booking = create_booking(instrument=instrument, start_at=start,
                             end_at=start + dt.timedelta(hours=1))
    manager = bearer(create_manager(instrument.lab))
    path = f"/api/v1/bookings/{booking.id}/no-show"

    clock.now = start + dt.timedelta(minutes=29)
    before = snapshot()
    assert_problem(client.post(path, headers=manager), 409, "too_early_for_no_show")
    assert_problem(client.post(path, headers=bearer(booking.user)), 403, "not_lab_manager")
    assert client.post(path, headers=bearer(create_user())).status_code == 404
    assert client.post(path, headers=bearer(create_manager(create_lab()))).status_code == 404
    assert snapshot() == before

    clock.now = start + dt.timedelta(minutes=30)
    response = client.post(path, headers=manager)
    assert response.status_code == 200, response.json
    assert response.json["state"] == BookingState.NO_SHOW.value
    [charge] = client.get("/api/v1/charges", headers=manager).json["items"]
    assert charge["kind"] == "no_show" and charge["booking_id"] == booking.id
    assert charge["amount"] == "100.00" and charge["computation"]["share_percent"] == 50
    assert_problem(client.post(path, headers=manager), 409, "invalid_state")


# -- rate cards ---------------------------------------------------------------------------------

@pytest.fixture
def priced():
    """An instrument whose external card (¥100/h, actual basis, 30-min steps) started long
    ago, with a manager of its lab and one of another lab."""
    instrument = create_instrument(rates={PriceTier.EXTERNAL: Decimal("100.00"),
                                          PriceTier.INTERNAL: Decimal("60.00")})
    card = next(c for c in instrument.rate_cards if c.tier == PriceTier.EXTERNAL)
    card.billing_basis, card.rounding_minutes, card.minimum_minutes = \
        BillingBasis.ACTUAL, 30, 60
    db.session.commit()
    return SimpleNamespace(instrument=instrument, card=card,
                           manager=bearer(create_manager(instrument.lab)),
                           other=bearer(create_manager(create_lab())),
                           path=f"/api/v1/instruments/{instrument.id}/rate-cards")


def test_rate_card_history_and_cards_in_force(client, priced):
    data = client.get(priced.path).json
    assert data["instrument_id"] == priced.instrument.id
    assert {(c["tier"], c["hourly_rate"]) for c in data["items"]} == {
        ("internal", "60.00"), ("external", "100.00")}
    assert data["current"]["external"]["billing_basis"] == "actual"
    assert data["current"]["partner"] is None
    assert client.get("/api/v1/instruments/99999/rate-cards").status_code == 404


def test_a_manager_adds_a_price_change_inheriting_the_other_settings(client, priced, clock):
    clock.now = lab_time(dt.date(2026, 11, 20), 9)
    response = client.post(priced.path, headers=priced.manager, json={
        "tier": "external", "effective_from": "2026-12-01", "hourly_rate": "120.00"})
    assert response.status_code == 201, response.json
    card = response.json
    assert (card["hourly_rate"], card["billing_basis"], card["rounding_minutes"],
            card["minimum_minutes"], card["is_future"]) == ("120.00", "actual", 30, 60, True)
    history = client.get(priced.path).json
    assert len(history["items"]) == 3
    overlapping = client.post(priced.path, headers=priced.manager, json={
        "tier": "external", "effective_from": "2026-12-01", "hourly_rate": "130.00"})
    assert_problem(overlapping, 422, "overlapping_effective_dates", "effective_from")

    other = client.delete(f"/api/v1/rate-cards/{card['id']}", headers=priced.other)
    assert_problem(other, 403, "not_lab_manager")
    assert client.delete(f"/api/v1/rate-cards/{card['id']}",
                         headers=priced.manager).status_code == 204
    assert len(client.get(priced.path).json["items"]) == 2
    assert client.delete(f"/api/v1/rate-cards/{card['id']}",
                         headers=priced.manager).status_code == 404


def test_a_card_in_force_cannot_be_withdrawn(client, priced, clock):
    clock.now = lab_time(dt.date(2026, 11, 20), 9)
    before = snapshot()
    response = client.delete(f"/api/v1/rate-cards/{priced.card.id}", headers=priced.manager)
    assert_problem(response, 409, "rate_card_in_force")
    assert snapshot() == before


@pytest.mark.parametrize(("changes", "code", "field"), [
    ({"effective_from": "2026-11-19"}, "in_past", "effective_from"),
    ({"effective_from": None}, "required", "effective_from"),
    ({"effective_from": "1 Dec"}, "invalid_date", "effective_from"),
    ({"tier": None}, "required", "tier"),
    ({"tier": "vip"}, "invalid", "tier"),
    ({"hourly_rate": None}, "required", "hourly_rate"),
    ({"hourly_rate": "-1.00"}, "out_of_range", "hourly_rate"),
    ({"hourly_rate": "100000.01"}, "out_of_range", "hourly_rate"),
    ({"hourly_rate": "12.345"}, "invalid_amount", "hourly_rate"),
    ({"billing_basis": "whatever"}, "invalid", "billing_basis"),
    ({"rounding_minutes": 0}, "out_of_range", "rounding_minutes"),
    ({"rounding_minutes": 1441}, "out_of_range", "rounding_minutes"),
    ({"minimum_minutes": -5}, "out_of_range", "minimum_minutes"),
    ({"no_show_percent": 101}, "out_of_range", "no_show_percent"),
    ({"late_cancel_percent": -1}, "out_of_range", "late_cancel_percent"),
    ({"late_cancel_percent": "50"}, "invalid", "late_cancel_percent"),
])
def test_bad_rate_cards_are_422_and_write_nothing(client, priced, clock, changes, code, field):
    clock.now = lab_time(dt.date(2026, 11, 20), 9)
    body = {"tier": "external", "effective_from": "2026-12-01", "hourly_rate": "120.00",
            **changes}
    before = snapshot()
    response = client.post(priced.path, headers=priced.manager,
                           json={k: v for k, v in body.items() if v is not None})
    assert_problem(response, 422, code, field)
    assert snapshot() == before


def test_only_admins_and_the_labs_managers_add_rate_cards(client, priced, clock):
    clock.now = lab_time(dt.date(2026, 11, 20), 9)
    body = {"tier": "external", "effective_from": "2026-12-01", "hourly_rate": "120.00"}
    before = snapshot()
    assert_problem(client.post(priced.path, headers=priced.other, json=body), 403,
                   "not_lab_manager")
    assert_problem(client.post(priced.path, headers=bearer(create_user()), json=body), 403,
                   "not_lab_manager")
    assert client.post(priced.path, json=body).status_code == 401
    assert snapshot() == before
    response = client.post(priced.path, headers=bearer(create_admin()), json=body)
    assert response.status_code == 201
