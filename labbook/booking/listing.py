"""Read-only queries behind the booking pages: a user's bookings and a booking's history."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, not_, select
from sqlalchemy.orm import Session, selectinload

from labbook.accounts.models import User
from labbook.booking.models import SLOT_HOLDING, Booking, BookingSeries, BookingState
from labbook.catalogue.models import Instrument
from labbook.catalogue.services import Page


def _own(user: User):
    return select(Booking).where(Booking.user_id == user.id).options(
        selectinload(Booking.instrument).selectinload(Instrument.lab),
        selectinload(Booking.organization))


def _is_upcoming(now: dt.datetime):
    return and_(Booking.state.in_(SLOT_HOLDING), Booking.end_at > now)


def upcoming_bookings(session: Session, user: User, *, now: dt.datetime) -> list[Booking]:
    """``user``'s bookings that still hold their slot and have not ended, soonest first."""
    return list(session.scalars(_own(user).where(_is_upcoming(now))
                                .order_by(Booking.start_at, Booking.id)))


def past_bookings(session: Session, user: User, *, now: dt.datetime, page: int,
                  per_page: int) -> Page[Booking]:
    """Everything else of ``user``'s (ended, cancelled, rejected…), newest first."""
    condition = not_(_is_upcoming(now))
    total = session.scalar(select(func.count()).select_from(Booking).where(
        Booking.user_id == user.id, condition)) or 0
    items = list(session.scalars(_own(user).where(condition)
                                 .order_by(Booking.start_at.desc(), Booking.id.desc())
                                 .limit(per_page).offset((page - 1) * per_page)))
    return Page(items, total, page, per_page)


def can_cancel_series(actor: User, series: BookingSeries, instrument: Instrument) -> bool:
    return series.user_id == actor.id or actor.manages(instrument.lab)


def cancellable_in_series(series: BookingSeries, *, now: dt.datetime) -> list[Booking]:
    """The series' bookings that ``services.cancel_series`` would still cancel."""
    return [b for b in series.bookings
            if b.state in (BookingState.PENDING, BookingState.APPROVED) and b.start_at > now]
