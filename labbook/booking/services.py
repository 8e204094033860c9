"""Bookings: making them (single or a series), cancelling, approving and rejecting them, and
the approval queue with each requester's quota use. Every function takes the acting user and
the current time. Closures (blackouts, instruments out of service) are in ``closures``, actual
use (check-in, check-out, no-shows) in ``attendance``; both change bookings with the helpers
here (``transition``, ``locked_bookings``, ``cancel_locked_booking``, ``clean_text``).

Booking writes run in a transaction that holds the database's write lock before checking
(SQLite: ``BEGIN IMMEDIATE``); on PostgreSQL an exclusion constraint rejects overlapping rows
outright. Either way two requests for the same slot cannot both succeed, and the loser gets an
ordinary ``overlap`` refusal.

Every change to an existing booking is decided on its row as it is now: the service itself
reads it afresh under a row lock (``SELECT … FOR UPDATE`` on PostgreSQL) before any check, so a
second request changing the same booking waits for the first and then sees what it did. A
transition no longer allowed is a ``Conflict`` (409 ``invalid_state``, or a code that says what
happened, such as ``already_checked_in``). Services that change several bookings lock them
together in id order, so that two of them cannot deadlock. Callers run every service here
inside ``write_transaction``; the objects they pass may be stale.

New bookings lock what their checks depend on: the instrument and its lab shared (a closure
being made there takes them exclusively, so a booking and a closure cannot both pass), and the
paying organization exclusively, so that its weekly quota is read and filled by one booking at
a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, case, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from labbook.accounts.models import Organization, User
from labbook.accounts.services import managed_labs
from labbook.audit.services import insert_recorded, insert_recorded_unless, record
from labbook.billing import estimates, receivables
from labbook.billing import services as billing
from labbook.booking import offers, rules
from labbook.booking.labels import STATE_LABELS
from labbook.booking.models import (
    CHANGE_IS_PENDING,
    Blackout,
    Booking,
    BookingChange,
    BookingSeries,
    BookingState,
    ChangeState,
)
from labbook.booking.recurrence import Recurrence
from labbook.booking.refusals import with_training_help
from labbook.booking.suggestions import Suggestion, suggest
from labbook.catalogue.models import Instrument, Lab
from labbook.core.engine import lock, locked, on_postgresql, write_transaction
from labbook.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    Problem,
    ValidationError,
)
from labbook.core.reads import fetch
from labbook.core.rows import columns_of, loaded, persistent
from labbook.notify import services as notify

MAX_PURPOSE = 500
MAX_PROJECT_REF = 100
MAX_NOTE = 1000


class BookingRefused(Conflict):
    """The rules refuse the booking; ``problems`` say why, ``suggestions`` offer other slots."""

    code = "booking_refused"

    def __init__(self, problems: list[Problem], suggestions: list[Suggestion] | None = None,
                 occurrences: list[dict] | None = None) -> None:
        super().__init__(problems[0].message if problems else _("The booking was refused."),
                         code=problems[0].code if problems else None, problems=problems)
        self.suggestions = suggestions or []
        self.occurrences = occurrences or []
        if problems and all(p.code in rules.MALFORMED_CODES for p in problems):
            self.status = 422

    def extra(self) -> dict:
        data: dict = {}
        if self.suggestions:
            data["suggestions"] = [s.as_dict() for s in self.suggestions]
        if self.occurrences:
            data["occurrences"] = self.occurrences
        return data


@dataclass
class SeriesResult:
    series: BookingSeries | None
    created: list[Booking] = field(default_factory=list)
    skipped: list[tuple[dt.datetime, dt.datetime, list[Problem]]] = field(default_factory=list)


#: What the database answers a write that lost the race for a time: PostgreSQL's exclusion
#: constraint (23P01), and its deadlock (40P01) when two writes of the same time each wait to
#: see whether the other's row commits — PostgreSQL rolls one back and the other goes on.
LOST_RACE_STATES = frozenset({"23P01", "40P01"})


def _is_overlap_violation(error: DBAPIError) -> bool:
    """The database refused a booking holding a channel (the instrument, for most) that another
    holds then: PostgreSQL's exclusion constraint or the deadlock two such writes make, or
    SQLite's trigger that stands in for the constraint."""
    return getattr(error.orig, "sqlstate", None) in LOST_RACE_STATES \
        or "ex_bookings_no_overlap" in str(error.orig)


def clean_text(value: str | None, field_name: str, limit: int, *, required: bool) -> str:
    """``value`` without surrounding blanks; refused (for ``field_name``) when ``required`` and
    blank, or longer than ``limit``."""
    text = (value or "").strip()
    if required and not text:
        message = _("Please say what the booking is for.") if field_name == "purpose" else \
            _("This field is required.")
        raise ValidationError(message, problems=[Problem("required", message, field=field_name)])
    if len(text) > limit:
        message = _("At most %(n)d characters.", n=limit)
        raise ValidationError(message, problems=[Problem("too_long_text", message,
                                                         field=field_name)])
    return text


def _no_organization(user: User | None = None, actor: User | None = None) -> ValidationError:
    """Nobody to bill: ``actor``'s own account, or ``user``'s whom they book for, belongs to no
    organization."""
    if user is not None and actor is not None and user.id != actor.id:
        message = _("%(name)s belongs to no organization, so there is nobody to bill.",
                    name=user.name)
    else:
        message = _("Your account belongs to no organization, so there is nobody to bill.")
    return ValidationError(message, problems=[Problem("no_organization", message)])


def paying_organization(user: User, actor: User | None = None) -> Organization:
    """The organization that pays for ``user``'s bookings (made by ``actor``, where someone
    else makes them)."""
    if user.organization is None:
        raise _no_organization(user, actor)
    return user.organization


@dataclass(frozen=True)
class PayingOrganization:
    """The organization that pays for a booking, read under its row lock, with its billing
    profile's ``overdue_block_days`` (the ``payment_overdue`` rule's setting) read with it, and
    where asked for whether the person booked for holds a valid training record on the
    instrument and the instrument's rate cards for the organization's tier."""

    organization: Organization
    overdue_block_days: int | None
    holds_training_record: bool | None = None
    rate_cards: estimates.RateCards | None = None


@cache
def _locked_organization():
    # ``locked`` built once (session.get builds its statement again on every call), with the
    # billing profile's setting the rules would read next rather than in a statement of its
    # own. Read in Core and made into an object (``labbook.core.rows``).
    organizations = Organization.__table__
    return (select(*columns_of(Organization),
                   receivables.overdue_block_days_of(organizations.c.id))
            .where(organizations.c.id == bindparam("id")).with_for_update(of=organizations))


def locked_paying_organization(session: Session, organization_id: int | None
                               ) -> PayingOrganization:
    """The organization ``organization_id`` read afresh under a row lock: one booking of an
    organization at a time reads its weekly quota and inserts, so two cannot both fit under
    it."""
    if organization_id is None:
        raise _no_organization()
    rows = fetch(session, _locked_organization(), {"id": organization_id})
    if not rows:
        raise _no_organization()
    return _paying_of_rows(session, rows, 0, with_training=False, instrument_id=None)


def _paying_of_rows(session: Session, rows: Sequence[Sequence[Any]], first: int, *,
                    with_training: bool, instrument_id: int | None) -> PayingOrganization:
    """The ``PayingOrganization`` of ``rows`` (``_locked_organization``'s, or
    ``_instrument_and_organization``'s) from column ``first`` on: the organization's columns,
    its overdue setting, the training record where ``with_training``, and the rate cards of
    ``instrument_id`` where given (one row each)."""
    split = first + len(columns_of(Organization))
    organization = loaded(session, Organization, rows[0][first:split])
    overdue_block_days = rows[0][split]
    # NULL where the statement asked only of an instrument that asks for training.
    training = rows[0][split + 1] if with_training else None
    holds_training_record = None if training is None else bool(training)
    cards = None
    if instrument_id is not None:
        cards_from = split + 2 if with_training else split + 1
        cards = estimates.cards_of_rows(instrument_id, organization.tier,
                                        (row[cards_from:] for row in rows))
    return PayingOrganization(organization, overdue_block_days, holds_training_record, cards)


@cache
def _instrument_and_organization(with_rate_cards: bool, of_booking: bool = False):
    # ``_instrument_with_lab(share_lock=True)`` and ``_locked_organization`` in one statement, a
    # round trip fewer for every new booking (or, ``of_booking``, every change of a booking,
    # its organization found through it) on PostgreSQL: the instrument and its lab
    # share-locked, then the organization locked for update. PostgreSQL locks a statement's
    # rows table by table in the order of its FROM list, so the architecture's order holds
    # (the instrument first; a booking read on the way is not locked); SQLAlchemy writes one
    # locking clause, so both are written out. A new booking's training record is asked only
    # of an instrument that asks for training; a change asks it with the booking's lock.
    instruments, labs = Instrument.__table__, Lab.__table__
    organizations, bookings = Organization.__table__, Booking.__table__
    joined = instruments.join(labs, labs.c.id == instruments.c.lab_id)
    query = select(*columns_of(Instrument), *columns_of(Lab), *columns_of(Organization),
                   receivables.overdue_block_days_of(organizations.c.id))
    if of_booking:
        joined = (joined.join(bookings, bookings.c.instrument_id == instruments.c.id)
                  .join(organizations, organizations.c.id == bookings.c.organization_id))
        chosen = bookings.c.id == bindparam("booking_id")
    else:
        joined = joined.join(organizations, organizations.c.id == bindparam("organization_id"))
        chosen = instruments.c.id == bindparam("instrument_id")
        query = query.add_columns(case((instruments.c.requires_qualification,
                                        rules.training_record_exists(
                                            instrument_id=instruments.c.id))))
    if with_rate_cards:
        cards = estimates.rate_card_columns()
        query = query.add_columns(*cards)
        joined = joined.outerjoin(cards[0].table, and_(
            cards[0].table.c.instrument_id == instruments.c.id,
            cards[0].table.c.tier == organizations.c.tier))
    return (query.select_from(joined).where(chosen)
            .suffix_with(f"FOR SHARE OF {instruments.name}, {labs.name} "
                         f"FOR UPDATE OF {organizations.name}", dialect="postgresql"))


def _instrument_and_paying(session: Session, instrument_id: int, user: User, actor: User, *,
                           until: dt.datetime, rate_cards: bool
                           ) -> tuple[Instrument, PayingOrganization]:
    """The instrument ``instrument_id`` with its lab, share-locked (``_instrument``), and
    ``user``'s organization locked (``locked_paying_organization``), in one statement; with
    whether ``user`` holds a training record on it valid until ``until`` where the instrument
    asks for training (the rules count a manager of its lab as trained anyway), and its rate
    cards where asked for. A moment without an offset is asked as none: the rules refuse it
    before they look at the training. Where ``user`` has no organization, ``actor`` is told
    so, once they are known to be allowed to book for them."""
    rows = fetch(session, _instrument_and_organization(rate_cards), {
        "instrument_id": instrument_id, "organization_id": user.organization_id,
        "user_id": user.id, "until": until if until.utcoffset() is not None else None})
    if not rows:
        # NotFound where there is no such instrument.
        _check_may_book_for(actor, user, _instrument(session, instrument_id))
        raise _no_organization(user, actor)
    return _instrument_with_paying(session, rows, with_training=True, rate_cards=rate_cards)


def instrument_and_paying_of_booking(session: Session, booking_id: int, *, rate_cards: bool
                                     ) -> tuple[Instrument, PayingOrganization] | None:
    """The instrument of booking ``booking_id`` with its lab, share-locked, and the
    organization that pays for it, locked, in one statement (with the instrument's rate cards
    where asked for); the booking itself is not locked. None for no such booking."""
    rows = fetch(session, _instrument_and_organization(rate_cards, of_booking=True),
                 {"booking_id": booking_id})
    if not rows:
        return None
    return _instrument_with_paying(session, rows, with_training=False, rate_cards=rate_cards)


def _instrument_with_paying(session: Session, rows: Sequence[Sequence[Any]], *,
                            with_training: bool, rate_cards: bool
                            ) -> tuple[Instrument, PayingOrganization]:
    instrument = instrument_with_lab(session, rows[0])
    first = len(columns_of(Instrument)) + len(columns_of(Lab))
    return instrument, _paying_of_rows(session, rows, first, with_training=with_training,
                                       instrument_id=instrument.id if rate_cards else None)


def _effective_problems(problems: list[Problem], *, override: bool) -> list[Problem]:
    if not override:
        return problems
    return [p for p in problems if p.code not in rules.SOFT_CODES]


def _check_override(actor: User, instrument: Instrument, override: bool) -> None:
    if override and not actor.manages_lab_id(instrument.lab_id):
        raise PermissionDenied(_("Only the lab's managers may override booking rules."),
                               code="override_not_allowed")


def _new_booking(actor: User, instrument: Instrument, organization: Organization,
                 start: dt.datetime, end: dt.datetime, purpose: str, project_ref: str,
                 overridden: list[Problem], now: dt.datetime,
                 series: BookingSeries | None = None, user: User | None = None,
                 channel_mask: int = 1) -> dict:
    """The column values of a new booking of ``user`` (``actor`` unless booked on their
    behalf), holding the channels of ``channel_mask``."""
    needs_approval = rules.needs_approval(actor, instrument)
    user = user or actor
    return {
        "instrument_id": instrument.id, "user_id": user.id, "organization_id": organization.id,
        "booked_by_id": None if user.id == actor.id else actor.id,
        "series_id": series.id if series else None, "start_at": start, "end_at": end,
        "blocked_until": end + dt.timedelta(minutes=instrument.buffer_minutes),
        "state": BookingState.PENDING if needs_approval else BookingState.APPROVED,
        "channel_mask": channel_mask, "purpose": purpose, "project_ref": project_ref,
        "is_override": bool(overridden),
        "is_late_cancellation": False, "decision_note": "", "sequence": 0,
        "created_at": now, "updated_at": now,
        "decided_by_id": None if needs_approval else actor.id,
        "decided_at": None if needs_approval else now,
    }


#: The columns of a new booking that ``_new_booking`` leaves to their defaults: empty.
_NOT_YET = {"order_line_id": None, "cancelled_by_id": None, "cancelled_at": None,
            "checked_in_at": None, "checked_out_at": None}


def _booking_of_row(session: Session, row: dict, booking_id: int) -> Booking:
    """The booking just inserted (in Core) from the column values ``row`` (``_new_booking``),
    as a persistent ORM object made from those values: what the unit of work, or reading the
    row back, would give, for a fraction of the cost."""
    values = {**_NOT_YET, **row, "id": booking_id}
    for name in ("start_at", "end_at", "blocked_until"):
        values[name] = values[name].astimezone(dt.UTC)  # as the database gives them back
    return persistent(session, Booking, values)


def _creation_details(actor: User, user: User, overridden: list[Problem]) -> dict:
    """The details of the audit event of a new booking of ``user`` made by ``actor``."""
    details: dict = {"overridden": [p.code for p in overridden]} if overridden else {}
    if user.id != actor.id:
        details["on_behalf_of"] = user.id
    return details


def attach_known(booking: Booking, actor: User, instrument: Instrument,
                 organization: Organization, user: User | None = None) -> None:
    """Give ``booking`` the related objects its request already holds, so that the rules, the
    e-mails and the answer find them without a look-up each: its ``instrument`` and paying
    ``organization`` (those the caller locked for it), its person (``user``, or ``actor`` where
    that is who it is for) and its booker (``actor``, or none)."""
    set_committed_value(booking, "instrument", instrument)
    set_committed_value(booking, "organization", organization)
    user = user or (actor if booking.user_id == actor.id else None)
    if user is not None:
        set_committed_value(booking, "user", user)
    if booking.booked_by_id is None or booking.booked_by_id == actor.id:
        set_committed_value(booking, "booked_by", None if booking.booked_by_id is None else actor)


def _insert_bookings(session: Session, actor: User, instrument: Instrument,
                     organization: Organization, rows: list[dict],
                     overridden: list[list[Problem]], now: dt.datetime,
                     user: User | None = None) -> list[Booking]:
    """Insert new bookings of ``instrument`` for ``user`` (``actor`` unless booked on their
    behalf), paid by ``organization``, each with its audit event (``insert_recorded``)."""
    user = user or actor
    bookings = [_booking_of_row(session, row, insert_recorded(
        session, Booking.__table__, row, actor, "create", at=now, to_state=row["state"].value,
        **_creation_details(actor, user, problems)))
        for row, problems in zip(rows, overridden, strict=True)]
    return _made(session, actor, instrument, organization, bookings, now, user)


def _made(session: Session, actor: User, instrument: Instrument, organization: Organization,
          bookings: list[Booking], now: dt.datetime, user: User) -> list[Booking]:
    """``bookings`` just inserted, given what the request knows of them (``attach_known``),
    and the messages about them queued."""
    for booking in bookings:
        attach_known(booking, actor, instrument, organization, user)
    notify.bookings_requested(session, bookings, now=now)
    if user.id != actor.id:
        notify.booked_for_you(session, bookings, actor, now=now)
    return bookings


def can_book_for(actor: User, user: User, instrument: Instrument) -> bool:
    """Whether ``actor`` may book ``instrument`` on behalf of ``user``: the lab's managers for
    anyone, and members of an organization that lets colleagues book for each other for one
    another."""
    if actor.manages_lab_id(instrument.lab_id):
        return True
    organization = actor.organization
    return organization is not None and user.organization_id == organization.id \
        and organization.colleagues_may_book_for_each_other


def may_book_for_others(actor: User, instrument: Instrument) -> bool:
    """Whether ``actor`` may book ``instrument`` for anyone but themselves."""
    organization = actor.organization
    return actor.manages_lab_id(instrument.lab_id) or (
        organization is not None and organization.colleagues_may_book_for_each_other)


def user_id_by_email(session: Session, email: str) -> int:
    """The id of the active user with ``email`` (the booking form's "book for"); refused with a
    message at the field otherwise."""
    user = session.scalar(select(User).where(User.email == email.strip().lower(),
                                             User.is_active.is_(True)))
    if user is None:
        message = _("Nobody with the email address %(email)s has an account.", email=email)
        raise ValidationError(message, problems=[Problem("not_found", message,
                                                         field="for_user")])
    return user.id


def booking_user(session: Session, actor: User, instrument: Instrument,
                 for_user_id: int | None) -> User:
    """Whose booking ``actor`` makes: their own, or ``for_user_id``'s when ``actor`` may book on
    their behalf (anyone else is refused as if not there)."""
    user = _person_booked_for(session, actor, for_user_id)
    _check_may_book_for(actor, user, instrument)
    return user


def _person_booked_for(session: Session, actor: User, for_user_id: int | None) -> User:
    """``actor`` (``for_user_id`` None or their own), else the active person ``for_user_id``
    names; NotFound for none. Whether ``actor`` may book for them is ``_check_may_book_for``'s
    question, once the instrument is known."""
    if for_user_id is None or for_user_id == actor.id:
        return actor
    user = session.get(User, for_user_id)
    if user is None or not user.is_active:
        message = _("No user with id %(id)d.", id=for_user_id)
        raise NotFound(message, problems=[Problem("not_found", message, field="for_user_id")])
    return user


def _check_may_book_for(actor: User, user: User, instrument: Instrument) -> None:
    if user.id != actor.id and not can_book_for(actor, user, instrument):
        raise PermissionDenied(_("You may not book for %(name)s: only the lab's managers, and "
                                 "colleagues whose organization allows it, book for others.",
                                 name=user.name), code="on_behalf_not_allowed")


def booked_for(session: Session, actor: User, instrument: Instrument, email: str | None) -> User:
    """Whose booking the booking form makes (its "Book for (email)"): ``actor``'s when
    ``email`` is empty, else that person's, where ``actor`` may book for them. The live check,
    the form's price and the booking itself all ask this, so they price the same person."""
    if not email:
        return actor
    return booking_user(session, actor, instrument, user_id_by_email(session, email))


def book_locked(session: Session, actor: User, user: User, instrument: Instrument,
                organization: Organization, *, start: dt.datetime, end: dt.datetime,
                purpose: str, project_ref: str, override: bool, now: dt.datetime,
                channels: int = 1,
                overdue_block_days: int | receivables.Unread | None = receivables.Unread.UNREAD,
                holds_training_record: bool | None = None) -> Booking:
    """Book for ``user`` inside the caller's write transaction, the instrument (shared, and its
    channels' turn taken) and the organization already locked (``overdue_block_days`` its
    billing profile's setting and ``holds_training_record`` the user's training, where read
    with it: ``PayingOrganization``); raise BookingRefused listing every problem."""
    request = rules.BookingRequest(instrument, user, organization, start, end, booked_by=actor,
                                   channels=channels, overdue_block_days=overdue_block_days,
                                   holds_training_record=holds_training_record)
    # Where the calendar can be checked by the insert itself (a single-channel instrument),
    # the other rules are checked first, and the insert is written unless something stands in
    # the way: on PostgreSQL a round trip fewer.
    guard = rules.calendar_guard(request)
    problems = rules.check_booking(session, request, now=now, skip_calendar=guard is not None)
    if guard is not None:
        if _effective_problems(problems, override=override):
            problems = rules.with_calendar_problems(session, request, problems)
        else:
            row = _new_booking(actor, instrument, organization, start, end, purpose,
                               project_ref, problems, now, user=user)
            inserted = insert_recorded_unless(
                session, guard.statement, guard.parameters, Booking.__table__, row, actor,
                "create", at=now, to_state=row["state"].value,
                **_creation_details(actor, user, problems))
            if inserted.row_id is not None:
                [booking] = _made(session, actor, instrument, organization,
                                  [_booking_of_row(session, row, inserted.row_id)], now, user)
                return booking
            problems = rules.calendar_problems_of(request, inserted.blocking) + problems
    blocking = _effective_problems(problems, override=override)
    if blocking:
        raise BookingRefused(with_training_help(session, actor, user, instrument, blocking),
                             _suggestions(session, instrument, blocking, start, end, now,
                                          channels, user))
    [booking] = _insert_bookings(session, actor, instrument, organization, [_new_booking(
        actor, instrument, organization, start, end, purpose, project_ref, problems,
        now, user=user, channel_mask=rules.choose_channels(session, request))], [problems],
        now, user=user)
    return booking


def create_booking(session: Session, actor: User, *, instrument_id: int, start: dt.datetime,
                   end: dt.datetime, purpose: str, project_ref: str = "",
                   override: bool = False, for_user_id: int | None = None,
                   channels: int = 1, now: dt.datetime) -> Booking:
    """Book ``instrument_id`` (``channels`` of its channels) for ``actor`` (or, on their
    behalf, for ``for_user_id``, whose organization pays); raise BookingRefused listing every
    problem."""
    return _create_booking(session, actor, instrument_id=instrument_id, start=start, end=end,
                           purpose=purpose, project_ref=project_ref, override=override,
                           for_user_id=for_user_id, channels=channels, now=now,
                           priced=False).booking


@dataclass(frozen=True)
class PricedBooking:
    """A booking just made, with its price and cancellation terms for the one who made it."""

    booking: Booking
    price: estimates.BookingPrice | None


def create_priced_booking(session: Session, actor: User, *, instrument_id: int,
                          start: dt.datetime, end: dt.datetime, purpose: str,
                          project_ref: str = "", override: bool = False,
                          for_user_id: int | None = None, channels: int = 1,
                          now: dt.datetime) -> PricedBooking:
    """``create_booking``, with the booking's price for ``actor`` at ``now`` (what the API
    answers with): the rate cards are read with the organization's lock (after the commit
    their read would be a transaction of its own, on PostgreSQL a BEGIN and a ROLLBACK more),
    and the price worked out from them once the booking is committed."""
    return _create_booking(session, actor, instrument_id=instrument_id, start=start, end=end,
                           purpose=purpose, project_ref=project_ref, override=override,
                           for_user_id=for_user_id, channels=channels, now=now, priced=True)


def _create_booking(session: Session, actor: User, *, instrument_id: int, start: dt.datetime,
                    end: dt.datetime, purpose: str, project_ref: str, override: bool,
                    for_user_id: int | None, channels: int, now: dt.datetime,
                    priced: bool) -> PricedBooking:
    purpose = clean_text(purpose, "purpose", MAX_PURPOSE, required=True)
    project_ref = clean_text(project_ref, "project_ref", MAX_PROJECT_REF, required=False)
    try:
        with write_transaction(session):
            # The person booked for looked up first (a plain read), so that the instrument and
            # their organization are locked in one statement whoever the booking is for.
            user = _person_booked_for(session, actor, for_user_id)
            instrument, paying = _instrument_and_paying(session, instrument_id, user, actor,
                                                        until=end, rate_cards=priced)
            _check_override(actor, instrument, override)
            _check_may_book_for(actor, user, instrument)
            _lock_channels(session, instrument)
            booking = book_locked(session, actor, user, instrument, paying.organization,
                                  start=start, end=end, purpose=purpose,
                                  project_ref=project_ref, override=override,
                                  channels=channels, now=now,
                                  overdue_block_days=paying.overdue_block_days,
                                  holds_training_record=paying.holds_training_record)
    except (IntegrityError, OperationalError) as error:
        if not _is_overlap_violation(error):
            raise
        raise _lost_race(session, instrument_id, start, end, now, user) from None
    # Priced from the rate cards read under the lock, after the commit: no query, and the
    # writers' lock is not held while the price is worked out.
    price = estimates.booking_price(session, booking, actor, now=now,
                                    cards=paying.rate_cards) if priced else None
    return PricedBooking(booking, price)


def book_for_order_line(session: Session, actor: User, *, instrument_id: int,
                        organization_id: int, order_line_id: int, start: dt.datetime,
                        end: dt.datetime, purpose: str, now: dt.datetime) -> Booking:
    """Book ``instrument_id`` for a testing-order line: the lab's staff (``actor``) book it for
    the customer's organization, under every booking rule; the booking names the line
    (``order_line_id``). Runs in the caller's write transaction, which has checked the line."""
    purpose = clean_text(purpose, "purpose", MAX_PURPOSE, required=True)
    instrument = _instrument(session, instrument_id, share_lock=True)
    organization = locked(session, Organization, organization_id)
    if organization is None:
        raise _no_organization()
    _lock_channels(session, instrument)
    try:
        with session.begin_nested():
            booking = book_locked(session, actor, actor, instrument, organization, start=start,
                                  end=end, purpose=purpose, project_ref="", override=False,
                                  now=now)
            booking.order_line_id = order_line_id
            session.flush()
    except (IntegrityError, OperationalError) as error:
        if not _is_overlap_violation(error):
            raise
        raise _lost_race(session, instrument_id, start, end, now) from None
    return booking


#: The first key of the advisory locks that take turns at an instrument's channels.
CHANNELS_LOCK = 0x4C42


def _lock_channels(session: Session, instrument: Instrument) -> None:
    """On an instrument with channels, bookings take turns choosing theirs: the next one waits
    for the last to commit and then sees the channels it took (READ COMMITTED), instead of
    choosing the same ones and losing to the exclusion constraint although others were free.
    Single-channel instruments need no turns: there is nothing else to choose. SQLite's
    writers already take turns (``BEGIN IMMEDIATE``). Taken after the paying organization's
    lock and before any booking's (the architecture's order of locks)."""
    if instrument.channels > 1 and on_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:namespace, :instrument_id)"),
                        {"namespace": CHANNELS_LOCK, "instrument_id": instrument.id})


def _lost_race(session: Session, instrument_id: int, start: dt.datetime, end: dt.datetime,
               now: dt.datetime, user: User | None = None) -> BookingRefused:
    instrument = _instrument(session, instrument_id)
    overlap = rules.problem("overlap", _("Someone else booked this time a moment ago."),
                            (start, end))
    return BookingRefused([overlap], suggest(session, instrument, start, end, now=now,
                                             user=user))


#: Refusals for the time: other times (slots) answer them. A taken or closed time is answered
#: with the next free slots, a rule of the clock with the nearest that keep it.
TAKEN_CODES = frozenset({"overlap", "blackout"})
CLOCK_CODES = frozenset({"too_soon", "outside_hours", "holiday_closed"})
#: Refusals of this instrument for this person or for now: other instruments answer them.
OTHER_INSTRUMENT_CODES = frozenset({"not_qualified", "instrument_unavailable"})
#: Refusals that no other time or instrument helps with.
HOPELESS_CODES = frozenset({"org_suspended", "payment_overdue", "suspended", "in_past",
                            "too_short", "too_long", *rules.MALFORMED_CODES})


def _suggestions(session: Session, instrument: Instrument, problems: list[Problem],
                 start: dt.datetime, end: dt.datetime, now: dt.datetime,
                 channels: int = 1, user: User | None = None) -> list[Suggestion]:
    """Other slots for a refused booking of ``user``: on this instrument where only the time
    is at fault, and on others of its kind that ``user`` may book."""
    codes = {p.code for p in problems}
    if codes & HOPELESS_CODES or not codes & (TAKEN_CODES | CLOCK_CODES | OTHER_INSTRUMENT_CODES):
        return []
    return suggest(session, instrument, start, end, now=now, channels=channels, user=user,
                   on_instrument=not codes & OTHER_INSTRUMENT_CODES,
                   nearest=not codes & TAKEN_CODES)


@dataclass(frozen=True)
class BookingPreview:
    """What ``create_booking`` would answer, found without booking."""

    #: Every problem the rules find, the soft ones too where a manager overrides them.
    problems: list[Problem]
    #: Whether the booking would be made: no problem, or only soft ones that are overridden.
    is_possible: bool
    #: Other slots, where the time asked for is taken or closed.
    suggestions: list[Suggestion]


def preview_booking(session: Session, actor: User, instrument: Instrument, *,
                    start: dt.datetime, end: dt.datetime, override: bool,
                    now: dt.datetime, channels: int = 1,
                    user: User | None = None) -> BookingPreview:
    """What the rules say of ``actor`` booking ``instrument`` from ``start`` to ``end`` (for
    ``user``, on their behalf, if given: see ``booked_for``), decided as ``create_booking``
    decides it; nothing is booked. ``override`` counts only for the lab's managers and is
    ignored for anyone else. Read without locks: the answer is advice, and ``create_booking``
    decides afresh."""
    user = user or actor
    organization = paying_organization(user, actor)
    problems = rules.check_booking(
        session, rules.BookingRequest(instrument, user, organization, start, end,
                                      booked_by=actor, channels=channels), now=now)
    blocking = _effective_problems(
        problems, override=override and actor.manages_lab_id(instrument.lab_id))
    return BookingPreview(with_training_help(session, actor, user, instrument, problems),
                          not blocking,
                          _suggestions(session, instrument, blocking, start, end, now,
                                       channels, user))


@cache
def _instrument_with_lab(share_lock: bool):
    # Built on first use, once every model is mapped, and then reused: building a statement
    # costs more than running it. Read in Core, the two rows are made into objects for a
    # fraction of what the ORM's loading costs (``labbook.core.rows``).
    instrument, lab = Instrument.__table__.c, Lab.__table__.c
    query = (select(*columns_of(Instrument), *columns_of(Lab))
             .join_from(Instrument.__table__, Lab.__table__, lab.id == instrument.lab_id)
             .where(instrument.id == bindparam("instrument_id")))
    return query.with_for_update(read=True) if share_lock else query


def _instrument(session: Session, instrument_id: int, *, share_lock: bool = False) -> Instrument:
    """The instrument with its lab, as they are now (inside a write transaction, even where
    this request loaded them before); with ``share_lock`` both rows are locked against a
    closure being made (``closures.create_blackout``) until the transaction ends."""
    rows = fetch(session, _instrument_with_lab(share_lock),
                 {"instrument_id": instrument_id})
    if not rows:
        message = _("No instrument with id %(id)d.", id=instrument_id)
        raise NotFound(message, problems=[Problem("not_found", message, field="instrument_id")])
    return instrument_with_lab(session, rows[0])


def instrument_with_lab(session: Session, values: Sequence[Any]) -> Instrument:
    """The instrument, with its lab, of a row that holds ``columns_of(Instrument)`` and then
    ``columns_of(Lab)`` (and nothing after them that is read here)."""
    split = len(columns_of(Instrument))
    instrument = loaded(session, Instrument, values[:split])
    set_committed_value(instrument, "lab",
                        loaded(session, Lab, values[split:split + len(columns_of(Lab))]))
    return instrument


def create_series(session: Session, actor: User, *, instrument_id: int, start: dt.datetime,
                  end: dt.datetime, purpose: str, recurrence: Recurrence,
                  skip_conflicts: bool, project_ref: str = "", override: bool = False,
                  channels: int = 1, now: dt.datetime) -> SeriesResult:
    """Book every occurrence of ``recurrence``.

    With ``skip_conflicts`` the free occurrences are booked and the others reported; without it
    one refused occurrence refuses the whole series.
    """
    purpose = clean_text(purpose, "purpose", MAX_PURPOSE, required=True)
    project_ref = clean_text(project_ref, "project_ref", MAX_PROJECT_REF, required=False)
    try:
        with write_transaction(session):
            instrument = _instrument(session, instrument_id, share_lock=True)
            _check_override(actor, instrument, override)
            paying = locked_paying_organization(session, actor.organization_id)
            organization = paying.organization
            _lock_channels(session, instrument)
            plan = _plan_series(session, actor, instrument, organization, start, end,
                                recurrence, override=override, channels=channels, now=now,
                                overdue_block_days=paying.overdue_block_days)
            accepted, held_channels = plan.accepted, plan.held_channels
            result = SeriesResult(series=None, skipped=plan.skipped)
            if result.skipped and (not skip_conflicts or not accepted):
                raise BookingRefused(
                    [p for _s, _e, problems in result.skipped for p in problems],
                    occurrences=[_occurrence_dict(s, e, p) for s, e, p in result.skipped])
            series = BookingSeries(instrument_id=instrument.id, user_id=actor.id,
                                   frequency=recurrence.frequency, interval=recurrence.interval,
                                   weekdays=",".join(map(str, recurrence.weekdays)),
                                   count=recurrence.count, until=recurrence.until,
                                   created_at=now)
            session.add(series)
            session.flush()
            result.created = _insert_bookings(
                session, actor, instrument, organization,
                [_new_booking(actor, instrument, organization, occurrence_start, occurrence_end,
                              purpose, project_ref, overridden, now, series,
                              channel_mask=mask)
                 for (occurrence_start, occurrence_end, overridden), (_s, _e, mask)
                 in zip(accepted, held_channels, strict=True)],
                [overridden for _s, _e, overridden in accepted], now)
            result.series = series
    except (IntegrityError, OperationalError) as error:
        if not _is_overlap_violation(error):
            raise
        raise _lost_race(session, instrument_id, start, end, now, actor) from None
    return result


@dataclass
class _SeriesPlan:
    """Each occurrence of a series the rules accept (with the problems overridden, and the
    channels it would hold), and each they refuse (with its problems)."""

    accepted: list[tuple[dt.datetime, dt.datetime, list[Problem]]] = field(default_factory=list)
    held_channels: list[tuple[dt.datetime, dt.datetime, int]] = field(default_factory=list)
    skipped: list[tuple[dt.datetime, dt.datetime, list[Problem]]] = field(default_factory=list)


def _plan_series(session: Session, actor: User, instrument: Instrument,
                 organization: Organization, start: dt.datetime, end: dt.datetime,
                 recurrence: Recurrence, *, override: bool, channels: int,
                 now: dt.datetime,
                 overdue_block_days: int | receivables.Unread | None = receivables.Unread.UNREAD
                 ) -> _SeriesPlan:
    """What the rules say of each occurrence of ``recurrence``, each checked against the
    bookings there are and the occurrences accepted before it; BookingRefused when the time
    itself is malformed. Books nothing. ``overdue_block_days`` as ``book_locked`` takes it."""
    # Only the malformed codes are kept from this check: the rules are told not to read the
    # overdue setting or the training record for it.
    malformed = [p for p in rules.check_booking(session, rules.BookingRequest(
        instrument, actor, organization, start, end, channels=channels, overdue_block_days=None,
        holds_training_record=True), now=now, skip_calendar=True)
        if p.code in rules.MALFORMED_CODES]
    if malformed:
        raise BookingRefused(malformed)
    occurrences = list(recurrence.occurrences(start, end, ZoneInfo(instrument.lab.timezone)))
    # What is the same for every occurrence is asked once, not once an occurrence: whether
    # the organization is overdue now (if not, no occurrence asks again), and whether the
    # person's training covers the last occurrence, and so every earlier one (where it does
    # not, each occurrence asks for itself).
    if receivables.overdue_problem(session, organization.id, now,
                                   allowed=overdue_block_days) is None:
        overdue_block_days = None
    covers_all = not instrument.requires_qualification or rules.is_qualified(
        session, actor, instrument, max((e for _s, e in occurrences), default=end))

    def request_for(occurrence_start: dt.datetime, occurrence_end: dt.datetime
                    ) -> rules.BookingRequest:
        return rules.BookingRequest(instrument, actor, organization, occurrence_start,
                                    occurrence_end, channels=channels,
                                    overdue_block_days=overdue_block_days,
                                    holds_training_record=True if covers_all else None)

    plan = _SeriesPlan()
    held: list[tuple[dt.datetime, dt.datetime]] = []
    buffer = dt.timedelta(minutes=instrument.buffer_minutes)
    for occurrence_start, occurrence_end in occurrences:
        request = request_for(occurrence_start, occurrence_end)
        problems = rules.calendar_problems(session, request, held, plan.held_channels) + \
            rules.check_booking(session, request, now=now, skip_calendar=True,
                                unsaved=[(s, e) for s, e, _p in plan.accepted])
        blocking = _effective_problems(problems, override=override)
        if blocking:
            plan.skipped.append((occurrence_start, occurrence_end, blocking))
        else:
            plan.accepted.append((occurrence_start, occurrence_end, problems))
            held.append((occurrence_start, occurrence_end + buffer))
            plan.held_channels.append((occurrence_start, occurrence_end + buffer,
                                       rules.choose_channels(session, request,
                                                             plan.held_channels)))
    return plan


def preview_series(session: Session, actor: User, instrument: Instrument, *,
                   start: dt.datetime, end: dt.datetime, recurrence: Recurrence,
                   override: bool, now: dt.datetime, channels: int = 1) -> list[dict]:
    """The occurrences of the series ``create_series`` would refuse now, each with its
    problems (as ``BookingRefused.occurrences`` lists them); nothing is booked. Read without
    locks, like ``preview_booking``; BookingRefused when the time itself is malformed."""
    plan = _plan_series(session, actor, instrument, paying_organization(actor), start, end,
                        recurrence, override=override and actor.manages_lab_id(instrument.lab_id),
                        channels=channels, now=now)
    return [_occurrence_dict(s, e, p) for s, e, p in plan.skipped]


def _occurrence_dict(start: dt.datetime, end: dt.datetime, problems: list[Problem]) -> dict:
    return {"start": start.isoformat(), "end": end.isoformat(),
            "problems": [p.as_dict() for p in problems]}


# -- changes to existing bookings -------------------------------------------------------------


def can_view(actor: User, booking: Booking) -> bool:
    return booking.user_id == actor.id or actor.manages_lab_id(booking.instrument.lab_id)


def can_cancel(actor: User, booking: Booking) -> bool:
    return can_view(actor, booking) and booking.can_become(BookingState.CANCELLED)


def can_decide(actor: User, booking: Booking) -> bool:
    return actor.manages_lab_id(booking.instrument.lab_id)


def get_booking(session: Session, actor: User, booking_id: int) -> Booking:
    """The booking, if ``actor`` may see it; others' bookings are simply not found."""
    booking = session.get(Booking, booking_id)
    if booking is None or not can_view(actor, booking):
        raise NotFound(_("No booking with id %(id)d.", id=booking_id))
    return booking


def get_managed_booking(session: Session, actor: User, booking_id: int) -> Booking:
    """The booking, if it is in a lab ``actor`` manages: what the managers' pages act on. Any
    other is not found, as if it did not exist."""
    booking = session.get(Booking, booking_id)
    if booking is None or not actor.manages_lab_id(booking.instrument.lab_id):
        raise NotFound(_("No booking with id %(id)d.", id=booking_id))
    return booking


def locked_bookings(session: Session, *conditions) -> list[Booking]:
    """The bookings meeting ``conditions``, read afresh under row locks taken in id order (the
    order every service that changes several bookings takes them in, so none can deadlock
    another), by id."""
    return list(session.scalars(
        select(Booking).where(*conditions).order_by(Booking.id).with_for_update()
        .execution_options(populate_existing=True)))


def withdraw_pending_changes(session: Session, actor: User | None, booking: Booking, *,
                             now: dt.datetime) -> None:
    """Drop the change of ``booking`` that waits for approval, if any (a later change, or the
    booking's end, takes its place); the caller holds the booking's row lock."""
    for change in session.scalars(select(BookingChange).where(
            BookingChange.booking_id == booking.id, CHANGE_IS_PENDING)
            .with_for_update().execution_options(populate_existing=True)):
        change.state = ChangeState.WITHDRAWN
        change.decided_at = now
        record(session, actor, change, "withdraw", at=now, from_state="pending",
               to_state="withdrawn", booking_id=booking.id)
    session.flush()


def release_slot(session: Session, actor: User | None, booking: Booking, *, was_holding: bool,
                 now: dt.datetime) -> None:
    """``booking`` just stopped holding its slot (cancelled, rejected, expired, no-show): drop
    its change waiting for approval and offer the time to the waiting list."""
    withdraw_pending_changes(session, actor, booking, now=now)
    if was_holding:
        offers.offer_freed_time(session, booking.instrument, booking.blocked_until, now=now)


def transition(session: Session, actor: User | None, booking: Booking, to: BookingState,
               action: str, *, now: dt.datetime, note: str = "", **details) -> None:
    """Move ``booking`` to ``to`` and record it; the caller holds the booking's row lock."""
    if not booking.can_become(to):
        raise Conflict(_("A booking that is “%(state)s” cannot become “%(to)s”.",
                         state=STATE_LABELS[booking.state], to=STATE_LABELS[to]),
                       code="invalid_state")
    before = booking.state
    booking.state = to
    booking.sequence += 1
    booking.updated_at = now
    record(session, actor, booking, action, at=now, from_state=before.value,
           to_state=to.value, note=note, **details)


def cancel_booking(session: Session, actor: User, booking: Booking, *, now: dt.datetime,
                   note: str = "", by_lab: bool = False,
                   blackout: Blackout | None = None) -> Booking:
    """Cancel ``booking``.

    A cancellation by the booking's own user inside the instrument's cancellation window is
    recorded as late (and billed as such); one made by the lab (a manager, a blackout) is not.
    ``by_lab`` says the lab cancels, even where the acting manager booked it themselves;
    ``blackout`` is the closure that made it cancel, which the owner's email explains. Decided
    on the booking's row read afresh under a lock.
    """
    lock(session, booking)
    return cancel_locked_booking(session, actor, booking, now=now, note=note, by_lab=by_lab,
                                 blackout=blackout)


def cancel_locked_booking(session: Session, actor: User, booking: Booking, *, now: dt.datetime,
                          note: str, by_lab: bool = False,
                          blackout: Blackout | None = None) -> Booking:
    """``cancel_booking`` for a booking whose row lock the caller holds."""
    if not can_view(actor, booking):
        raise NotFound(_("No booking with id %(id)d.", id=booking.id))
    note = clean_text(note, "note", MAX_NOTE, required=False)
    late = rules.is_late_cancellation(booking, actor, now, by_lab=by_lab)
    held = booking.holds_slot
    transition(session, actor, booking, BookingState.CANCELLED, "cancel", now=now, note=note,
                late=late)
    release_slot(session, actor, booking, was_holding=held, now=now)
    booking.cancelled_by = actor
    booking.cancelled_at = now
    booking.is_late_cancellation = late
    if late:
        billing.charge_late_cancellation(session, booking, now=now)
    notify.booking_cancelled(session, booking, actor, now=now, note=note, blackout=blackout)
    return booking


def cancel_series(session: Session, actor: User, series: BookingSeries, *, now: dt.datetime,
                  from_date: dt.date | None = None, note: str = "") -> list[Booking]:
    """Cancel the series' bookings still to come, all of them or from a lab date on.

    The series' bookings are locked together and each decided on as it is now.
    """
    bookings = locked_bookings(session, Booking.series_id == series.id)
    cancelled = []
    for booking in sorted(bookings, key=lambda b: (b.start_at, b.id)):
        tz = ZoneInfo(booking.instrument.lab.timezone)
        if from_date is not None and booking.start_at.astimezone(tz).date() < from_date:
            continue
        if booking.state in (BookingState.PENDING, BookingState.APPROVED) \
                and booking.start_at > now:
            cancelled.append(cancel_locked_booking(session, actor, booking, now=now, note=note))
    return cancelled


def approve_booking(session: Session, actor: User, booking: Booking, *, now: dt.datetime,
                    note: str = "") -> Booking:
    """A lab manager approves a pending booking, decided on its row read afresh under a lock."""
    lock(session, booking)
    return _decide(session, actor, booking, approve=True, now=now, note=note)


def reject_booking(session: Session, actor: User, booking: Booking, *, now: dt.datetime,
                   note: str) -> Booking:
    """A lab manager rejects a pending booking, saying why; decided as ``approve_booking``."""
    lock(session, booking)
    return _decide(session, actor, booking, approve=False, now=now, note=note)


def _decide(session: Session, actor: User, booking: Booking, *, approve: bool,
            now: dt.datetime, note: str) -> Booking:
    """Approve or reject a booking whose row lock the caller holds."""
    to, action = (BookingState.APPROVED, "approve") if approve else \
        (BookingState.REJECTED, "reject")
    # Permission first: someone who may not decide learns nothing from the note's checks.
    if not can_decide(actor, booking):
        if can_view(actor, booking):
            raise PermissionDenied(_("Only the lab's managers decide on bookings."))
        raise NotFound(_("No booking with id %(id)d.", id=booking.id))
    note = clean_text(note, "note", MAX_NOTE, required=not approve)
    transition(session, actor, booking, to, action, now=now, note=note)
    if not approve:
        release_slot(session, actor, booking, was_holding=True, now=now)
    booking.decided_by = actor
    booking.decided_at = now
    booking.decision_note = note
    notify.booking_decided(session, booking, actor, now=now)
    return booking


@dataclass
class Decision:
    """What became of one booking in a batch of approvals or rejections."""

    booking_id: int
    booking: Booking | None
    error: DomainError | None = None

    @property
    def is_done(self) -> bool:
        return self.error is None

    @property
    def was_already_decided(self) -> bool:
        return self.booking is not None and self.booking.state != BookingState.PENDING \
            and isinstance(self.error, Conflict)


def decide_bookings(session: Session, actor: User, booking_ids: list[int], *, approve: bool,
                    note: str, now: dt.datetime) -> list[Decision]:
    """Approve (or reject) each of ``booking_ids``, with the same note.

    A booking that cannot be decided (someone decided it meanwhile, it is gone, it is in a lab
    ``actor`` does not manage) is reported in its ``Decision`` and the others go on. A note that
    is not acceptable (none for a rejection) raises ValidationError before anything changes.
    The bookings are locked together and each decided on as it is now.
    """
    wanted = list(dict.fromkeys(booking_ids))
    bookings = {b.id: b for b in locked_bookings(session, Booking.id.in_(wanted))}
    decisions = []
    for booking_id in wanted:
        booking = bookings.get(booking_id)
        try:
            if booking is None:
                raise NotFound(_("No booking with id %(id)d.", id=booking_id))
            _decide(session, actor, booking, approve=approve, now=now, note=note)
        except ValidationError:
            raise
        except DomainError as error:
            hidden = isinstance(error, NotFound | PermissionDenied)
            decisions.append(Decision(booking_id, None if hidden else booking, error))
        else:
            decisions.append(Decision(booking_id, booking))
    return decisions


@dataclass(frozen=True)
class WeeklyUse:
    """An organization's hours in one quota week (Monday to Sunday, lab time)."""

    week_start: dt.datetime
    held_hours: float
    quota_hours: int | None

    @property
    def is_over(self) -> bool:
        return self.quota_hours is not None and self.held_hours > self.quota_hours


def weekly_use(session: Session, organization: Organization, moment: dt.datetime,
               tz: ZoneInfo) -> WeeklyUse:
    """The hours ``organization`` holds in the quota week of ``moment``, against its quota."""
    start = rules.week_start(moment, tz)
    held = rules.hours_held(session, organization, start, start + dt.timedelta(days=7))
    return WeeklyUse(start, held / dt.timedelta(hours=1), organization.weekly_quota_hours)


@dataclass(frozen=True)
class QueueEntry:
    """A pending booking with what a manager weighs before deciding on it."""

    booking: Booking
    #: Whether the requester holds a valid training record; None where none is needed.
    is_qualified: bool | None
    week: WeeklyUse


def approval_overview(session: Session, actor: User,
                      lab_code: str | None = None) -> list[QueueEntry]:
    """The approval queue (see ``approval_queue``), each booking with whether the requester's
    training record on the instrument is valid when the booking ends, and the organization's
    quota use in the week the booking starts."""
    weeks: dict[tuple[int, dt.datetime], WeeklyUse] = {}
    entries = []
    for booking in approval_queue(session, actor, lab_code):
        instrument = booking.instrument
        tz = ZoneInfo(instrument.lab.timezone)
        qualified = rules.is_qualified(session, booking.user, instrument, booking.end_at) \
            if instrument.requires_qualification else None
        key = (booking.organization_id, rules.week_start(booking.start_at, tz))
        if key not in weeks:
            weeks[key] = weekly_use(session, booking.organization, booking.start_at, tz)
        entries.append(QueueEntry(booking, qualified, weeks[key]))
    return entries


def approval_queue(session: Session, actor: User, lab_code: str | None = None) -> list[Booking]:
    """Pending bookings in the labs ``actor`` manages, oldest request first."""
    labs = managed_labs(session, actor)
    if lab_code:
        labs = [lab for lab in labs if lab.code == lab_code.upper()]
    if not labs:
        return []
    return list(session.scalars(
        select(Booking).join(Booking.instrument)
        .where(Instrument.lab_id.in_([lab.id for lab in labs]),
               Booking.state == BookingState.PENDING)
        .order_by(Booking.created_at, Booking.id)))
