"""Signing out ends that sign-in on the server: its cookies, wherever they were copied, no longer
open anything, while the user's other sign-ins go on. Signed-in pages are not kept in caches."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from labbook.accounts import services as accounts
from labbook.accounts.models import LoginSession
from labbook.accounts.passwords import fingerprint
from labbook.core.engine import write_transaction
from labbook.core.time import utcnow
from labbook.extensions import db
from tests.factories import PASSWORD, create_admin, create_user, reload

SESSION, REMEMBER = "session", "remember_token"


@pytest.fixture
def user():
    return create_user(name="Liu Yang", locale="en")


def signed_in(app, user, *, remember: bool = False):
    """A browser of its own that signed in through the form."""
    browser = app.test_client()
    form = {"email": user.email, "password": PASSWORD}
    if remember:
        form["remember"] = "y"
    assert browser.post("/login", data=form).status_code == 302
    return browser


def with_cookie(app, name: str, value: str):
    """Another browser holding only a copy of one cookie."""
    browser = app.test_client()
    browser.set_cookie(name, value)
    return browser


def is_signed_in(browser) -> bool:
    response = browser.get("/profile")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    return False


def test_a_copied_session_cookie_stops_working_when_its_owner_signs_out(app, user):
    browser = signed_in(app, user)
    copy = with_cookie(app, SESSION, browser.get_cookie(SESSION).value)
    assert is_signed_in(copy)

    assert browser.post("/logout").status_code == 302

    assert not is_signed_in(browser)
    assert not is_signed_in(copy)


def test_a_copied_remember_me_cookie_stops_working_when_its_owner_signs_out(app, user):
    browser = signed_in(app, user, remember=True)
    remembered = browser.get_cookie(REMEMBER).value
    assert is_signed_in(with_cookie(app, REMEMBER, remembered))

    browser.post("/logout")

    assert not is_signed_in(with_cookie(app, REMEMBER, remembered))


def test_signing_out_on_the_laptop_leaves_the_phone_signed_in(app, user):
    laptop, phone = signed_in(app, user), signed_in(app, user, remember=True)

    laptop.post("/logout")

    assert not is_signed_in(laptop)
    assert is_signed_in(phone)
    assert is_signed_in(with_cookie(app, REMEMBER, phone.get_cookie(REMEMBER).value))


def test_the_server_keeps_no_secret_a_cookie_carries(app, user):
    browser = signed_in(app, user)
    with browser.session_transaction() as session:
        secret = session["_user_id"].rsplit(".", 1)[1]
    db.session.rollback()
    [login] = db.session.scalars(select(LoginSession).where(LoginSession.user_id == user.id))
    assert secret not in login.secret_hash


def test_a_sign_in_ends_when_it_expires(app, user):
    browser = signed_in(app, user)
    db.session.execute(update(LoginSession).values(expires_at=utcnow()))
    db.session.commit()
    assert not is_signed_in(browser)


def test_a_remembered_sign_in_lasts_as_long_as_its_cookie(app, user):
    signed_in(app, user)
    signed_in(app, user, remember=True)
    db.session.rollback()
    lifetimes = sorted(login.expires_at - login.created_at
                       for login in db.session.scalars(select(LoginSession)))
    assert lifetimes == [app.config["PERMANENT_SESSION_LIFETIME"], dt.timedelta(days=365)]


def test_expired_sign_ins_are_cleared_at_the_next_sign_in(app, user):
    signed_in(app, user)
    db.session.execute(update(LoginSession).values(expires_at=utcnow()))
    db.session.commit()
    signed_in(app, user)
    db.session.rollback()
    assert len(db.session.scalars(select(LoginSession)).all()) == 1


def test_deactivating_an_account_ends_its_sign_ins_for_good(app, user):
    admin = create_admin()
    browser = signed_in(app, user, remember=True)
    remembered = browser.get_cookie(REMEMBER).value
    for active in (False, True):
        with write_transaction(db.session):
            accounts.set_user_active(db.session, admin, reload(user), active=active,
                                     now=utcnow())

    assert not is_signed_in(browser)
    assert not is_signed_in(with_cookie(app, REMEMBER, remembered))
    assert is_signed_in(signed_in(app, user))


def test_a_session_from_before_sign_ins_were_kept_is_not_accepted(client, user):
    with client.session_transaction() as session:
        session["_user_id"] = f"{user.id}.{fingerprint(user.password_hash)}"
    assert not is_signed_in(client)


def test_signed_in_pages_may_not_be_stored(app, client, user):
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
    browser = signed_in(app, user)
    for path in ("/", "/profile", "/service-requests"):
        assert browser.get(path).headers["Cache-Control"] == "no-store", path


def test_static_files_stay_cacheable_for_a_signed_in_browser(app, client, user):
    with client.get("/static/css/labbook.css") as anonymous, \
            signed_in(app, user).get("/static/css/labbook.css") as signed:
        assert signed.status_code == 200
        assert signed.headers.get("Cache-Control") == anonymous.headers.get("Cache-Control")
        assert "no-store" not in signed.headers.get("Cache-Control", "")
