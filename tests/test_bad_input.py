"""Hostile input to the pages and the API is refused clearly, never with a server error.

Two walks keep every route honest: the URL map's routes called with a hostile value in each
query parameter their view reads (learnt by recording which names it asks for) and in each
path segment that is text, signed in as an administrator and signed out; and every form the
pages show, sent filled in plausibly but for one hostile field. Neither may answer 500, an API
refusal must be a problem document, and nothing may reach the error handlers' last line of
defence (labbook.errors logs that as a warning): each value must be refused where it is read.

The explicit cases after the walks pin what the answers say: a NUL byte anywhere, moments near
year 1 or 9999, numbers beyond 32 and 64 bits, page numbers past the end.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from flask import Flask, Request
from sqlalchemy import func, select
from werkzeug.datastructures import ImmutableMultiDict

from labbook.booking.models import Blackout, Booking, BookingState, Qualification
from labbook.calendars.services import Scope, create_feed_token
from labbook.extensions import db
from tests.factories import (
    PASSWORD,
    bearer,
    create_admin,
    create_booking,
    create_charge,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_service,
    create_statement,
    create_user,
    lab_time,
    next_weekday,
)

PROBLEM_JSON = "application/problem+json"

#: Query and path values: NUL bytes, a lone surrogate (percent-encoded, as a careless client
#: would send it), numbers beyond 32 and 64 bits, moments and dates at the ends of the calendar
#: (which overflow once an offset or a day is added) and months no statement can have.
HOSTILE = ["\x00", "a\x00b", "\ud800", "99999999999999999999", "2147483648",
           "9223372036854775808", "-9223372036854775809", "1e999", "NaN",
           "0001-01-01T00:00:00+08:00", "9999-12-31T22:00:00-08:00", "0001-01-01", "9999-12-31",
           "9999-12", "0000-00", "25:61"]
#: Form fields: fewer, as a form page is dearer to answer. A browser sends no lone surrogate.
FORM_HOSTILE = ["a\x00b", "99999999999999999999", "2147483648", "-99999999999999999999",
                "0001-01-01", "9999-12-31", "0001-01-01T00:00", "9999-12-31T23:59", "9999-12"]


# -- the scene --------------------------------------------------------------------------------


def seed() -> dict:
    """One object of every kind a route addresses, each with id 1 where the route takes an id."""
    lab = create_lab(code="NEM")
    manager = create_manager(lab)
    org = create_organization()
    researcher = create_user(organization=org)
    admin = create_admin()
    instrument = create_instrument(lab=lab)
    create_service(lab=lab, instruments=[instrument])
    monday = next_weekday(0)
    for hour, state in enumerate([BookingState.APPROVED, BookingState.PENDING]):
        create_booking(instrument=instrument, user=researcher, state=state,
                       start_at=lab_time(monday, 9 + hour))
    now = dt.datetime.now(dt.UTC)
    db.session.add(Qualification(user=researcher, instrument=instrument,
                                 granted_by_id=manager.id, granted_at=now))
    db.session.add(Blackout(instrument=instrument, start_at=lab_time(monday, 14),
                            end_at=lab_time(monday, 16), reason="维护"))
    create_feed_token(db.session, admin, Scope.parse("mine"), now=now)
    db.session.commit()
    create_statement([create_charge(organization=org, lab=lab)])
    return {"admin": admin, "researcher": researcher, "instrument": instrument,
            "headers": bearer(admin)}


@pytest.fixture
def scene() -> dict:
    return seed()


def sign_in(client, user) -> None:
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


class LastLineOfDefence(logging.Handler):
    """What reached labbook.errors' last line of defence: a value no check refused in time."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def last_line_of_defence() -> Iterator[list[logging.LogRecord]]:
    handler = LastLineOfDefence()
    logger = logging.getLogger("labbook.errors")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def unchecked() -> Iterator[list[logging.LogRecord]]:
    with last_line_of_defence() as records:
        yield records


def verdict(response, path: str, unchecked: list[logging.LogRecord]) -> str | None:
    """What is wrong with an answer to hostile input, if anything."""
    caught = [f"{record.getMessage()}: {record.exc_info[1]!r}" if record.exc_info
              else record.getMessage() for record in unchecked]
    unchecked.clear()
    if response.status_code >= 500:
        return f"{response.status_code} {caught}"
    if caught:
        return f"refused only by the last line of defence: {caught}"
    if path.startswith("/api/") and response.status_code >= 400 \
            and response.mimetype != PROBLEM_JSON:
        return f"{response.status_code} as {response.mimetype}"
    return None


def encode(pairs: dict[str, str]) -> str:
    return "&".join(f"{quote(name)}={quote(value, safe='', errors='surrogatepass')}"
                    for name, value in pairs.items())


# -- walk 1: every query parameter and text path segment of every route ------------------------


class RecordingArgs(ImmutableMultiDict):
    """Query and form data that remember which names a view asked for."""

    asked: set[str] = set()

    def _ask(self, key) -> None:
        if isinstance(key, str):
            RecordingArgs.asked.add(key)

    def __getitem__(self, key):
        self._ask(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self._ask(key)
        return super().__contains__(key)

    def get(self, key, default=None, type=None):
        self._ask(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):
        self._ask(key)
        return super().getlist(key, type)


def walked_routes(app: Flask):
    """Every route but the static files and signing out (which would end the walk's session)."""
    return sorted((rule for rule in app.url_map.iter_rules()
                   if rule.endpoint not in ("static", "accounts.logout")), key=lambda r: r.rule)


def path_variants(rule) -> list[dict[str, str]]:
    """Path values that reach the scene's objects: id 1, the lab's code, each fixed choice."""
    variants: list[dict[str, str]] = [{}]
    for name, converter in rule._converters.items():
        if hasattr(converter, "items"):  # <any(…)>
            choices = sorted(converter.items)
        else:
            choices = ["NEM" if name == "code" else "1"]
        variants = [{**variant, name: choice} for variant in variants for choice in choices]
    return variants


def text_segments(rule) -> list[str]:
    """The path arguments that are free text (not ids, not fixed choices)."""
    return [name for name, converter in rule._converters.items()
            if not hasattr(converter, "items") and not hasattr(converter, "MAX_ID")]


def build_path(rule, values: dict[str, str]) -> str:
    path = rule.rule
    for name, value in values.items():
        path = re.sub(r"<(?:\w+(?:\([^)]*\))?:)?" + name + ">",
                      quote(value, safe="", errors="surrogatepass"), path)
    return path


def test_no_query_parameter_or_path_value_makes_a_server_error(app, client, scene, monkeypatch,
                                                                unchecked):
    monkeypatch.setattr(Request, "parameter_storage_class", RecordingArgs)
    failures = []
    for signed_in in (True, False):
        client.delete_cookie("session")
        if signed_in:
            sign_in(client, scene["admin"])
        for rule in walked_routes(app):
            headers = scene["headers"] if signed_in and rule.rule.startswith("/api/") else {}
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                for values in path_variants(rule):
                    path = build_path(rule, values)
                    RecordingArgs.asked = set()
                    client.open(path, method=method, headers=headers)
                    unchecked.clear()
                    urls = [f"{path}?{encode({name: value})}" for name in sorted(
                        RecordingArgs.asked - {"csrf_token"}) for value in HOSTILE]
                    urls += [build_path(rule, {**values, name: value})
                             for name in text_segments(rule) for value in HOSTILE]
                    for url in urls:
                        response = client.open(url, method=method, headers=headers)
                        problem = verdict(response, url, unchecked)
                        if problem:
                            failures.append(f"{method} {url} (signed in: {signed_in}): "
                                            f"{problem}")
    assert not failures, "\n".join(failures)


# -- walk 2: every field of every form the pages show --------------------------------------------


class FormParser(HTMLParser):
    """A page's forms: action, method and the fields with the values the page fills in."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action") or "",
                               "method": (attrs.get("method") or "get").lower(), "fields": {}})
            return
        if not self.forms:
            return
        fields = self.forms[-1]["fields"]
        name = attrs.get("name")
        if tag == "input" and name:
            if attrs.get("type") in ("checkbox", "radio") and name in fields:
                return
            fields[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            fields[name] = None
        elif tag == "option" and self._select \
                and (fields[self._select] is None or "selected" in attrs):
            fields[self._select] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data


def plausible(name: str, value: str | None, scene: dict) -> str:
    """What a person would type into an empty field, so that the other fields of a form pass
    and a hostile value in one field gets as far as the code behind it. Times span the whole
    day, so that a date near either end of the calendar would overflow with them."""
    if value:
        return value
    day = next_weekday(1).isoformat()
    guesses = [("email", scene["researcher"].email), ("date", day), ("until", day),
               ("effective_from", day), ("start_time", "00:00"), ("end_time", "23:59"),
               ("uscc", "91410800MA00099999"), ("year", "2020"), ("amount", "10.00"),
               ("rate", "10.00"), ("price", "10.00"), ("value", "1000.00"), ("days", "5"),
               ("period", "2026-11"), ("count", ""), ("quota", ""), ("_id", "1")]
    for part, guess in guesses:
        if part in name:
            return guess
    return "测试"


def shown_forms(app: Flask, client) -> dict[tuple, tuple[str, dict]]:
    """Every form of every page (bar switching language and signing out), once each."""
    forms: dict[tuple, tuple[str, dict]] = {}
    for rule in walked_routes(app):
        if "GET" not in rule.methods or rule.rule.startswith("/api/"):
            continue
        for values in path_variants(rule)[:1]:
            path = build_path(rule, values)
            response = client.get(path)
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            parser = FormParser()
            parser.feed(response.get_data(as_text=True))
            for form in parser.forms:
                action = form["action"] or path
                if action not in ("/logout", "/language") and form["fields"]:
                    forms.setdefault((action, form["method"], tuple(sorted(form["fields"]))),
                                     (action, form))
    return forms


def test_no_form_field_makes_a_server_error(app, client, scene, unchecked):
    sign_in(client, scene["admin"])
    forms = shown_forms(app, client)
    assert len(forms) > 30  # the walk reaches the pages
    failures = []
    for action, form in forms.values():
        baseline = {name: plausible(name, value, scene)
                    for name, value in form["fields"].items() if name != "csrf_token"}
        for name in baseline:
            for value in FORM_HOSTILE:
                data = encode({**baseline, name: value})
                if form["method"] == "get":
                    response = client.get(f"{action}?{data}")
                else:
                    response = client.post(action, data=data,
                                           content_type="application/x-www-form-urlencoded")
                problem = verdict(response, action, unchecked)
                if problem:
                    failures.append(f"{form['method']} {action} {name}={value!r}: {problem}")
    assert not failures, "\n".join(failures)


# -- NUL bytes -----------------------------------------------------------------------------------


NUL_MESSAGE = "NUL"  # the message names the character in both languages


@pytest.mark.parametrize(("path", "data"), [
    ("/login", {"email": "someone@example.cn\x00", "password": "x"}),
    ("/password/forgot", {"email": "someone\x00@example.cn"}),
])
def test_a_nul_byte_in_a_form_reached_without_signing_in_is_refused_with_a_message(
        client, path, data):
    response = client.post(path, data=data)
    assert response.status_code == 422
    assert NUL_MESSAGE in response.get_data(as_text=True)


def test_a_nul_byte_in_a_search_is_refused_on_the_page_and_in_the_api(client):
    page = client.get("/instruments?q=XRD%00")
    assert page.status_code == 422
    assert NUL_MESSAGE in page.get_data(as_text=True)
    api = client.get("/api/v1/instruments?q=XRD%00")
    assert api.status_code == 422 and api.mimetype == PROBLEM_JSON
    assert api.json["code"] == "nul_character"
    assert api.json["problems"][0]["field"] == "q"


def test_a_nul_byte_in_a_booking_is_refused_and_nothing_is_booked(client, scene):
    sign_in(client, scene["researcher"])
    instrument, day = scene["instrument"], next_weekday(2).isoformat()
    page = client.post(f"/instruments/{instrument.id}/book", data={
        "date": day, "start_time": "10:00", "end_time": "11:00", "purpose": "XRD\x00"})
    assert page.status_code == 422
    assert NUL_MESSAGE in page.get_data(as_text=True)
    api = client.post("/api/v1/bookings", headers=bearer(scene["researcher"]), json={
        "instrument_id": instrument.id, "start": f"{day}T10:00:00+08:00",
        "end": f"{day}T11:00:00+08:00", "purpose": "XRD", "project_ref": "PO\x00-7"})
    assert api.status_code == 422 and api.mimetype == PROBLEM_JSON
    assert api.json["code"] == "nul_character"
    assert api.json["problems"][0]["field"] == "project_ref"
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 2  # the scene's


def test_a_nul_byte_in_a_chunked_body_is_refused_like_one_of_known_length(client, scene):
    """A body sent in chunks comes without a Content-Length: it is read and checked all the
    same (only a request with neither has no body to look at)."""
    instrument, day = scene["instrument"], next_weekday(2).isoformat()
    body = json.dumps({"instrument_id": instrument.id, "start": f"{day}T10:00:00+08:00",
                       "end": f"{day}T11:00:00+08:00", "purpose": "XRD",
                       "project_ref": "PO\x00-7"})
    api = client.post("/api/v1/bookings", input_stream=io.BytesIO(body.encode()),
                      headers={**bearer(scene["researcher"]), "Transfer-Encoding": "chunked",
                               "Content-Type": "application/json"},
                      # What a server passes on of a chunked body: no length.
                      environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""})
    assert api.status_code == 422 and api.json["code"] == "nul_character"
    assert api.json["problems"][0]["field"] == "project_ref"
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 2  # the scene's


@pytest.mark.parametrize("path", ["/labs/N%00/day", "/password/reset/a%00b", "/ical/a%00.ics",
                                  "/admin/labs/NEM%00/instruments/new"])
def test_a_nul_byte_in_a_path_names_nothing(client, scene, path):
    sign_in(client, scene["admin"])
    assert client.get(path).status_code == 404


def test_a_nul_byte_in_a_header_is_no_server_error(client, scene):
    response = client.get("/instruments", headers={"Accept-Language": "en\x00",
                                                   "X-Request-ID": "a\x00b"})
    assert response.status_code == 200
    api = client.get("/api/v1/bookings", headers={"Authorization": "Bearer lb_\x00"})
    assert api.status_code == 401 and api.mimetype == PROBLEM_JSON


# -- moments near year 1 and 9999 ----------------------------------------------------------------


def test_a_closure_from_year_1_is_a_form_error(client, scene):
    sign_in(client, scene["admin"])
    response = client.post("/manage/blackouts", data={
        "scope": f"instrument:{scene['instrument'].id}", "start_date": "0001-01-01",
        "start_time": "00:00", "end_date": "2030-01-01", "end_time": "00:00", "reason": "维护"},
        follow_redirects=True)
    assert response.status_code == 200
    assert "2000" in response.get_data(as_text=True) and "2099" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Blackout)) == 1  # the scene's


def test_a_training_record_valid_through_9999_is_a_form_error(client, scene):
    sign_in(client, scene["admin"])
    response = client.post("/manage/qualifications", data={
        "email": scene["researcher"].email, "instrument_id": scene["instrument"].id,
        "valid_until": "9999-12-31"}, follow_redirects=True)
    assert response.status_code == 200
    assert "2099" in response.get_data(as_text=True)


# -- numbers beyond 32 and 64 bits ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/instruments", "/services"])
def test_a_page_number_beyond_64_bits_is_refused_and_one_past_the_end_is_empty(client, path):
    refused = client.get(f"{path}?page=99999999999999999999")
    assert refused.status_code == 422
    assert "page" in refused.get_data(as_text=True)
    assert client.get(f"{path}?page=1000001").status_code == 422
    assert client.get(f"{path}?page=1000000").status_code == 200


@pytest.mark.parametrize("query", ["organization=99999999999999999999",
                                   "organization=2147483648", "page=9223372036854775808"])
def test_ids_and_pages_beyond_any_id_in_an_admin_list_are_no_server_error(client, scene,
                                                                          query):
    sign_in(client, scene["admin"])
    assert client.get(f"/admin/users?{query}").status_code in (200, 422)


def test_a_person_put_in_an_organization_beyond_any_id_is_a_form_error(client, scene):
    sign_in(client, scene["admin"])
    response = client.post("/admin/users/new", data={
        "email": "new@example.cn", "name": "新人", "organization_id": "99999999999999999999",
        "role": "researcher", "locale": "zh_CN"}, follow_redirects=True)
    assert response.status_code == 200
    assert "new@example.cn" in response.get_data(as_text=True)  # the form, shown again


def test_approving_a_booking_id_beyond_any_id_is_a_form_error(client, scene):
    sign_in(client, scene["admin"])
    response = client.post("/manage/approvals", data={"action": "approve",
                                                      "booking_ids": "2147483648"},
                           follow_redirects=True)
    assert response.status_code == 200
