"""Links that leave the page (emails, feeds, QR codes, reset links) point where labbook runs:
LABBOOK_BASE_URL when set, else the address the request came to on a development server, else
the address `make run` serves (labbook.links)."""

import re

import pytest
from sqlalchemy import func, select

from labbook import links
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from tests.factories import bearer, create_user


@pytest.fixture
def base_url(app):
    """Set LABBOOK_BASE_URL for one test."""
    def set_to(value: str) -> None:
        app.config["LABBOOK_BASE_URL"] = value

    yield set_to
    app.config["LABBOOK_BASE_URL"] = ""


def reset_link(client, email: str, **request) -> str:
    before = db.session.scalar(select(func.max(OutboxMessage.id))) or 0
    assert client.post("/password/forgot", data={"email": email}, **request).status_code == 302
    db.session.rollback()
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.id > before)).one()
    return re.search(r"https?://\S+/password/reset/", mail.body_text).group(0)


def feed_url(client, user, **request) -> str:
    response = client.post("/api/v1/feed-tokens", headers=bearer(user), json={"scope": "mine"},
                           **request)
    return response.json["url"]


def test_links_follow_the_address_a_development_server_was_opened_at(client):
    user = create_user(email="wang@example.cn")
    lan = {"base_url": "http://192.168.1.20:5001"}
    assert reset_link(client, "wang@example.cn", **lan) == \
        "http://192.168.1.20:5001/password/reset/"
    assert feed_url(client, user, **lan).startswith("http://192.168.1.20:5001/ical/")


def test_labbook_base_url_wins_over_the_requests_address(client, base_url):
    user = create_user(email="li@example.cn")
    base_url("https://labbook.example.cn/")
    proxied = {"base_url": "http://127.0.0.1:8000"}  # what nginx passes on
    assert reset_link(client, "li@example.cn", **proxied) == \
        "https://labbook.example.cn/password/reset/"
    assert feed_url(client, user, **proxied).startswith("https://labbook.example.cn/ical/")


def test_production_without_a_base_url_never_trusts_the_host_header(make_app, monkeypatch):
    monkeypatch.delenv("FLASK_RUN_HOST", raising=False)
    monkeypatch.delenv("FLASK_RUN_PORT", raising=False)
    production = make_app(ENV_NAME="production", LABBOOK_BASE_URL="")
    with production.test_request_context("/", base_url="http://evil.example"):
        assert links.base_url() == "http://127.0.0.1:5000"


@pytest.mark.parametrize(("host", "port", "expected"), [
    (None, None, "http://127.0.0.1:5000"),
    ("127.0.0.1", "5001", "http://127.0.0.1:5001"),
    ("0.0.0.0", "8080", "http://127.0.0.1:8080"),  # noqa: S104  (every interface: this machine)
    ("labbook.local", "5002", "http://labbook.local:5002"),
    ("::1", "5003", "http://[::1]:5003"),
])
def test_jobs_link_to_the_address_make_run_serves(app, monkeypatch, host, port, expected):
    for name, value in (("FLASK_RUN_HOST", host), ("FLASK_RUN_PORT", port)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert links.base_url() == expected  # the app context only: no request
    assert links.external_url("booking.my_bookings") == expected + "/bookings"


def test_jobs_link_to_labbook_base_url_when_set(app, base_url):
    base_url("https://labbook.example.cn/lab/")
    assert links.external_url("booking.my_bookings") == "https://labbook.example.cn/lab/bookings"


def test_links_built_one_after_another_under_other_addresses_each_keep_their_own(app, base_url):
    # The routes bound to an address are kept for the next link: a link must still name the
    # address in force when it is built, not the one the routes were first bound to.
    for address, expected in [
            ("https://labbook.example.cn", "https://labbook.example.cn/bookings"),
            ("http://127.0.0.1:8000/lab/", "http://127.0.0.1:8000/lab/bookings"),
            ("https://labbook.example.cn", "https://labbook.example.cn/bookings")]:
        base_url(address)
        assert links.external_url("booking.my_bookings") == expected
    base_url("")
    with app.test_request_context("/", base_url="http://192.168.1.20:5001"):
        assert links.external_url("booking.my_bookings") == "http://192.168.1.20:5001/bookings"
