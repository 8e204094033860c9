"""Forgot password → link → new password, over HTTP."""

import logging
import re

import pytest
from sqlalchemy import func, select

from labbook.accounts import services as accounts
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from tests.factories import PASSWORD, create_user, reload


@pytest.fixture
def english(client):
    with client.session_transaction() as session:
        session["locale"] = "en"
    return client


def ask_for_link(client, caplog, email) -> str | None:
    """The link of the reset email the request queued, if it queued one."""
    db.session.rollback()
    before = db.session.scalar(select(func.max(OutboxMessage.id))) or 0
    with caplog.at_level(logging.INFO):
        caplog.clear()
        response = client.post("/password/forgot", data={"email": email})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    db.session.rollback()
    mail = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.id > before, OutboxMessage.kind == "password_reset")).one_or_none()
    if mail is None:
        return None
    assert "/password/reset/" not in caplog.text  # a live link never goes to the logs
    found = re.search(r"https?://\S+/password/reset/\S+", mail.body_text)
    assert found and found.group(0) in mail.body_html
    return found.group(0)


def path_of(link: str) -> str:
    return "/password/reset/" + link.rsplit("/", 1)[1]


def test_the_sign_in_page_links_to_the_forgot_password_page(english):
    assert 'href="/password/forgot"' in english.get("/login").get_data(as_text=True)
    assert "Forgot your password?" in english.get("/password/forgot").get_data(as_text=True)


def test_a_forgotten_password_is_replaced_through_the_link(english, caplog):
    user = create_user(email="sun@example.cn")
    link = ask_for_link(english, caplog, "SUN@example.cn")
    assert link and link.startswith("http://localhost/password/reset/")
    notice = english.get("/login").get_data(as_text=True)
    assert "If an account uses SUN@example.cn, a link to set a new password is on its way" \
        in notice

    form = english.get(path_of(link))
    assert form.status_code == 200
    assert "sun@example.cn" in form.get_data(as_text=True)
    assert form.headers["Referrer-Policy"] == "same-origin"
    assert form.headers["Cache-Control"] == "no-store"

    done = english.post(path_of(link), data={"password": "moved-to-a-new-pass-3",
                                             "confirm": "moved-to-a-new-pass-3"})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    reload(user)
    assert accounts.authenticate(db.session, user.email, "moved-to-a-new-pass-3") is not None
    assert accounts.authenticate(db.session, user.email, PASSWORD) is None

    used = english.get(path_of(link))
    assert used.status_code == 400
    page = used.get_data(as_text=True)
    assert "not valid or has already been used" in page
    assert 'href="/password/forgot"' in page


def test_unknown_addresses_get_the_same_answer_and_no_link(english, caplog):
    assert ask_for_link(english, caplog, "nobody@example.cn") is None
    assert "If an account uses nobody@example.cn" in english.get("/login").get_data(as_text=True)


@pytest.mark.parametrize(("password", "confirm", "says"), [
    ("a-new-pass-1234", "a-new-pass-4321", "The two passwords differ."),
    ("1234567890123", "1234567890123", "must not be only digits"),
    ("qian@example.cn", "qian@example.cn", "must not be your email address or your name"),
    ("password123", "password123", "most common"),
])
def test_a_weak_or_mistyped_new_password_is_explained(english, caplog, password, confirm, says):
    create_user(email="qian@example.cn")
    link = ask_for_link(english, caplog, "qian@example.cn")
    response = english.post(path_of(link), data={"password": password, "confirm": confirm})
    assert (response.status_code, response.headers["Location"]) == (303, path_of(link))
    assert response.headers["Cache-Control"] == "no-store"
    page = english.get(path_of(link))
    assert says in page.get_data(as_text=True) and page.headers["Cache-Control"] == "no-store"
    assert password not in page.get_data(as_text=True).replace("qian@example.cn", "")


def test_a_garbled_link_is_explained_not_a_server_error(english):
    response = english.get("/password/reset/" + "x" * 300)
    assert response.status_code == 400
    assert "Ask for a new one" in response.get_data(as_text=True)


def test_asking_for_links_is_rate_limited_per_address(app, english, monkeypatch):
    monkeypatch.setitem(app.config, "LABBOOK_RATELIMIT_PASSWORD_RESET", "2 per minute")
    for _ in range(2):
        assert english.post("/password/forgot", data={"email": "a@example.cn"}).status_code == 302
    limited = english.post("/password/forgot", data={"email": "a@example.cn"})
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "Too many requests from your address" in limited.get_data(as_text=True)
    other = english.post("/password/forgot", data={"email": "a@example.cn"},
                         environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 302


def test_a_reset_unlocks_a_locked_account(app, english, caplog):
    user = create_user(email="lock@example.cn")
    for _ in range(5):
        english.post("/login", data={"email": user.email, "password": "wrong-password-1"})
    assert english.post("/login", data={"email": user.email,
                                        "password": PASSWORD}).status_code == 429
    link = ask_for_link(english, caplog, user.email)
    english.post(path_of(link), data={"password": "unlocked-pass-77",
                                      "confirm": "unlocked-pass-77"})
    signed_in = english.post("/login", data={"email": user.email, "password": "unlocked-pass-77"})
    assert signed_in.status_code == 302


def signed_in(app, user, password):
    """A browser of its own that signed in through the form."""
    browser = app.test_client()
    response = browser.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302
    return browser


def test_a_new_password_signs_the_account_out_everywhere(app, english, caplog):
    user = create_user(email="zhou@example.cn")
    elsewhere = signed_in(app, user, PASSWORD)
    assert elsewhere.get("/profile").status_code == 200

    link = ask_for_link(english, caplog, "zhou@example.cn")
    english.post(path_of(link), data={"password": "after-the-theft-2027",
                                      "confirm": "after-the-theft-2027"})

    signed_out = elsewhere.get("/profile")
    assert signed_out.status_code == 302 and signed_out.headers["Location"].startswith("/login")
    again = signed_in(app, reload(user), "after-the-theft-2027")
    assert again.get("/profile").status_code == 200


def test_a_session_that_names_only_the_user_id_is_not_accepted(client):
    user = create_user()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
    response = client.get("/profile")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
