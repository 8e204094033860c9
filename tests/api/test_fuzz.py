"""The whole API fuzzed with schemathesis against the app in-process (WSGI).

Every operation of /api/v1/openapi.json is called with generated input — valid and invalid —
once with an admin's bearer token and once with a researcher's, on a small seeded scene. Every
answer must be free of server errors and match the document: a documented status code, the
documented content type and, where one is declared, the response schema.

Nothing is excluded: the report upload (completeServiceRequest) is fuzzed too, writing into a
temporary report directory. Path ids are folded onto the small ids of the scene most of the
time, so that operations reach real objects and not only 404s.

Also here: oversized bodies, huge pages and absurd date ranges are refused with a clear 4xx
problem document.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from labbook.api import openapi
from labbook.booking.models import Booking, BookingState, Qualification
from labbook.calendars.services import Scope, create_feed_token
from labbook.extensions import db
from labbook.testing.models import ServiceRequest, ServiceRequestState
from tests.factories import (
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
    make_uscc,
    next_weekday,
)
from tests.test_bad_input import last_line_of_defence, verdict

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]
PROBLEM_JSON = "application/problem+json"


# The document the app serves at /api/v1/openapi.json (test_the_fuzzed_document_is_the_served_one
# proves they are the same), loaded at import so that every operation becomes a test of its own.
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(openapi.document())))
schema.config.update(base_url="http://localhost/api/v1")
# The report upload (completeServiceRequest) is sent as raw bytes, like any binary body.
schemathesis.serializer.alias("application/pdf", "application/octet-stream")


@schema.hook
def map_path_parameters(ctx, path_parameters):
    """Most generated ids land on the scene's objects (ids 1…8); the rest stay as drawn."""
    if path_parameters:
        return {name: (value % 8) + 1 if isinstance(value, int) and value > 64 else value
                for name, value in path_parameters.items()}
    return path_parameters


@pytest.fixture(autouse=True)
def _report_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "LABBOOK_REPORT_DIR", str(tmp_path / "reports"))


def seed_scene() -> dict[str, dict[str, str]]:
    """Two labs, instruments (one needing approval), services, bookings in several states,
    service requests, charges and a statement; returns bearer headers per role."""
    lab = create_lab(code="NEM")
    other_lab = create_lab(code="MFG")
    manager = create_manager(lab)
    org = create_organization()
    researcher = create_user(organization=org)
    other = create_user()
    admin = create_admin()
    plain = create_instrument(lab=lab)
    approval = create_instrument(lab=lab, requires_approval=True)
    far = create_instrument(lab=other_lab)
    service = create_service(lab=lab, instruments=[plain], express_surcharge_percent=50)
    create_service(lab=other_lab, instruments=[far])
    monday = next_weekday(0)
    for hour, (instrument, user, state) in enumerate([
            (plain, researcher, BookingState.APPROVED), (approval, researcher,
                                                          BookingState.PENDING),
            (approval, other, BookingState.PENDING), (far, other, BookingState.APPROVED),
            (plain, researcher, BookingState.CANCELLED)]):
        create_booking(instrument=instrument, user=user, state=state,
                       start_at=lab_time(monday, 9 + hour))
    now = dt.datetime.now(dt.UTC)
    for state in (ServiceRequestState.SUBMITTED, ServiceRequestState.ACCEPTED,
                  ServiceRequestState.IN_PROGRESS):
        db.session.add(ServiceRequest(
            service=service, requester=researcher, organization=org, samples=2,
            sample_description="样品", is_express=False, notes="", state=state,
            tier=org.tier, quoted_unit_price=Decimal("100.00"),
            express_surcharge_percent=0, quoted_express_surcharge=Decimal("0.00"),
            quoted_total=Decimal("200.00"), decision_note="", created_at=now, updated_at=now))
    db.session.add(Qualification(user=researcher, instrument=approval, granted_by_id=manager.id,
                                 granted_at=now))
    create_feed_token(db.session, researcher, Scope.parse("mine"), now=now)
    create_feed_token(db.session, admin, Scope.parse(f"instrument:{plain.id}"), now=now)
    db.session.commit()
    charges = [create_charge(organization=org, lab=lab), create_charge(organization=org, lab=lab)]
    create_statement(charges)
    create_charge(organization=org, lab=other_lab)
    return {"admin": bearer(admin), "researcher": bearer(researcher),
            "manager": bearer(manager)}


def call(case, app, auth: dict[str, str]) -> None:
    """Calls with the role's token, unless the case is about the token itself: one generated to
    leave out or garble Authorization must reach the app as generated (and be refused)."""
    data = case.meta.phase.data if case.meta else None
    about_token = getattr(data, "parameter", None) == "Authorization" \
        or any(name.lower() == "authorization" for name in (case.headers or {}))
    case.call_and_validate(headers=None if about_token else auth, checks=CHECKS, app=app)


FUZZ_SETTINGS = settings(max_examples=6, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))


@pytest.fixture
def scene() -> dict[str, dict[str, str]]:
    return seed_scene()


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_answers_as_documented_to_an_admin(case, scene, app):
    call(case, app, scene["admin"])


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_answers_as_documented_to_a_researcher(case, scene, app):
    call(case, app, scene["researcher"])


def test_the_fuzzed_document_is_the_served_one(client):
    assert client.get("/api/v1/openapi.json").json == json.loads(json.dumps(openapi.document()))


# -- found by the fuzzing ------------------------------------------------------------------------


def test_a_post_to_an_id_beyond_any_database_id_is_404_not_405(client):
    """A POST path that also has a GET rule (rate cards) answered 405 for a too-large id."""
    headers = bearer(create_admin())
    for path in ("/api/v1/instruments/2147483648/rate-cards",
                 "/api/v1/instruments/99999999999999999999/rate-cards"):
        response = client.post(path, json={"tier": "internal", "effective_from": "2030-01-01",
                                           "hourly_rate": "1.00"}, headers=headers)
        assert response.status_code == 404, path
        assert response.mimetype == PROBLEM_JSON
    assert client.get("/api/v1/instruments/2147483648/rate-cards").status_code == 404


def test_every_operation_with_a_body_documents_413(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    with_body = [(path, method) for path, item in paths.items()
                 for method, operation in item.items() if "requestBody" in operation]
    assert with_body
    for path, method in with_body:
        assert "413" in paths[path][method]["responses"], f"{method} {path}"


# -- limits: oversized bodies, huge pages, absurd date ranges -------------------------------------


def test_a_body_beyond_max_content_length_is_413_problem_json(app, client):
    headers = bearer(create_user())
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = b'{"purpose": "' + b"x" * limit + b'"}'
    response = client.post("/api/v1/bookings", data=body,
                           headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.mimetype == PROBLEM_JSON
    assert response.json["code"] == "request_entity_too_large"


LIST_ENDPOINTS = ["/api/v1/instruments", "/api/v1/services", "/api/v1/bookings",
                  "/api/v1/service-requests", "/api/v1/statements", "/api/v1/charges"]


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
@pytest.mark.parametrize("query", ["per_page=201", "per_page=1000000000000000000000",
                                   "per_page=0", "per_page=-5", "page=0", "page=1000001",
                                   "page=99999999999999999999999", "page=1e9", "per_page=abc"])
def test_huge_or_bad_pages_are_refused_with_a_clear_problem(client, path, query):
    headers = bearer(create_admin())
    response = client.get(f"{path}?{query}", headers=headers)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.json
    assert body["code"] == "invalid_parameter"
    assert body["problems"][0]["field"] == query.partition("=")[0]


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
def test_the_largest_page_allowed_is_answered_empty(client, path):
    response = client.get(f"{path}?page=1000000&per_page=200",
                          headers=bearer(create_admin()))
    assert response.status_code == 200
    assert response.json["items"] == []


@pytest.mark.parametrize(("start", "end", "field"), [
    ("2026-01-01T00:00:00+08:00", "9999-12-31T23:59:59+08:00", "end"),
    ("0001-01-01T00:00:00+00:00", "0001-01-05T00:00:00+00:00", "start"),
    ("2026-01-05T00:00:00+08:00", "2026-01-01T00:00:00+08:00", "end"),
    ("2026-01-01T00:00:00+08:00", "2026-03-05T00:00:00+08:00", "end"),  # 63 days
    ("2026-01-01T00:00:00", "2026-01-02T00:00:00+08:00", "start"),  # no UTC offset
    ("yesterday", "2026-01-02T00:00:00+08:00", "start"),
])
def test_absurd_availability_ranges_are_refused_with_a_clear_problem(client, start, end, field):
    from urllib.parse import urlencode

    instrument = create_instrument()
    response = client.get(f"/api/v1/instruments/{instrument.id}/availability?"
                          + urlencode({"start": start, "end": end}))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    assert field in {problem.get("field") for problem in response.json["problems"]}


def test_absurd_booking_times_are_refused_with_a_clear_problem(client):
    instrument = create_instrument()
    response = client.post("/api/v1/bookings", headers=bearer(create_user()), json={
        "instrument_id": instrument.id, "start": "9999-12-31T09:00:00+08:00",
        "end": "9999-12-31T10:00:00+08:00", "purpose": "x"})
    assert response.status_code == 422
    assert response.mimetype == PROBLEM_JSON
    assert {p["field"] for p in response.json["problems"]} == {"start", "end"}


# -- hostile values in every JSON body ------------------------------------------------------------

def nested(depth: int):
    value = "deep"
    for _level in range(depth):
        value = [value]
    return value


#: What a careless or hostile client puts into JSON: NUL bytes, a lone surrogate, numbers beyond
#: 32 and 64 bits, moments and dates at the ends of the calendar, amounts Python alone would
#: read, wrong types and deep nesting.
HOSTILE_JSON = ["\x00", "a\x00b", "\ud800", 2**31, 2**64, -(2**64), 1e308, 0.5,
                "0001-01-01T00:00:00+08:00", "9999-12-31T22:00:00-08:00", "0001-01-01",
                "9999-12-31", "9999-12", "1_000", "x" * 10_000, True, None, [], {},
                nested(40)]


def json_operations() -> list[tuple[str, str]]:
    """Every operation of the document that takes a JSON body, as (METHOD, path template)."""
    return sorted((method.upper(), path) for path, item in openapi.document()["paths"].items()
                  for method, operation in item.items()
                  if "application/json" in operation.get("requestBody", {}).get("content", {}))


def valid_bodies(path: str, researcher_email: str) -> list[dict]:
    """Bodies the operation would accept on the seeded scene (ids 1 and 2 exist): one, or one
    per choice of members that exclude each other."""
    day = next_weekday(2).isoformat()
    note = {"note": "好的"}
    bodies = {
        "/bookings": {"instrument_id": 1, "start": f"{day}T10:00:00+08:00",
                      "end": f"{day}T11:00:00+08:00", "purpose": "XRD", "project_ref": "PO-7",
                      "skip_conflicts": True, "override": False, "channels": 1,
                      "recurrence": {"frequency": "weekly", "interval": 1, "weekdays": [2],
                                     "count": 2}},
        "/bookings (on behalf)": {"instrument_id": 1, "start": f"{day}T12:00:00+08:00",
                                  "end": f"{day}T13:00:00+08:00", "purpose": "XRD",
                                  "for_user_id": 1},
        "/bookings/{booking_id}": {"start": f"{day}T14:00:00+08:00",
                                   "end": f"{day}T15:00:00+08:00", "note": "改期",
                                   "override": False},
        "/waitlist": {"instrument_id": 1, "start": f"{day}T10:00:00+08:00",
                      "end": f"{day}T12:00:00+08:00", "minutes": 60, "channels": 1,
                      "purpose": "候补"},
        "/waitlist/{entry_id}/claim": {"project_ref": "PO-8"},
        "/qualifications": {"user_email": researcher_email, "instrument_id": 2,
                            "expires_at": "2030-01-01T00:00:00+08:00"},
        "/blackouts": {"instrument_id": 1, "start": f"{day}T14:00:00+08:00",
                       "end": f"{day}T15:00:00+08:00", "reason": "维护",
                       "cancel_affected": True, "notice": "仪器维护"},
        "/blackouts (lab)": {"lab": "NEM", "start": f"{day}T16:00:00+08:00",
                             "end": f"{day}T17:00:00+08:00", "reason": "停电"},
        "/feed-tokens": {"scope": "instrument:1"},
        "/service-requests": {"service_id": 1, "samples": 2, "sample_description": "样品",
                              "express": True, "notes": "备注"},
        "/service-requests/{request_id}/accept": {"due_date": "2030-01-07", "note": "好的"},
        "/statements/close": {"period": "2026-11"},
        "/payments": {"organization_id": 2, "received_on": day, "amount": "10.00",
                      "method": "bank_transfer", "reference": "HX-1", "statement_ids": [1]},
        "/organizations/{organization_id}/deposits": {"amount": "10.00", "note": "预存"},
        "/organizations/{organization_id}/billing": {
            "invoice_title": "企业", "taxpayer_id": make_uscc(44), "address": "焦作",
            "phone": "0391-1234567", "bank": "工行", "bank_account": "1234", "prepaid": False,
            "overdue_block_days": 30},
        "/vouchers": {"organization_id": 2, "number": "KJQ-1", "authority": "科技局",
                      "face_value": "100.00", "share_percent": 50, "valid_from": day,
                      "valid_to": day, "lab_ids": [1], "kinds": ["test"]},
        "/invoices/{invoice_id}/issue": {"invoice_number": "F-1", "issued_on": day,
                                         "amount": "1.00", "file_name": "f.pdf",
                                         "file_base64": "JVBERi0="},
        "/invoices/{invoice_id}/refuse": {"reason": "抬头有误"},
        "/invoices/{invoice_id}/reverse": {"red_number": "R-1", "issued_on": day,
                                           "reason": "更正", "correction_charge_id": 1},
        "/orders": {"lines": [{"service_id": 1, "samples": [{"name": "样品", "quantity": "1"}]}],
                    "terms_confirmed": True, "contact_phone": "13800000000", "notes": "",
                    "remains": "dispose", "report_language": "zh_CN", "expected_total": "100.00"},
        "/orders/quote": {"lines": [{"service_id": 1,
                                     "samples": [{"name": "样品", "quantity": "1"}]}],
                          "terms_confirmed": True, "contact_phone": "13800000000",
                          "notes": "", "remains": "dispose", "report_language": "zh_CN",
                          "expected_total": "100.00"},
        "/orders/{order_id}/intake": {"samples": []},
        "/orders/{order_id}/lines/{line_id}/assign": {"analyst_id": 1},
        "/orders/{order_id}/lines/{line_id}/bookings": {
            "instrument_id": 1, "start": f"{day}T14:00:00+08:00",
            "end": f"{day}T15:00:00+08:00"},
        "/orders/{order_id}/lines/{line_id}/results": {"results": []},
        "/orders/{order_id}/reports": {"conclusion": "合格"},
        "/orders/{order_id}/reports/{report_id}/amend": {"conclusion": "合格", "reason": "更正"},
        "/orders/{order_id}/reports/{report_id}/withdraw": {"reason": "撤回"},
        "/orders/{order_id}/samples/{sample_id}/retention": {"disposition": "disposed",
                                                            "note": "已处置"},
        "/invoices": {"organization_id": 2, "statement_ids": [1], "kind": "ordinary",
                      "medium": "paper", "note": "开票"},
        "/charges": {"organization_id": 2, "lab": "NEM", "amount": "10.00", "reason": "更正",
                     "statement_id": 1, "corrects_charge_id": 1},
        "/holidays/{day}": {"kind": "makeup_workday", "festival": "spring_festival",
                            "source": "国办发明电"},
        "/labs/{code}/holiday-policy": {"closes_on_holidays": True,
                                        "opens_on_makeup_days": True},
        "/training-requests": {"instrument_id": 1, "note": "想学习 XRD"},
        "/training-sessions": {"instrument_id": 1, "starts_at": "2030-01-07T09:00:00+08:00",
                               "ends_at": "2030-01-07T11:00:00+08:00",
                               "trainer_email": researcher_email, "capacity": 4,
                               "location": "A305", "note": "带样品", "valid_days": 365},
        "/training-sessions/{session_id}/enrolments": {"user_email": researcher_email},
        "/training-enrolments/{enrolment_id}/attendance": {"attended": True},
        "/training-enrolments/{enrolment_id}/exam": {"passed": True,
                                                     "expires_at": "2031-01-07T00:00:00+08:00"},
        "/instruments/{instrument_id}/rate-cards": {
            "tier": "internal", "effective_from": "2030-01-07", "hourly_rate": "10.00",
            "billing_basis": "booked", "rounding_minutes": 15, "minimum_minutes": 0,
            "no_show_percent": 100, "late_cancel_percent": 50},
        "/instruments/{instrument_id}/faults": {"description": "异响", "booking_id": 1},
        "/organization/invitations": {"email": "colleague@example.cn"},
        "/registrations/{registration_id}/approve": {"tier": "partner"},
        "/registrations/{registration_id}/reject": {"reason": "营业执照不清晰"},
        "/me/notification-channels": {"sms": []},
        "/faults/{fault_id}/answer": {"answer": "好的"},
        "/faults/{fault_id}/maintenance": {"kind": "breakdown", "reason": "维修"},
        "/faults/{fault_id}/close": {"kind": "breakdown", "cause": "磨损", "fix": "更换",
                                     "back_in_service": True,
                                     "down_until": f"{day}T10:00:00+08:00"},
    }
    return [body for key, body in bodies.items() if key.partition(" ")[0] == path] or [note]


def url_of(template: str) -> str:
    """An operation's URL with id 1 for every id in its path, a Saturday for a day and the
    scene's lab for a lab code."""
    url = re.sub(r"\{[a-z_]+_id\}", "1", "/api/v1" + template)
    return url.replace("{day}", "2030-01-05").replace("{code}", "NEM")


def leaves(body: dict, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The path to every value of a body, nested objects included."""
    found = []
    for name, value in body.items():
        found.append((*prefix, name))
        if isinstance(value, dict):
            found += leaves(value, (*prefix, name))
    return found


def replaced(body: dict, path: tuple[str, ...], value) -> dict:
    copy = json.loads(json.dumps(body))
    target = copy
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    return copy


@pytest.fixture
def unchecked():
    with last_line_of_defence() as records:
        yield records


def test_every_json_operation_is_walked():
    """A new operation needs a valid body in valid_bodies (a note-only body is assumed)."""
    for method, path in json_operations():
        operation = openapi.document()["paths"][path][method.lower()]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = openapi.document()["components"]["schemas"][schema["$ref"].split("/")[-1]]
        walked = {name for body in valid_bodies(path, "") for name in body}
        assert set(schema.get("properties", {})) <= walked, path


def test_no_hostile_value_in_a_json_body_makes_a_server_error(client, scene, unchecked):
    from labbook.accounts.models import Role, User

    researcher = db.session.scalar(select(User).where(User.role == Role.RESEARCHER))
    failures = []
    for method, template in json_operations():
        url = url_of(template)
        for valid in valid_bodies(template, researcher.email):
            for path, value in [(path, value) for path in leaves(valid)
                                for value in HOSTILE_JSON]:
                response = client.open(url, method=method, headers=scene["admin"],
                                       json=replaced(valid, path, value))
                problem = verdict(response, url, unchecked)
                if problem:
                    failures.append(f"{method} {url} {'.'.join(path)}={value!r:.40}: {problem}")
    assert not failures, "\n".join(failures)


#: Bodies that are no JSON object: other JSON values, JSON nested 100,000 levels deep (deeper
#: than Python can read), nested past any body the API takes, broken JSON and broken UTF-8.
NOT_AN_OBJECT = [b"[]", b'"note"', b"1", b"null", b"true", b"[" * 100_000,
                 b'{"a": ' * 100 + b"1" + b"}" * 100, b'{"note": ', b'{"note": "\xff\xfe"}']


@pytest.mark.parametrize("body", NOT_AN_OBJECT, ids=lambda body: repr(body[:12]))
def test_a_body_that_is_no_json_object_is_refused_by_every_operation(client, scene, body,
                                                                     unchecked):
    failures = []
    for method, template in json_operations():
        url = url_of(template)
        response = client.open(url, method=method, headers={
            **scene["admin"], "Content-Type": "application/json"}, data=body)
        if response.status_code != 422 or response.mimetype != PROBLEM_JSON \
                or response.json["code"] != "invalid_body" or unchecked:
            failures.append(f"{method} {url}: {response.status_code} {response.get_data()[:200]}")
        unchecked.clear()
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("body", "code", "field"), [
    (b'{"note": "\\ud800"}', "invalid_character", "note"),
    (b'{"note": "ok\\u0000"}', "nul_character", "note"),
    (b'{"note\\u0000": "ok"}', "nul_character", "body"),
    # Python's json reads a surrogate written in UTF-8 or UTF-16 bytes as well as escaped.
    (b'{"note": "\xed\xa0\x80"}', "invalid_character", "note"),
    ('{"note": "\ud800"}'.encode("utf-16", "surrogatepass"), "invalid_character", "note"),
    ('{"note": "\udfff"}'.encode("utf-32-le", "surrogatepass"), "invalid_character", "note"),
    (b'{"note": ["ok", {"deeper": "\\ud800"}]}', "invalid_character", "note"),
])
def test_a_string_no_database_can_store_is_refused_naming_its_member(client, scene, body, code,
                                                                    field):
    response = client.post("/api/v1/bookings/2/reject", data=body, headers={
        **scene["admin"], "Content-Type": "application/json"})
    assert response.status_code == 422 and response.mimetype == PROBLEM_JSON
    assert response.json["code"] == code
    assert response.json["problems"][0]["field"] == field
    booking = db.session.get(Booking, 2)
    assert booking.state == BookingState.PENDING


@pytest.mark.parametrize(("containers", "too_deep"), [(32, False), (33, True)])
def test_a_body_nested_past_the_limit_is_refused_and_one_at_it_is_read(client, scene, containers,
                                                                       too_deep):
    """The object and the lists inside it, with nothing else in the body to give it away."""
    lists = containers - 1
    body = b'{"note": ' + b"[" * lists + b'"x"' + b"]" * lists + b"}"
    response = client.post("/api/v1/bookings/2/reject", data=body, headers={
        **scene["admin"], "Content-Type": "application/json", "Accept-Language": "en"})
    assert response.status_code == 422
    nested_too_deeply = response.json["code"] == "invalid_body" \
        and "nested more than" in response.get_data(as_text=True)
    assert nested_too_deeply == too_deep, response.json
    assert db.session.get(Booking, 2).state == BookingState.PENDING


def test_a_broken_body_no_longer_approves_as_if_it_were_empty(client, scene):
    response = client.post("/api/v1/bookings/2/approve", data=b'{"note": ', headers={
        **scene["admin"], "Content-Type": "application/json"})
    assert response.status_code == 422
    assert db.session.get(Booking, 2).state == BookingState.PENDING


@pytest.mark.parametrize(("path", "field"), [
    ("/api/v1/bookings", "start"), ("/api/v1/bookings", "end"),
    ("/api/v1/blackouts", "start"), ("/api/v1/blackouts", "end"),
    ("/api/v1/qualifications", "expires_at"),
])
@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+08:00", "9999-12-31T22:00:00-08:00"])
def test_a_moment_near_year_1_or_9999_is_a_clear_422(client, scene, path, field, moment):
    from labbook.accounts.models import Role, User

    researcher = db.session.scalar(select(User).where(User.role == Role.RESEARCHER))
    body = replaced(valid_bodies(path.removeprefix("/api/v1"), researcher.email)[0],
                    (field,), moment)
    response = client.post(path, json=body, headers=scene["admin"])
    assert response.status_code == 422, response.json
    assert {"code": "invalid_datetime", "field": field} in [
        {"code": p["code"], "field": p.get("field")} for p in response.json["problems"]]


@pytest.mark.parametrize("query", ["start=0001-01-01T00:00:00%2B08:00&end=2026-01-02T00:00:00Z",
                                   "start=2026-01-01T00:00:00Z&end=9999-12-31T22:00:00-08:00"])
def test_availability_near_year_1_or_9999_is_a_clear_422(client, scene, query):
    response = client.get(f"/api/v1/instruments/1/availability?{query}")
    assert response.status_code == 422
    assert response.json["problems"][0]["code"] == "invalid_datetime"
