"""iCal feeds over HTTP, a booking's .ics download, and the page to manage subscriptions."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import segno
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup
from sqlalchemy import event, select
from sqlalchemy.orm import Session, joinedload

from labbook import links, ratelimit
from labbook.accounts.access import current_actor
from labbook.accounts.models import Organization, User
from labbook.accounts.services import managed_labs
from labbook.calendars import ical
from labbook.calendars import services as feed_services
from labbook.calendars.models import FeedToken
from labbook.calendars.responses import booking_ics_response, etag_of, feed_url
from labbook.calendars.throttle import ExpiringMemo
from labbook.catalogue.models import Instrument, Lab
from labbook.core.engine import write_transaction
from labbook.core.errors import DomainError
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.web import answers_unknown_paths, refuse

bp = Blueprint("calendars", __name__)

#: Clients and proxies may reuse a feed this long before asking again.
MAX_AGE_SECONDS = 300
#: How long a feed's ETag is remembered for its fingerprint. Booking changes always show at
#: once; a renamed instrument, lab or user is noticed at once by this process and within this
#: time by the others.
ETAG_TTL_SECONDS = 3600

#: A feed's ETag and Last-Modified by its fingerprint (``_memo_key``).
_etags: ExpiringMemo[tuple[str, dt.datetime]] = ExpiringMemo(max_entries=20_000,
                                                            ttl=ETAG_TTL_SECONDS)
_generation = itertools.count(1)
_catalogue_generation = 0
_NAMES_SHOWN_IN_FEEDS = (Instrument, Lab, User, Organization)


@event.listens_for(Session, "after_flush")
def _note_renames(session: Session, _context: Any) -> None:
    """Feeds show names of instruments, labs, users and organizations, which have no change
    time of their own: when this process writes any of them, its remembered ETags are void."""
    global _catalogue_generation
    for obj in itertools.chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, _NAMES_SHOWN_IN_FEEDS):
            _catalogue_generation = next(_generation)
            return


def _feed_headers(response: Response) -> Response:
    response.headers["Cache-Control"] = f"private, max-age={MAX_AGE_SECONDS}"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _not_found() -> Response:
    """The same plain answer for a token that is unknown, malformed, revoked or out of reach."""
    response = Response("Not Found\n", status=404, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _not_modified(etag: str, last_modified: dt.datetime) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; else If-Modified-Since."""
    if "If-None-Match" in request.headers:
        return request.if_none_match.contains_weak(etag)
    since = request.if_modified_since
    return since is not None and last_modified.replace(microsecond=0) <= since


def _memo_key(fingerprint: feed_services.Fingerprint, feed: feed_services.Feed) -> tuple:
    config = current_app.config
    return (_catalogue_generation, links.base_url(), config["LABBOOK_UID_DOMAIN"],
            *fingerprint.key(feed))


def _rendered(feed: feed_services.Feed,
              bookings: list[ical.BookingFacts]) -> tuple[bytes, dt.datetime]:
    """The feed's body, and when what it shows last changed: its newest event's DTSTAMP (which
    for another organization's booking does not follow that booking's every change), or when
    the token was made."""
    config = current_app.config
    events = feed_services.feed_events(feed, bookings, base_url=links.base_url(),
                                       uid_domain=config["LABBOOK_UID_DOMAIN"])
    last_modified = max((event.stamp for event in events), default=feed.token.created_at)
    return ical.render_calendar(feed.name(), events), last_modified


@bp.get("/ical/<string:secret>.ics")
@answers_unknown_paths
def feed(secret: str):
    if not feed_services.SECRET_PATTERN.fullmatch(secret):
        return _not_found()
    token = feed_services.token_for_secret(db.session, secret)
    if token is None:
        return _not_found()
    # Counted per link in the shared rate-limit storage, so that every worker sees every poll.
    retry_after = ratelimit.hit(current_app.config["LABBOOK_RATELIMIT_FEED"], "ical",
                                token.token_hash)
    if retry_after is not None:
        response = Response("Too Many Requests\n", status=429, mimetype="text/plain")
        response.headers["Retry-After"] = str(int(retry_after))
        return _feed_headers(response)
    opened = feed_services.open_feed(db.session, token)
    if opened is None:
        return _not_found()
    now = utcnow()
    if feed_services.needs_touch(token, now):
        with write_transaction(db.session):
            token.last_used_at = now

    conditional = "If-None-Match" in request.headers or "If-Modified-Since" in request.headers
    if conditional:
        # Revalidation: one aggregate query, and no rendering when this process has seen the
        # same rows before.
        fingerprint = feed_services.feed_fingerprint(db.session, opened, now)
        known = _etags.get(_memo_key(fingerprint, opened))
        if known is not None and _not_modified(*known):
            return _answer_not_modified(*known)

    bookings = feed_services.feed_bookings(db.session, opened, now)
    body, last_modified = _rendered(opened, bookings)
    etag = etag_of(body)
    fingerprint = feed_services.Fingerprint.of(bookings)
    _etags.put(_memo_key(fingerprint, opened), (etag, last_modified))
    if conditional and _not_modified(etag, last_modified):
        return _answer_not_modified(etag, last_modified)
    response = Response(body, status=200, content_type=ical.MEDIA_TYPE)
    response.set_etag(etag)
    response.last_modified = last_modified
    return _feed_headers(response)


def _answer_not_modified(etag: str, last_modified: dt.datetime) -> Response:
    response = Response(status=304)
    response.set_etag(etag)
    response.last_modified = last_modified
    return _feed_headers(response)


# -- one booking --------------------------------------------------------------------------------


@bp.get("/bookings/<int:booking_id>.ics")
@login_required
def booking_ics(booking_id: int):
    return booking_ics_response(booking_id, current_actor())


# -- the subscriptions page ---------------------------------------------------------------------


def webcal_url(url: str) -> str:
    return "webcal://" + url.split("://", 1)[1]


def qr_svg(url: str) -> Markup:
    """The URL as an inline SVG QR code, for subscribing from a phone."""
    svg = segno.make(url, error="m").svg_inline(scale=3, light="white",
                                                title=_("QR code of the link"))
    return Markup(svg)  # noqa: S704  (segno's own markup; the URL is escaped by segno)


def _page(created: dict[str, Any] | None = None, status: int = 200):
    user = current_actor()
    tokens = feed_services.feed_tokens_of(db.session, user)
    instruments = list(db.session.scalars(
        select(Instrument).join(Instrument.lab).options(joinedload(Instrument.lab))
        .order_by(Lab.code, Instrument.code)))
    labs = managed_labs(db.session, user)
    body = render_template(
        "calendars/feeds.html", tokens=tokens, created=created, instruments=instruments,
        labs=labs, can_approve=bool(labs),
        scope_label=lambda token: feed_services.scope_label(
            db.session, feed_services.Scope.parse(token.scope)))
    response = make_response(body, status)
    if created is not None:
        # The secret link is on this answer only: it must not be stored anywhere.
        response.headers["Cache-Control"] = "no-store"
    # The default same-origin policy stays: the page's address holds no secret, and its forms
    # must send a Referer, which CSRF protection over https requires.
    return response


def _created(token: FeedToken, secret: str) -> dict[str, Any]:
    url = feed_url(secret)
    return {"token": token, "url": url, "webcal": webcal_url(url), "qr": qr_svg(url),
            "label": feed_services.scope_label(db.session, feed_services.Scope.parse(token.scope))}


def _scope_from_form() -> feed_services.Scope:
    kind = request.form.get("kind", "")
    if kind == feed_services.FeedKind.INSTRUMENT:
        return feed_services.Scope.parse(f"instrument:{request.form.get('instrument_id', '')}")
    if kind == feed_services.FeedKind.LAB:
        return feed_services.Scope.parse(f"lab:{request.form.get('lab', '')}")
    return feed_services.Scope.parse(kind)


@bp.get("/calendars")
@login_required
def feeds():
    return _page()


@bp.post("/calendars")
@login_required
def create_feed():
    actor = current_actor()
    try:
        scope = _scope_from_form()
        with write_transaction(db.session):
            token, secret = feed_services.create_feed_token(db.session, actor, scope, now=utcnow())
    except DomainError as error:
        return refuse(error, url_for("calendars.feeds"))
    return _page(created=_created(token, secret))


@bp.post("/calendars/<int:token_id>/rotate")
@login_required
def rotate_feed(token_id: int):
    actor = current_actor()
    try:
        with write_transaction(db.session):
            old = feed_services.get_feed_token(db.session, actor, token_id)
            token, secret = feed_services.rotate_feed_token(db.session, actor, old, now=utcnow())
    except DomainError as error:
        if error.status == 404:
            raise
        return refuse(error, url_for("calendars.feeds"))
    return _page(created=_created(token, secret))


@bp.post("/calendars/<int:token_id>/revoke")
@login_required
def revoke_feed(token_id: int):
    actor = current_actor()
    with write_transaction(db.session):
        token = feed_services.get_feed_token(db.session, actor, token_id)
        feed_services.revoke_feed_token(db.session, actor, token, now=utcnow())
    flash(_("The subscription link was revoked; calendars using it get no more updates."),
          "success")
    return redirect(url_for("calendars.feeds"))
