"""A month of one enterprise played through the API, then closed, with every statement line
and the total checked against amounts worked out by hand.

September 2026, organization B (external tier), lab NEM's instruments and lab FOOD's test:

1. XRD (actual use, 15-min steps, ¥37.50/h), booked Tue 8th 10:00–11:00, used 10:02–10:33:
   31 min → 45 min × 37.50 / 60 = 28.125 → 28.13
2. SEM (booked time, ¥200/h, no-show 50 %), Wed 9th 14:00–15:00, nobody came:
   50 % × 60 min × 200 / 60 = 100.00
3. SEM Thu 10th 09:00–10:30, cancelled by the researcher at 15:00 the day before (late, 50 %):
   50 % × 90 min × 200 / 60 = 150.00
4. Furnace (larger, 30-min steps, minimum 60, ¥100/h), Fri 11th 09:00–10:00, used 09:05–10:11:
   max(60, 66) = 66 → 90 min × 100 / 60 = 150.00
5. XRD again Wed 16th 10:00–11:00, used 10:00–10:50, after a new card of ¥45/h from the 15th:
   50 → 60 min × 45 / 60 = 45.00
6. Pesticide test in FOOD, 5 samples express (¥120 each, +50 %), completed Fri 18th:
   5 × 120 + 300 = 900.00
7. A credit by NEM's manager on Mon 21st for downtime: -12.50

NEM subtotal 460.63, FOOD 900.00, total 1,360.63. Organization A's one booking (XRD Tue
8th 14:00–15:00, used in full: 60 min × 37.50 / 60 = 37.50) goes on A's own statement.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from labbook.accounts.models import PriceTier
from labbook.billing.models import BillingBasis
from labbook.extensions import db
from labbook.orders.models import Capability, LabStaff
from tests.factories import (
    bearer,
    create_admin,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_service,
    create_user,
    lab_time,
)


def day(n: int) -> dt.date:
    return dt.date(2026, 9, n)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def instrument(lab, code: str, rate: str, **card):
    made = create_instrument(lab=lab, code=code, rates={PriceTier.EXTERNAL: Decimal(rate)})
    for key, value in card.items():
        setattr(made.rate_cards[0], key, value)
    db.session.commit()
    return made


def test_a_worked_month_through_the_api(client, clock):
    nem = create_lab(code="NEM")
    food = create_lab(code="FOOD")
    xrd = instrument(nem, "NEM-XRD", "37.50", billing_basis=BillingBasis.ACTUAL,
                     rounding_minutes=15)
    sem = instrument(nem, "NEM-SEM", "200.00", no_show_percent=50, late_cancel_percent=50)
    furnace = instrument(nem, "NEM-FUR", "100.00", billing_basis=BillingBasis.LARGER,
                         rounding_minutes=30, minimum_minutes=60)
    test = create_service(lab=food, code="FOOD-S001", price_external=Decimal("120.00"),
                          express_surcharge_percent=50)
    org_b = create_organization(name="焦作乙新能源有限公司", tier=PriceTier.EXTERNAL)
    org_a = create_organization(name="甲公司", tier=PriceTier.EXTERNAL)
    researcher = create_user(organization=org_b)
    contact = create_user(organization=org_b)
    org_b.billing_contact = contact
    db.session.commit()
    me, contact_h = bearer(researcher), bearer(contact)
    other = bearer(create_user(organization=org_a))
    manager = bearer(create_manager(nem))
    food_staff = create_manager(food)
    db.session.add(LabStaff(lab_id=food.id, user_id=food_staff.id, capability=Capability.ANALYST))
    db.session.commit()
    food_manager = bearer(food_staff)
    admin = bearer(create_admin())

    def at(n: int, hour: int, minute: int = 0) -> None:
        clock.now = lab_time(day(n), hour, minute)

    def post(path: str, headers, json=None, status: int = 200):
        response = client.post(path, headers=headers, json=json)
        assert response.status_code == status, (path, response.json)
        return response.json

    def book(headers, item, n: int, start: tuple[int, int], end: tuple[int, int]) -> int:
        return post("/api/v1/bookings", headers, {
            "instrument_id": item.id, "start": iso(lab_time(day(n), *start)),
            "end": iso(lab_time(day(n), *end)), "purpose": "电池正极材料分析"}, 201)["id"]

    def use(booking_id: int, n: int, check_in: tuple[int, int], check_out: tuple[int, int],
            headers=me) -> None:
        at(n, *check_in)
        post(f"/api/v1/bookings/{booking_id}/check-in", headers)
        at(n, *check_out)
        assert post(f"/api/v1/bookings/{booking_id}/check-out", headers)["state"] == "completed"

    # On the 1st everything is booked, a price change is announced and a test requested.
    at(1, 9)
    b1 = book(me, xrd, 8, (10, 0), (11, 0))
    b_other = book(other, xrd, 8, (14, 0), (15, 0))
    b2 = book(me, sem, 9, (14, 0), (15, 0))
    b3 = book(me, sem, 10, (9, 0), (10, 30))
    b4 = book(me, furnace, 11, (9, 0), (10, 0))
    b5 = book(me, xrd, 16, (10, 0), (11, 0))
    post(f"/api/v1/instruments/{xrd.id}/rate-cards", manager,
         {"tier": "external", "effective_from": "2026-09-15", "hourly_rate": "45.00"}, 201)
    order = post("/api/v1/orders", me, {
        "lines": [{"service_id": test.id, "express": True,
                   "samples": [{"name": f"苹果 {n}", "quantity": "500 g"} for n in range(5)]}],
        "terms_confirmed": True}, 201)
    assert order["total"] == "900.00"
    line = order["lines"][0]
    post(f"/api/v1/orders/{order['id']}/intake", food_manager, {"samples": [
        {"sample_id": sample["id"], "status": "accepted"} for sample in line["samples"]]})
    line_url = f"/api/v1/orders/{order['id']}/lines/{line['id']}"
    post(f"{line_url}/assign", food_manager, {"analyst_id": food_staff.id})

    use(b1, 8, (10, 2), (10, 33))
    use(b_other, 8, (14, 0), (15, 0), headers=other)
    at(9, 14, 31)
    assert post(f"/api/v1/bookings/{b2}/no-show", manager)["state"] == "no_show"
    at(9, 15)
    cancelled = post(f"/api/v1/bookings/{b3}/cancel", me)
    assert cancelled["state"] == "cancelled" and cancelled["is_late_cancellation"]
    use(b4, 11, (9, 5), (10, 11))
    use(b5, 16, (10, 0), (10, 50))
    at(17, 9)
    post(f"{line_url}/start", food_manager)
    at(18, 16)
    post(f"{line_url}/results", food_manager, {"results": [
        {"sample_id": sample["id"], "item": "苹果酸", "value": "0.5", "unit": "g/kg"}
        for sample in line["samples"]]})
    post(f"{line_url}/complete", food_manager)
    at(21, 10)
    credit = post("/api/v1/charges", manager, {
        "organization_id": org_b.id, "lab": "NEM", "amount": "-12.50",
        "reason": "9月8日 XRD 停机补偿"}, 201)
    assert credit["period"] == "2026-09"

    # Nothing is closed before the month has ended; then one statement per organization.
    at(30, 23, 59)
    assert post("/api/v1/statements/close", admin, {"period": "2026-09"}, 422)["code"] == \
        "period_not_ended"
    clock.now = lab_time(dt.date(2026, 10, 1), 0)
    closed = post("/api/v1/statements/close", admin, {"period": "2026-09"}, 201)
    by_org = {s["organization"]["id"]: s for s in closed["statements"]}
    assert set(by_org) == {org_a.id, org_b.id}
    assert by_org[org_a.id]["total"] == "37.50"
    statement_id = by_org[org_b.id]["id"]

    statement = client.get(f"/api/v1/statements/{statement_id}", headers=admin).json
    got = [(line["lab"], line["kind"], line["date"], line["amount"],
            line["computation"]["basis"], line["computation"]["booked_minutes"],
            line["computation"]["actual_minutes"], line["computation"]["billed_minutes"],
            line["computation"]["unit_price"], line["computation"]["share_percent"])
           for line in statement["lines"]]
    assert got == [
        ("FOOD", "service", "2026-09-18", "900.00", None, None, None, None, "120.00", 100),
        ("NEM", "usage", "2026-09-08", "28.13", "actual", 60, 31, 45, "37.50", 100),
        ("NEM", "no_show", "2026-09-09", "100.00", "booked", 60, None, 60, "200.00", 50),
        ("NEM", "late_cancellation", "2026-09-10", "150.00", "booked", 90, None, 90,
         "200.00", 50),
        ("NEM", "usage", "2026-09-11", "150.00", "larger", 60, 66, 90, "100.00", 100),
        ("NEM", "usage", "2026-09-16", "45.00", "actual", 60, 50, 60, "45.00", 100),
        ("NEM", "adjustment", "2026-09-21", "-12.50", None, None, None, None, None, 100),
    ]
    service_line = statement["lines"][0]["computation"]
    assert (service_line["samples"], service_line["surcharge"]) == (5, "300.00")
    assert [(s["lab"], s["amount"]) for s in statement["subtotals"]] == [
        ("FOOD", "900.00"), ("NEM", "460.63")]
    assert statement["total"] == statement["lines_total"] == "1360.63"
    assert sum(Decimal(line["amount"]) for line in statement["lines"]) == Decimal("1360.63")

    # Closing again creates nothing; the contact sees the statement once it is issued.
    assert post("/api/v1/statements/close", admin, {"period": "2026-09"})["already_closed"]
    assert client.get(f"/api/v1/statements/{statement_id}",
                      headers=contact_h).status_code == 404
    post(f"/api/v1/statements/{statement_id}/issue", admin)
    seen = client.get(f"/api/v1/statements/{statement_id}", headers=contact_h).json
    assert seen["total"] == "1360.63" and len(seen["lines"]) == 7
    assert client.get(f"/api/v1/statements/{statement_id}", headers=me).status_code == 404
    exported = client.get(f"/api/v1/statements/{statement_id}.csv", headers=contact_h)
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert rows[-1][-1] == "1360.63"
    assert sum(Decimal(row[-1]) for row in rows if len(row) == 12 and row[0][:4] == "2026") \
        == Decimal("1360.63")

    # A correction after issuing is a new line on the next statement, not a change.
    clock.now = lab_time(dt.date(2026, 10, 8), 10)
    late = post("/api/v1/charges", admin, {
        "organization_id": org_b.id, "lab": "FOOD", "amount": "-100.00",
        "reason": "检测报告延误折让"}, 201)
    assert late["statement_id"] is None and late["period"] == "2026-10"
    assert post("/api/v1/statements/close", admin, {"period": "2026-09"})["already_closed"]
    assert client.get(f"/api/v1/statements/{statement_id}",
                      headers=admin).json["total"] == "1360.63"
