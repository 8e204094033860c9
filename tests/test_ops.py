"""Operator commands: `labbook check`, `labbook backup` and `labbook restore`."""

import os
import shutil
import socket
import sqlite3
import threading
import time
from contextlib import closing

import pytest
from sqlalchemy import make_url, select, text

from labbook import ops
from labbook.accounts.models import User
from labbook.extensions import db
from tests.factories import create_user

GOOD_KEY = "0f3c9a7e5b2d4c6a8e1f3b5d7c9a2e4f6b8d0c2e4a6f8b1d3c5e7a9f0b2d4c6e"


def run(app, *args, **kwargs):
    return app.test_cli_runner().invoke(args=["labbook", *args], **kwargs)


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


# -- check ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("settings", "status", "says"), [
    ({"ENV_NAME": "production", "SECRET_KEY": GOOD_KEY}, "OK", "64 characters"),
    ({"ENV_NAME": "development", "SECRET_KEY": GOOD_KEY}, "FAIL", "LABBOOK_ENV=development"),
    ({"ENV_NAME": "production", "SECRET_KEY": "testing-secret-key-not-for-production"}, "FAIL",
     "well-known"),
    ({"ENV_NAME": "production", "SECRET_KEY": "changeme"}, "FAIL", "well-known or short"),
    ({"ENV_NAME": "production", "SECRET_KEY": "a" * 20}, "FAIL", "20 characters"),
])
def test_the_secret_key_check(settings, status, says):
    result = ops.check_secret_key(settings)
    assert result.status == status and says in result.detail
    if status == "FAIL":
        assert "secrets.token_hex" in result.advice


@pytest.mark.parametrize(("url", "status"), [
    ("https://labbook.jzit.example.cn", "OK"),
    ("https://labbook.jzit.example.cn:8443/labbook", "OK"),
    ("http://labbook.intranet.example", "WARN"),
    ("http://127.0.0.1:5000", "FAIL"),
    ("https://localhost", "FAIL"),
    ("labbook.example.cn", "FAIL"),
    ("ftp://labbook.example.cn", "FAIL"),
    ("https://labbook.example.cn:port", "FAIL"),
    ("https://labbook.example.cn/?a=1", "FAIL"),
    ("https://user:pw@labbook.example.cn", "FAIL"),
    ("", "FAIL"),
    (None, "FAIL"),
])
def test_the_base_url_check(url, status):
    result = ops.check_base_url(url)
    assert result.status == status, result
    if status != "OK":
        assert "LABBOOK_BASE_URL" in result.advice or "https" in result.advice


def test_the_database_check_passes_on_a_migrated_database():
    result = ops.check_database()
    assert result.status == "OK" and "newest migration" in result.detail


def test_the_database_check_sees_a_schema_behind_the_code():
    with db.engine.begin() as connection:
        (head,) = connection.execute(text("SELECT version_num FROM alembic_version")).one()
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        result = ops.check_database()
    finally:
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :head"),
                               {"head": head})
    assert result.status == "FAIL" and "0001" in result.detail
    assert "db upgrade" in result.advice


@pytest.mark.parametrize("url", ["postgresql+psycopg://labbook:s3cret@127.0.0.1:9/labbook",
                                 "sqlite:////nonexistent-folder/labbook.sqlite"])
def test_the_database_check_explains_an_unreachable_database(make_app, url):
    other = make_app(SQLALCHEMY_DATABASE_URI=url)
    with other.app_context():
        result = ops.check_database()
    assert result.status == "FAIL"
    assert "s3cret" not in result.detail
    assert "LABBOOK_DATABASE_URL" in result.advice


class FakeSMTPServer:
    """Just enough of an SMTP server on a loopback port to greet, answer EHLO and QUIT."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _address = self.socket.accept()
        with connection, connection.makefile("rb") as lines:
            connection.sendall(b"220 fake.example ESMTP\r\n")
            for line in lines:
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    connection.sendall(b"250-fake.example\r\n250 8BITMIME\r\n")
                elif verb == b"QUIT":
                    connection.sendall(b"221 bye\r\n")
                    return
                else:
                    connection.sendall(b"502 not here\r\n")

    def close(self) -> None:
        self.socket.close()
        self.thread.join(timeout=5)


def test_the_mail_server_check():
    assert ops.check_smtp(None).status == "SKIP"
    assert ops.check_smtp("mail.example.cn:25").status == "FAIL"
    assert ops.check_smtp("smtp://mail.example.cn:port").status == "FAIL"
    server = FakeSMTPServer()
    try:
        answered = ops.check_smtp(f"smtp://127.0.0.1:{server.port}")
    finally:
        server.close()
    assert answered.status == "OK" and "answers" in answered.detail
    server = FakeSMTPServer()
    try:  # this server offers no STARTTLS, which smtp+starttls:// requires
        insecure = ops.check_smtp(f"smtp+starttls://127.0.0.1:{server.port}")
    finally:
        server.close()
    assert insecure.status == "FAIL" and "STARTTLS" in insecure.detail
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    refused = ops.check_smtp(f"smtp://user:pa55word@127.0.0.1:{port}", timeout=2)
    assert refused.status == "FAIL" and "pa55word" not in refused.detail
    assert "LABBOOK_SMTP_URL" in refused.advice


def test_the_rate_limit_storage_check():
    assert ops.check_rate_limit_storage({"RATELIMIT_STORAGE_URI": "memory://"}).status == "WARN"
    assert ops.check_rate_limit_storage({"RATELIMIT_ENABLED": False}).status == "FAIL"
    down = ops.check_rate_limit_storage({
        "RATELIMIT_STORAGE_URI": "redis://:hunter22@127.0.0.1:9/0",
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 0.5}})
    assert down.status == "FAIL" and "hunter22" not in down.detail


def test_check_prints_every_check_and_fails_for_the_test_configuration(app):
    result = run(app, "check")
    assert result.exit_code == 1
    for name in ("SECRET_KEY", "database", "mail server", "LABBOOK_BASE_URL",
                 "rate-limit storage"):
        assert f"  {name}: " in result.output
    assert "FAIL  SECRET_KEY: LABBOOK_ENV=testing" in result.output
    assert "→ Set LABBOOK_ENV=production" in result.output
    assert "checks failed" in result.output


def test_check_passes_for_a_sound_configuration(make_app):
    sound = make_app(ENV_NAME="production", SECRET_KEY=GOOD_KEY,
                     LABBOOK_BASE_URL="https://labbook.jzit.example.cn")
    with sound.app_context():
        result = run(sound, "check")
    assert result.exit_code == 0, result.output
    assert "OK    SECRET_KEY" in result.output and "No check failed." in result.output


# -- backup and restore -----------------------------------------------------------------------


def test_an_online_backup_is_consistent_while_another_connection_writes(tmp_path):
    live = tmp_path / "live.sqlite"
    with closing(sqlite3.connect(live)) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.executescript("CREATE TABLE rows (id INTEGER PRIMARY KEY, payload BLOB);"
                            "CREATE TABLE tally (n INTEGER); INSERT INTO tally VALUES (0);")
        setup.executemany("INSERT INTO rows (payload) VALUES (?)",
                          [(os.urandom(2000),) for _ in range(10_000)])  # 20 MB to copy
        setup.execute("UPDATE tally SET n = 10000")
        setup.commit()

    stop, written = threading.Event(), []

    def write() -> None:
        with closing(sqlite3.connect(live, timeout=30, isolation_level=None)) as connection:
            while not stop.is_set():
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("INSERT INTO rows (payload) VALUES (?)", (os.urandom(2000),))
                connection.execute("UPDATE tally SET n = n + 1")
                connection.execute("COMMIT")
                written.append(1)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(written) < 20:
            time.sleep(0.001)
        before = len(written)
        backup = tmp_path / "backup.sqlite"
        ops.backup_sqlite(live, backup)
        during = len(written) - before
    finally:
        stop.set()
        writer.join()
    assert during > 0, "the writer was held up by the backup"
    assert not (tmp_path / "backup.sqlite-wal").exists()

    restored = tmp_path / "restored.sqlite"
    ops.restore_sqlite(backup, restored)
    with closing(sqlite3.connect(restored)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (rows,) = copy.execute("SELECT count(*) FROM rows").fetchone()
        (tally,) = copy.execute("SELECT n FROM tally").fetchone()
    assert rows == tally  # the copy is the database at one moment
    assert 10_000 + before <= rows <= 10_000 + len(written)


def test_backup_and_restore_through_the_commands(app, tmp_path):
    if not is_sqlite():
        pytest.skip("restore is for SQLite; PostgreSQL uses pg_restore")
    kept = create_user(email="kept@example.cn")
    backup = tmp_path / "nightly.sqlite"
    result = run(app, "backup", "--output", str(backup))
    assert result.exit_code == 0, result.output
    assert f"restore {backup}" in result.output
    assert run(app, "backup", "--output", str(backup)).exit_code != 0  # never overwritten

    create_user(email="later@example.cn")
    declined = run(app, "restore", str(backup), input="n\n")
    assert declined.exit_code != 0 and "Replace the database" in declined.output
    db.session.rollback()
    assert db.session.scalar(select(User.id).where(User.email == "later@example.cn"))

    result = run(app, "restore", str(backup), "--yes")
    assert result.exit_code == 0, result.output
    assert "before-restore" in result.output
    emails = set(db.session.scalars(select(User.email)))
    assert kept.email in emails and "later@example.cn" not in emails


def test_a_backup_without_output_goes_to_the_instance_folder(app, tmp_path, monkeypatch):
    if not is_sqlite():
        pytest.skip("SQLite only")
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    result = run(app, "backup")
    assert result.exit_code == 0, result.output
    [made] = (tmp_path / "backups").glob("labbook-*.sqlite")
    assert made.stat().st_size > 0


def test_restore_refuses_files_that_are_not_labbook_backups(app, tmp_path):
    if not is_sqlite():
        pytest.skip("SQLite only")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    result = run(app, "restore", str(garbage), "--yes")
    assert result.exit_code != 0 and "not a SQLite database" in result.output
    other = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(other)) as connection:
        connection.execute("CREATE TABLE t (x)")
    result = run(app, "restore", str(other), "--yes")
    assert result.exit_code != 0 and "not a labbook database" in result.output


def test_the_pg_dump_command_keeps_the_password_out_of_sight():
    url = make_url("postgresql+psycopg://labbook:s3cret@db.internal:5432/labbook")
    command = ops.pg_dump_command(url, ops.Path("nightly.dump"))
    assert command[:5] == ["pg_dump", "--format=custom", "--no-owner", "--file", "nightly.dump"]
    assert command[-1] == "postgresql://labbook@db.internal:5432/labbook"
    assert ops.libpq_url(url) == ("postgresql://labbook@db.internal:5432/labbook", "s3cret")


def test_postgresql_backups_print_and_run_pg_dump(app, tmp_path):
    if is_sqlite():
        pytest.skip("needs PostgreSQL")
    printed = run(app, "backup")
    assert printed.exit_code == 0 and "pg_dump --format=custom" in printed.output
    refused = run(app, "restore", __file__, "--yes")
    assert refused.exit_code != 0 and "pg_restore" in refused.output
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    create_user()
    dump = tmp_path / "labbook.dump"
    result = run(app, "backup", "--output", str(dump))
    assert result.exit_code == 0, result.output
    assert dump.read_bytes().startswith(b"PGDMP")
