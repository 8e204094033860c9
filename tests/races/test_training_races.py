"""Ten people race for the last place of a training session against a multi-worker server:
exactly one gets it, the others are told the session is full, and the session never holds
more people than its places."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from labbook.extensions import db
from labbook.training.models import EnrolmentState, TrainingEnrolment, TrainingSession
from tests.factories import create_instrument, create_manager, create_user
from tests.races.harness import Call, api_headers, assert_answered, fire

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("left", [1, 3])
def test_racers_for_the_last_places_get_exactly_them(server, left):
    instrument = create_instrument(requires_qualification=True)
    manager = create_manager(instrument.lab)
    starts_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    session = TrainingSession(instrument=instrument, starts_at=starts_at,
                              ends_at=starts_at + dt.timedelta(hours=2), trainer=manager,
                              capacity=4, enrolled=4 - left, state="scheduled")
    db.session.add(session)
    db.session.commit()
    calls = [Call("enrol", "POST", f"/api/v1/training-sessions/{session.id}/enrolments",
                  api_headers(create_user()), json={}, statuses={201: "ok"})
             for _n in range(left + 10)]

    answers = fire(server, calls)

    assert_answered(answers)
    assert sorted(a.status for a in answers) == [201] * left + [409] * 10
    assert {a.code for a in answers if a.status == 409} == {"session_full"}
    db.session.rollback()
    assert db.session.get(TrainingSession, session.id).enrolled == 4
    assert db.session.scalar(select(func.count()).select_from(TrainingEnrolment).where(
        TrainingEnrolment.session_id == session.id,
        TrainingEnrolment.state == EnrolmentState.ENROLLED)) == left
