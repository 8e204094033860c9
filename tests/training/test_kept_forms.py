"""A refused form of the training pages (asking for training, scheduling a session, enrolling
someone) comes back after a redirect with what was typed: a reload or the language switch
never loses it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from labbook.extensions import db
from labbook.training.models import TrainingEnrolment, TrainingRequest, TrainingSession
from tests.factories import create_instrument, create_manager, next_weekday
from tests.refused_forms import Refusal, assert_kept_through_the_switch


@pytest.fixture
def instrument():
    return create_instrument(requires_qualification=True)


@pytest.fixture
def training_session(instrument):
    manager = create_manager(instrument.lab)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    scheduled = TrainingSession(instrument=instrument, starts_at=start,
                                ends_at=start + dt.timedelta(hours=2), trainer=manager,
                                capacity=2, enrolled=0, state="scheduled")
    db.session.add(scheduled)
    db.session.commit()
    return scheduled


def _training_rows():
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (TrainingRequest, TrainingSession, TrainingEnrolment))


def _refusals(instrument, training_session) -> dict[str, Refusal]:
    day = next_weekday(2).isoformat()
    session_page = f"/training/sessions/{training_session.id}"
    return {
        "request": Refusal("/training/requests", "/training/", {"note": "周三下午可来测样"},
                           ["周三下午可来测样"], "请选择仪器。", "Choose an instrument."),
        "session": Refusal(
            "/training/sessions", "/training/",
            {"session-instrument_id": instrument.id, "session-date": day,
             "session-start_time": "09:00", "session-end_time": "11:00",
             "session-trainer_email": "", "session-capacity": "3",
             "session-location": "A305 实验室"},
            ["A305 实验室", f'value="{day}"', 'value="3"'], "请填写培训老师。", "Say who trains."),
        "enrol": Refusal(f"{session_page}/enrol", session_page, {"user_email": ""}, [],
                         "请填写邮箱地址。", "Give an email address."),
    }


@pytest.mark.parametrize("form", ["request", "session", "enrol"])
def test_a_refused_form_survives_reload_and_the_language_switch(login_as, instrument,
                                                                 training_session, form):
    refusal = _refusals(instrument, training_session)[form]
    client = login_as(create_manager(instrument.lab, locale="zh_CN"))
    assert_kept_through_the_switch(client, refusal, _training_rows)


def test_an_enrolment_refused_by_the_service_keeps_the_email(login_as, instrument,
                                                              training_session):
    client = login_as(create_manager(instrument.lab, locale="zh_CN"))
    page = f"/training/sessions/{training_session.id}"
    refused = client.post(f"{page}/enrol", data={"user_email": "nobody@example.cn"})
    assert refused.status_code == 303 and refused.headers["Location"] == page
    shown = client.get(page).get_data(as_text=True)
    assert 'value="nobody@example.cn"' in shown
    assert "没有使用邮箱 nobody@example.cn 的账号。" in shown
    assert db.session.scalar(select(func.count()).select_from(TrainingEnrolment)) == 0
