"""API of the channels a person gets messages by besides email (``labbook.notify.services``)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import gettext as _

from labbook.accounts.models import User
from labbook.api import bp
from labbook.api.auth import api_user, token_required
from labbook.core.engine import write_transaction
from labbook.core.errors import Problem, ValidationError
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.http import json_body
from labbook.notify import channels
from labbook.notify import services as notify
from labbook.notify.models import Channel, Topic


def channels_json(user: User) -> dict[str, Any]:
    chosen = notify.channel_preferences(db.session, user)
    return {"email": [topic.value for topic in Topic],
            "sms": [topic.value for topic in Topic if (topic, Channel.SMS) in chosen],
            "sms_available": channels.sms_enabled(current_app.config) and bool(user.phone)}


@bp.get("/me/notification-channels")
@token_required
def get_notification_channels():
    return channels_json(api_user())


def _topics(body: dict[str, Any]) -> set[Topic]:
    value = body.get("sms", [])
    known = {topic.value: topic for topic in Topic}
    if not isinstance(value, list) or not all(isinstance(item, str) and item in known
                                              for item in value):
        message = _("'sms' must be a list of kinds of message: %(kinds)s.",
                    kinds=", ".join(known))
        raise ValidationError(message, problems=[Problem("invalid", message, field="sms")])
    return {known[item] for item in value}


@bp.put("/me/notification-channels")
@token_required
def set_notification_channels():
    actor = api_user()
    wanted = {(topic, Channel.SMS) for topic in _topics(json_body())}
    with write_transaction(db.session):
        notify.set_channel_preferences(db.session, actor, wanted, now=utcnow())
    return channels_json(actor)
