"""The training pages: a researcher asks and joins, a manager schedules, enrols and records
attendance and the exam; in either language."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from labbook.booking.models import Qualification
from labbook.extensions import db
from labbook.training.models import TrainingEnrolment, TrainingRequest, TrainingSession
from tests.factories import create_instrument, create_manager, create_user, next_weekday


def test_a_researcher_asks_a_manager_schedules_and_the_researcher_joins(client, login_as):
    instrument = create_instrument(requires_qualification=True)
    manager, researcher = create_manager(instrument.lab, locale="en"), create_user()
    login_as(researcher)
    assert client.post("/training/requests", data={"instrument_id": instrument.id,
                                                   "note": "XRD"}).status_code == 302
    page = client.get("/training/").get_data(as_text=True)
    assert "等待安排培训" in page
    login_as(manager)
    page = client.get("/training/").get_data(as_text=True)
    assert "Waiting for training in your labs" in page and researcher.email in page
    day = next_weekday(2)
    scheduled = client.post("/training/sessions", data={
        "session-instrument_id": instrument.id, "session-date": day.isoformat(),
        "session-start_time": "09:00", "session-end_time": "11:00",
        "session-trainer_email": manager.email, "session-capacity": "1",
        "session-valid_days": "365", "session-location": "A305"})
    assert scheduled.status_code == 302
    session = db.session.scalar(select(TrainingSession))
    login_as(researcher)
    assert client.post(f"/training/sessions/{session.id}/join").status_code == 302
    assert db.session.scalar(select(TrainingRequest.state)).value == "scheduled"
    other = create_user()
    login_as(other)
    refused = client.post(f"/training/sessions/{session.id}/join", follow_redirects=True)
    assert "本场培训已满" in refused.get_data(as_text=True)


def test_a_manager_records_attendance_and_a_passed_exam(client, login_as):
    instrument = create_instrument(requires_qualification=True)
    manager, researcher = create_manager(instrument.lab), create_user()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    session = TrainingSession(instrument=instrument, starts_at=start,
                              ends_at=start + dt.timedelta(hours=2), trainer=manager,
                              capacity=2, enrolled=1, state="scheduled")
    enrolment = TrainingEnrolment(session=session, user=researcher, state="enrolled")
    db.session.add_all([session, enrolment])
    db.session.commit()
    login_as(manager)
    page = client.get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert researcher.email in page and "出勤" in page
    assert client.post(f"/training/enrolments/{enrolment.id}/attended").status_code == 302
    assert client.post(f"/training/enrolments/{enrolment.id}/passed").status_code == 302
    assert db.session.scalar(select(Qualification.user_id)) == researcher.id
