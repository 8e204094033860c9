"""Training records granted and revoked in bulk: a training session's list of addresses, all
or nothing."""

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from labbook.accounts.models import User
from labbook.audit.models import AuditEvent
from labbook.booking import rules, training
from labbook.booking.models import Qualification
from labbook.core.errors import NotFound, PermissionDenied, ValidationError
from labbook.extensions import db
from tests.factories import (
    another_session,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
)

NOW = dt.datetime(2026, 11, 27, 4, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("a@x.cn, B@x.cn\nc@x.cn", ["a@x.cn", "b@x.cn", "c@x.cn"]),
    ("a@x.cn；b@x.cn，a@x.cn、c@x.cn", ["a@x.cn", "b@x.cn", "c@x.cn"]),
    ("  ", []),
    (None, []),
])
def test_parsing_a_list_of_addresses(text, expected):
    assert training.parse_emails(text) == expected


def test_a_training_session_for_several_people_is_all_or_nothing():
    lab = create_lab()
    manager = create_manager(lab)
    instrument = create_instrument(lab=lab)
    people = [create_user(), create_user()]
    with pytest.raises(ValidationError) as refused:
        training.grant_qualifications(db.session, manager,
                                      [people[0].email, "nobody@example.cn"], instrument,
                                      now=NOW)
    assert [p.field for p in refused.value.problems] == ["email"]
    assert db.session.scalars(select(Qualification)).first() is None
    with pytest.raises(PermissionDenied):
        training.grant_qualifications(db.session, create_manager(create_lab()),
                                      [people[0].email], instrument, now=NOW)
    granted = training.grant_qualifications(db.session, manager, [p.email for p in people],
                                            instrument, now=NOW)
    db.session.commit()
    assert [q.user for q in granted] == people

    revoked = training.revoke_qualifications(db.session, manager, [q.id for q in granted],
                                             now=NOW)
    assert all(q.revoked_at == NOW for q in revoked)
    with pytest.raises(NotFound):
        training.revoke_qualifications(db.session, create_manager(create_lab()),
                                       [granted[0].id], now=NOW)


# -- a record at its edges ------------------------------------------------------------------------

SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def trainer():
    """A manager, the instrument of their lab and a researcher to train on it."""
    lab = create_lab()
    return SimpleNamespace(manager=create_manager(lab), instrument=create_instrument(lab=lab),
                           researcher=create_user())


def grant(trainer, *, now=NOW, expires_at=None, user=None):
    qualification = training.grant_qualification(db.session, trainer.manager,
                                                 user or trainer.researcher, trainer.instrument,
                                                 now=now, expires_at=expires_at)
    db.session.commit()
    return qualification


def audit(action):
    return [(e.actor_id, e.object_id, e.details) for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))]


@pytest.mark.usefixtures("english")
@pytest.mark.parametrize("expires_at", [NOW, NOW - SECOND])
def test_an_expiry_must_be_in_the_future(trainer, expires_at):
    with pytest.raises(ValidationError) as refused:
        grant(trainer, expires_at=expires_at)
    [problem] = refused.value.problems
    assert (problem.code, problem.field, problem.message) == \
        ("invalid", "expires_at", "The expiry must be in the future.")
    assert refused.value.message == problem.message
    assert grant(trainer, expires_at=NOW + SECOND).expires_at == NOW + SECOND


def test_a_grant_is_recorded_with_its_expiry(trainer):
    qualification = grant(trainer, expires_at=NOW + dt.timedelta(days=365))
    assert (qualification.user, qualification.instrument, qualification.granted_by_id,
            qualification.granted_at, qualification.revoked_at) == \
        (trainer.researcher, trainer.instrument, trainer.manager.id, NOW, None)
    assert audit("grant") == [(trainer.manager.id, qualification.id, {
        "user_id": trainer.researcher.id, "instrument_id": trainer.instrument.id,
        "expires_at": (NOW + dt.timedelta(days=365)).isoformat()})]


def test_the_same_grant_again_changes_nothing_another_expiry_replaces_it(trainer):
    first = grant(trainer)
    assert grant(trainer, now=NOW + SECOND) == first
    assert (first.revoked_at, len(audit("grant"))) == (None, 1)
    assert audit("grant")[0][2]["expires_at"] is None

    later = NOW + dt.timedelta(days=1)
    replacement = grant(trainer, now=later, expires_at=later + dt.timedelta(days=30))
    assert replacement != first
    assert (first.revoked_at, first.revoked_by_id, replacement.revoked_at) == \
        (later, trainer.manager.id, None)
    assert len(audit("grant")) == 2


def test_a_grant_replaces_only_the_same_persons_record_on_the_same_instrument(trainer):
    colleague = create_user()
    sibling = create_instrument(lab=trainer.instrument.lab)
    theirs = grant(trainer, user=colleague)
    on_sibling = training.grant_qualification(db.session, trainer.manager, trainer.researcher,
                                              sibling, now=NOW)
    grant(trainer, expires_at=NOW + dt.timedelta(days=30))
    grant(trainer, now=NOW + SECOND)
    assert (theirs.revoked_at, on_sibling.revoked_at) == (None, None)


@pytest.mark.usefixtures("english")
def test_only_the_labs_managers_grant_whatever_the_address(trainer):
    for outsider in (trainer.researcher, create_manager(create_lab())):
        for emails in ([trainer.researcher.email], ["nobody@example.cn"], []):
            with pytest.raises(PermissionDenied) as refused:
                training.grant_qualifications(db.session, outsider, emails, trainer.instrument,
                                              now=NOW)
            assert refused.value.message == "Only the lab's managers grant qualifications."


@pytest.mark.usefixtures("english")
def test_addresses_are_read_as_typed_and_unknown_ones_named(trainer):
    with pytest.raises(ValidationError) as refused:
        training.grant_qualifications(db.session, trainer.manager, [], trainer.instrument,
                                      now=NOW)
    assert [(p.field, p.message) for p in refused.value.problems] == \
        [("email", "Give at least one email address.")]
    with pytest.raises(ValidationError) as refused:
        training.grant_qualification_by_email(db.session, trainer.manager, "Nobody@Example.cn",
                                              trainer.instrument, now=NOW)
    assert refused.value.code == "unknown_user"
    assert [(p.code, p.field, p.message) for p in refused.value.problems] == [
        ("unknown_user", "user_email", "Nobody has an account with the email nobody@example.cn.")]
    assert refused.value.message == "Nobody has an account with the email nobody@example.cn."
    with pytest.raises(ValidationError) as refused:
        training.grant_qualifications(db.session, trainer.manager, ["a@x.cn", "b@x.cn"],
                                      trainer.instrument, now=NOW)
    assert refused.value.message == "Nobody has an account with the email a@x.cn. " \
        "Nobody has an account with the email b@x.cn."

    expiry = NOW + dt.timedelta(days=30)
    granted = training.grant_qualification_by_email(
        db.session, trainer.manager, f"  {trainer.researcher.email.upper()} ",
        trainer.instrument, now=NOW, expires_at=expiry)
    assert (granted.is_new, granted.qualification.user, granted.qualification.expires_at) == \
        (True, trainer.researcher, expiry)
    again = training.grant_qualification_by_email(db.session, trainer.manager,
                                                  trainer.researcher.email,
                                                  trainer.instrument, now=NOW,
                                                  expires_at=expiry)
    assert (again.is_new, again.qualification) == (False, granted.qualification)


@pytest.mark.usefixtures("english")
def test_a_record_is_found_and_revoked_by_its_labs_managers_only(trainer):
    qualification = grant(trainer)
    outsider = create_manager(create_lab())
    assert training.get_qualification(db.session, trainer.manager, qualification.id) == \
        qualification
    for actor, qualification_id in [(outsider, qualification.id), (trainer.manager, 9999)]:
        with pytest.raises(NotFound) as missing:
            training.get_qualification(db.session, actor, qualification_id)
        assert missing.value.message == f"No qualification with id {qualification_id}."
    with pytest.raises(PermissionDenied) as refused:
        training.revoke_qualification(db.session, outsider, qualification, now=NOW)
    assert refused.value.message == "Only the lab's managers revoke qualifications."
    assert qualification.revoked_at is None


def test_revoking_twice_records_one_revocation(trainer):
    qualification = grant(trainer)
    later = NOW + dt.timedelta(hours=1)
    training.revoke_qualification(db.session, trainer.manager, qualification, now=later)
    training.revoke_qualification(db.session, trainer.manager, qualification,
                                  now=later + SECOND)
    assert (qualification.revoked_at, qualification.revoked_by_id) == (later, trainer.manager.id)
    assert audit("revoke") == [(trainer.manager.id, qualification.id, {
        "user_id": trainer.researcher.id, "instrument_id": trainer.instrument.id})]


def test_the_training_page_lists_valid_records_then_those_ended_lately(trainer):
    """Valid ones by instrument code, then name, then the latest grant; ended ones (revoked or
    expired) of the last 90 days, the latest first; anything that ended 90 days ago or earlier
    is gone."""
    lab = trainer.instrument.lab
    xps = create_instrument(lab=lab, code="A-XPS")
    names = iter(["王芳", "李雷", "张伟", "赵敏", "陈静", "王芳"])
    people = {key: create_user(name=next(names))
              for key in ("wang", "li", "zhang", "zhao", "chen", "another_wang")}
    now = NOW + dt.timedelta(days=200)

    def record(person, instrument, *, expires_at=None, revoked_at=None, granted_at=NOW):
        qualification = training.grant_qualification(
            db.session, trainer.manager, people[person], instrument, now=granted_at,
            expires_at=expires_at)
        qualification.revoked_at = revoked_at
        return qualification

    wang = record("wang", trainer.instrument)
    another_wang = record("another_wang", trainer.instrument, granted_at=NOW + SECOND)
    li = record("li", trainer.instrument)
    li_xps = record("li", xps)
    expired = record("zhang", xps, expires_at=now - dt.timedelta(days=10))
    revoked = record("zhao", xps, revoked_at=now - dt.timedelta(days=5))
    record("chen", xps, expires_at=now - dt.timedelta(days=90))
    record("chen", trainer.instrument, revoked_at=now - dt.timedelta(days=90))
    db.session.commit()

    assert training.qualifications_for(db.session, trainer.manager, now=now) == \
        [li_xps, li, another_wang, wang, revoked, expired]
    assert training.qualifications_for(db.session, trainer.manager, now=now,
                                       instrument_id=xps.id) == [li_xps, revoked, expired]
    assert training.qualifications_for(db.session, trainer.manager, now=now,
                                       recent_days=7) == [li_xps, li, another_wang, wang, revoked]
    assert training.qualifications_for(db.session, trainer.researcher, now=now) == []


def test_a_grant_after_a_revocation_writes_a_new_record_and_keeps_the_old_one(trainer):
    first = grant(trainer)
    revoked_at = NOW + dt.timedelta(hours=1)
    training.revoke_qualification(db.session, trainer.manager, first, now=revoked_at)
    again = grant(trainer, now=revoked_at + dt.timedelta(days=1))
    assert again != first
    assert (again.revoked_at, first.revoked_at) == (None, revoked_at)
    assert rules.is_qualified(db.session, trainer.researcher, trainer.instrument,
                              revoked_at + dt.timedelta(days=2))


def test_an_address_changed_a_moment_ago_is_found(trainer):
    """The trainee's account was read before its owner changed the address elsewhere."""
    assert trainer.researcher.email != "new.address@example.cn"
    with another_session() as session:
        session.get(User, trainer.researcher.id).email = "new.address@example.cn"
    granted = training.grant_qualification_by_email(db.session, trainer.manager,
                                                    "new.address@example.cn",
                                                    trainer.instrument, now=NOW)
    assert granted.qualification.user_id == trainer.researcher.id
