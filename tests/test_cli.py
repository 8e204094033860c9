import pytest
from sqlalchemy import func, select

from labbook.accounts.models import Organization, User
from labbook.billing.models import Charge, Statement
from labbook.catalogue.models import Instrument
from labbook.demo import DEMO_PASSWORD
from labbook.extensions import db
from tests.factories import create_lab, create_organization, make_uscc


def run(app, *args, **kwargs):
    return app.test_cli_runner().invoke(args=["labbook", *args], **kwargs)


def test_init_loads_the_catalogue_and_is_idempotent(app):
    first = run(app, "init")
    assert first.exit_code == 0, first.output
    assert "labs: 3 new, 0 updated, 0 unchanged;" in first.output
    assert "instruments: 163 new" in first.output
    assert "kept as edited" not in first.output and "makes the files win" not in first.output
    second = run(app, "init")
    assert second.exit_code == 0, second.output
    assert "instruments: 0 new, 0 updated, 163 unchanged" in second.output
    assert db.session.scalar(select(func.count()).select_from(Instrument)) == 163


def test_init_keeps_what_was_edited_in_labbook_and_load_catalogue_overwrites_it(app):
    run(app, "init")
    instrument = db.session.scalars(select(Instrument).order_by(Instrument.code)).first()
    shipped = instrument.max_minutes
    instrument.max_minutes = shipped + 30
    db.session.commit()

    again = run(app, "init")
    assert "instruments: 0 new, 0 updated, 162 unchanged, 1 kept as edited" in again.output
    assert "`load-catalogue` makes the files win" in again.output
    db.session.refresh(instrument)
    assert instrument.max_minutes == shipped + 30

    assert run(app, "load-catalogue").exit_code == 0
    db.session.refresh(instrument)
    assert instrument.max_minutes == shipped


def test_init_refuses_a_broken_catalogue_with_file_and_line(app, tmp_path):
    (tmp_path / "labs.csv").write_text("code,name\nNEM,x\n", encoding="utf-8")
    result = run(app, "init", "--catalogue-dir", str(tmp_path))
    assert result.exit_code != 0
    assert "labs.csv line 1" in result.output
    assert "instruments.csv line 0: file is missing" in result.output


def test_demo_needs_the_catalogue_first(app):
    result = run(app, "demo")
    assert result.exit_code != 0
    assert "labbook init" in result.output


def test_demo_creates_each_role_once_and_prints_the_logins(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "LABBOOK_ORDER_FILES_DIR", str(tmp_path))  # its report
    run(app, "init")
    first = run(app, "demo")
    assert first.exit_code == 0, first.output
    assert DEMO_PASSWORD in first.output
    assert "admin@jzit.example.cn" in first.output
    users = db.session.scalar(select(func.count()).select_from(User))
    again = run(app, "demo")
    assert again.exit_code == 0
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(User)) == users
    roles = set(db.session.scalars(select(User.role)))
    assert {role.value for role in roles} == {"admin", "lab_manager", "researcher"}
    tiers = {org.tier.value for org in db.session.scalars(select(Organization))}
    assert tiers == {"internal", "partner", "external"}


def test_demo_charges_last_months_use_once_and_the_month_closes(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "LABBOOK_ORDER_FILES_DIR", str(tmp_path))  # its report
    run(app, "init")
    run(app, "demo")
    run(app, "demo")
    db.session.rollback()
    kinds = sorted(kind.value for kind in db.session.scalars(select(Charge.kind)))
    # Last month's use and the month before's, whose two statements are issued already.
    assert kinds == ["late_cancellation", "no_show", *["service"] * 3, *["usage"] * 8]

    closed = run(app, "close-month")
    assert closed.exit_code == 0, closed.output
    assert "3 draft statement(s)" in closed.output
    assert "LB-" in closed.output and "焦作新材储能科技有限公司" in closed.output
    again = run(app, "close-month")
    assert again.exit_code == 0
    assert "already closed" in again.output
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Statement)) == 5
    assert db.session.scalar(select(func.count()).select_from(Charge)
                             .where(Charge.statement_id.is_(None))) == 0


@pytest.mark.parametrize(("period", "message"), [
    ("2099-01", "has not ended yet"), ("2026-13", "YYYY-MM"), ("last month", "YYYY-MM"),
])
def test_close_month_refuses_bad_months(app, period, message):
    result = run(app, "close-month", period)
    assert result.exit_code != 0
    assert message in result.output


def test_create_org_and_user(app):
    create_lab(code="NEM")
    result = run(app, "create-org", "--name", "焦作某公司", "--uscc", make_uscc(5),
                 "--tier", "partner")
    assert result.exit_code == 0, result.output
    result = run(app, "create-user", "--email", "a@b.cn", "--name", "A", "--role", "researcher",
                 "--org", "焦作某公司", "--password", "a-long-pass-1")
    assert result.exit_code == 0, result.output
    result = run(app, "create-user", "--email", "m@b.cn", "--name", "M", "--role", "lab_manager",
                 "--lab", "nem", "--password", "a-long-pass-1")
    assert result.exit_code == 0, result.output
    db.session.rollback()
    manager = db.session.scalar(select(User).where(User.email == "m@b.cn"))
    assert [lab.code for lab in manager.managed_labs] == ["NEM"]


def test_create_user_asks_for_the_password_when_not_given(app):
    organization = create_organization()
    result = run(app, "create-user", "--email", "p@b.cn", "--name", "P", "--role", "researcher",
                 "--org", organization.name, input="a-long-pass-1\na-long-pass-1\n")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("password", ["password123", "12345678901234", "weak@b.cn", "short1"])
def test_create_user_applies_the_password_policy(app, password):
    organization = create_organization()
    result = run(app, "create-user", "--email", "weak@b.cn", "--name", "Weak", "--role",
                 "researcher", "--org", organization.name, "--password", password)
    assert result.exit_code != 0 and "Error: " in result.output
    db.session.rollback()
    assert db.session.scalar(select(User).where(User.email == "weak@b.cn")) is None


def test_bad_input_fails_with_a_message_and_a_nonzero_exit(app):
    cases = [
        (["create-org", "--name", "X", "--uscc", "123", "--tier", "partner"], "18 characters"),
        (["create-org", "--name", "X", "--uscc", make_uscc(1), "--tier", "gold"], "gold"),
        (["create-user", "--email", "x@y.cn", "--name", "X", "--role", "researcher",
          "--org", "Nobody Inc", "--password", "a-long-pass-1"], "No organization"),
        (["create-user", "--email", "x@y.cn", "--name", "X", "--role", "lab_manager",
          "--lab", "ZZZ", "--password", "a-long-pass-1"], "No lab"),
        (["create-user", "--email", "x@y.cn", "--name", "X", "--role", "admin",
          "--password", "short"], "10"),
    ]
    for args, message in cases:
        result = run(app, *args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)


def test_every_command_has_help(app):
    for command in ("init", "load-catalogue", "demo", "create-org", "update-org", "create-user",
                    "create-token", "close-month"):
        result = run(app, command, "--help")
        assert result.exit_code == 0
        assert "Usage:" in result.output


def test_update_org_suspends_and_sets_the_quota(app):
    from labbook.accounts.models import OrganizationStatus
    from labbook.audit.models import AuditEvent

    organization = create_organization(name="焦作暂停测试公司")
    result = run(app, "update-org", "--name", "焦作暂停测试公司", "--status", "suspended",
                 "--weekly-quota", "20")
    assert result.exit_code == 0, result.output
    db.session.rollback()
    organization = db.session.get(Organization, organization.id)
    assert organization.status == OrganizationStatus.SUSPENDED
    assert organization.weekly_quota_hours == 20
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.object_type == "organizations"))
    assert event.details["changes"]["status"] == ["active", "suspended"]

    assert run(app, "update-org", "--name", "焦作暂停测试公司", "--weekly-quota",
               "none").exit_code == 0
    db.session.rollback()
    assert db.session.get(Organization, organization.id).weekly_quota_hours is None
    for args, message in [(["--weekly-quota", "lots"], "whole number"),
                          (["--weekly-quota", "500"], "168")]:
        bad = run(app, "update-org", "--name", "焦作暂停测试公司", *args)
        assert bad.exit_code != 0 and message in bad.output
    assert run(app, "update-org", "--name", "nobody").exit_code != 0
