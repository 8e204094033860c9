"""Rate limits: the API's 429, failing open, and counts shared through Redis."""

import http.cookiejar
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
import uuid
from functools import partial

import pytest

from labbook import ratelimit
from labbook.extensions import limiter
from labbook.ops import check_rate_limit_storage
from tests.calendars.conftest import subscribe
from tests.factories import PASSWORD, bearer, create_user
from tests.live import live_server

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


needs_redis = pytest.mark.skipif(not _redis_answers(), reason="no Redis on 127.0.0.1:6379")


def test_the_api_has_no_limit_unless_configured(client):
    headers = bearer(create_user())
    assert {client.get("/api/v1/labs", headers=headers).status_code for _ in range(30)} == {200}


def test_an_api_limit_answers_problem_json_with_retry_after(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LABBOOK_RATELIMIT_API", "2 per minute")
    mine, theirs = bearer(create_user()), bearer(create_user())
    assert [client.get("/api/v1/labs", headers=mine).status_code for _ in range(2)] == [200, 200]
    limited = client.get("/api/v1/instruments", headers=mine)  # one budget for the whole API
    assert limited.status_code == 429
    assert limited.mimetype == "application/problem+json"
    assert limited.json["code"] == "rate_limited"
    assert 1 <= limited.json["retry_after"] <= 60
    assert limited.headers["Retry-After"] == str(limited.json["retry_after"])
    assert limited.json["detail"]
    assert client.get("/api/v1/labs", headers=theirs).status_code == 200  # per token


def test_the_limiter_looks_only_at_routes_with_a_limit(app, monkeypatch):
    """Flask-Limiter's check costs a request a few per cent of its time: routes with no limit
    skip it, the API while no limit is set included."""
    assert not ratelimit._has_limit(app, "catalogue.instrument_list", "catalogue")
    assert not ratelimit._has_limit(app, "api.create_booking", "api")
    assert ratelimit._has_limit(app, "accounts.login", "accounts")
    monkeypatch.setitem(app.config, "LABBOOK_RATELIMIT_API", "2 per minute")
    assert ratelimit._has_limit(app, "api.create_booking", "api")


def test_an_app_with_the_limiter_switched_off_starts_and_answers(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    assert app.test_client().get("/api/v1/labs").status_code == 200


def test_hand_counted_limits_follow_the_switch(app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)
    assert all(ratelimit.hit("1 per hour", "test", "off") is None for _ in range(3))
    assert ratelimit.wait("1 per hour", "test", "off") is None


def test_an_unreachable_storage_neither_breaks_sign_in_nor_drops_the_limits(make_app):
    broken = make_app(RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0",
                      RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.2},
                      WTF_CSRF_ENABLED=False)
    assert check_rate_limit_storage(broken.config).status == "FAIL"
    with broken.app_context():  # nothing counted, nothing refused, nothing raised
        assert ratelimit.hit("1 per hour", "test", "down") is None
        assert ratelimit.wait("1 per hour", "test", "down") is None
    user = create_user()
    client = broken.test_client()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}
                       ).status_code == 302
    client.post("/logout")
    # From then on the limits count in this process's memory until Redis is back.
    answers = [client.post("/login", data={"email": user.email,
                                           "password": "wrong-password-1"}).status_code
               for _ in range(5)]
    assert answers == [303, 303, 303, 303, 429]


@needs_redis
def test_counts_kept_in_redis_outlive_the_worker_that_made_them(make_app):
    """Each app built here stands for a worker process with its own connection to Redis."""
    prefix = f"labbook-test-{uuid.uuid4().hex}"
    settings = {"RATELIMIT_STORAGE_URI": REDIS_URL,
                "RATELIMIT_STORAGE_OPTIONS": {"key_prefix": prefix}}
    first = make_app(**settings)
    assert check_rate_limit_storage(first.config).status == "OK"
    user = create_user()
    path = subscribe(user, "mine")
    first.config["LABBOOK_RATELIMIT_FEED"] = "2 per 10 minutes"
    try:
        assert [first.test_client().get(path).status_code for _ in range(2)] == [200, 200]
        second = make_app(**settings, LABBOOK_RATELIMIT_FEED="2 per 10 minutes")
        limited = second.test_client().get(path)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) <= 600
    finally:
        from labbook.extensions import limiter

        limiter.reset()  # only this test's keys: they all carry its prefix


def _form_token(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def _sign_in(base_url: str, email: str, password: str) -> int:
    """A sign-in as a browser makes it, in a fresh connection: the form, then the post."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(f"{base_url}/login", timeout=10) as page:
        token = _form_token(page.read().decode())
    data = urllib.parse.urlencode({"email": email, "password": password,
                                   "csrf_token": token}).encode()
    try:
        with opener.open(f"{base_url}/login", data, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


@needs_redis
@pytest.mark.slow
def test_two_servers_share_the_account_lockout_through_redis(database_url):
    import redis

    prefix = f"labbook-test-{uuid.uuid4().hex}"  # this run's counts alone
    user = create_user()
    env = {"LABBOOK_RATELIMIT_STORAGE_URL": REDIS_URL, "LABBOOK_RATELIMIT_KEY_PREFIX": prefix}
    try:
        with live_server(database_url, workers=1, extra_env=env) as one, \
                live_server(database_url, workers=1, extra_env=env) as two:
            servers = [one, two]
            failures = [_sign_in(servers[n % 2], user.email, "wrong-password-1")
                        for n in range(5)]
            assert failures == [200, 200, 200, 200, 429]  # the refused form's page, followed to
            assert _sign_in(one, user.email, PASSWORD) == 429
            assert _sign_in(two, user.email, PASSWORD) == 429
    finally:
        store = redis.Redis.from_url(REDIS_URL)
        for key in store.scan_iter(f"*{prefix}*"):
            store.delete(key)


def test_the_limiters_hooks_all_run_only_where_a_route_has_a_limit(app):
    """Flask-Limiter's after-request and teardown hooks, too, are swapped for ones that skip
    routes with no limit (where they would only make and drop an empty record): should an
    upgrade of Flask-Limiter rename them, this test says so."""
    hooks = [*app.before_request_funcs[None], *app.after_request_funcs[None],
             *app.teardown_request_funcs[None]]
    names = {getattr(hook, "__name__", "") for hook in hooks}
    assert {"check_limited_routes", "inject_headers_on_limited_routes",
            "release_on_limited_routes"} <= names
    assert not any(isinstance(hook, partial) or getattr(hook, "__self__", None) is limiter
                   for hook in hooks)


def test_rate_limit_headers_are_written_where_a_limit_counts(app, client, monkeypatch):
    monkeypatch.setattr(limiter, "_headers_enabled", True)
    headers = bearer(create_user())
    assert "X-RateLimit-Limit" not in client.get("/api/v1/labs", headers=headers).headers
    monkeypatch.setitem(app.config, "LABBOOK_RATELIMIT_API", "5 per minute")
    limited = client.get("/api/v1/labs", headers=headers).headers
    assert limited["X-RateLimit-Limit"] == "5" and limited["X-RateLimit-Remaining"] == "4"
    assert "X-RateLimit-Limit" not in client.get("/healthz").headers
