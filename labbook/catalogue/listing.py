"""What the catalogue's lists show beside the ranked rows: the price a viewer pays, how many
items of the other kind match the same search, and the suggestions offered while typing.

Prices are those of ``labbook.billing.pricing`` and the rate cards: a signed-in viewer sees
their own tier's, a visitor the lowest of the tiers ("from ¥…").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from labbook.accounts.models import PriceTier
from labbook.billing.pricing import quote
from labbook.catalogue.models import Instrument, InstrumentStatus, TestingService
from labbook.catalogue.search import CatalogueIndex, Item, current_index

#: How many suggestions the search box offers while typing.
SUGGESTIONS = 8


@dataclass(frozen=True)
class ListPrice:
    amount: Decimal
    #: The lowest price of all tiers, shown to a visitor as "from ¥…".
    is_lowest: bool


def instrument_price(instrument: Instrument, tier: PriceTier | None,
                     today: dt.date) -> ListPrice | None:
    """The hourly rate ``tier`` pays today, or (no tier) the lowest rate of any tier; None
    when the instrument has no rate in force."""
    tiers = [tier] if tier is not None else list(PriceTier)
    rates = [card.hourly_rate for card in (instrument.current_rate(t, today) for t in tiers)
             if card is not None]
    return ListPrice(min(rates), tier is None) if rates else None


def service_price(service: TestingService, tier: PriceTier | None) -> ListPrice:
    """The price of one sample for ``tier``, or (no tier) the lowest of any tier."""
    tiers = [tier] if tier is not None else list(PriceTier)
    return ListPrice(min(quote(service, t, 1, False).unit_price for t in tiers), tier is None)


def prices_of(rows: list[Instrument] | list[TestingService], tier: PriceTier | None,
              today: dt.date) -> dict[int, ListPrice | None]:
    """Each row's list price by id."""
    return {row.id: instrument_price(row, tier, today) if isinstance(row, Instrument)
            else service_price(row, tier) for row in rows}


def count_matches(session: Session, q: str, *, services: bool, lab: str | None = None) -> int:
    """How many instruments (or services) match ``q`` in ``lab`` (any lab: None), whatever
    their status: for a list of the other kind to point at them."""
    index = current_index(session)
    ranked = (index.services if services else index.instruments).rank(q)
    wanted = lab.upper() if lab else None
    return sum(1 for item, _score in ranked if wanted is None or item.lab_code == wanted)


@dataclass(frozen=True)
class Suggestion:
    kind: str                  # "instrument" | "service"
    row: Instrument | TestingService
    price: ListPrice | None


def _offered(item: Item) -> bool:
    return item.status not in (InstrumentStatus.RETIRED.value, "inactive")


def _best(index: CatalogueIndex, q: str, limit: int) -> list[Item]:
    """The ``limit`` best items of both kinds, merged by score; instruments first on a tie."""
    both = [(score, 0, item) for item, score in index.instruments.rank(q) if _offered(item)]
    both += [(score, 1, item) for item, score in index.services.rank(q) if _offered(item)]
    both.sort(key=lambda entry: (entry[0], entry[1], entry[2].lab_code, entry[2].code))
    return [item for _score, _kind, item in both[:limit]]


def suggestions(session: Session, q: str, tier: PriceTier | None, today: dt.date, *,
                limit: int = SUGGESTIONS) -> list[Suggestion]:
    """The best instruments and services for ``q`` as typed so far, with their price; none for
    an empty query. Retired instruments and services no longer offered are left out."""
    if not q.strip():
        return []
    items = _best(current_index(session), q, limit)
    instrument_ids = [item.id for item in items if item.kind == "instrument"]
    service_ids = [item.id for item in items if item.kind == "service"]
    rows: dict[tuple[str, int], Instrument | TestingService] = {}
    # Each row's lab joined to it: a statement apart would be a round trip more to PostgreSQL
    # for every key the visitor types.
    if instrument_ids:
        rows.update((("instrument", row.id), row) for row in session.scalars(
            select(Instrument).where(Instrument.id.in_(instrument_ids)).options(
                joinedload(Instrument.lab), selectinload(Instrument.rate_cards))))
    if service_ids:
        rows.update((("service", row.id), row) for row in session.scalars(
            select(TestingService).where(TestingService.id.in_(service_ids)).options(
                joinedload(TestingService.lab))))
    found = [(item.kind, rows[item.kind, item.id]) for item in items
             if (item.kind, item.id) in rows]
    return [Suggestion(kind, row, instrument_price(row, tier, today)
                       if isinstance(row, Instrument) else service_price(row, tier))
            for kind, row in found]
