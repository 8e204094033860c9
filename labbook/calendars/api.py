"""Calendar API: subscription (feed) tokens and a booking's .ics file."""

from __future__ import annotations

from typing import Any

from labbook.api import bp
from labbook.api.auth import api_user, token_required
from labbook.calendars import services as feed_services
from labbook.calendars.models import FeedToken
from labbook.calendars.responses import booking_ics_response, feed_url
from labbook.core.engine import write_transaction
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.http import Fields, json_body


def feed_token_json(token: FeedToken) -> dict[str, Any]:
    """A subscription without its secret, which is not kept."""
    return {"id": token.id, "scope": token.scope, "created_at": token.created_at.isoformat(),
            "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None}


@bp.post("/feed-tokens")
@token_required
def create_feed_token():
    actor = api_user()
    fields = Fields(json_body())
    raw_scope = fields.string("scope", max_length=40)
    fields.done()
    scope = feed_services.Scope.parse(raw_scope)
    with write_transaction(db.session):
        token, secret = feed_services.create_feed_token(db.session, actor, scope, now=utcnow())
    body = feed_token_json(token) | {"url": feed_url(secret)}
    return body, 201, {"Cache-Control": "no-store"}


@bp.get("/feed-tokens")
@token_required
def list_feed_tokens():
    actor = api_user()
    return {"items": [feed_token_json(token)
                      for token in feed_services.feed_tokens_of(db.session, actor)]}


@bp.delete("/feed-tokens/<int:token_id>")
@token_required
def delete_feed_token(token_id: int):
    actor = api_user()
    with write_transaction(db.session):
        token = feed_services.get_feed_token(db.session, actor, token_id)
        feed_services.revoke_feed_token(db.session, actor, token, now=utcnow())
    return "", 204


@bp.get("/bookings/<int:booking_id>.ics")
@token_required
def booking_ics(booking_id: int):
    return booking_ics_response(booking_id, api_user())
