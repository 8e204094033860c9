"""What a booking will cost before it is used, and what cancelling it costs now.

An estimate prices the booked time as the charge of the completed booking will, if the time is
used as booked: the rate card of the paying organization's tier in force at the booked start
(``pricing.card_in_force``), the card's increment and minimum, half-up to the fen
(``pricing.price_time``). The cancellation terms take the rule that makes a cancellation late
from ``booking.rules`` and price the fee as ``services.charge_late_cancellation`` does
(``pricing.booked_share_price``). So neither can disagree with the charge that follows.

Rate cards are read once for many bookings (``rate_cards``): a list of bookings costs one
query, whatever its length.
"""

from __future__ import annotations

import datetime as dt
from collections import namedtuple
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext, pgettext
from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.orm import Session

from labbook.accounts.labels import TIER_LABELS
from labbook.accounts.models import Organization, PriceTier, User
from labbook.billing.models import BillingBasis, RateCard
from labbook.billing.pricing import (
    TimePrice,
    booked_share_price,
    card_in_force,
    price_time,
    whole_minutes,
)
from labbook.booking import rules
from labbook.booking.models import Booking, BookingState
from labbook.catalogue.models import Instrument
from labbook.core.money import format_money
from labbook.core.time import to_lab_time

CURRENCY = "CNY"
ZERO = Decimal("0.00")

#: The rate cards of (instrument id, tier) pairs.
RateCards = dict[tuple[int, PriceTier], list[RateCard]]


def rate_cards(session: Session, keys: Iterable[tuple[int, PriceTier]]) -> RateCards:
    """Every rate card of each (instrument id, tier) in ``keys``, in one query."""
    cards: RateCards = {key: [] for key in keys}
    if not cards:
        return cards
    # Rows, not ORM objects: every booking page and answer prices its bookings, and a card is
    # only read here (a row has the card's attributes by the same names).
    if len(cards) == 1:
        # One booking's (the API's answer to each booking made or moved): plain parameters,
        # with no list to expand into the statement on each execution.
        [(instrument_id, tier)] = cards
        rows = session.execute(_rate_cards_of_one(), {"instrument_id": instrument_id,
                                                      "tier": tier})
    else:
        rows = session.execute(_rate_cards_of(), {
            "instrument_ids": list({instrument_id for instrument_id, _tier in cards}),
            "tiers": list({tier for _instrument_id, tier in cards})})
    for card in rows:
        cards.get((card.instrument_id, card.tier), []).append(card)
    return cards


@cache
def _rate_cards_of() -> Select:
    table = RateCard.__table__
    return select(*table.c).where(table.c.instrument_id.in_(bindparam("instrument_ids",
                                                                       expanding=True)),
                                  table.c.tier.in_(bindparam("tiers", expanding=True)))


def rate_card_columns() -> list[ColumnElement[Any]]:
    """The columns of a rate card as ``rate_cards`` reads them, for a statement that reads the
    cards of one instrument and tier together with other rows (``cards_of_rows`` makes them
    into the cards)."""
    return list(RateCard.__table__.c)


@cache
def _card_row() -> Any:
    # Built once, once the model is mapped: a card read among other rows, by its columns' names.
    return namedtuple("RateCardRow", [column.key for column in RateCard.__table__.c])


def cards_of_rows(instrument_id: int, tier: PriceTier,
                  rows: Iterable[Sequence[Any]]) -> RateCards:
    """The rate cards of ``instrument_id`` for ``tier`` from ``rows`` of ``rate_card_columns``
    (all None where an outer join found none), as ``rate_cards`` gives them."""
    card = _card_row()
    return {(instrument_id, tier): [card._make(row) for row in rows if row[0] is not None]}


@cache
def _rate_cards_of_one() -> Select:
    table = RateCard.__table__
    return select(*table.c).where(table.c.instrument_id == bindparam("instrument_id"),
                                  table.c.tier == bindparam("tier"))


def card_for(cards: RateCards, instrument_id: int, tier: PriceTier,
             start: dt.datetime) -> RateCard | None:
    """The card that prices time on ``instrument_id`` for ``tier`` starting at ``start``."""
    return card_in_force(cards.get((instrument_id, tier), ()), start)


@dataclass(frozen=True)
class Estimate:
    """The price of booked time used as booked; ``price`` is None where the tier has no rate
    card (nothing would be charged)."""

    tier: PriceTier
    price: TimePrice | None

    @property
    def amount(self) -> Decimal | None:
        return None if self.price is None else self.price.amount

    @property
    def hourly_rate(self) -> Decimal | None:
        return None if self.price is None else self.price.hourly_rate

    @property
    def is_free(self) -> bool:
        return self.price is not None and self.price.amount == 0

    @property
    def label(self) -> str:
        """The amount alone, for a calendar's selection: ``¥30.00``, free, or no price."""
        if self.price is None:
            return _("No price set")
        return pgettext("price", "Free") if self.is_free else format_money(self.price.amount)

    @property
    def rate_text(self) -> str:
        """The tier and its hourly rate: what the amount was worked out from."""
        if self.price is None:
            return _("%(tier)s tier", tier=TIER_LABELS[self.tier])
        return _("%(tier)s tier, %(rate)s/h", tier=TIER_LABELS[self.tier],
                 rate=format_money(self.price.hourly_rate))

    @property
    def text(self) -> str:
        tier = TIER_LABELS[self.tier]
        if self.price is None:
            return _("No price is set for the %(tier)s tier on this instrument: nothing is "
                     "charged for this time unless the lab sets a rate before it starts.",
                     tier=tier)
        if self.is_free:
            return _("Free of charge for the %(tier)s tier.", tier=tier)
        price = self.price
        text = _("Estimated price %(amount)s: %(tier)s tier, %(rate)s/h, %(minutes)d min "
                 "billed.", amount=format_money(price.amount), tier=tier,
                 rate=format_money(price.hourly_rate), minutes=price.billed_minutes)
        if price.basis == BillingBasis.ACTUAL:
            text += " " + _("Billed on the actual use (check-in to check-out); this assumes "
                            "you use the booked time.")
        elif price.basis == BillingBasis.LARGER:
            text += " " + _("Billed on the booked or the actual time, whichever is longer.")
        return text

    def as_json(self) -> dict[str, object]:
        price = self.price
        return {"tier": self.tier.value, "currency": CURRENCY,
                "hourly_rate": None if price is None else str(price.hourly_rate),
                "amount": None if price is None else str(price.amount),
                "basis": None if price is None else price.basis.value,
                "billed_minutes": None if price is None else price.billed_minutes}


def estimate(card: RateCard | None, tier: PriceTier, start: dt.datetime,
             end: dt.datetime) -> Estimate:
    """The price of the time from ``start`` to ``end`` on ``card``, used as booked: what
    ``services.charge_completed_booking`` charges for a booking checked in at its start and
    out at its end."""
    if card is None:
        return Estimate(tier, None)
    booked = whole_minutes(start, end)
    return Estimate(tier, price_time(card, booked=booked, actual=booked))


@dataclass(frozen=True)
class CancellationTerms:
    """What cancelling costs the person asking: ``fee_now`` if they cancelled at the moment
    asked about, ``late_fee`` once inside the window that begins at ``free_until``.
    ``free_until`` is None where cancelling never costs them anything (no late-cancellation
    fee on the card, no rate card, or a booking of someone else's they cancel for the lab)."""

    free_until: dt.datetime | None
    late_fee: Decimal
    fee_now: Decimal
    window_hours: int
    #: Already inside the window, so that cancelling costs the fee (or will, once approved).
    in_window: bool

    @property
    def text(self) -> str:
        if self.free_until is None:
            return _("Cancelling is free of charge.")
        fee = format_money(self.late_fee)
        if self.fee_now:
            return _("Cancelling will cost %(fee)s: the start is less than %(n)d hours away "
                     "(the cancellation window).", fee=fee, n=self.window_hours)
        if self.in_window:
            return _("Once the lab approves it, cancelling will cost %(fee)s: the start is less "
                     "than %(n)d hours away (the cancellation window).", fee=fee,
                     n=self.window_hours)
        return _("Cancelling is free until %(time)s (lab time); after that it costs %(fee)s.",
                 time=to_lab_time(self.free_until).strftime("%Y-%m-%d %H:%M"), fee=fee)

    @property
    def confirm_text(self) -> str:
        """The question a cancel button asks, with what the answer costs."""
        return _("Cancel this booking? %(terms)s", terms=self.text)

    def as_json(self) -> dict[str, object]:
        return {"amount": str(self.fee_now), "currency": CURRENCY,
                "free_until": None if self.free_until is None else self.free_until.isoformat(),
                "late_amount": str(self.late_fee)}


def _late_fee(card: RateCard | None, start: dt.datetime, end: dt.datetime) -> Decimal:
    """The late-cancellation fee of the booked time from ``start`` to ``end`` on ``card``."""
    return ZERO if card is None else booked_share_price(
        card, whole_minutes(start, end), card.late_cancel_percent).amount


def _terms(card: RateCard | None, instrument: Instrument, start: dt.datetime,
           end: dt.datetime, *, is_late: bool, may_be_late: bool,
           now: dt.datetime) -> CancellationTerms:
    late_fee = _late_fee(card, start, end)
    free_until = rules.free_cancellation_until(instrument, start)
    if not may_be_late or not late_fee:
        free_until = None
    return CancellationTerms(free_until=free_until, late_fee=late_fee,
                             fee_now=late_fee if is_late and free_until else ZERO,
                             window_hours=instrument.cancellation_window_hours,
                             in_window=free_until is not None and now >= free_until)


@dataclass(frozen=True)
class BookingPrice:
    """A booking's estimate, and what cancelling it costs the viewer now (None once it can no
    longer be cancelled)."""

    estimate: Estimate
    cancellation: CancellationTerms | None

    @property
    def text(self) -> str:
        """The estimate and, where the booking can be cancelled, what that costs."""
        if self.cancellation is None:
            return self.estimate.text
        return _("%(estimate)s %(cancellation)s", estimate=self.estimate.text,
                 cancellation=self.cancellation.text)

    def check_json(self) -> dict[str, object]:
        """The live check's answer about money: the JSON of each, with its sentence."""
        estimate = {**self.estimate.as_json(), "label": self.estimate.label,
                    "text": self.estimate.text}
        terms = self.cancellation
        return {"estimate": estimate, "cancellation_fee": None if terms is None else {
            **terms.as_json(), "text": terms.text, "in_window": terms.in_window}}


def _booking_price(booking: Booking, card: RateCard | None, viewer: User,
                   now: dt.datetime) -> BookingPrice:
    tier = booking.organization.tier
    cancellation = None
    if booking.can_become(BookingState.CANCELLED):
        cancellation = _terms(
            card, booking.instrument, booking.start_at, booking.end_at,
            is_late=rules.is_late_cancellation(booking, viewer, now),
            may_be_late=booking.user_id == viewer.id, now=now)
    return BookingPrice(estimate(card, tier, booking.start_at, booking.end_at), cancellation)


def booking_prices(session: Session, bookings: Iterable[Booking], viewer: User, *,
                   now: dt.datetime, cards: RateCards | None = None) -> dict[int, BookingPrice]:
    """Each booking's price and cancellation terms for ``viewer``, by booking id; one query
    for all of them, none where the caller read their ``cards`` already."""
    bookings = list(bookings)
    keys = {(b.instrument_id, b.organization.tier) for b in bookings}
    if cards is None or not keys <= cards.keys():
        cards = rate_cards(session, keys)
    return {b.id: _booking_price(b, card_for(cards, b.instrument_id, b.organization.tier,
                                             b.start_at), viewer, now) for b in bookings}


def booking_price(session: Session, booking: Booking, viewer: User, *,
                  now: dt.datetime, cards: RateCards | None = None) -> BookingPrice:
    return booking_prices(session, [booking], viewer, now=now, cards=cards)[booking.id]


def slot_price(session: Session, viewer: User, organization: Organization,
               instrument: Instrument, start: dt.datetime, end: dt.datetime, *,
               now: dt.datetime) -> BookingPrice:
    """What ``viewer`` booking ``instrument`` from ``start`` to ``end`` (paid by
    ``organization``) would cost, and what cancelling it right after booking would cost."""
    tier = organization.tier
    card = card_for(rate_cards(session, [(instrument.id, tier)]), instrument.id, tier, start)
    pending = rules.needs_approval(viewer, instrument)
    is_late = rules.cancelling_is_late(
        BookingState.PENDING if pending else BookingState.APPROVED, own=True,
        instrument=instrument, start=start, now=now)
    return BookingPrice(estimate(card, tier, start, end), _terms(
        card, instrument, start, end, is_late=is_late, may_be_late=True, now=now))


def _when(booking: Booking) -> str:
    return to_lab_time(booking.start_at).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class SeriesCancellation:
    """What cancelling several bookings at once (a series' bookings still to come) costs the
    person asking: each booking with its cancellation terms, in the order of their starts."""

    terms: tuple[tuple[Booking, CancellationTerms], ...]

    def from_day(self, day: dt.date) -> SeriesCancellation:
        """The same for the bookings that start on ``day`` (lab time) or later."""
        return SeriesCancellation(tuple((booking, terms) for booking, terms in self.terms
                                        if to_lab_time(booking.start_at).date() >= day))

    @property
    def days(self) -> list[dt.date]:
        """The lab days the bookings start on, each once."""
        return sorted({to_lab_time(booking.start_at).date() for booking, _terms in self.terms})

    @property
    def charged(self) -> list[tuple[Booking, CancellationTerms]]:
        """The bookings that cost their late-cancellation fee if cancelled now."""
        return [(booking, terms) for booking, terms in self.terms if terms.fee_now]

    @property
    def fee_now(self) -> Decimal:
        return sum((terms.fee_now for _booking, terms in self.terms), ZERO)

    @property
    def text(self) -> str:
        """The total fee and the bookings that incur it; or, while all are free, until when
        and what the first of them costs after that."""
        charged = self.charged
        if charged:
            separator = pgettext("list separator", "; ")
            each = separator.join(_("%(when)s: %(fee)s", when=_when(booking),
                                    fee=format_money(terms.fee_now))
                                  for booking, terms in charged)
            text = ngettext(
                "Cancelling costs %(fee)s: %(num)d booking is inside the cancellation window "
                "(%(bookings)s).",
                "Cancelling costs %(fee)s: %(num)d bookings are inside the cancellation window "
                "(%(bookings)s).", len(charged), fee=format_money(self.fee_now), bookings=each)
            if len(charged) < len(self.terms):
                text = _("%(charged)s %(others)s", charged=text,
                         others=_("Cancelling the others is free of charge."))
            return text
        still_free = [(terms.free_until, booking, terms) for booking, terms in self.terms
                      if terms.free_until is not None and not terms.in_window]
        if not still_free:
            return _("Cancelling is free of charge.")
        free_until, booking, terms = min(still_free, key=lambda entry: entry[0])
        return _("Cancelling is free until %(time)s (lab time); after that cancelling the "
                 "booking of %(when)s costs %(fee)s.",
                 time=to_lab_time(free_until).strftime("%Y-%m-%d %H:%M"),
                 when=_when(booking), fee=format_money(terms.late_fee))


def series_cancellation(session: Session, bookings: Iterable[Booking], viewer: User, *,
                        now: dt.datetime) -> SeriesCancellation:
    """What ``viewer`` cancelling all of ``bookings`` at ``now`` costs; one query."""
    bookings = sorted(bookings, key=lambda b: (b.start_at, b.id))
    prices = booking_prices(session, bookings, viewer, now=now)
    return SeriesCancellation(tuple((b, terms) for b in bookings
                                    if (terms := prices[b.id].cancellation) is not None))


def late_cancellation_fee(session: Session, bookings: Iterable[Booking]) -> Decimal:
    """What the late cancellations among ``bookings``, just cancelled, are charged in all:
    each one's fee priced as ``services.charge_late_cancellation`` prices it. One query."""
    late = [b for b in bookings if b.state == BookingState.CANCELLED and b.is_late_cancellation]
    cards = rate_cards(session, {(b.instrument_id, b.organization.tier) for b in late})
    return sum((_late_fee(card_for(cards, b.instrument_id, b.organization.tier, b.start_at),
                          b.start_at, b.end_at) for b in late), ZERO)
