"""The calendar API: feed tokens and a booking's .ics file."""

import pytest
from sqlalchemy import select

from labbook.booking.models import BookingState
from labbook.calendars.models import FeedToken
from labbook.extensions import db
from tests.calendars.conftest import events_by_uid, parse, uid
from tests.factories import (
    bearer,
    create_admin,
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
)


@pytest.fixture
def lab():
    return create_lab(code="NEM")


@pytest.fixture
def instrument(lab):
    return create_instrument(lab=lab)


@pytest.fixture
def researcher():
    return create_user(locale="en")


def test_create_a_feed_token_and_subscribe(client, researcher, instrument):
    booking = create_booking(user=researcher, instrument=instrument, purpose="Phase analysis")
    headers = bearer(researcher)
    response = client.post("/api/v1/feed-tokens", headers=headers, json={"scope": "mine"})
    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) >= {"id", "url", "scope"} and body["scope"] == "mine"
    assert body["url"].startswith("http://localhost/ical/")
    assert body["url"].endswith(".ics")
    assert response.headers["Cache-Control"] == "no-store"
    feed = client.get(body["url"].removeprefix("http://localhost"))
    assert feed.status_code == 200
    assert "Phase analysis" in str(events_by_uid(feed.data)[uid(booking)]["SUMMARY"])


@pytest.mark.parametrize("scope", ["mine", "approvals", "lab:NEM", "lab:nem", "instrument:{id}"])
def test_every_scope_for_a_manager(client, lab, instrument, scope):
    manager = create_manager(lab)
    response = client.post("/api/v1/feed-tokens", headers=bearer(manager),
                           json={"scope": scope.format(id=instrument.id)})
    assert response.status_code == 201, response.json
    assert response.json["scope"] == scope.format(id=instrument.id).replace("nem", "NEM")
    assert client.get(response.json["url"].removeprefix("http://localhost")) \
        .status_code == 200


@pytest.mark.parametrize("scope", [None, "", "all", "mine:1", "instrument:", "instrument:abc",
                                   "instrument:0", "instrument:-1", "instrument:99999999999",
                                   "lab:", "lab:N E M", "lab:NOPE", "instrument:424242", 42,
                                   ["mine"], "x" * 41])
def test_a_bad_scope_is_a_422_problem(client, researcher, lab, scope):
    response = client.post("/api/v1/feed-tokens", headers=bearer(create_admin()),
                           json={"scope": scope})
    assert response.status_code == 422, (scope, response.json)
    assert response.mimetype == "application/problem+json"
    assert response.json["problems"][0]["field"] == "scope"
    assert db.session.scalar(select(FeedToken)) is None


def test_lab_and_approval_feeds_are_for_managers_only(client, researcher, lab):
    headers = bearer(researcher)
    for scope in ("lab:NEM", "approvals"):
        response = client.post("/api/v1/feed-tokens", headers=headers, json={"scope": scope})
        assert response.status_code == 403, scope
        assert response.mimetype == "application/problem+json"
    other_manager = create_manager(create_lab(code="FOOD"))
    response = client.post("/api/v1/feed-tokens", headers=bearer(other_manager),
                           json={"scope": "lab:NEM"})
    assert response.status_code == 403


def test_list_tokens_without_secrets(client, researcher, instrument):
    headers = bearer(researcher)
    created = [client.post("/api/v1/feed-tokens", headers=headers, json={"scope": scope}).json
               for scope in ("mine", f"instrument:{instrument.id}")]
    create_user()  # someone else's tokens are not listed
    listed = client.get("/api/v1/feed-tokens", headers=headers)
    assert listed.status_code == 200
    items = listed.json["items"]
    assert [item["id"] for item in items] == [c["id"] for c in created]
    assert [item["scope"] for item in items] == ["mine", f"instrument:{instrument.id}"]
    for item in items:
        assert set(item) == {"id", "scope", "created_at", "last_used_at"}
        assert item["last_used_at"] is None
    text = listed.get_data(as_text=True)
    for token in created:
        assert token["url"].split("/ical/")[1].removesuffix(".ics") not in text


def test_delete_revokes_the_url(client, researcher):
    headers = bearer(researcher)
    created = client.post("/api/v1/feed-tokens", headers=headers, json={"scope": "mine"}).json
    path = created["url"].removeprefix("http://localhost")
    assert client.get(path).status_code == 200
    assert client.delete(f"/api/v1/feed-tokens/{created['id']}", headers=headers) \
        .status_code == 204
    assert client.get(path).status_code == 404
    assert client.get("/api/v1/feed-tokens", headers=headers).json["items"] == []
    assert client.delete(f"/api/v1/feed-tokens/{created['id']}", headers=headers) \
        .status_code == 404


def test_others_tokens_cannot_be_deleted(client, researcher):
    created = client.post("/api/v1/feed-tokens", headers=bearer(researcher),
                          json={"scope": "mine"}).json
    stranger = bearer(create_user())
    response = client.delete(f"/api/v1/feed-tokens/{created['id']}", headers=stranger)
    assert response.status_code == 404
    assert client.get(created["url"].removeprefix("http://localhost")).status_code == 200
    assert client.delete("/api/v1/feed-tokens/999999", headers=stranger).status_code == 404


def test_the_feed_token_api_needs_a_bearer_token(client):
    assert client.get("/api/v1/feed-tokens").status_code == 401
    assert client.post("/api/v1/feed-tokens", json={"scope": "mine"}).status_code == 401
    assert client.delete("/api/v1/feed-tokens/1").status_code == 401


def test_the_url_follows_the_configured_base_url(app, client, researcher):
    app.config["LABBOOK_BASE_URL"] = "https://labbook.jzit.example.cn/"
    try:
        url = client.post("/api/v1/feed-tokens", headers=bearer(researcher),
                          json={"scope": "mine"}).json["url"]
    finally:
        app.config["LABBOOK_BASE_URL"] = ""
    assert url.startswith("https://labbook.jzit.example.cn/ical/")


# -- one booking as .ics ------------------------------------------------------------------------


def test_a_booking_ics_from_the_api(client, researcher, lab, instrument):
    booking = create_booking(user=researcher, instrument=instrument, purpose="Phase analysis",
                             state=BookingState.PENDING)
    response = client.get(f"/api/v1/bookings/{booking.id}.ics", headers=bearer(researcher))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert f'filename="booking-{booking.id}.ics"' in response.headers["Content-Disposition"]
    calendar, _second = parse(response.data)
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == uid(booking)
    assert str(event["STATUS"]) == "TENTATIVE"
    assert "Phase analysis" in str(event["SUMMARY"])

    manager = create_manager(lab)
    assert client.get(f"/api/v1/bookings/{booking.id}.ics", headers=bearer(manager)) \
        .status_code == 200
    stranger = client.get(f"/api/v1/bookings/{booking.id}.ics", headers=bearer(create_user()))
    assert stranger.status_code == 404
    assert stranger.mimetype == "application/problem+json"
    assert client.get(f"/api/v1/bookings/{booking.id}.ics").status_code == 401


def test_the_download_is_the_same_event_as_in_the_feed(client, researcher, instrument):
    booking = create_booking(user=researcher, instrument=instrument)
    headers = bearer(researcher)
    single = client.get(f"/api/v1/bookings/{booking.id}.ics", headers=headers).data
    url = client.post("/api/v1/feed-tokens", headers=headers, json={"scope": "mine"}).json["url"]
    feed = client.get(url.removeprefix("http://localhost")).data
    single_event = single.split(b"BEGIN:VEVENT")[1].split(b"END:VEVENT")[0]
    assert single_event in feed
