"""Durations people read are said in their largest whole unit — "1 day", not "1440 minutes" —
alike on the instrument's page, on its booking calendar, in a refused booking's reasons and on
the waiting list, in Chinese and in English."""

from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import force_locale

from labbook.booking import services, waitlist
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.i18n import duration
from tests.factories import create_booking, create_instrument, create_user, lab_time, next_weekday

MONDAY = dt.date(2027, 3, 1)
NOW = lab_time(MONDAY - dt.timedelta(days=3), 12)


@pytest.mark.parametrize(("minutes", "english", "chinese"), [
    (30, "30 minutes", "30 分钟"), (90, "90 minutes", "90 分钟"), (60, "1 hour", "1 小时"),
    (1500, "25 hours", "25 小时"), (1440, "1 day", "1 天"), (2880, "2 days", "2 天")])
def test_a_duration_is_said_in_its_largest_whole_unit(app, minutes, english, chinese):
    with app.test_request_context():
        with force_locale("en"):
            assert duration(minutes) == english
        with force_locale("zh_CN"):
            assert duration(minutes) == chinese


@pytest.fixture
def day_ahead():
    """Booked a day ahead, for 2 hours to a day."""
    return create_instrument(slot_minutes=30, min_minutes=120, max_minutes=1440,
                             min_notice_minutes=1440, horizon_days=30)


def test_the_booking_calendar_states_its_rules_in_hours_and_days(login_as, day_ahead):
    researcher = create_user()
    browser = login_as(researcher)
    chinese = browser.get(f"/instruments/{day_ahead.id}/calendar").get_data(as_text=True)
    assert "预约时长以 30 分钟为单位，最短 2 小时，最长 1 天" in chinese
    assert "至少提前 1 天、最多提前 30 天预约" in chinese
    assert "1440 分钟" not in chinese
    researcher.locale = "en"
    db.session.commit()
    english = browser.get(f"/instruments/{day_ahead.id}/calendar").get_data(as_text=True)
    assert "Bookable in steps of 30 minutes, from 2 hours to 1 day" in english
    assert "Book at least 1 day ahead, at most 30 days ahead" in english


def refusals(user, instrument, start, end) -> list[str]:
    with pytest.raises(services.BookingRefused) as refusal:
        services.create_booking(db.session, user, instrument_id=instrument.id, start=start,
                                end=end, purpose="时长措辞", now=NOW)
    return [problem.message for problem in refusal.value.problems]


@pytest.mark.parametrize(("locale", "too_soon", "too_short"), [
    ("zh_CN", "该仪器须至少提前 1 天预约。", "该仪器单次预约最短 2 小时。"),
    ("en", "This instrument must be booked at least 1 day ahead.",
     "The shortest booking on this instrument is 2 hours.")])
def test_a_refusal_names_the_rule_in_hours_and_days(day_ahead, locale, too_soon, too_short):
    researcher = create_user()
    with force_locale(locale):
        assert too_soon in refusals(researcher, day_ahead, NOW + dt.timedelta(hours=2),
                                    NOW + dt.timedelta(hours=4))
        start = lab_time(MONDAY, 9)
        assert refusals(researcher, day_ahead, start, start + dt.timedelta(hours=1)) == \
            [too_short]


def test_the_waiting_list_says_how_long_an_offer_and_a_wanted_slot_last(login_as, day_ahead):
    day_ahead.lab.waitlist_offer_minutes = 120
    researcher = create_user()
    monday = next_weekday(0, weeks_ahead=1)
    create_booking(instrument=day_ahead, start_at=lab_time(monday, 8),
                   end_at=lab_time(monday, 18))  # the whole day taken: worth waiting for
    waitlist.join_waitlist(db.session, researcher, instrument_id=day_ahead.id,
                           start=lab_time(monday, 9), end=lab_time(monday, 17), minutes=240,
                           purpose="候补时长", now=utcnow())
    db.session.commit()
    browser = login_as(researcher)
    for locale, offer, wanted in (("zh_CN", "并有 2 小时领取", "· 4 小时"),
                                  ("en", "has 2 hours to claim it", "· 4 hours")):
        researcher.locale = locale
        db.session.commit()
        page = browser.get(f"/instruments/{day_ahead.id}/waitlist").get_data(as_text=True)
        assert offer in page
        assert wanted in browser.get("/bookings").get_data(as_text=True)
