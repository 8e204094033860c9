"""Booking on someone's behalf prices the person booked for: the live check and the form's
price name their organization's tier, the one the charge will use, not the booking manager's."""

import datetime as dt
import html
import re

from sqlalchemy import func, select

from labbook.booking.models import Booking
from labbook.extensions import db
from tests.factories import (
    create_booking,
    create_instrument,
    create_manager,
    create_user,
    lab_time,
    next_weekday,
)

MONDAY = next_weekday(0)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()


def check(client, instrument, **extra):
    return client.post(f"/instruments/{instrument.id}/check", json={
        "start": iso(lab_time(MONDAY, 10)), "end": iso(lab_time(MONDAY, 11)), **extra})


def test_the_live_check_prices_the_person_booked_for(login_as):
    instrument = create_instrument()  # internal ¥60/h, external ¥100/h
    manager = create_manager(instrument.lab, locale="en")  # an internal organization
    researcher = create_user()  # an external one
    client = login_as(manager)

    own = check(client, instrument).json
    assert own["estimate"]["tier"] == "internal" and own["estimate"]["amount"] == "60.00"
    behalf = check(client, instrument, for_user=researcher.email.upper()).json
    assert behalf["ok"] is True
    assert behalf["estimate"]["tier"] == "external" and behalf["estimate"]["amount"] == "100.00"
    assert behalf["estimate"]["text"] == \
        "Estimated price ¥100.00: External tier, ¥100.00/h, 60 min billed."
    assert behalf["cancellation_fee"]["late_amount"] == "50.00"


def test_the_live_check_says_who_cannot_be_booked_for(login_as):
    instrument = create_instrument()
    client = login_as(create_manager(instrument.lab))
    unknown = check(client, instrument, for_user="nobody@example.cn")
    assert unknown.status_code == 422
    assert unknown.json["problems"][0]["field"] == "for_user"
    assert "nobody@example.cn" in unknown.json["problems"][0]["message"]
    stranger = check(login_as(create_user()), instrument, for_user=create_user().email)
    assert stranger.status_code == 403 and stranger.json["code"] == "on_behalf_not_allowed"


def test_the_check_of_a_booking_for_someone_asks_their_rules(login_as):
    instrument = create_instrument(requires_qualification=True)
    manager = create_manager(instrument.lab)
    answer = check(login_as(manager), instrument, for_user=create_user().email).json
    assert answer["ok"] is False
    assert [p["code"] for p in answer["problems"]] == ["not_qualified"]


def test_a_refused_booking_for_someone_shows_their_price_in_both_languages(login_as):
    instrument = create_instrument()
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10),
                   end_at=lab_time(MONDAY, 11))
    manager = create_manager(instrument.lab, locale="zh_CN")
    researcher = create_user()
    client = login_as(manager)
    calendar = f"/instruments/{instrument.id}/calendar"
    refused = client.post(f"/instruments/{instrument.id}/book", data={
        "date": MONDAY.isoformat(), "start_time": "10:00", "end_time": "11:00",
        "purpose": "代约", "repeat": "none", "for_user": researcher.email})
    assert refused.status_code == 303 and refused.headers["Location"] == calendar

    def price_note(page: str) -> str:
        return re.search(r'<div id="check-result".*?</div>\s*</div>', page, re.S).group(0)

    chinese = html.unescape(client.get(calendar).get_data(as_text=True))
    assert 'data-code="overlap"' in chinese and researcher.email in chinese
    assert "预计费用 ¥100.00：外部单位价格档" in price_note(chinese)
    client.post("/language", data={"locale": "en", "next": calendar})
    english = html.unescape(client.get(calendar).get_data(as_text=True))
    assert "Estimated price ¥100.00: External tier, ¥100.00/h" in price_note(english)
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1
