"""The subscriptions page and the .ics download for signed-in users."""

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from labbook.calendars.models import FeedToken
from labbook.config import PROJECT_ROOT
from labbook.extensions import db
from tests.calendars.conftest import parse, subscribe, uid
from tests.factories import (
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    reload,
)

FEED_URL = re.compile(r"http://localhost/ical/([A-Za-z0-9_-]{43})\.ics")


@pytest.fixture
def lab():
    return create_lab(code="NEM", name_en="New-Energy Materials Lab")


@pytest.fixture
def instrument(lab):
    return create_instrument(lab=lab)


@pytest.fixture
def researcher():
    return create_user(locale="en")


def test_the_page_needs_sign_in(client):
    response = client.get("/calendars")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_researcher_sees_the_feeds_they_may_have(client, login_as, researcher, instrument):
    page = login_as(researcher).get("/calendars")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Calendar subscriptions" in html
    assert 'value="mine"' in html and 'value="instrument"' in html
    assert f'<option value="{instrument.id}">' in html
    assert 'value="lab"' not in html and 'value="approvals"' not in html
    assert "You have no calendar subscriptions yet." in html
    # Only external scripts: the copy button is progressive enhancement.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "js/calendars.js" in html
    assert (Path(PROJECT_ROOT) / "static/js/calendars.js").is_file()


def test_a_manager_may_subscribe_to_their_labs_and_approvals(client, login_as, lab):
    create_lab(code="FOOD")
    html = login_as(create_manager(lab)).get("/calendars").get_data(as_text=True)
    assert 'value="lab"' in html and 'value="approvals"' in html
    assert '<option value="NEM">' in html and '<option value="FOOD">' not in html


def test_the_page_is_chinese_by_default(client, login_as):
    html = login_as(create_user()).get("/calendars").get_data(as_text=True)
    assert "日历订阅" in html and "订阅我的预约" in html


def test_create_shows_the_link_once(client, login_as, researcher):
    browser = login_as(researcher)
    response = browser.post("/calendars", data={"kind": "mine"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    secret = FEED_URL.search(html).group(1)
    assert f'value="http://localhost/ical/{secret}.ics"' in html  # readonly input
    assert f'href="webcal://localhost/ical/{secret}.ics"' in html
    assert "<svg" in html and "</svg>" in html  # QR code
    assert "data-copy-target" in html
    assert client.get(f"/ical/{secret}.ics").status_code == 200

    later = browser.get("/calendars").get_data(as_text=True)
    assert secret not in later
    assert "My bookings" in later and "Rotate" in later and "Revoke" in later


def test_create_an_instrument_feed_from_the_form(client, login_as, researcher, instrument):
    response = login_as(researcher).post("/calendars", data={
        "kind": "instrument", "instrument_id": str(instrument.id)})
    assert response.status_code == 200
    assert db.session.scalar(select(FeedToken.scope)) == f"instrument:{instrument.id}"
    assert "Instrument: " in response.get_data(as_text=True)


@pytest.mark.parametrize("data", [{"kind": "lab", "lab": "NEM"}, {"kind": "approvals"},
                                  {"kind": "nonsense"}, {"kind": "instrument"},
                                  {"kind": "instrument", "instrument_id": "999999"}])
def test_refused_subscriptions_say_why(client, login_as, researcher, lab, data):
    response = login_as(researcher).post("/calendars", data=data, follow_redirects=True)
    assert response.status_code == 200
    assert 'alert-danger' in response.get_data(as_text=True)
    assert db.session.scalar(select(FeedToken)) is None


def test_rotate_gives_a_new_link_and_ends_the_old(client, login_as, researcher):
    old_path = subscribe(researcher, "mine")
    token = db.session.scalar(select(FeedToken))
    response = login_as(researcher).post(f"/calendars/{token.id}/rotate")
    assert response.status_code == 200
    secret = FEED_URL.search(response.get_data(as_text=True)).group(1)
    assert client.get(old_path).status_code == 404
    assert client.get(f"/ical/{secret}.ics").status_code == 200
    new = db.session.scalar(select(FeedToken).where(FeedToken.revoked_at.is_(None)))
    assert new.rotated_from_id == token.id and new.scope == "mine"
    # The rotated-away token cannot be rotated again.
    assert client.post(f"/calendars/{token.id}/rotate").status_code == 404


def test_revoke(client, login_as, researcher):
    path = subscribe(researcher, "mine")
    token = db.session.scalar(select(FeedToken))
    response = login_as(researcher).post(f"/calendars/{token.id}/revoke")
    assert response.status_code == 302
    assert reload(token).revoked_at is not None
    assert client.get(path).status_code == 404
    assert "You have no calendar subscriptions yet." in \
        client.get("/calendars").get_data(as_text=True)


def test_other_users_subscriptions_are_not_found(client, login_as, researcher):
    path = subscribe(researcher, "mine")
    token = db.session.scalar(select(FeedToken))
    browser = login_as(create_user())
    assert browser.post(f"/calendars/{token.id}/rotate").status_code == 404
    assert browser.post(f"/calendars/{token.id}/revoke").status_code == 404
    assert reload(token).revoked_at is None
    assert client.get(path).status_code == 200


def test_a_rotation_after_losing_the_lab_is_refused(client, login_as, lab):
    manager = create_manager(lab)
    subscribe(manager, "lab:NEM")
    token = db.session.scalar(select(FeedToken))
    manager = reload(manager)
    manager.managed_labs = [create_lab(code="FOOD")]
    db.session.commit()
    response = login_as(manager).post(f"/calendars/{token.id}/rotate", follow_redirects=True)
    assert "alert-danger" in response.get_data(as_text=True)
    assert reload(token).revoked_at is None


def test_download_a_booking(client, login_as, researcher, lab, instrument):
    booking = create_booking(user=researcher, instrument=instrument)
    response = login_as(researcher).get(f"/bookings/{booking.id}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="booking-{booking.id}.ics"'
    (event,) = parse(response.data)[0].walk("VEVENT")
    assert str(event["UID"]) == uid(booking)

    assert login_as(create_manager(lab)).get(f"/bookings/{booking.id}.ics").status_code == 200
    assert login_as(create_user()).get(f"/bookings/{booking.id}.ics").status_code == 404
    assert login_as(create_user()).get("/bookings/999999.ics").status_code == 404


def test_the_download_needs_sign_in(client, researcher, instrument):
    booking = create_booking(user=researcher, instrument=instrument)
    assert client.get(f"/bookings/{booking.id}.ics").status_code == 302
