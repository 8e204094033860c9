"""A refused form of the instrument log's pages (a problem report, a manager's answer, putting
the instrument into maintenance, closing a report, a log entry) comes back after a redirect
with what was typed: a reload or the language switch never loses it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from labbook.extensions import db
from labbook.faults.models import FaultKind, FaultState, InstrumentFault
from tests.factories import create_booking, create_instrument, create_manager, create_user
from tests.refused_forms import Refusal, assert_kept_through_the_switch

DATE_ZH, DATE_EN = "请输入日期和时间，例如 2026-12-31 09:30。", \
    "Enter a date and time like 2026-12-31 09:30."


@pytest.fixture
def instrument():
    return create_instrument()


@pytest.fixture
def fault(instrument):
    """An open report of a breakdown whose downtime began, so the close form asks until when."""
    down = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    fault = InstrumentFault(instrument=instrument, kind=FaultKind.BREAKDOWN,
                            state=FaultState.OPEN, description="真空泵异响", down_from=down,
                            reported_at=down)
    db.session.add(fault)
    db.session.commit()
    return fault


def _faults():
    return db.session.execute(select(
        InstrumentFault.id, InstrumentFault.state, InstrumentFault.answer, InstrumentFault.cause,
        InstrumentFault.down_until).order_by(InstrumentFault.id)).all()


def _refusals(instrument, fault, own_booking) -> dict[str, Refusal]:
    detail = f"/manage/faults/{fault.id}"
    report = f"/instruments/{instrument.id}/report-problem?booking={own_booking.id}"
    log = f"/manage/instruments/{instrument.id}/log"
    return {
        "report": Refusal(report, report, {"description": "  "}, [], "请描述问题。",
                          "Describe the problem."),
        "answer": Refusal(f"{detail}/answer", detail, {"answer": ""}, [], "请填写答复。",
                          "Write the answer."),
        "maintenance": Refusal(
            f"{detail}/maintenance", detail,
            {"maintenance-kind": "maintenance", "maintenance-reason": ""},
            ['<option selected value="maintenance">'], "请说明原因，例如“真空泵故障",
            "Say why, e.g. “vacuum pump failed"),
        "close": Refusal(
            f"{detail}/close", detail,
            {"close-kind": "breakdown", "close-cause": "轴承磨损", "close-fix": "更换真空泵",
             "close-down_until": "2199-01-01T10:00"},
            ["轴承磨损", "更换真空泵", 'value="2199-01-01T10:00"'],
            "请填写 2000 年至 2099 年之间的日期。", "Give a date between 2000 and 2099."),
        "log": Refusal(log, log, {"kind": "maintenance", "description": "年度校准",
                                  "down_from": "9:7x", "cause": "灯丝老化"},
                       ["年度校准", "灯丝老化", 'value="9:7x"'], DATE_ZH, DATE_EN),
    }


@pytest.mark.parametrize("form", ["report", "answer", "maintenance", "close", "log"])
def test_a_refused_form_survives_reload_and_the_language_switch(login_as, instrument, fault,
                                                                 form):
    researcher = create_user(locale="zh_CN")
    own_booking = create_booking(instrument=instrument, user=researcher)
    refusal = _refusals(instrument, fault, own_booking)[form]
    client = login_as(researcher if form == "report"
                      else create_manager(instrument.lab, locale="zh_CN"))
    assert_kept_through_the_switch(client, refusal, _faults)


def test_a_report_refused_by_the_service_keeps_the_text_and_the_booking_it_was_made_from(
        login_as, instrument):
    someone_elses = create_booking(instrument=instrument)
    client = login_as(create_user(locale="zh_CN"))
    page = f"/instruments/{instrument.id}/report-problem?booking={someone_elses.id}"
    refused = client.post(page, data={"description": "样品台卡住"})
    assert refused.status_code == 303 and refused.headers["Location"] == page
    shown = client.get(page).get_data(as_text=True)
    assert "样品台卡住" in shown and "这不是您对该仪器的预约。" in shown
    assert "样品台卡住" not in client.get(
        f"/instruments/{instrument.id}/report-problem").get_data(as_text=True)
    assert db.session.scalar(select(InstrumentFault.id)) is None
