"""The fault report API: report, list, answer, put into maintenance (with the bookings hit),
close; refusals are problem documents."""

import pytest

from labbook.catalogue.models import InstrumentStatus
from tests.factories import (
    bearer,
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    lab_time,
    next_weekday,
    reload,
)


@pytest.fixture
def scene():
    lab = create_lab(code="FAPI")
    instrument = create_instrument(lab=lab)
    return instrument, create_manager(lab), create_user()


def test_a_report_goes_from_the_user_to_the_manager_and_back(client, scene):
    instrument, manager, user = scene
    day = next_weekday(2)
    hit = create_booking(instrument=instrument, start_at=lab_time(day, 10),
                         end_at=lab_time(day, 11))
    response = client.post(f"/api/v1/instruments/{instrument.id}/faults",
                           json={"description": "离心机异响"}, headers=bearer(user))
    assert response.status_code == 201
    fault = response.get_json()
    assert (fault["state"], fault["kind"], fault["reported_by"]) == ("open", "problem", None)
    listed = client.get("/api/v1/faults?state=open", headers=bearer(manager)).get_json()
    assert [item["id"] for item in listed["items"]] == [fault["id"]]
    assert listed["items"][0]["reported_by"]["id"] == user.id
    assert client.get("/api/v1/faults", headers=bearer(create_user())).get_json()["total"] == 0
    assert client.post(f"/api/v1/faults/{fault['id']}/answer", json={"answer": "x"},
                       headers=bearer(user)).status_code == 404
    answered = client.post(f"/api/v1/faults/{fault['id']}/answer",
                           json={"answer": "明天维修"}, headers=bearer(manager))
    assert answered.get_json()["answer"] == "明天维修"
    maintenance = client.post(f"/api/v1/faults/{fault['id']}/maintenance",
                              json={"kind": "breakdown", "reason": "转子不平衡"},
                              headers=bearer(manager)).get_json()
    assert [b["id"] for b in maintenance["bookings_hit"]] == [hit.id]
    assert reload(instrument).status == InstrumentStatus.MAINTENANCE
    refused = client.post(f"/api/v1/faults/{fault['id']}/close", json={"kind": "breakdown"},
                          headers=bearer(manager))
    assert refused.status_code == 422
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    closed = client.post(f"/api/v1/faults/{fault['id']}/close",
                         json={"kind": "breakdown", "fix": "更换转子", "back_in_service": True},
                         headers=bearer(manager)).get_json()
    assert closed["state"] == "closed" and closed["down_until"] is not None
    assert reload(instrument).status == InstrumentStatus.AVAILABLE
    again = client.post(f"/api/v1/faults/{fault['id']}/close",
                        json={"kind": "breakdown", "fix": "x"}, headers=bearer(manager))
    assert again.status_code == 409 and again.get_json()["code"] == "invalid_state"
    mine = client.get(f"/api/v1/faults/{fault['id']}", headers=bearer(user)).get_json()
    assert mine["fix"] == "更换转子"


def test_bad_reports_are_refused(client, scene):
    instrument, _manager, user = scene
    headers = bearer(user)
    assert client.post(f"/api/v1/instruments/{instrument.id}/faults", json={},
                       headers=headers).status_code == 422
    assert client.post(f"/api/v1/instruments/{instrument.id}/faults",
                       json={"description": "x", "booking_id": 999999},
                       headers=headers).status_code == 422
    assert client.post("/api/v1/instruments/999999/faults", json={"description": "x"},
                       headers=headers).status_code == 404
    assert client.get("/api/v1/faults?state=nope", headers=headers).status_code == 422
