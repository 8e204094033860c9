"""While the database cannot be reached, pages and the API answer 503 with Retry-After, and the
error pages still render when the request's transaction failed half-way."""

from __future__ import annotations

import socket

import pytest

from labbook.extensions import db
from tests.factories import PASSWORD, bearer, create_instrument, create_user
from tests.postgresql import skip_unless_postgresql
from tests.server_sessions import end_sessions

PROBLEM_JSON = "application/problem+json"


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def down(make_app):
    """A client of an app whose PostgreSQL is down (nothing listens at its address)."""
    app = make_app(SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://labbook@127.0.0.1:"
                                           f"{closed_port()}/labbook",
                   WTF_CSRF_ENABLED=False)
    return app.test_client()


@pytest.fixture
def up(make_app):
    """A client of the same site with its database up (the two share the secret key)."""
    return make_app(WTF_CSRF_ENABLED=False).test_client()


def assert_unavailable_page(response, text_expected: str) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.mimetype == "text/html"
    assert text_expected in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/instruments?q=XRD", "/services", "/instruments/1"])
def test_pages_answer_503_in_chinese_while_the_database_is_down(down, path):
    assert_unavailable_page(down.get(path), "数据库暂时无法连接")


def test_the_page_is_in_the_language_the_visitor_chose(down):
    with down.session_transaction() as session:
        session["locale"] = "en"
    assert_unavailable_page(down.get("/instruments"), "The database cannot be reached just now")


def test_a_signed_in_visitor_gets_the_page_too_although_nobody_can_be_looked_up(up, down):
    user = create_user()
    assert up.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    down.set_cookie("session", up.get_cookie("session").value)
    assert_unavailable_page(down.get("/bookings"), "数据库暂时无法连接")


def test_a_form_sent_while_the_database_is_down_is_503(down):
    response = down.post("/login", data={"email": "someone@example.cn", "password": "x"})
    assert_unavailable_page(response, "数据库暂时无法连接")


@pytest.mark.parametrize(("path", "with_token"), [("/api/v1/instruments", False),
                                                  ("/api/v1/bookings", True)])
def test_the_api_answers_503_problem_json_while_the_database_is_down(down, path, with_token):
    response = down.get(path, headers=bearer(create_user()) if with_token else {})
    assert response.status_code == 503
    assert response.mimetype == PROBLEM_JSON
    assert response.headers["Retry-After"].isdigit()
    assert response.json["code"] == "database_unavailable"


def test_the_probes_tell_the_process_is_alive_but_not_ready(down):
    assert down.get("/healthz").status_code == 200
    assert down.get("/readyz").status_code == 503


def test_a_sqlite_file_that_cannot_be_opened_is_503(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/labbook.sqlite")
    response = app.test_client().get("/api/v1/instruments")
    assert response.status_code == 503
    assert response.json["code"] == "database_unavailable"


# -- a PostgreSQL restart: every connection of the pool is cut -------------------------------------


def cut_every_connection() -> None:
    """What a PostgreSQL restart does to the app's pooled connections."""
    end_sessions(db.engine)


@pytest.fixture
def on_postgresql():
    skip_unless_postgresql("a PostgreSQL server's connections cut under a request")


def test_a_request_on_a_cut_connection_is_503_and_the_next_one_is_answered(on_postgresql,
                                                                          client):
    create_instrument()
    assert client.get("/api/v1/instruments").status_code == 200  # a connection in the pool
    cut_every_connection()
    response = client.get("/api/v1/instruments")
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.json["code"] == "database_unavailable"
    assert client.get("/instruments").status_code == 200


def test_in_production_a_cut_connection_is_replaced_before_use(on_postgresql, make_app):
    """Production replaces a pooled connection the server has ended before lending it out."""
    create_instrument()
    app = make_app()
    client = app.test_client()
    assert client.get("/api/v1/instruments").status_code == 200
    with app.app_context():
        cut_every_connection()
    assert client.get("/api/v1/instruments").status_code == 200
    db.engine.dispose()  # the tests' own pooled connections were cut as well


def test_every_api_operation_documents_the_503(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path, item in paths.items():
        for method, operation in item.items():
            assert "503" in operation["responses"], f"{method} {path}"
