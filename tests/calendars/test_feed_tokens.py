"""Rotating and revoking a subscription at the same moment: one serial outcome, never a revived
link. Each change runs in a thread of its own; the first holds its transaction open while the
second starts, so the second must wait for it and then decide on what it wrote."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from labbook.accounts.models import User
from labbook.audit.models import AuditEvent
from labbook.calendars import services as feed_services
from labbook.calendars.models import FeedToken
from labbook.core.engine import write_transaction
from labbook.core.errors import NotFound
from labbook.core.time import utcnow
from labbook.extensions import db
from tests.calendars.conftest import subscribe
from tests.factories import create_user


def _change(action: str, user_id: int, token_id: int) -> str:
    """Rotate or revoke as the page and the API do: find the subscription, then change it."""
    actor = db.session.get(User, user_id)
    token = feed_services.get_feed_token(db.session, actor, token_id)
    if action == "rotate":
        feed_services.rotate_feed_token(db.session, actor, token, now=utcnow())
    else:
        feed_services.revoke_feed_token(db.session, actor, token, now=utcnow())
    return "done"


def _race(app, first: str, second: str, user_id: int, token_id: int) -> dict[str, str]:
    changed, release = threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}

    def run_first() -> None:
        with app.app_context(), write_transaction(db.session):
            outcomes["first"] = _change(first, user_id, token_id)
            changed.set()
            release.wait(10)

    def run_second() -> None:
        with app.app_context():
            changed.wait(10)
            try:
                with write_transaction(db.session):
                    outcomes["second"] = _change(second, user_id, token_id)
            except NotFound:
                outcomes["second"] = "not found"

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for thread in threads:
        thread.start()
    assert changed.wait(10)
    # Long enough for the second to reach the token and wait on it.
    time.sleep(0.3)
    assert "second" not in outcomes, "the second change did not wait for the first"
    release.set()
    for thread in threads:
        thread.join(20)
    return outcomes


@pytest.mark.parametrize(("first", "second"), [("rotate", "revoke"), ("revoke", "rotate"),
                                               ("revoke", "revoke"), ("rotate", "rotate")])
def test_concurrent_rotations_and_revocations_end_as_one_after_the_other(app, first, second):
    owner = create_user()
    subscribe(owner, "mine")
    token = db.session.scalar(select(FeedToken))
    outcomes = _race(app, first, second, owner.id, token.id)
    assert outcomes == {"first": "done", "second": "not found"}

    db.session.rollback()
    working = list(db.session.scalars(select(FeedToken).where(FeedToken.revoked_at.is_(None))))
    # Rotated first: the new link works, and nothing revoked or rotated it after. Revoked
    # first: no link works, and no rotation brought one back.
    assert len(working) == (1 if first == "rotate" else 0)
    actions = list(db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "feed_tokens",
                                        AuditEvent.action != "create")))
    assert actions == [first]
