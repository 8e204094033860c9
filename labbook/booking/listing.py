"""Read-only queries behind the booking pages and the API: the bookings a user may list, their
own upcoming and past ones, and a series' bookings still to cancel."""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import Select, and_, not_, or_, select
from sqlalchemy.orm import Session, selectinload

from labbook.accounts.models import User
from labbook.booking.models import SLOT_HOLDING, Booking, BookingSeries, BookingState
from labbook.catalogue.models import Instrument, Lab
from labbook.core.errors import NotFound
from labbook.core.pagination import Page, paginate


def visible_bookings(actor: User, *, lab: Lab | None = None,
                     state: BookingState | None = None) -> Select[tuple[Booking]]:
    """The bookings ``actor`` may list, with what a list shows of each: their own; with ``lab``
    only that lab's, and every one of them where ``actor`` manages it. ``state`` narrows them
    down. Unordered: the caller orders and pages them."""
    query = select(Booking).options(
        selectinload(Booking.instrument).selectinload(Instrument.lab),
        selectinload(Booking.user), selectinload(Booking.organization))
    if lab is not None:
        query = query.join(Booking.instrument).where(Instrument.lab_id == lab.id)
    if lab is None or not actor.manages(lab):
        query = query.where(Booking.user_id == actor.id)
    if state is not None:
        query = query.where(Booking.state == state)
    return query


def _is_upcoming(now: dt.datetime):
    # A booking still in use after its booked end is current until it is checked out.
    return or_(Booking.state == BookingState.IN_USE,
               and_(Booking.state.in_(SLOT_HOLDING), Booking.end_at > now))


def upcoming_bookings(session: Session, user: User, *, now: dt.datetime) -> list[Booking]:
    """``user``'s bookings that still hold their slot and have not ended, or are still in use,
    soonest first."""
    return list(session.scalars(visible_bookings(user).where(_is_upcoming(now))
                                .order_by(Booking.start_at, Booking.id)))


def past_bookings(session: Session, user: User, *, now: dt.datetime, page: int,
                  per_page: int) -> Page[Booking]:
    """Everything else of ``user``'s (ended, cancelled, rejected…), newest first."""
    return paginate(session, visible_bookings(user).where(not_(_is_upcoming(now)))
                    .order_by(Booking.start_at.desc(), Booking.id.desc()), page, per_page)


def can_cancel_series(actor: User, series: BookingSeries, instrument: Instrument) -> bool:
    return series.user_id == actor.id or actor.manages(instrument.lab)


def get_series(session: Session, actor: User, series_id: int) -> BookingSeries:
    """The series, if ``actor`` may cancel its bookings; anyone else's is not found, as if it
    did not exist."""
    series = session.get(BookingSeries, series_id)
    instrument = session.get(Instrument, series.instrument_id) if series else None
    if series is None or instrument is None or not can_cancel_series(actor, series, instrument):
        raise NotFound(_("No booking series with id %(id)d.", id=series_id))
    return series


def cancellable_in_series(series: BookingSeries, *, now: dt.datetime) -> list[Booking]:
    """The series' bookings that ``services.cancel_series`` would still cancel."""
    return [b for b in series.bookings
            if b.state in (BookingState.PENDING, BookingState.APPROVED) and b.start_at > now]
