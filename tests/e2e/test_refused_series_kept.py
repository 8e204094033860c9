"""A refused series survives a reload and the language switch (Post/Redirect/Get).

A researcher asks for a weekly series whose second date is taken: the calendar's own address
shows the refused date with the input as typed; a reload and the 中文/English switch show both
again, the refusal in the other language; nothing is booked. At 1366×768 and 390×844.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from labbook.booking import services as booking_services
from labbook.booking.models import Booking
from labbook.core.time import utcnow
from labbook.extensions import db
from tests.e2e.pages import submit, switch_language
from tests.e2e.test_booking_journey import next_monday
from tests.e2e.test_language_choice import wait_for_calendar

INSTRUMENT = "NEM-018"  # no approval, no training; open 08:00–20:00 on weekdays
RESEARCHER = "chen@xincai.example.cn"
OTHER = "liu@jinggong.example.cn"
#: Monday afternoons of the weeks after next, one hour per viewport and language.
HOURS = {("desktop", "zh-CN"): 14, ("desktop", "en"): 15, ("phone", "zh-CN"): 16,
         ("phone", "en"): 17}
HEADINGS = {"en": "The booking could not be made.", "zh-CN": "预约未成功。"}


@pytest.fixture
def researcher_in(site) -> Iterator[None]:
    """The switch saves the researcher's language: given back as Chinese at the end."""
    yield
    db.session.rollback()
    site.user(RESEARCHER).locale = "zh_CN"
    db.session.commit()


def html_lang(page) -> str | None:
    return page.locator("html").get_attribute("lang")


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.usefixtures("researcher_in")
def test_a_refused_series_keeps_its_dates_through_reload_and_the_switch(
        open_visit, site, viewport, locale, today):
    instrument = site.instrument(INSTRUMENT)
    hour = HOURS[(viewport, locale)]
    first = next_monday(today) + dt.timedelta(days=7)
    taken = first + dt.timedelta(days=7)
    start = dt.datetime.fromisoformat(f"{taken}T{hour:02d}:00:00+08:00")
    booking_services.create_booking(db.session, site.user(OTHER), instrument_id=instrument.id,
                                    start=start, end=start + dt.timedelta(hours=1),
                                    purpose="占用 / taken", now=utcnow())
    db.session.commit()

    visit = open_visit(viewport, RESEARCHER)
    page = visit.page
    if locale == "en":
        visit.goto("/")
        switch_language(page)
    calendar = f"/instruments/{instrument.id}/calendar"
    visit.goto(calendar)
    wait_for_calendar(page)
    purpose = f"每周粉体电阻率 {viewport} {locale}"
    page.fill("#date", first.isoformat())
    page.fill("#start_time", f"{hour:02d}:00")
    page.fill("#end_time", f"{hour + 1:02d}:00")
    page.fill("#purpose", purpose)
    page.check("input[name=repeat][value=weekly]")
    page.fill("#count", "3")
    submit(page, "#booking-form [type=submit]")
    wait_for_calendar(page)

    def shows_the_refusal(language: str) -> None:
        assert visit.path() == calendar
        summary = page.locator("#error-summary")
        assert summary.locator("h2").inner_text() == HEADINGS[language]
        assert f"{taken.isoformat()} {hour:02d}:00" in summary.inner_text()
        assert page.input_value("#purpose") == purpose
        assert page.input_value("#count") == "3"
        assert page.is_checked("input[name=repeat][value=weekly]")

    shows_the_refusal(locale)
    visit.shot(f"series-refused-{locale}")
    page.reload()
    wait_for_calendar(page)
    shows_the_refusal(locale)
    switch_language(page)
    wait_for_calendar(page)
    other = "en" if locale == "zh-CN" else "zh-CN"
    assert html_lang(page) == other
    shows_the_refusal(other)
    visit.shot(f"series-refused-switched-from-{locale}")
    assert db.session.scalar(select(func.count()).select_from(Booking).where(
        Booking.purpose == purpose)) == 0
