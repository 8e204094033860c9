"""Request logs: one structured line per request, a request id, and no secrets."""

import io
import json
import logging
import os
import subprocess
import sys

import pytest

from labbook import logs
from labbook.calendars import services as feed_services
from labbook.config import Config, ConfigurationError
from tests.calendars.conftest import subscribe
from tests.factories import create_user


@pytest.fixture
def captured(app):
    """Everything labbook logs during the test, as its handler writes it."""

    def capture(log_format: str = "json") -> io.StringIO:
        stream = io.StringIO()
        handler = logs._handler(log_format)
        handler.setStream(stream)
        logger = logging.getLogger("labbook")
        logger.addHandler(handler)
        handlers.append(handler)
        return stream

    handlers: list[logging.Handler] = []
    yield capture
    for handler in handlers:
        logging.getLogger("labbook").removeHandler(handler)


def request_lines(stream: io.StringIO) -> list[dict]:
    return [entry for entry in map(json.loads, stream.getvalue().splitlines())
            if entry["logger"] == "labbook.request"]


def test_each_request_is_one_json_line_with_its_facts(client, captured):
    stream = captured("json")
    response = client.get("/instruments?q=XRD")
    [line] = request_lines(stream)
    assert line["method"] == "GET" and line["path"] == "/instruments"
    assert line["status"] == 200 and line["duration_ms"] >= 0
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["level"] == "INFO" and line["time"].endswith("+00:00")


def test_a_sane_incoming_request_id_is_kept(client, captured):
    stream = captured("json")
    response = client.get("/healthz", headers={"X-Request-ID": "nginx-3f2a9c0d41b7e8aa"})
    assert response.headers["X-Request-ID"] == "nginx-3f2a9c0d41b7e8aa"
    assert request_lines(stream)[0]["request_id"] == "nginx-3f2a9c0d41b7e8aa"


@pytest.mark.parametrize("incoming", ["", "has spaces in it", "x" * 129, "bad;id=1",
                                      "quote\"s", "-starts-with-a-dash"])
def test_an_odd_request_id_is_replaced(client, incoming):
    answered = client.get("/healthz", headers={"X-Request-ID": incoming}).headers["X-Request-ID"]
    assert answered != incoming and len(answered) == 32


def test_log_lines_of_a_request_carry_its_id(app, client, captured, monkeypatch):
    stream = captured("json")

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(feed_services, "open_feed", broken)
    path = subscribe(create_user(), "mine")
    response = client.get(path)
    assert response.status_code == 500
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    error = next(entry for entry in entries if entry["level"] == "ERROR")
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert "RuntimeError: boom" in error["exception"]


def test_feed_secrets_never_reach_the_log(client, captured, monkeypatch):
    for log_format in ("json", "text"):
        stream = captured(log_format)
        path = subscribe(create_user(), "mine")
        secret = path.removeprefix("/ical/").removesuffix(".ics")
        assert client.get(path).status_code == 200
        assert client.get(path[:-6] + "x.ics").status_code == 404

        monkeypatch.setattr(feed_services, "open_feed", lambda *a, **k: 1 / 0)
        assert client.get(path).status_code == 500
        monkeypatch.undo()

        text = stream.getvalue()
        assert secret not in text and secret[:-2] not in text, log_format
        assert "/ical/[redacted].ics" in text


def test_reset_links_in_request_lines_are_redacted():
    assert logs.redact_path("/password/reset/eyJ1c2VyIjoxfQ.abc.def") == \
        "/password/reset/[redacted]"
    assert logs.redact_path("/ical/abcDEF123_-xyz.ics") == "/ical/[redacted].ics"
    assert logs.redact_path("/instruments/12") == "/instruments/12"


def test_the_development_servers_request_lines_are_redacted():
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '%s - - [%s] "%s" %s',
                               ("127.0.0.1", "now", "GET /ical/s3cr3t-t0ken.ics HTTP/1.1",
                                "200"), None)
    logs._RedactingFilter().filter(record)
    assert "s3cr3t" not in record.getMessage()
    assert "/ical/[redacted].ics" in record.getMessage()


def test_text_lines_are_key_value_pairs(client, captured):
    stream = captured("text")
    client.get("/healthz", headers={"X-Request-ID": "abc123"})
    line = next(line for line in stream.getvalue().splitlines()
                if "logger=labbook.request" in line)
    assert "request_id=abc123 method=GET path=/healthz status=200 duration_ms=" in line


def test_the_log_format_is_checked_at_start_up():
    settings = {"ENV_NAME": "production", "SECRET_KEY": "x" * 40,
                "LABBOOK_BASE_URL": "https://labbook.example.cn", "LABBOOK_LOG_FORMAT": "xml"}
    with pytest.raises(ConfigurationError, match="LABBOOK_LOG_FORMAT"):
        Config.finalize(settings)


MIGRATE_THEN_SERVE = """
import os
from flask_migrate import upgrade
from labbook import create_app
from labbook.config import TestingConfig

class Config(TestingConfig):
    SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.environ["DATABASE_FILE"]

app = create_app(Config)
with app.app_context():
    upgrade()
app.test_client().get("/healthz")
"""


def test_a_process_that_ran_the_migrations_logs_each_request_once(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", MIGRATE_THEN_SERVE], capture_output=True, text=True,
        timeout=120, check=True,
        env={**os.environ, "DATABASE_FILE": str(tmp_path / "logs.sqlite"),
             "LABBOOK_ENV": "testing", "LABBOOK_LOG_FORMAT": "text"})
    assert "Running upgrade" in result.stderr
    request_lines = [line for line in result.stderr.splitlines() if "path=/healthz" in line
                     or "labbook.request" in line]
    assert len(request_lines) == 1, result.stderr


def _record(name: str, level: int, message: str, args: tuple = (), **fields) -> logging.LogRecord:
    record = logging.LogRecord(name, level, __file__, 1, message, args, None)
    record.created = 1764950000.1234567
    record.__dict__.update(fields)
    return record


#: Records and the lines each format writes for them, exactly: which values are quoted and how,
#: the order of the fields, a field left out when it is None, and feed links blanked.
WRITTEN = [
    (_record("labbook.request", logging.INFO, "request", request_id="abc123", method="GET",
             path="/ical/[redacted].ics", status=200, duration_ms=1.5, remote_addr="127.0.0.1"),
     'time=2025-12-05T15:53:20.123+00:00 level=INFO logger=labbook.request request_id=abc123 '
     'method=GET path=/ical/[redacted].ics status=200 duration_ms=1.5 remote_addr=127.0.0.1 '
     'message=request',
     '{"time": "2025-12-05T15:53:20.123+00:00", "level": "INFO", "logger": "labbook.request", '
     '"message": "request", "request_id": "abc123", "method": "GET", "path": '
     '"/ical/[redacted].ics", "status": 200, "duration_ms": 1.5, "remote_addr": "127.0.0.1"}'),
    (_record("labbook.request", logging.INFO, "request", request_id="has space", method="GET",
             path='/q"uote=\\', status=404, duration_ms=0.0, remote_addr=""),
     'time=2025-12-05T15:53:20.123+00:00 level=INFO logger=labbook.request '
     'request_id="has space" method=GET path="/q\\"uote=\\\\" status=404 duration_ms=0.0 '
     'remote_addr="" message=request',
     '{"time": "2025-12-05T15:53:20.123+00:00", "level": "INFO", "logger": "labbook.request", '
     '"message": "request", "request_id": "has space", "method": "GET", "path": '
     '"/q\\"uote=\\\\", "status": 404, "duration_ms": 0.0, "remote_addr": ""}'),
    (_record("labbook.request", logging.INFO, "request", request_id=None, method="POST",
             path="/tab\there/中文", status=422, duration_ms=12.0, remote_addr=None),
     'time=2025-12-05T15:53:20.123+00:00 level=INFO logger=labbook.request method=POST '
     'path="/tab\\there/中文" status=422 duration_ms=12.0 message=request',
     '{"time": "2025-12-05T15:53:20.123+00:00", "level": "INFO", "logger": "labbook.request", '
     '"message": "request", "method": "POST", "path": "/tab\\there/中文", "status": 422, '
     '"duration_ms": 12.0}'),
    (_record("labbook.x", logging.WARNING, "feed %s of %d", ("/ical/s3cret.ics", 2)),
     'time=2025-12-05T15:53:20.123+00:00 level=WARNING logger=labbook.x '
     'message="feed /ical/[redacted].ics of 2"',
     '{"time": "2025-12-05T15:53:20.123+00:00", "level": "WARNING", "logger": "labbook.x", '
     '"message": "feed /ical/[redacted].ics of 2"}'),
]


@pytest.mark.parametrize(("record", "text", "json_line"), WRITTEN)
def test_each_format_writes_exactly_this_line(record, text, json_line):
    assert logs.TextFormatter().format(record) == text
    assert logs.JsonFormatter().format(record) == json_line
