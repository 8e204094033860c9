"""A way forward from a refusal, in the browser: a researcher not trained on an instrument is
told whom to ask (the lab's contact person, phone and email) and asks for training with one
button, right under the live check; the refused page then says when they asked, once, with
JavaScript and without. A time outside the opening hours comes with the nearest slots inside
them. In Chinese and English, on a desktop and on a phone-sized screen."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select

from labbook.booking.models import Qualification
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from labbook.training.models import TrainingRequest
from tests.e2e.pages import submit, switch_language

#: One researcher per run, so that the runs' training requests never meet.
RESEARCHERS = {("desktop", "zh"): "chen@xincai.example.cn",
               ("phone", "zh"): "zhou@huaichuan.example.cn",
               ("desktop", "en"): "liu@jinggong.example.cn",
               ("phone", "en"): "owner@hpu.example.cn"}
TEXT = {"zh": {"title": "如何获得本仪器的培训", "button": "申请培训", "sent": "培训申请已发送",
               "asked": "你已于"},
        "en": {"title": "How to get trained on this instrument", "button": "Request training",
               "sent": "was sent to the lab's managers", "asked": "You asked for training on"}}


@pytest.fixture(params=["zh", "en"])
def language(request) -> str:
    return request.param


def in_language(visit, language: str) -> None:
    """Switch the signed-in visit to ``language`` unless it is in it (the choice is kept)."""
    visit.goto("/")
    if visit.page.get_attribute("html", "lang") != ("en" if language == "en" else "zh-CN"):
        switch_language(visit.page)


def untrained_instrument(user_id: int) -> Instrument:
    """An NEM instrument that needs training, without the user's record or open request."""
    instrument = db.session.scalar(select(Instrument).join(Lab).where(
        Lab.code == "NEM", Instrument.requires_qualification.is_(True),
        Instrument.status == InstrumentStatus.AVAILABLE).order_by(Instrument.code.desc()))
    db.session.execute(delete(Qualification).where(Qualification.user_id == user_id,
                                                   Qualification.instrument_id == instrument.id))
    db.session.execute(delete(TrainingRequest).where(TrainingRequest.user_id == user_id,
                                                     TrainingRequest.instrument_id ==
                                                     instrument.id))
    db.session.commit()
    return instrument


def next_weekday(today: dt.date, weeks: int = 1) -> dt.date:
    return today + dt.timedelta(days=7 * weeks - today.weekday() + 1)  # a Tuesday


def calendar_with_time(instrument: Instrument, day: dt.date, start: str, end: str) -> str:
    return (f"/instruments/{instrument.id}/calendar?date={day.isoformat()}"
            f"&start_time={start}&end_time={end}&purpose=XRD")


def test_not_trained_asks_for_training_from_the_refusal(open_visit, viewport, language, site,
                                                        today):
    email = RESEARCHERS[(viewport, language)]
    user = site.user(email)
    instrument = untrained_instrument(user.id)
    lab = instrument.lab
    visit = open_visit(viewport, email=email)
    page = visit.page
    in_language(visit, language)
    words = TEXT[language]

    # The live check: the refusal says whom to ask and offers the request.
    day = next_weekday(today, 2)
    visit.goto(calendar_with_time(instrument, day, "10:00", "11:00"))
    help_box = page.locator("#check-result [data-training-help]")
    help_box.wait_for()
    assert page.locator("#check-result [data-code=not_qualified]").count() == 1
    assert words["title"] in help_box.inner_text()
    assert lab.contact_name in help_box.inner_text()
    assert help_box.locator(f"a[href='tel:{lab.contact_phone}']").is_visible()
    assert help_box.locator(f"a[href='mailto:{lab.contact_email}']").is_visible()
    button = help_box.get_by_role("button", name=words["button"])
    assert button.is_visible()
    box = button.bounding_box()
    assert box is not None and box["x"] + box["width"] <= page.viewport_size["width"]
    visit.shot("not-qualified-live-check")

    # One press asks the lab's managers, and comes back to the calendar.
    with page.expect_navigation():
        button.click()
    assert f"/instruments/{instrument.id}/calendar" in visit.path()
    assert words["sent"] in page.locator(".alert-success").inner_text()
    db.session.rollback()  # the server wrote it: read afresh
    request = db.session.scalar(select(TrainingRequest).where(
        TrainingRequest.user_id == user.id, TrainingRequest.instrument_id == instrument.id))
    assert request is not None
    managers = {m.email for m in lab.managers}
    assert managers and managers <= set(db.session.scalars(select(OutboxMessage.recipient).where(
        OutboxMessage.kind == "training_requested", OutboxMessage.created_at >=
        request.created_at)))
    visit.shot("training-requested")

    # The form sent all the same: the refusal at the top says how to get trained, and the
    # live check under the form does not say it a second time.
    visit.goto(calendar_with_time(instrument, day, "10:00", "11:00"))
    submit(page, "#booking-form [type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#error-summary [data-code=not_qualified]").count() == 1
    assert page.locator("[data-training-help]").count() == 1
    assert words["asked"] in page.locator("[data-training-help]").inner_text()

    # Without JavaScript the refused form says the same, and that they asked already.
    plain = open_visit(viewport, email=email, javascript=False)
    in_language(plain, language)
    plain.goto(calendar_with_time(instrument, day, "10:00", "11:00"))
    submit(plain.page, "#booking-form [type=submit]")
    summary_help = plain.page.locator("[data-training-help]")
    assert words["asked"] in summary_help.inner_text()
    assert summary_help.get_by_role("button").count() == 0
    plain.shot("not-qualified-asked-already")


def test_outside_the_opening_hours_the_nearest_slots_are_offered(open_visit, viewport,
                                                                 language, site, today):
    email = RESEARCHERS[(viewport, language)]
    instrument = db.session.scalar(select(Instrument).join(Lab).where(
        Lab.code == "FOOD", Instrument.requires_qualification.is_(False),
        Instrument.status == InstrumentStatus.AVAILABLE, Instrument.min_minutes <= 60,
        Instrument.max_minutes >= 60, Instrument.slot_minutes.in_([15, 30, 60]))
        .order_by(Instrument.code))
    visit = open_visit(viewport, email=email)
    page = visit.page
    in_language(visit, language)
    day = next_weekday(today, 3)
    visit.goto(calendar_with_time(instrument, day, "18:00", "19:00"))
    page.locator("#check-result [data-code=outside_hours]").wait_for()
    suggestions = page.locator("#check-result button, #check-result a.btn")
    suggestions.first.wait_for()
    assert suggestions.count() >= 2
    assert day.isoformat() in suggestions.first.inner_text()  # the same day, before closing
    visit.shot("outside-hours-suggestions")
    suggestions.first.click()  # fills the form in
    page.locator("#check-result .alert-success").wait_for()
    assert page.input_value("#date") == day.isoformat()
