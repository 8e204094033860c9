"""The training API: ask, schedule, enrol (self or by a manager), attendance, exam; bad input
and a full session get clear refusals that change nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from labbook.booking.models import Qualification
from labbook.extensions import db
from labbook.training.models import TrainingSession
from tests.factories import bearer, create_instrument, create_lab, create_manager, create_user


def _session_body(instrument, manager, **changes):
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    return {"instrument_id": instrument.id, "starts_at": start.isoformat(),
            "ends_at": (start + dt.timedelta(hours=2)).isoformat(),
            "trainer_email": manager.email, "capacity": 1, "location": "A305",
            "valid_days": 180, **changes}


def test_request_schedule_enrol_and_the_full_session(client):
    instrument = create_instrument(lab=create_lab(), requires_qualification=True)
    manager, researcher, other = create_manager(instrument.lab), create_user(), create_user()
    asked = client.post("/api/v1/training-requests", headers=bearer(researcher),
                        json={"instrument_id": instrument.id, "note": "XRD 物相"})
    assert asked.status_code == 201 and asked.json["state"] == "open"
    listed = client.get("/api/v1/training-requests", headers=bearer(manager)).json
    assert [r["id"] for r in listed["to_arrange"]] == [asked.json["id"]]
    refused = client.post("/api/v1/training-sessions", headers=bearer(researcher),
                          json=_session_body(instrument, manager))
    assert refused.status_code == 403
    created = client.post("/api/v1/training-sessions", headers=bearer(manager),
                          json=_session_body(instrument, manager))
    assert created.status_code == 201 and created.json["places_left"] == 1
    session_id = created.json["id"]
    joined = client.post(f"/api/v1/training-sessions/{session_id}/enrolments",
                         headers=bearer(researcher))
    assert joined.status_code == 201 and joined.json["state"] == "enrolled"
    full = client.post(f"/api/v1/training-sessions/{session_id}/enrolments",
                       headers=bearer(manager), json={"user_email": other.email})
    assert full.status_code == 409 and full.json["code"] == "session_full"
    shown = client.get(f"/api/v1/training-sessions/{session_id}", headers=bearer(manager)).json
    assert shown["enrolled"] == 1 and [e["user"]["email"] for e in shown["enrolments"]] == \
        [researcher.email]
    assert "enrolments" not in client.get(f"/api/v1/training-sessions/{session_id}").json
    early = client.post(f"/api/v1/training-enrolments/{joined.json['id']}/attendance",
                        headers=bearer(manager), json={"attended": True})
    assert early.status_code == 409 and early.json["code"] == "not_started"
    missing = client.post(f"/api/v1/training-enrolments/{joined.json['id']}/exam",
                          headers=bearer(manager), json={})
    assert missing.status_code == 422


def test_attendance_and_a_passed_exam_grant_the_record(client):
    instrument = create_instrument(requires_qualification=True)
    manager, researcher = create_manager(instrument.lab), create_user()
    start = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    session = TrainingSession(instrument=instrument, starts_at=start,
                              ends_at=start + dt.timedelta(hours=1), trainer=manager,
                              capacity=3, enrolled=0, state="scheduled", valid_days=30)
    db.session.add(session)
    db.session.commit()
    enrolled = client.post(f"/api/v1/training-sessions/{session.id}/enrolments",
                           headers=bearer(manager), json={"user_email": researcher.email})
    assert enrolled.status_code == 201
    session.starts_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    db.session.commit()
    enrolment_id = enrolled.json["id"]
    assert client.post(f"/api/v1/training-enrolments/{enrolment_id}/attendance",
                       headers=bearer(researcher), json={"attended": True}).status_code == 403
    attended = client.post(f"/api/v1/training-enrolments/{enrolment_id}/attendance",
                           headers=bearer(manager), json={"attended": True})
    assert attended.status_code == 200 and attended.json["state"] == "attended"
    passed = client.post(f"/api/v1/training-enrolments/{enrolment_id}/exam",
                         headers=bearer(manager), json={"passed": True})
    assert passed.status_code == 200 and passed.json["exam_result"] == "passed"
    qualification = db.session.scalar(select(Qualification))
    assert qualification.user_id == researcher.id
    assert qualification.expires_at > dt.datetime.now(dt.UTC) + dt.timedelta(days=29)


def test_bad_sessions_are_422_naming_the_field(client):
    instrument = create_instrument()
    manager = create_manager(instrument.lab)
    for changes, field in (({"capacity": 0}, "capacity"),
                           ({"trainer_email": "nobody@example.cn"}, "trainer_email"),
                           ({"starts_at": "2020-01-01T09:00:00+08:00"}, "starts_at")):
        response = client.post("/api/v1/training-sessions", headers=bearer(manager),
                               json=_session_body(instrument, manager, **changes))
        assert response.status_code == 422, changes
        assert field in {p.get("field") for p in response.json["problems"]}
    assert db.session.scalar(select(TrainingSession.id)) is None
