"""Feed tokens and scopes as the services decide them: what a scope may be, who may subscribe
to it, whose subscriptions are whose, what the audit log keeps, and what each feed is called."""

from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from labbook.audit.models import AuditEvent
from labbook.calendars import services as feeds
from labbook.calendars.models import FeedToken
from labbook.calendars.services import FeedKind, Scope
from labbook.core.engine import write_transaction
from labbook.core.errors import NotFound, PermissionDenied, ValidationError
from labbook.extensions import db
from tests.factories import (
    create_admin,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    reload,
)
from tests.refusals import problem, refusal

NOW = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)
SCOPE_MESSAGE = "The scope must be “mine”, “instrument:<id>”, “lab:<code>” or “approvals”."


@pytest.fixture(autouse=True)
def _english():
    with force_locale("en"):
        yield


def new_token(user, scope: str, now: dt.datetime = NOW) -> FeedToken:
    with write_transaction(db.session):
        token, _secret = feeds.create_feed_token(db.session, user, Scope.parse(scope), now=now)
    return token


# -- scopes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "scope"), [
    ("mine", Scope(FeedKind.MINE)), (" approvals ", Scope(FeedKind.APPROVALS)),
    ("instrument:1", Scope(FeedKind.INSTRUMENT, instrument_id=1)),
    ("instrument:2147483647", Scope(FeedKind.INSTRUMENT, instrument_id=2147483647)),
    ("lab:nem", Scope(FeedKind.LAB, lab_code="NEM")),
])
def test_a_scope_is_read_from_its_text(text, scope):
    assert Scope.parse(text) == scope
    assert str(scope) == text.strip().replace("nem", "NEM")


@pytest.mark.parametrize("text", [
    "instrument:0", "instrument:2147483648", "instrument:-1", "instrument:１", "mine:NEM",
    "approvals:NEM", "room:NEM", "lab:", "lab:N E M", "lab:" + "N" * 17, "mine:", None, 7,
])
def test_anything_else_is_no_scope(text):
    with pytest.raises(ValidationError) as refused:
        Scope.parse(text)
    assert refusal(refused) == ("invalid_scope", SCOPE_MESSAGE,
                                [problem("invalid_scope", SCOPE_MESSAGE, "scope")])


def test_a_scope_that_names_nothing_is_invalid():
    user = create_user()
    with pytest.raises(ValidationError) as no_instrument:
        feeds.check_scope(db.session, user, Scope(FeedKind.INSTRUMENT, instrument_id=99))
    message = "No instrument with id 99."
    assert refusal(no_instrument) == ("invalid_scope", message,
                                      [problem("invalid_scope", message, "scope")])
    with pytest.raises(ValidationError) as no_lab:
        feeds.check_scope(db.session, user, Scope(FeedKind.LAB, lab_code="XYZ"))
    assert refusal(no_lab)[:2] == ("invalid_scope", "Unknown lab XYZ.")


def test_only_the_labs_managers_and_admins_subscribe_to_a_whole_lab_or_to_approvals():
    lab = create_lab(code="NEM")
    researcher, other_manager = create_user(), create_manager(create_lab())
    for outsider in (researcher, other_manager):
        with pytest.raises(PermissionDenied) as refused:
            feeds.check_scope(db.session, outsider, Scope(FeedKind.LAB, lab_code="NEM"))
        assert refusal(refused) == (
            "forbidden_scope", "Only the lab's managers may subscribe to all of its bookings.", [])
    with pytest.raises(PermissionDenied) as approvals:
        feeds.check_scope(db.session, researcher, Scope(FeedKind.APPROVALS))
    assert refusal(approvals) == (
        "forbidden_scope", "Only lab managers have bookings awaiting their approval.", [])
    for insider in (create_manager(lab), create_admin()):
        feeds.check_scope(db.session, insider, Scope(FeedKind.LAB, lab_code="NEM"))
        feeds.check_scope(db.session, insider, Scope(FeedKind.APPROVALS))


def test_an_admins_approvals_feed_covers_every_lab():
    labs = [create_lab(), create_lab()]
    admin = create_admin()
    feed = feeds.open_feed(db.session, new_token(admin, "approvals"))
    assert feed is not None and sorted(feed.lab_ids) == sorted(lab.id for lab in labs)


# -- whose subscriptions ----------------------------------------------------------------------


def test_a_user_lists_and_finds_only_their_own_working_subscriptions_oldest_first():
    owner, other = create_user(), create_user()
    later = new_token(owner, "mine", now=NOW + dt.timedelta(hours=1))
    earlier = new_token(owner, "mine")
    same_moment = new_token(owner, "mine")
    others = new_token(other, "mine")
    revoked = new_token(owner, "mine")
    with write_transaction(db.session):
        feeds.revoke_feed_token(db.session, owner, revoked, now=NOW)
    assert [t.id for t in feeds.feed_tokens_of(db.session, owner)] \
        == [earlier.id, same_moment.id, later.id]
    assert feeds.get_feed_token(db.session, owner, later.id) == later
    for token_id in (others.id, revoked.id, 999999):
        with pytest.raises(NotFound) as hidden:
            feeds.get_feed_token(db.session, owner, token_id)
        assert hidden.value.message == "No such calendar subscription."


@pytest.mark.parametrize("change", [feeds.rotate_feed_token, feeds.revoke_feed_token])
def test_nobody_rotates_or_revokes_anothers_subscription_or_a_revoked_one(change):
    owner, other = create_user(), create_user()
    token = new_token(owner, "mine")
    with pytest.raises(NotFound) as hidden, write_transaction(db.session):
        change(db.session, other, token, now=NOW)
    assert hidden.value.message == "No such calendar subscription."
    assert reload(token).revoked_at is None
    with write_transaction(db.session):
        feeds.revoke_feed_token(db.session, owner, token, now=NOW)
    with pytest.raises(NotFound), write_transaction(db.session):
        change(db.session, owner, token, now=NOW)


def test_the_audit_log_keeps_who_subscribed_rotated_and_revoked_and_when():
    owner = create_user()
    token = new_token(owner, "mine")
    assert token.created_at == NOW
    rotated_at = NOW + dt.timedelta(days=1)
    with write_transaction(db.session):
        new, _secret = feeds.rotate_feed_token(db.session, owner, token, now=rotated_at)
    assert (new.created_at, new.scope, new.rotated_from_id) == (rotated_at, "mine", token.id)
    assert reload(token).revoked_at == rotated_at
    revoked_at = NOW + dt.timedelta(days=2)
    with write_transaction(db.session):
        feeds.revoke_feed_token(db.session, owner, new, now=revoked_at)
    db.session.rollback()
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "feed_tokens")
                                .order_by(AuditEvent.id)).all()
    assert [(e.actor_id, e.object_id, e.action, e.at, e.details) for e in events] == [
        (owner.id, token.id, "create", NOW, {"scope": "mine"}),
        (owner.id, new.id, "rotate", rotated_at, {"scope": "mine", "rotated_from": token.id}),
        (owner.id, new.id, "revoke", revoked_at, {"scope": "mine"}),
    ]


def test_a_feed_records_its_use_at_most_hourly():
    token = new_token(create_user(), "mine")
    assert feeds.needs_touch(token, NOW)
    token.last_used_at = NOW
    assert not feeds.needs_touch(token, NOW + dt.timedelta(minutes=59, seconds=59))
    assert feeds.needs_touch(token, NOW + dt.timedelta(hours=1))


# -- names ----------------------------------------------------------------------------------


def test_each_scope_is_named_in_words():
    lab = create_lab(code="NEM", name_en="New-Energy Materials Lab")
    instrument = create_instrument(lab=lab, code="NEM-001", name_en="X-ray Diffractometer")
    label = lambda text: feeds.scope_label(db.session, Scope.parse(text))  # noqa: E731
    assert label("mine") == "My bookings"
    assert label("approvals") == "Awaiting my approval"
    assert label(f"instrument:{instrument.id}") == "Instrument: X-ray Diffractometer (NEM-001)"
    assert label("instrument:424242") == "Instrument 424242 (no longer exists)"
    assert label("lab:NEM") == "Lab: New-Energy Materials Lab, every booking"
    assert label("lab:GONE") == "Lab: GONE, every booking"


@pytest.mark.parametrize(("locale", "names"), [
    ("en", ["labbook: my bookings", "labbook: awaiting my approval",
            "labbook: X-ray Diffractometer (NEM-001)",
            "labbook: New-Energy Materials Lab, every booking"]),
    ("zh_CN", ["labbook：我的预约", "labbook：待我审批", "labbook：X射线衍射仪（NEM-001）",
               "labbook：新能源材料开放共享实验室 全部预约"]),
])
def test_each_feed_is_named_in_its_subscribers_language(locale, names):
    lab = create_lab(code="NEM", name_en="New-Energy Materials Lab",
                     name_zh="新能源材料开放共享实验室")
    instrument = create_instrument(lab=lab, code="NEM-001", name_en="X-ray Diffractometer",
                                   name_zh="X射线衍射仪")
    manager = create_manager(lab, locale=locale)
    scopes = ["mine", "approvals", f"instrument:{instrument.id}", "lab:NEM"]
    assert [feeds.open_feed(db.session, new_token(manager, scope)).name()
            for scope in scopes] == names
