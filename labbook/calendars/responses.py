"""The answers that the calendar pages and the calendar API both give: a booking's .ics file and a
subscription's URL."""

from __future__ import annotations

import hashlib

from flask import Response, current_app

from labbook import links
from labbook.accounts.models import User
from labbook.booking import services as booking_services
from labbook.calendars import ical
from labbook.extensions import db


def etag_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def booking_ics_response(booking_id: int, viewer: User) -> Response:
    """A booking's .ics file for its owner or the lab's managers (others: NotFound)."""
    booking = booking_services.get_booking(db.session, viewer, booking_id)
    config = current_app.config
    body = ical.booking_calendar(booking, viewer, base_url=links.base_url(),
                                 uid_domain=config["LABBOOK_UID_DOMAIN"])
    response = Response(body, status=200, content_type=ical.MEDIA_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="booking-{booking.id}.ics"'
    response.headers["Cache-Control"] = "private, no-cache"
    response.set_etag(etag_of(body))
    return response


def feed_url(secret: str) -> str:
    """The subscription URL of ``secret`` (under the address links are built for)."""
    return f"{links.base_url()}/ical/{secret}.ics"
