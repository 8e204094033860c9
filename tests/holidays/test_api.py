"""The holidays API: the national calendar (admins edit it), each lab's policy (its managers),
working days and due dates; and a test request's due date across the Spring Festival."""

from __future__ import annotations

import datetime as dt

from labbook.core.engine import write_transaction
from labbook.extensions import db
from labbook.holidays import services as holidays
from labbook.orders import intake
from labbook.orders.models import IntakeStatus, LineState
from tests.factories import (
    bearer,
    create_admin,
    create_lab,
    create_manager,
    create_service,
    create_user,
    lab_time,
)
from tests.holidays.conftest import follow
from tests.orders.factories import create_order


def test_admins_put_and_delete_days_and_everyone_reads_them(client):
    admin, manager = create_admin(), create_manager(create_lab())
    body = {"kind": "makeup_workday", "festival": "spring_festival", "source": "国办发明电"}
    refused = client.put("/api/v1/holidays/2027-02-20", json=body, headers=bearer(manager))
    assert refused.status_code == 403
    created = client.put("/api/v1/holidays/2027-02-20", json=body, headers=bearer(admin))
    assert created.status_code == 201
    assert created.json == {"day": "2027-02-20", "kind": "makeup_workday",
                            "festival": "spring_festival", "source": "国办发明电"}
    changed = client.put("/api/v1/holidays/2027-02-20", json={**body, "kind": "holiday"},
                         headers=bearer(admin))
    assert changed.status_code == 200 and changed.json["kind"] == "holiday"
    listed = client.get("/api/v1/holidays?year=2027").json["items"]
    assert [d["day"] for d in listed] == ["2027-02-20"]
    assert client.delete("/api/v1/holidays/2027-02-20", headers=bearer(admin)).status_code == 204
    assert client.get("/api/v1/holidays").json["items"] == []
    missing = client.delete("/api/v1/holidays/2027-02-20", headers=bearer(admin))
    assert missing.status_code == 404


def test_bad_days_and_kinds_are_422_with_a_code(client):
    admin = create_admin()
    headers = bearer(admin)
    weekday = client.put("/api/v1/holidays/2027-02-17", headers=headers,
                         json={"kind": "makeup_workday"})
    assert weekday.status_code == 422 and weekday.json["code"] == "makeup_day_on_weekday"
    bad_kind = client.put("/api/v1/holidays/2027-02-20", headers=headers, json={"kind": "nap"})
    assert bad_kind.status_code == 422 and bad_kind.json["code"] == "invalid"
    bad_day = client.put("/api/v1/holidays/2027-02-30", headers=headers,
                         json={"kind": "holiday"})
    assert bad_day.status_code == 422 and bad_day.json["code"] == "invalid_date"
    assert client.get("/api/v1/holidays?year=1999").status_code == 422
    assert client.get("/api/v1/holidays").json["items"] == []


def test_seeding_through_the_api_is_idempotent(client):
    headers = bearer(create_admin())
    first = client.post("/api/v1/holidays/seed", headers=headers)
    assert first.status_code == 200 and first.json["added"] > 40
    assert first.json["years"] == [2026, 2027]
    assert client.post("/api/v1/holidays/seed", headers=headers).json["added"] == 0
    assert client.post("/api/v1/holidays/seed",
                       headers=bearer(create_user())).status_code == 403


def test_a_labs_policy_and_its_working_days(client, calendar):
    lab = create_lab()
    assert client.get(f"/api/v1/labs/{lab.code}/holiday-policy").json == {
        "lab": lab.code, "closes_on_holidays": False, "opens_on_makeup_days": False}
    body = {"closes_on_holidays": True, "opens_on_makeup_days": True}
    assert client.put(f"/api/v1/labs/{lab.code}/holiday-policy", json=body,
                      headers=bearer(create_manager(create_lab()))).status_code == 403
    saved = client.put(f"/api/v1/labs/{lab.code}/holiday-policy", json=body,
                       headers=bearer(create_manager(lab)))
    assert saved.status_code == 200 and saved.json["closes_on_holidays"] is True
    days = client.get(f"/api/v1/labs/{lab.code}/working-days?start=2026-09-30&end=2026-10-10")
    assert days.json["working_days"] == ["2026-09-30", "2026-10-08", "2026-10-09",
                                         "2026-10-10"]
    due = client.get(f"/api/v1/labs/{lab.code}/working-days/after?start=2026-09-30&days=3")
    assert due.json["date"] == "2026-10-10"
    too_long = client.get(f"/api/v1/labs/{lab.code}/working-days?start=2026-01-01"
                          "&end=2027-01-02")
    assert too_long.status_code == 422 and too_long.json["code"] == "invalid_interval"
    assert client.get(f"/api/v1/labs/{lab.code}/working-days?start=2026-01-01").status_code \
        == 422
    assert client.get("/api/v1/labs/NOPE/holiday-policy").status_code == 404


def test_a_booking_on_new_years_day_is_refused_by_the_api(client, calendar):
    lab = create_lab()
    follow(lab)
    from tests.factories import create_instrument

    instrument = create_instrument(lab=lab)
    response = client.post("/api/v1/bookings", headers=bearer(create_user()), json={
        "instrument_id": instrument.id, "purpose": "测试",
        "start": lab_time(dt.date(2027, 1, 1), 9).isoformat(),
        "end": lab_time(dt.date(2027, 1, 1), 10).isoformat()})
    assert response.status_code == 409 and response.json["code"] == "holiday_closed"


def test_an_order_lines_due_date_skips_the_spring_festival(client, calendar):
    lab = create_lab()
    follow(lab)
    service = create_service(lab=lab, turnaround_days=3)
    line = create_order(service, create_user(), line_state=LineState.WAITING)
    order, manager = line.order, create_manager(lab)
    # Received on Thursday 12 February 2026: Friday 13, Saturday 14 (调休), then nine days off
    # until Tuesday 24 February.
    with write_transaction(db.session):
        intake.receive(db.session, manager, order, [intake.SampleDecision(
            sample.id, IntakeStatus.ACCEPTED) for sample in order.samples],
            now=lab_time(dt.date(2026, 2, 12), 10))
    assert line.due_date == dt.date(2026, 2, 24)
    assert holidays.add_working_days(db.session, lab.id, dt.date(2026, 2, 12), 3) == \
        dt.date(2026, 2, 24)
