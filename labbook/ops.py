"""Commands for running a deployment: check its configuration, back it up, restore it.

They are registered on the ``labbook`` command group (``flask --app wsgi labbook check`` …).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import smtplib
import sqlite3
import ssl
import subprocess
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext
from limits.storage import storage_from_string
from sqlalchemy import URL, text

from labbook.config import TestingConfig
from labbook.extensions import db
from labbook.health import schema_revisions
from labbook.notify.sender import SmtpSettings

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
GENERATE_KEY = "python3 -c 'import secrets; print(secrets.token_hex(32))'"
MIN_SECRET_KEY_LENGTH = 32
#: Keys that appear in examples and tutorials, and labbook's own test key.
WELL_KNOWN_KEYS = frozenset({TestingConfig.SECRET_KEY, "dev", "development", "secret",
                             "secret-key", "secretkey", "changeme", "change-me", "change-this",
                             "your-secret-key", "super-secret-key", "please-change-me"})


@dataclass(frozen=True)
class Result:
    """One check: its status (OK, WARN, FAIL or SKIP), what was found, and what to do."""

    name: str
    status: str
    detail: str
    advice: str = ""


def _reason(error: BaseException) -> str:
    """The first line of what went wrong, without the SQL or the driver's traceback."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0][:200] if lines else ''}".rstrip(": ")


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def check_secret_key(config: Mapping[str, Any]) -> Result:
    name, key = "SECRET_KEY", config.get("SECRET_KEY") or ""
    environment = config.get("ENV_NAME")
    if environment in ("development", "testing"):
        return Result(name, FAIL, f"LABBOOK_ENV={environment}: a key for trying labbook out is "
                                   "in use", "Set LABBOOK_ENV=production, and SECRET_KEY to a "
                                             f"long random string: {GENERATE_KEY}")
    if key.lower() in WELL_KNOWN_KEYS or len(key) < MIN_SECRET_KEY_LENGTH:
        return Result(name, FAIL, f"a well-known or short value ({len(key)} characters)",
                      f"Set SECRET_KEY to a long random string: {GENERATE_KEY}")
    return Result(name, OK, f"set ({len(key)} characters)")


def check_database() -> Result:
    name = "database"
    url = db.engine.url
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database \
            and not Path(url.database).is_file():
        # Connecting would create an empty file.
        return Result(name, FAIL, f"{shown}: the file does not exist",
                      "Run `flask --app wsgi labbook init`, or correct LABBOOK_DATABASE_URL.")
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current, heads = schema_revisions()
    except Exception as error:  # whatever the driver raises, the answer is the same
        return Result(name, FAIL, f"{shown}: cannot connect ({_reason(error)})",
                      "Check LABBOOK_DATABASE_URL, and that the database server runs and lets "
                      "this user in.")
    if current == heads:
        return Result(name, OK, f"{shown}, schema at the newest migration ({', '.join(heads)})")
    if not current:
        return Result(name, FAIL, f"{shown}: no labbook schema",
                      "Run `flask --app wsgi labbook init`.")
    return Result(name, FAIL, f"{shown}: schema at {', '.join(sorted(current))}, this labbook "
                              f"needs {', '.join(sorted(heads))}",
                  "Back up (`flask --app wsgi labbook backup`), then run "
                  "`flask --app wsgi db upgrade`.")


def check_smtp(url: str | None, *, ca_file: str | None = None, timeout: float = 5) -> Result:
    """Connect, secure the connection as the URL says, and sign in when it names a user."""
    name = "mail server"
    if not url:
        return Result(name, SKIP, "LABBOOK_SMTP_URL is not set, so labbook sends no email",
                      "Set LABBOOK_SMTP_URL, e.g. smtp+starttls://user:password@"
                      "mail.example.cn:587.")
    try:
        settings = SmtpSettings.from_url(url)
    except ValueError as error:
        return Result(name, FAIL, str(error),
                      "Write it as smtp+starttls://user:password@host:587, "
                      "smtps://user:password@host:465 or smtp://host:25.")
    shown = settings.describe()
    context = ssl.create_default_context(cafile=ca_file)
    try:
        client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout,
                                  context=context) if settings.security == "tls" \
            else smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        with client:
            client.ehlo()
            if settings.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if settings.username:
                client.login(settings.username, settings.password or "")
    except (OSError, smtplib.SMTPException) as error:
        return Result(name, FAIL, f"{shown}: {_reason(error)}",
                      "Check the host, port, user and password in LABBOOK_SMTP_URL (and "
                      "LABBOOK_SMTP_CA_FILE for a private CA), and that this machine may reach "
                      "the mail server.")
    signed_in = ", signed in" if settings.username else ""
    return Result(name, OK, f"{shown} answers{signed_in}")


def check_base_url(url: str | None) -> Result:
    name = "LABBOOK_BASE_URL"
    example = "Set LABBOOK_BASE_URL to the address users open, e.g. https://labbook.example.cn."
    if not url:
        return Result(name, FAIL, "not set, so links in emails, calendar feeds and QR codes "
                                  "point at http://127.0.0.1:5000", example)
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return Result(name, FAIL, f"{url!r} has an invalid port", example)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment or parts.username:
        return Result(name, FAIL, f"{url!r} is not a plain http(s) address", example)
    if parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return Result(name, FAIL, f"{url} points at this machine, so links in emails and "
                                  "calendar feeds would not work anywhere else", example)
    if parts.scheme == "http":
        return Result(name, WARN, f"{url}: plain http, so sign-in cookies are not marked Secure",
                      "Serve labbook over https (see docs/deployment.md) and give the https "
                      "address.")
    return Result(name, OK, url)


def check_rate_limit_storage(config: Mapping[str, Any]) -> Result:
    name = "rate-limit storage"
    uri = config.get("RATELIMIT_STORAGE_URI") or "memory://"
    if not config.get("RATELIMIT_ENABLED", True):
        return Result(name, FAIL, "rate limiting is switched off (RATELIMIT_ENABLED)",
                      "Remove RATELIMIT_ENABLED=False from the configuration.")
    if uri.startswith("memory://"):
        return Result(name, WARN, "in memory: each worker process counts on its own",
                      "With several workers set LABBOOK_RATELIMIT_STORAGE_URL="
                      "redis://127.0.0.1:6379/0 (Redis).")
    shown = _without_password(uri)
    try:
        storage = storage_from_string(uri, **config.get("RATELIMIT_STORAGE_OPTIONS", {}))
        answers = storage.check()
    except Exception as error:  # a missing driver or a malformed URL
        return Result(name, FAIL, f"{shown}: {_reason(error)}",
                      "Correct LABBOOK_RATELIMIT_STORAGE_URL (and install labbook[production]).")
    if not answers:
        return Result(name, FAIL, f"{shown} does not answer",
                      "Start Redis, or correct LABBOOK_RATELIMIT_STORAGE_URL.")
    return Result(name, OK, f"{shown} answers")


def run_checks(config: Mapping[str, Any]) -> list[Result]:
    return [check_secret_key(config), check_database(),
            check_smtp(config.get("LABBOOK_SMTP_URL"),
                       ca_file=config.get("LABBOOK_SMTP_CA_FILE") or None),
            check_base_url(config.get("LABBOOK_BASE_URL")), check_rate_limit_storage(config)]


_COLOURS = {OK: "green", WARN: "yellow", FAIL: "red", SKIP: "blue"}


@click.command("check")
@with_appcontext
def check_command() -> None:
    """Check this deployment's configuration and say what to fix.

    Checks SECRET_KEY, the database (reachable, schema at the newest migration), the mail
    server (when LABBOOK_SMTP_URL is set), LABBOOK_BASE_URL and the rate-limit storage. Exits
    with status 1 when any check fails; warnings do not fail.
    """
    results = run_checks(current_app.config)
    for result in results:
        status = click.style(f"{result.status:<4}", fg=_COLOURS[result.status], bold=True)
        click.echo(f"{status}  {result.name}: {result.detail}")
        if result.advice and result.status != OK:
            click.echo(f"      → {result.advice}")
    failed = [result for result in results if result.status == FAIL]
    if failed:
        click.echo(f"{len(failed)} of {len(results)} checks failed.", err=True)
        raise click.exceptions.Exit(1)
    click.echo("No check failed.")


# -- backup and restore ------------------------------------------------------------------------


class BackupError(click.ClickException):
    pass


def backup_sqlite(source: Path, target: Path) -> None:
    """Copy the SQLite database ``source`` to a new file ``target`` while labbook runs.

    SQLite's online backup API copies every page in one read transaction, so the copy is the
    database as it was at one moment even while other connections write (in WAL mode they are
    not even held up). The copy is integrity-checked, and gets its journal back into the main
    file, before it takes its final name.
    """
    if not source.is_file():
        raise BackupError(f"There is no database at {source}.")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(source, timeout=30)) as live, \
                closing(sqlite3.connect(partial)) as copy:
            live.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
            (verdict,) = copy.execute("PRAGMA integrity_check").fetchone()
        if verdict != "ok":
            raise BackupError(f"The copy failed its integrity check: {verdict}")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def restore_sqlite(backup: Path, target: Path) -> None:
    """Write the database in ``backup`` over ``target`` (created when missing).

    Goes through SQLite's backup API as well, so connections still open on ``target`` see the
    restored database rather than a file swapped under them.
    """
    with closing(sqlite3.connect(backup)) as source, \
            closing(sqlite3.connect(target, timeout=30)) as live:
        source.backup(live)


def _check_sqlite_backup(path: Path) -> None:
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as copy:
            (verdict,) = copy.execute("PRAGMA integrity_check").fetchone()
            has_schema = copy.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                      "name = 'alembic_version'").fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a SQLite database ({error}).") from None
    if verdict != "ok":
        raise BackupError(f"{path} fails SQLite's integrity check: {verdict}")
    if not has_schema:
        raise BackupError(f"{path} is not a labbook database (no alembic_version table).")


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1024 / 1024:.1f} MB"


def libpq_url(url: URL) -> tuple[str, str | None]:
    """The PostgreSQL address for pg_dump/pg_restore without the password, and the password."""
    address = URL.create("postgresql", username=url.username, host=url.host, port=url.port,
                         database=url.database, query=url.query)
    return address.render_as_string(hide_password=False), url.password


def pg_dump_command(url: URL, output: Path) -> list[str]:
    address, _password = libpq_url(url)
    return ["pg_dump", "--format=custom", "--no-owner", "--file", str(output), address]


def _postgresql_backup(url: URL, output: Path | None) -> None:
    target = output or Path(f"labbook-{_stamp()}.dump")
    command = pg_dump_command(url, target)
    click.echo("PostgreSQL is backed up with pg_dump (consistent while labbook runs):")
    click.echo("  " + " ".join(_quoted(part) for part in command))
    click.echo("The password comes from ~/.pgpass or PGPASSWORD. Restore into an empty database "
               "with: pg_restore --no-owner --dbname <address> <file>")
    pg_dump = shutil.which("pg_dump")
    if output is None or pg_dump is None:
        if output is not None:
            raise BackupError("pg_dump is not installed here (Debian: apt-get install "
                              "postgresql-client).")
        return
    _address, password = libpq_url(url)
    env = {**os.environ, **({"PGPASSWORD": password} if password else {})}
    finished = subprocess.run([pg_dump, *command[1:]], env=env, capture_output=True,  # noqa: S603
                              text=True, check=False)
    if finished.returncode != 0:
        raise BackupError(f"pg_dump failed: {finished.stderr.strip()}")
    click.echo(f"Backed up to {target} ({_size(target)}).")


def _quoted(part: str) -> str:
    return f"'{part}'" if any(c in part for c in " ?&;$") else part


@click.command("backup")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write. Default for SQLite: backups/labbook-<UTC time>.sqlite in the "
                   "instance folder. For PostgreSQL pg_dump runs only when this is given.")
@with_appcontext
def backup_command(output: Path | None) -> None:
    """Back up the database while labbook runs.

    SQLite: a consistent copy made with SQLite's online backup API, safe while the app writes,
    and integrity-checked. PostgreSQL: prints the pg_dump command to use, and runs it when
    pg_dump is installed and --output is given.
    """
    url = db.engine.url
    if url.get_backend_name() == "postgresql":
        _postgresql_backup(url, output)
        return
    if url.get_backend_name() != "sqlite" or not url.database:
        raise BackupError(f"Backups of {url.get_backend_name()} databases are not supported.")
    target = output or Path(current_app.instance_path) / "backups" / f"labbook-{_stamp()}.sqlite"
    if target.exists():
        raise BackupError(f"{target} exists already; choose another file.")
    backup_sqlite(Path(url.database), target)
    click.echo(f"Backed up {url.database} to {target} ({_size(target)}).")
    click.echo(f"Restore it with: flask --app wsgi labbook restore {target}")


@click.command("restore")
@click.argument("backup", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace the database without asking.")
@with_appcontext
def restore_command(backup: Path, yes: bool) -> None:
    """Replace the SQLite database with BACKUP, a file made by `labbook backup`.

    Stop the web workers and the scheduler first. The database as it is now is kept beside it
    (<name>-before-restore-<UTC time>.sqlite). If the backup comes from an older labbook, run
    `flask --app wsgi db upgrade` afterwards. For PostgreSQL the pg_restore command is printed.
    """
    url = db.engine.url
    if url.get_backend_name() == "postgresql":
        address, _password = libpq_url(url)
        raise BackupError("This command restores SQLite databases only. For PostgreSQL stop "
                          "labbook and run: pg_restore --clean --if-exists --no-owner "
                          f"--dbname '{address}' {backup}")
    if url.get_backend_name() != "sqlite" or not url.database:
        raise BackupError(f"Restoring {url.get_backend_name()} databases is not supported.")
    _check_sqlite_backup(backup)
    live = Path(url.database)
    if not yes:
        click.confirm(f"Replace the database {live} with {backup}? Everything written since "
                      "that backup is lost.", abort=True)
    db.session.remove()
    db.engine.dispose()
    kept = None
    if live.exists():
        kept = live.with_name(f"{live.stem}-before-restore-{_stamp()}{live.suffix}")
        backup_sqlite(live, kept)
    restore_sqlite(backup, live)
    click.echo(f"Restored {live} from {backup}.")
    if kept:
        click.echo(f"The database as it was is kept in {kept}.")
    click.echo("Start labbook again; if the backup is from an older version, run "
               "`flask --app wsgi db upgrade` first.")


COMMANDS = (check_command, backup_command, restore_command)
