"""Two managers doing the same thing at once: a rate card for the same day, the same training
record, and a user revoking one calendar subscription from two places."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from labbook.accounts.models import User
from labbook.audit.models import AuditEvent
from labbook.billing.models import RateCard
from labbook.booking.models import Qualification
from labbook.calendars.models import FeedToken
from labbook.calendars.services import Scope, create_feed_token
from labbook.catalogue.models import Instrument
from labbook.core.engine import write_transaction
from labbook.extensions import db
from tests.factories import LAB_TZ, create_instrument, create_manager, create_user
from tests.races.harness import Call, api_headers, assert_serializable, fire, play_rounds

pytestmark = pytest.mark.slow


@dataclass
class Scene:
    instrument: Instrument
    manager: User
    manager_api: dict[str, str]
    other_manager_api: dict[str, str]


@pytest.fixture
def scene() -> Scene:
    instrument = create_instrument()
    manager = create_manager(instrument.lab)
    return Scene(instrument, manager, api_headers(manager),
                 api_headers(create_manager(instrument.lab)))


def _count(query) -> int:
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


# -- rate cards ---------------------------------------------------------------------------------

#: The cards of one instrument, tier and day, and the audit events of their creation.
CardsView = tuple[int, int]


def add_card(state: CardsView) -> list[tuple[str, CardsView]]:
    cards, created = state
    if cards:
        return [("refused", state)]
    return [("ok", (cards + 1, created + 1))]


def test_two_rate_cards_for_the_same_day_make_one(server, scene):
    instrument_id = scene.instrument.id

    def play(round_no: int) -> None:
        day = dt.datetime.now(LAB_TZ).date() + dt.timedelta(days=30 + round_no)
        calls = [Call("add card", "POST", f"/api/v1/instruments/{instrument_id}/rate-cards",
                      headers, {"tier": "external", "effective_from": day.isoformat(),
                                "hourly_rate": rate},
                      statuses={201: "ok"})
                 for headers, rate in ((scene.manager_api, "120.00"),
                                       (scene.other_manager_api, "125.00"))]
        answers = fire(server, calls)
        db.session.rollback()
        cards = _count(select(RateCard.id).where(
            RateCard.instrument_id == instrument_id, RateCard.tier == "external",
            RateCard.effective_from == day))
        created = _count(select(AuditEvent.id).where(
            AuditEvent.object_type == RateCard.__tablename__, AuditEvent.action == "create",
            AuditEvent.details["instrument_id"].as_integer() == instrument_id,
            AuditEvent.details["effective_from"].as_string() == day.isoformat()))
        assert_serializable((0, 0), {"add card": add_card}, answers, (cards, created))

    play_rounds(play)


# -- qualifications -----------------------------------------------------------------------------

#: One user's training records on one instrument: the expiry of each in force ("none" or
#: "later"), and how many records there are.
RecordsView = tuple[tuple[str, ...], int]


def grant(state: RecordsView) -> list[tuple[str, RecordsView]]:
    """A grant without expiry replaces the record in force; one just like it already in force
    may instead be left as it is (answered 200)."""
    in_force, records = state
    replaced = ("ok", (("none",), records + 1))
    return [replaced, ("already", state)] if in_force == ("none",) else [replaced]


def test_the_same_qualification_granted_twice_leaves_one_in_force(server, scene):
    instrument_id = scene.instrument.id

    def play(round_no: int) -> None:
        trainee = create_user()
        # Every other round the trainee already holds a record, one that expires.
        earlier: tuple[str, ...] = ("later",) if round_no % 2 else ()
        if earlier:
            now = dt.datetime.now(dt.UTC)
            db.session.add(Qualification(user=trainee, instrument_id=instrument_id,
                                         granted_by_id=scene.manager.id, granted_at=now,
                                         expires_at=now + dt.timedelta(days=30)))
            db.session.commit()
        trainee_id = trainee.id
        calls = [Call("grant", "POST", "/api/v1/qualifications", headers,
                      {"user_email": trainee.email, "instrument_id": instrument_id},
                      statuses={201: "ok", 200: "already"})
                 for headers in (scene.manager_api, scene.other_manager_api)]
        answers = fire(server, calls)
        db.session.rollback()
        records = select(Qualification.expires_at).where(
            Qualification.user_id == trainee_id, Qualification.instrument_id == instrument_id)
        in_force = tuple(sorted("none" if expires_at is None else "later" for expires_at in
                                db.session.scalars(records.where(
                                    Qualification.revoked_at.is_(None)))))
        assert_serializable((earlier, len(earlier)), {"grant": grant}, answers,
                            (in_force, _count(records)))

    play_rounds(play)


# -- calendar subscriptions ---------------------------------------------------------------------

#: Whether the subscription is revoked, and how many revocations the audit log holds.
TokenView = tuple[bool, int]


def revoke(state: TokenView) -> list[tuple[str, TokenView]]:
    revoked, events = state
    if revoked:
        return [("gone", state)]
    return [("ok", (True, events + 1))]


def test_a_subscription_revoked_twice_at_once_is_revoked_once(server):
    subscriber = create_user()
    apis = [api_headers(subscriber), api_headers(subscriber)]

    def play(_round: int) -> None:
        with write_transaction(db.session):
            token, _secret = create_feed_token(db.session, subscriber, Scope.parse("mine"),
                                               now=dt.datetime.now(dt.UTC))
        token_id = token.id
        calls = [Call("revoke", "DELETE", f"/api/v1/feed-tokens/{token_id}", headers,
                      statuses={204: "ok", 404: "gone"}) for headers in apis]
        answers = fire(server, calls)
        db.session.rollback()
        revoked = db.session.scalar(select(FeedToken.revoked_at.is_not(None))
                                    .where(FeedToken.id == token_id))
        events = _count(select(AuditEvent.id).where(
            AuditEvent.object_type == FeedToken.__tablename__, AuditEvent.object_id == token_id,
            AuditEvent.action == "revoke"))
        assert_serializable((False, 0), {"revoke": revoke}, answers, (bool(revoked), events))

    play_rounds(play)
