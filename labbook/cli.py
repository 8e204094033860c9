"""Operator commands: ``flask --app wsgi labbook <command>``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy import select

from labbook import links
from labbook.accounts import services as accounts
from labbook.accounts.models import Organization, OrganizationStatus, PriceTier, Role, User
from labbook.billing import services as billing
from labbook.catalogue.loader import DATA_DIR, CatalogueError, load_catalogue
from labbook.catalogue.models import Lab
from labbook.catalogue.services import lab_by_code
from labbook.core.engine import write_transaction
from labbook.core.errors import DomainError
from labbook.core.time import to_lab_time, utcnow
from labbook.extensions import db
from labbook.jobs.cli import run_job_command, scheduler_command
from labbook.ops import COMMANDS as OPERATIONS_COMMANDS


@click.group("labbook", help="Set up and run labbook.")
@click.pass_context
@with_appcontext
def labbook_cli(context: click.Context) -> None:
    # The commands speak English; refusals from the services must not switch to the app's
    # default language halfway through a line.
    context.with_resource(force_locale("en"))


labbook_cli.add_command(scheduler_command)
labbook_cli.add_command(run_job_command)


for _command in OPERATIONS_COMMANDS:  # check, backup, restore
    labbook_cli.add_command(_command)


def _fail(message: str) -> click.ClickException:
    db.session.rollback()
    return click.ClickException(message)


def _load(directory: Path, *, keep_existing: bool = False) -> None:
    try:
        report = load_catalogue(db.session, to_lab_time(utcnow()).date(), directory,
                                keep_existing=keep_existing)
    except CatalogueError as exc:
        raise _fail(str(exc)) from None
    click.echo(f"Catalogue loaded — {report.summary()}")
    if report.kept.total():
        click.echo("Rows already in the database keep what was edited in labbook; "
                   "`load-catalogue` makes the files win for them.")


@labbook_cli.command("init")
@click.option("--catalogue-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=DATA_DIR, show_default="the catalogue shipped with labbook",
              help="Folder with labs.csv, categories.csv, instruments.csv, services.csv and "
                   "manifest.csv.")
@with_appcontext
def init_command(catalogue_dir: Path) -> None:
    """Create or upgrade the database schema and load the catalogue.

    Safe to run again: the schema is only upgraded, and catalogue rows are matched by code.
    Rows not in the database yet are added; rows already there are left as they are, because
    managers edit instruments, rules and rates in labbook and a deploy must not undo that
    (`load-catalogue` makes the files win).
    """
    from flask_migrate import upgrade

    upgrade()
    click.echo("Database schema is up to date.")
    _load(catalogue_dir, keep_existing=True)
    _seed_holidays()


def _seed_holidays() -> None:
    from labbook.holidays.services import SEEDED_YEARS, seed_calendar

    with write_transaction(db.session):
        added = seed_calendar(db.session, None, now=utcnow())
    click.echo(f"National calendar {SEEDED_YEARS[0]}–{SEEDED_YEARS[-1]}: {added} days added.")


@labbook_cli.command("seed-holidays")
@with_appcontext
def seed_holidays_command() -> None:
    """Add this year's and next year's public holidays and make-up working days (调休): from
    the chinese-calendar package for the years it covers, else from the file shipped with
    labbook. Days already in the calendar (perhaps corrected by an admin) are kept."""
    _seed_holidays()


@labbook_cli.command("load-catalogue")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path),
                default=DATA_DIR)
@with_appcontext
def load_catalogue_command(directory: Path) -> None:
    """Check and load catalogue files from DIRECTORY (default: the shipped catalogue).

    Nothing is written unless every row of every file is valid; problems are listed with file,
    line and column. The files win: rows that differ from them are updated, including what was
    edited in labbook (instrument details, booking rules, rates).
    """
    _load(directory)


@labbook_cli.command("demo")
@with_appcontext
def demo_command() -> None:
    """Create demo organizations, users (one per role and lab), last month's use and today's
    work, and print the logins.

    Only for trying labbook out: never run it on a production database. Running it again
    creates nothing new, moves the demo's bookings around today to the new today, and prints
    the logins again.
    """
    from labbook.demo import DEMO_PASSWORD, ReportFiles, load_demo

    if db.session.scalar(select(Lab.id).limit(1)) is None:
        raise _fail("The catalogue is not loaded yet: run `flask --app wsgi labbook init` first.")
    try:
        users = load_demo(db.session, utcnow(), ReportFiles(
            current_app.config["LABBOOK_ORDER_FILES_DIR"], links.base_url()))
    except DomainError as exc:
        raise _fail(exc.message) from None
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for user in users:
        labs = f" [{', '.join(user.labs)}]" if user.labs else ""
        click.echo(f"  {user.role.value:<12} {user.email:<32} {user.name}{labs}")


@labbook_cli.command("create-org")
@click.option("--name", required=True, help="Registered name of the enterprise.")
@click.option("--uscc", required=True, help="统一社会信用代码: 18 characters, checksum-validated.")
@click.option("--tier", required=True, type=click.Choice([t.value for t in PriceTier]),
              help="Price tier the organization is billed at.")
@click.option("--weekly-quota", type=click.IntRange(min=1), default=None,
              help="Hours per week the organization may book in all (default: no quota).")
@with_appcontext
def create_org_command(name: str, uscc: str, tier: str, weekly_quota: int | None) -> None:
    """Create an organization (an enterprise, or the institute itself)."""
    try:
        organization = accounts.create_organization(db.session, name=name, uscc=uscc, tier=tier,
                                                    weekly_quota_hours=weekly_quota)
        db.session.commit()
    except DomainError as exc:
        raise _fail(exc.message) from None
    click.echo(f"Created organization {organization.name} (id {organization.id}, "
               f"{organization.tier.value}).")


@labbook_cli.command("update-org")
@click.option("--name", required=True, help="Registered name of the organization to change.")
@click.option("--status", type=click.Choice([s.value for s in OrganizationStatus]),
              help="active, or suspended (a suspended organization cannot book).")
@click.option("--tier", type=click.Choice([t.value for t in PriceTier]),
              help="Price tier for bookings and tests from now on.")
@click.option("--weekly-quota", help="Hours per week the organization may hold in all, or "
                                     "'none' for no quota.")
@with_appcontext
def update_org_command(name: str, status: str | None, tier: str | None,
                       weekly_quota: str | None) -> None:
    """Suspend or reactivate an organization, or change its price tier or weekly quota."""
    organization = db.session.scalar(select(Organization).where(Organization.name == name))
    if organization is None:
        raise _fail(f"No organization named {name!r}.")
    arguments: dict = {"status": status, "tier": tier}
    if weekly_quota is not None:
        if weekly_quota.lower() == "none":
            arguments["weekly_quota_hours"] = None
        elif weekly_quota.isdigit():
            arguments["weekly_quota_hours"] = int(weekly_quota)
        else:
            raise _fail("--weekly-quota takes a whole number of hours or 'none'.")
    try:
        with write_transaction(db.session):
            accounts.update_organization(db.session, None, organization, now=utcnow(),
                                         **arguments)
    except DomainError as exc:
        raise _fail(exc.message) from None
    quota = organization.weekly_quota_hours
    click.echo(f"{organization.name}: {organization.status.value}, {organization.tier.value}, "
               f"weekly quota {quota if quota is not None else 'none'}.")


@labbook_cli.command("create-user")
@click.option("--email", required=True, help="Sign-in email address.")
@click.option("--name", required=True, help="Full name.")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--org", "org_name", default=None,
              help="Name of the user's organization (required for researchers).")
@click.option("--lab", "lab_codes", multiple=True,
              help="Code of a lab the user manages (lab managers; repeat for several).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Initial password (asked for when not given).")
@click.option("--locale", type=click.Choice(list(accounts.SUPPORTED_LOCALES)), default="zh_CN",
              show_default=True)
@with_appcontext
def create_user_command(email: str, name: str, role: str, org_name: str | None,
                        lab_codes: tuple[str, ...], password: str, locale: str) -> None:
    """Create a user account."""
    organization = None
    if org_name:
        organization = db.session.scalar(select(Organization).where(Organization.name == org_name))
        if organization is None:
            raise _fail(f"No organization named {org_name!r}.")
    labs = []
    for code in lab_codes:
        lab = lab_by_code(db.session, code)
        if lab is None:
            raise _fail(f"No lab with code {code!r}.")
        labs.append(lab)
    try:
        user = accounts.create_user(db.session, email=email, name=name, password=password,
                                    role=role, organization=organization, labs=labs,
                                    locale=locale)
        db.session.commit()
    except DomainError as exc:
        raise _fail(exc.message) from None
    click.echo(f"Created {user.role.value} {user.email} (id {user.id}).")


@labbook_cli.command("create-token")
@click.option("--email", required=True, help="Email of the user the token acts as.")
@click.option("--name", default="command line", show_default=True,
              help="A label that tells the token apart on the user's profile page.")
@with_appcontext
def create_token_command(email: str, name: str) -> None:
    """Create an API token for a user and print it as the last line.

    The token is shown only this once; labbook keeps only a hash of it. Send it as
    `Authorization: Bearer <token>`.
    """
    user = db.session.scalar(select(User).where(User.email == accounts.normalize_email(email)))
    if user is None:
        raise _fail(f"No user with the email {email!r}.")
    _token, secret = accounts.create_api_token(db.session, user, name=name, now=utcnow())
    db.session.commit()
    click.echo(f"API token for {user.email} (shown once; keep it secret):")
    click.echo(secret)


@labbook_cli.command("close-month")
@click.argument("period", required=False)
@with_appcontext
def close_month_command(period: str | None) -> None:
    """Close a month (YYYY-MM, Asia/Shanghai; default: the previous month).

    Builds one draft statement per organization from the unbilled charges of that month and
    earlier, numbered LB-<year>-<sequence>. Closing a month again creates nothing; a month that
    has not ended is refused. Admins review, issue and mark the statements paid in the web UI.
    """
    now = utcnow()
    try:
        with write_transaction(db.session):
            result = billing.close_month(db.session, None, period or billing.previous_period(now),
                                         now=now)
    except DomainError as exc:
        raise _fail(exc.message) from None
    if result.was_already_closed:
        closed = to_lab_time(result.already_closed_at).strftime("%Y-%m-%d %H:%M")
        click.echo(f"{result.period} was already closed on {closed} (Asia/Shanghai); "
                   "nothing new was created.")
        return
    click.echo(f"{result.period} closed: {len(result.statements)} draft statement(s).")
    for statement in result.statements:
        click.echo(f"  {statement.number}  {statement.organization.name}  ¥{statement.total}")
