"""CSRF protection and session cookies as a production configuration has them.

TestingConfig switches CSRF off for the rest of the suite; these tests build the app with the
production ``Config`` instead.
"""

import re
from pathlib import Path

import pytest
from werkzeug.routing import Rule

from tests.factories import PASSWORD, bearer, create_user

ROOT = Path(__file__).resolve().parent.parent
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
HTTPS = "https://labbook.example.cn"


@pytest.fixture
def production(make_app):
    return make_app(LABBOOK_BASE_URL=HTTPS)


def _example_url(rule: Rule) -> str:
    return rule.build(dict.fromkeys(rule.arguments, 1), append_unknown=False)[1]


def _state_changing_rules(app) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) & STATE_CHANGING):
            found.append((method, _example_url(rule)))
    return found


def test_the_production_configuration_has_csrf_on(production):
    assert production.config.get("WTF_CSRF_ENABLED", True) is True
    assert "csrf" in production.extensions


def test_every_state_changing_page_route_refuses_a_request_without_the_token(production):
    client = production.test_client()
    with client.session_transaction(base_url=HTTPS) as session:
        session["locale"] = "en"
    routes = _state_changing_rules(production)
    assert len(routes) > 20  # the walk found the forms
    for method, url in routes:
        response = client.open(url, method=method, data={"anything": "1"}, base_url=HTTPS)
        assert response.status_code == 400, (method, url, response.status_code)
        page = response.get_data(as_text=True)
        assert "did not come from labbook" in page or "csrf_failed" in page, (method, url)


def test_the_refusal_is_a_clear_page_for_forms_and_problem_json_for_ajax(production):
    client = production.test_client()
    with client.session_transaction(base_url=HTTPS) as session:
        session["locale"] = "en"
    page = client.post("/login", data={"email": "a@example.cn", "password": PASSWORD},
                       base_url=HTTPS)
    assert page.status_code == 400 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "This form has expired or did not come from labbook" in text
    assert "CSRF token is missing" in text

    ajax = client.post("/password/forgot", json={"email": "a@example.cn"},
                       headers={"Accept": "application/json"}, base_url=HTTPS)
    assert ajax.status_code == 400 and ajax.mimetype == "application/problem+json"
    assert ajax.json["code"] == "csrf_failed"

    check = client.post("/instruments/1/check", json={"start": "x", "end": "y"},
                        headers={"Accept": "application/json"}, base_url=HTTPS)
    assert check.status_code == 400 and check.json["code"] == "csrf_failed"


def test_a_form_with_its_token_goes_through(production):
    user = create_user()
    client = production.test_client()
    login_page = client.get("/login", base_url=HTTPS).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                           "csrf_token": token}, base_url=HTTPS,
                           headers={"Referer": HTTPS + "/login"})
    assert response.status_code == 302


def test_over_https_a_post_from_another_site_is_refused_even_with_a_token(production):
    client = production.test_client()
    page = client.get("/login", base_url=HTTPS).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    for headers in ({}, {"Referer": "https://evil.example.com/login"}):
        response = client.post("/login", data={"email": "a@example.cn", "password": PASSWORD,
                                               "csrf_token": token}, base_url=HTTPS,
                               headers=headers)
        assert response.status_code == 400, headers


def test_pages_with_forms_let_the_browser_send_the_referer(client, login_as):
    """Over https the CSRF check wants a same-origin Referer: a page with forms must not
    forbid it (no-referrer), or its forms would always be refused."""
    user = create_user()
    assert client.get("/login").headers["Referrer-Policy"] == "same-origin"
    assert login_as(user).get("/calendars").headers["Referrer-Policy"] == "same-origin"


def test_a_wrong_token_is_refused(production):
    client = production.test_client()
    client.get("/login", base_url=HTTPS)
    response = client.post("/login", data={"email": "a@example.cn", "password": PASSWORD,
                                           "csrf_token": "forged"}, base_url=HTTPS)
    assert response.status_code == 400


def test_the_bearer_token_api_needs_no_csrf_token(production):
    user = create_user()
    response = production.test_client().post("/api/v1/bookings", json={},
                                             headers=bearer(user), base_url=HTTPS)
    assert response.status_code == 422


def _cookie(response, name: str) -> str:
    return next(value for value in response.headers.getlist("Set-Cookie")
                if value.startswith(name + "="))


def test_session_cookies_are_httponly_lax_and_secure_behind_https(production):
    user = create_user()
    client = production.test_client()
    page = client.get("/login", base_url=HTTPS).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                           "remember": "y", "csrf_token": token},
                           base_url=HTTPS, headers={"Referer": HTTPS + "/login"})
    for name in ("session", "remember_token"):
        cookie = _cookie(response, name)
        assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie, \
            cookie


def test_cookies_are_not_secure_over_plain_http(make_app):
    plain = make_app(LABBOOK_BASE_URL="http://labbook.intranet.example")
    response = plain.test_client().get("/login")
    cookie = _cookie(response, "session")
    assert "; Secure" not in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie


def _carries_token(source: str) -> bool:
    return "csrf_token" in source or "hidden_tag()" in source


def test_every_post_form_in_the_templates_carries_the_token():
    sources = {template: template.read_text(encoding="utf-8")
               for template in sorted((ROOT / "templates").rglob("*.html"))}
    macros = {name: body for source in sources.values() for name, body in re.findall(
        r"{%-?\s*macro\s+(\w+)\(.*?%}(.*?){%-?\s*endmacro", source, re.DOTALL)}
    for template, source in sources.items():
        for opening in re.finditer(r"<form\b[^>]*>", source):
            if 'method="post"' not in opening.group(0).lower():
                continue
            body = source[opening.end():source.find("</form>", opening.end())]
            called = re.findall(r"(?:{{|{%\s*call)\s*(\w+)\(", body)
            assert _carries_token(body) or any(_carries_token(macros.get(name, ""))
                                               for name in called), \
                f"{template.relative_to(ROOT)}: {opening.group(0)}"


def test_every_script_that_posts_sends_the_token():
    for script in sorted((ROOT / "static" / "js").glob("*.js")):
        source = script.read_text(encoding="utf-8")
        if re.search(r"method:\s*'(POST|PUT|PATCH|DELETE)'", source):
            assert "'X-CSRFToken'" in source, script.name
