"""Security headers on every page, and the health probes."""

import datetime as dt

import pytest
from flask import Flask, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import TimestampSigner
from sqlalchemy import text

from labbook import CookieSessions
from labbook.extensions import db
from tests.factories import bearer, create_user, session_id


@pytest.mark.parametrize("path", ["/", "/instruments", "/login", "/api/v1/labs",
                                  "/no-such-page"])
def test_every_response_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split(
        "script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


def test_pages_have_no_inline_scripts(client):
    page = client.get("/").get_data(as_text=True)
    for chunk in page.split("<script")[1:]:
        assert 'src="' in chunk.split(">")[0]


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["database"] == "ok"


def test_readyz_fails_when_the_schema_is_behind(client):
    with db.engine.begin() as connection:
        (head,) = connection.execute(text("SELECT version_num FROM alembic_version")).one()
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert "flask labbook init" in answer.json["database"]
    finally:
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :head"),
                               {"head": head})


# -- the session cookie: Flask's, without its work for requests that bring none ----------------

def _opened(interface, app, cookie):
    headers = {"Cookie": f"other=1; {app.config['SESSION_COOKIE_NAME']}={cookie}"
               if cookie else "other=1"} if cookie is not None else {}
    with app.test_request_context("/", headers=headers) as context:
        session = interface.open_session(app, context.request)
    return None if session is None else (type(session), dict(session))


def test_a_session_is_opened_as_flask_opens_it(app):
    flask_sessions = SecureCookieSessionInterface()
    with app.test_request_context("/"):
        signed = flask_sessions.get_signing_serializer(app).dumps({"_user_id": "7"})
    for cookie in (None, "", signed, signed[:-2] + "xx", "garbage"):
        ours = _opened(CookieSessions(), app, cookie)
        assert ours == _opened(flask_sessions, app, cookie), cookie
    assert _opened(CookieSessions(), app, signed)[1] == {"_user_id": "7"}
    keyless = Flask("keyless")
    assert _opened(CookieSessions(), keyless, None) is None
    assert _opened(CookieSessions(), keyless, signed) is None


def _saved(interface, app, change, vary):
    session = SecureCookieSession({"kept": 1} if change.startswith("filled") else {})
    if change.endswith("read"):
        session.accessed = True  # as the request context marks it when the session is read
    elif change == "emptied":
        session["x"] = 1
        session.pop("x")
    elif change == "filled, changed":
        session["locale"] = "en"
    elif change == "filled, permanent":
        session.permanent = True
        session.modified = False
    response = Response("", headers={"Vary": vary} if vary else {})
    with app.test_request_context("/"):
        interface.save_session(app, session, response)
    return sorted(response.headers.items())


class _Clock:
    """A cookie's expiry and signature at a fixed moment, to compare two cookies."""

    def get_expiration_time(self, _app, _session):
        return dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)


@pytest.mark.parametrize("change", ["empty, untouched", "empty, read", "emptied",
                                    "filled, untouched", "filled, read", "filled, changed",
                                    "filled, permanent"])
@pytest.mark.parametrize("vary", [None, "Origin", "cookie"])
def test_a_session_is_saved_as_flask_saves_it(app, change, vary, monkeypatch):
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda _signer: 1_772_438_400)

    class Ours(_Clock, CookieSessions):
        pass

    class Flasks(_Clock, SecureCookieSessionInterface):
        pass

    assert _saved(Ours(), app, change, vary) == _saved(Flasks(), app, change, vary)


def test_an_api_call_without_cookies_gets_none_and_varies_by_them(client):
    response = client.get("/api/v1/labs", headers=bearer(create_user()))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers and "Cookie" in response.vary


# -- the security headers and Cache-Control, around what a view says itself -------------------

@pytest.fixture
def saying(make_app):
    """A client of an app with a view that answers with the headers a test gives it (by query:
    name=value), and the path of that view."""
    other = make_app(WTF_CSRF_ENABLED=False)

    @other.get("/test-says-headers")
    def test_says_headers():
        return "ok", 200, list(request.args.items(multi=True))

    return other.test_client(), "/test-says-headers"


def test_the_security_headers_follow_the_answer_in_their_order(saying):
    client, path = saying
    names = [name for name, _value in client.get(path).headers]
    assert names == ["Content-Type", "Content-Length", "Content-Security-Policy",
                     "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
                     "X-Request-ID", "Vary"]


def test_a_security_header_the_view_set_is_kept_whatever_its_case(saying):
    client, path = saying
    headers = client.get(path, query_string={"x-frame-options": "SAMEORIGIN",
                                               "Referrer-Policy": "no-referrer"}).headers
    assert headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert headers.getlist("Referrer-Policy") == ["no-referrer"]
    assert [name for name, _value in headers if name not in ("Content-Type",
                                                              "Content-Length")] == [
        "x-frame-options", "Referrer-Policy", "Content-Security-Policy",
        "X-Content-Type-Options", "X-Request-ID", "Vary"]


@pytest.mark.parametrize(("given", "answered"), [
    (None, "no-store"), ("max-age=60", "no-store"), ("no-cache", "no-store"),
    ("private, max-age=0", "private, max-age=0"), ("private", "private")])
def test_a_signed_in_answer_is_not_stored_unless_it_is_private(saying, given, answered):
    client, path = saying
    user = create_user()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = session_id(user), True
    query = {"Cache-Control": given} if given else {}
    assert client.get(path, query_string=query).headers.getlist("Cache-Control") == [answered]


def test_a_signed_out_answer_keeps_its_cache_control(saying):
    client, path = saying
    assert "Cache-Control" not in client.get(path).headers
    headers = client.get(path, query_string={"Cache-Control": "max-age=60"}).headers
    assert headers.getlist("Cache-Control") == ["max-age=60"]
