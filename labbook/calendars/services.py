"""Feed tokens and what each iCal feed shows to whom.

A feed is opened by a secret token. Only the token's SHA-256 is stored; the secret appears once,
in the answer that creates (or rotates) it. Every fetch checks again what the token's owner may
see now: a deactivated user's feeds, and the lab and approval feeds of someone who no longer
manages the lab, answer 404; an instrument feed shows other organizations' bookings as "booked"
to anyone who is not (any more) in that organization or managing the lab.

Each feed is read with one query of plain columns (no ORM objects, no per-event queries); its
fingerprint for cheap revalidation is one aggregate query over the same rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import hmac
import re
import secrets
from functools import cache
from types import SimpleNamespace
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session, joinedload

from labbook.accounts.models import Organization, User, lab_managers
from labbook.accounts.services import managed_labs
from labbook.audit.services import record
from labbook.booking.calendar import booking_visibility
from labbook.booking.models import Booking, BookingState
from labbook.calendars.ical import BookingFacts, EventData, EventWriter, subscriber_locale
from labbook.calendars.models import FeedToken
from labbook.catalogue.models import Instrument, Lab
from labbook.catalogue.services import lab_by_code
from labbook.core.engine import locked
from labbook.core.errors import NotFound, PermissionDenied, Problem, ValidationError
from labbook.i18n import localized

#: A feed covers bookings from this long ago …
WINDOW_BACK = dt.timedelta(days=90)
#: … up to this far ahead.
WINDOW_AHEAD = dt.timedelta(days=365)
#: Cancelled, rejected and expired bookings stay (as STATUS:CANCELLED) this long after they
#: ended, so that calendars which saw them learn that they are off.
ENDED_KEPT = dt.timedelta(days=30)
ENDED_STATES = (BookingState.CANCELLED, BookingState.REJECTED, BookingState.EXPIRED)
#: ``last_used_at`` is written at most this often, not on every poll.
LAST_USED_RESOLUTION = dt.timedelta(hours=1)

#: What ``secrets.token_urlsafe(32)`` returns: 43 URL-safe characters, 256 random bits.
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
_LAB_CODE = re.compile(r"[A-Za-z0-9_-]{1,16}")
_MAX_ID = 2**31 - 1


class FeedKind(enum.StrEnum):
    MINE = "mine"
    INSTRUMENT = "instrument"
    LAB = "lab"
    APPROVALS = "approvals"


@dataclasses.dataclass(frozen=True)
class Scope:
    """What a feed token opens: ``mine``, ``instrument:<id>``, ``lab:<CODE>`` or ``approvals``."""

    kind: FeedKind
    instrument_id: int | None = None
    lab_code: str | None = None

    def __str__(self) -> str:
        if self.kind == FeedKind.INSTRUMENT:
            return f"instrument:{self.instrument_id}"
        if self.kind == FeedKind.LAB:
            return f"lab:{self.lab_code}"
        return self.kind.value

    @classmethod
    def parse(cls, text: Any) -> Scope:
        """The scope written as ``text``; a ValidationError (code ``invalid_scope``) otherwise."""
        if isinstance(text, str):
            kind, _sep, argument = text.strip().partition(":")
            if not _sep and kind in (FeedKind.MINE, FeedKind.APPROVALS):
                return cls(FeedKind(kind))
            if kind == FeedKind.INSTRUMENT and argument.isascii() and argument.isdigit() \
                    and 0 < int(argument) <= _MAX_ID:
                return cls(FeedKind.INSTRUMENT, instrument_id=int(argument))
            if kind == FeedKind.LAB and _LAB_CODE.fullmatch(argument):
                return cls(FeedKind.LAB, lab_code=argument.upper())
        message = _("The scope must be “mine”, “instrument:<id>”, “lab:<code>” or “approvals”.")
        raise ValidationError(message, code="invalid_scope",
                              problems=[Problem("invalid_scope", message, field="scope")])


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# -- managing tokens --------------------------------------------------------------------------


def _invalid_scope(message: str) -> ValidationError:
    return ValidationError(message, code="invalid_scope",
                           problems=[Problem("invalid_scope", message, field="scope")])


def check_scope(session: Session, actor: User, scope: Scope) -> None:
    """Refuse a scope that does not exist (422) or that ``actor`` may not subscribe to (403)."""
    if scope.kind == FeedKind.INSTRUMENT:
        if session.get(Instrument, scope.instrument_id) is None:
            raise _invalid_scope(_("No instrument with id %(id)d.", id=scope.instrument_id))
    elif scope.kind == FeedKind.LAB:
        lab = lab_by_code(session, scope.lab_code)
        if lab is None:
            raise _invalid_scope(_("Unknown lab %(code)s.", code=scope.lab_code))
        if not actor.manages(lab):
            raise PermissionDenied(_("Only the lab's managers may subscribe to all of its "
                                     "bookings."), code="forbidden_scope")
    elif scope.kind == FeedKind.APPROVALS and not managed_labs(session, actor):
        raise PermissionDenied(_("Only lab managers have bookings awaiting their approval."),
                               code="forbidden_scope")


def _new_token(session: Session, actor: User, scope: Scope, *, now: dt.datetime,
               rotated_from: FeedToken | None = None) -> tuple[FeedToken, str]:
    secret = secrets.token_urlsafe(32)
    token = FeedToken(user=actor, scope=str(scope), token_hash=hash_secret(secret),
                      created_at=now, rotated_from=rotated_from)
    session.add(token)
    session.flush()
    return token, secret


def create_feed_token(session: Session, actor: User, scope: Scope, *,
                      now: dt.datetime) -> tuple[FeedToken, str]:
    """A new subscription for ``actor``; the secret is returned once and only its hash kept."""
    check_scope(session, actor, scope)
    token, secret = _new_token(session, actor, scope, now=now)
    record(session, actor, token, "create", at=now, scope=token.scope)
    return token, secret


def _lock_own_token(session: Session, actor: User, token: FeedToken) -> FeedToken:
    """``token`` read afresh under a row lock, if it is still one of ``actor``'s working
    subscriptions: of two rotations or revocations at the same moment, the second waits for the
    first and then finds the token gone, as it would have one after the other."""
    current = locked(session, FeedToken, token.id)
    if current is None or current.user_id != actor.id or current.revoked_at is not None:
        raise NotFound(_("No such calendar subscription."))
    return current


def rotate_feed_token(session: Session, actor: User, token: FeedToken, *,
                      now: dt.datetime) -> tuple[FeedToken, str]:
    """Replace ``token`` by a new secret with the same scope; the old URL stops working."""
    token = _lock_own_token(session, actor, token)
    check_scope(session, actor, Scope.parse(token.scope))
    token.revoked_at = now
    new, secret = _new_token(session, actor, Scope.parse(token.scope), now=now,
                             rotated_from=token)
    record(session, actor, new, "rotate", at=now, scope=new.scope, rotated_from=token.id)
    return new, secret


def revoke_feed_token(session: Session, actor: User, token: FeedToken, *,
                      now: dt.datetime) -> None:
    """Stop ``token``'s URL for good; one already revoked is not found."""
    token = _lock_own_token(session, actor, token)
    token.revoked_at = now
    record(session, actor, token, "revoke", at=now, scope=token.scope)


def get_feed_token(session: Session, actor: User, token_id: int) -> FeedToken:
    """One of ``actor``'s subscriptions still in use; anybody else's is simply not found."""
    token = session.get(FeedToken, token_id)
    if token is None or token.user_id != actor.id or token.revoked_at is not None:
        raise NotFound(_("No such calendar subscription."))
    return token


def feed_tokens_of(session: Session, user: User) -> list[FeedToken]:
    """``user``'s subscriptions that still work, oldest first."""
    return list(session.scalars(
        select(FeedToken).where(FeedToken.user_id == user.id, FeedToken.revoked_at.is_(None))
        .order_by(FeedToken.created_at, FeedToken.id)))


def scope_label(session: Session, scope: Scope) -> str:
    """The scope in words, in the current language."""
    if scope.kind == FeedKind.MINE:
        return _("My bookings")
    if scope.kind == FeedKind.APPROVALS:
        return _("Awaiting my approval")
    if scope.kind == FeedKind.INSTRUMENT:
        instrument = session.get(Instrument, scope.instrument_id)
        if instrument is None:
            return _("Instrument %(id)d (no longer exists)", id=scope.instrument_id)
        return _("Instrument: %(name)s (%(code)s)", name=localized(instrument, "name"),
                 code=instrument.code)
    lab = lab_by_code(session, scope.lab_code)
    return _("Lab: %(name)s, every booking",
             name=localized(lab, "name") if lab else scope.lab_code)


# -- serving feeds ----------------------------------------------------------------------------


@cache
def _token_statement() -> Select:
    return select(FeedToken).where(FeedToken.token_hash == bindparam("digest")) \
        .options(joinedload(FeedToken.user))


def token_for_secret(session: Session, secret: str) -> FeedToken | None:
    """The working token of an active user for ``secret``, or None.

    Malformed secrets are refused before any query; the token is found by the hash of the secret
    (so nothing secret is compared byte by byte) and the stored hash is then compared in constant
    time all the same.
    """
    if not SECRET_PATTERN.fullmatch(secret):
        return None
    digest = hash_secret(secret)
    token = session.scalar(_token_statement(), {"digest": digest})
    if token is None or not hmac.compare_digest(token.token_hash.encode(), digest.encode()):
        return None
    if token.revoked_at is not None or not token.user.is_active:
        return None
    return token


def needs_touch(token: FeedToken, now: dt.datetime) -> bool:
    """Whether ``last_used_at`` is old enough to be written again."""
    return token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION


@dataclasses.dataclass
class Feed:
    """A token's feed as its owner may see it now."""

    token: FeedToken
    viewer: User
    scope: Scope
    instrument: Instrument | None = None
    lab: Lab | None = None
    lab_ids: tuple[int, ...] = ()

    @property
    def locale(self) -> str:
        return subscriber_locale(self.viewer)

    def name(self) -> str:
        """The calendar's name (X-WR-CALNAME) in the subscriber's language."""
        with force_locale(self.locale):
            if self.scope.kind == FeedKind.MINE:
                return _("labbook: my bookings")
            if self.scope.kind == FeedKind.APPROVALS:
                return _("labbook: awaiting my approval")
            if self.instrument is not None:
                return _("labbook: %(name)s (%(code)s)",
                         name=localized(self.instrument, "name"), code=self.instrument.code)
            assert self.lab is not None
            return _("labbook: %(lab)s, every booking", lab=localized(self.lab, "name"))

    def viewer_key(self) -> tuple:
        """What of the subscriber decides what the feed shows them."""
        viewer = self.viewer
        managed = tuple(sorted(lab.id for lab in viewer.managed_labs)) \
            if viewer.is_lab_manager else ()
        return (viewer.id, viewer.locale, viewer.organization_id, viewer.role.value, managed)


@cache
def _lab_with_managership() -> Select:
    """A lab by code and whether a user is among its managers, in one query: every poll of a
    lab feed re-checks the subscriber's access."""
    is_manager = select(lab_managers.c.lab_id).where(
        lab_managers.c.lab_id == Lab.id, lab_managers.c.user_id == bindparam("user_id")
    ).exists().label("is_manager")
    return select(Lab, is_manager).where(Lab.code == bindparam("code"))


def open_feed(session: Session, token: FeedToken) -> Feed | None:
    """The feed ``token`` opens for its owner now, or None if they may no longer see it."""
    viewer = token.user
    if not viewer.is_active:
        return None
    try:
        scope = Scope.parse(token.scope)
    except ValidationError:
        return None
    feed = Feed(token, viewer, scope)
    if scope.kind == FeedKind.INSTRUMENT:
        feed.instrument = session.get(Instrument, scope.instrument_id,
                                      options=[joinedload(Instrument.lab)])
        if feed.instrument is None:
            return None
    elif scope.kind == FeedKind.LAB:
        row = session.execute(_lab_with_managership(),
                              {"code": scope.lab_code, "user_id": viewer.id}).first()
        if row is None or not (viewer.is_admin or (viewer.is_lab_manager and row.is_manager)):
            return None
        feed.lab = row.Lab
    elif scope.kind == FeedKind.APPROVALS:
        feed.lab_ids = tuple(lab.id for lab in managed_labs(session, viewer))
        if not feed.lab_ids:
            return None
    return feed


FACT_COLUMNS = (
    Booking.id, Booking.user_id, Booking.organization_id, Booking.instrument_id, Booking.state,
    Booking.start_at, Booking.end_at, Booking.purpose, Booking.project_ref, Booking.sequence,
    Booking.created_at, Booking.updated_at, Instrument.code, Instrument.name_zh,
    Instrument.name_en, Instrument.room, Lab.id, Lab.name_zh, Lab.name_en, Lab.location_zh,
    Lab.location_en, User.name, Organization.name,
)
assert len(FACT_COLUMNS) == len(BookingFacts._fields)


@cache
def _feed_statement(kind: FeedKind, *, aggregate: bool) -> Select:
    """The query of a kind of feed, built once: the rows, or their fingerprint.

    Parameters: ``window_start``, ``window_end``, ``cutoff`` and, by kind, ``user_id``,
    ``instrument_id``, ``lab_id`` or ``lab_ids``.
    """
    if aggregate:
        query = select(func.count(Booking.id), func.coalesce(func.sum(Booking.id), 0),
                       func.coalesce(func.sum(Booking.sequence), 0),
                       func.max(Booking.updated_at)).select_from(Booking)
    else:
        query = select(*FACT_COLUMNS).select_from(Booking)
    ended_at = func.coalesce(Booking.cancelled_at, Booking.decided_at, Booking.updated_at)
    query = query.join(Instrument, Booking.instrument_id == Instrument.id).where(
        Booking.end_at > bindparam("window_start"),
        Booking.start_at < bindparam("window_end"),
        or_(Booking.state.not_in(ENDED_STATES),
            and_(ended_at >= bindparam("cutoff"), Booking.updated_at >= bindparam("cutoff"))))
    if kind == FeedKind.MINE:
        query = query.where(Booking.user_id == bindparam("user_id"))
    elif kind == FeedKind.INSTRUMENT:
        query = query.where(Booking.instrument_id == bindparam("instrument_id"))
    elif kind == FeedKind.LAB:
        query = query.where(Instrument.lab_id == bindparam("lab_id"))
    else:
        # Awaiting approval: pending requests. Approved ones leave the feed; those rejected,
        # expired or withdrawn while pending (no decision recorded) stay a while as cancelled.
        query = query.where(
            Instrument.lab_id.in_(bindparam("lab_ids", expanding=True)),
            or_(Booking.state.in_((BookingState.PENDING, BookingState.REJECTED,
                                   BookingState.EXPIRED)),
                and_(Booking.state == BookingState.CANCELLED, Booking.decided_at.is_(None))))
    if aggregate:
        return query
    return query.join(Lab, Instrument.lab_id == Lab.id) \
        .join(User, Booking.user_id == User.id) \
        .join(Organization, Booking.organization_id == Organization.id) \
        .order_by(Booking.start_at, Booking.id)


def _parameters(feed: Feed, now: dt.datetime) -> dict[str, Any]:
    """The feed's rows at ``now``: its window, and what its scope picks."""
    parameters: dict[str, Any] = {"window_start": now - WINDOW_BACK,
                                  "window_end": now + WINDOW_AHEAD, "cutoff": now - ENDED_KEPT}
    kind = feed.scope.kind
    if kind == FeedKind.MINE:
        parameters["user_id"] = feed.viewer.id
    elif kind == FeedKind.INSTRUMENT:
        assert feed.instrument is not None
        parameters["instrument_id"] = feed.instrument.id
    elif kind == FeedKind.LAB:
        assert feed.lab is not None
        parameters["lab_id"] = feed.lab.id
    else:
        parameters["lab_ids"] = list(feed.lab_ids)
    return parameters


def feed_bookings(session: Session, feed: Feed, now: dt.datetime) -> list[BookingFacts]:
    """The feed's bookings in a stable order (start, then id), in a single query."""
    query = _feed_statement(feed.scope.kind, aggregate=False)
    return [BookingFacts(*row) for row in session.execute(query, _parameters(feed, now))]


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """A summary of the feed's rows that changes whenever one is added, removed or changed.

    Every change to a booking moves its ``updated_at`` and (for what calendars see) its
    ``sequence``; a booking entering or leaving the window changes the count and the id sum.
    """

    count: int
    id_sum: int
    sequence_sum: int
    newest_change: dt.datetime | None

    @classmethod
    def of(cls, bookings: list[BookingFacts]) -> Fingerprint:
        """The fingerprint of rows already loaded (equal to ``feed_fingerprint`` for them)."""
        return cls(len(bookings), sum(b.id for b in bookings), sum(b.sequence for b in bookings),
                   max((b.updated_at for b in bookings), default=None))

    def key(self, feed: Feed) -> tuple:
        return (feed.token.token_hash, str(feed.scope), feed.viewer_key(), self.count,
                self.id_sum, self.sequence_sum, self.newest_change)


def feed_fingerprint(session: Session, feed: Feed, now: dt.datetime) -> Fingerprint:
    """The feed's fingerprint, from one aggregate query (no rows are loaded)."""
    query = _feed_statement(feed.scope.kind, aggregate=True)
    count, id_sum, sequence_sum, newest = session.execute(query, _parameters(feed, now)).one()
    return Fingerprint(int(count), int(id_sum), int(sequence_sum), newest)


def feed_events(feed: Feed, bookings: list[BookingFacts], *, base_url: str,
                uid_domain: str) -> list[EventData]:
    """The feed's bookings as events, each showing what the subscriber may see of it."""
    writer = EventWriter(feed.viewer, base_url=base_url, uid_domain=uid_domain)
    visibility: dict[tuple[int, int, int], str] = {}
    events = []
    for booking in bookings:
        key = (booking.user_id, booking.organization_id, booking.lab_id)
        if key not in visibility:
            visibility[key] = booking_visibility(feed.viewer, _VisibilityProbe(booking))
        events.append(writer.event(booking, visibility[key]))
    return events


class _VisibilityProbe:
    """What ``booking_visibility`` reads of a booking, for a row loaded without the ORM."""

    __slots__ = ("instrument", "organization_id", "user_id")

    def __init__(self, booking: BookingFacts) -> None:
        self.user_id = booking.user_id
        self.organization_id = booking.organization_id
        self.instrument = SimpleNamespace(lab_id=booking.lab_id)
