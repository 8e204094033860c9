"""Rate cards: what an hour of an instrument costs each price tier, from a given date on."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Date, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from labbook.accounts.models import PriceTier
from labbook.core.db import Base, Money
from labbook.core.enums import string_enum

if TYPE_CHECKING:
    from labbook.catalogue.models import Instrument


class BillingBasis(enum.StrEnum):
    BOOKED = "booked"
    ACTUAL = "actual"
    LARGER = "larger"


class RateCard(Base):
    __tablename__ = "rate_cards"
    __table_args__ = (UniqueConstraint("instrument_id", "tier", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(
        ForeignKey("instruments.id", ondelete="CASCADE"), index=True
    )
    tier: Mapped[PriceTier] = mapped_column(string_enum(PriceTier, "rate_card_tier"))
    effective_from: Mapped[dt.date] = mapped_column(Date)
    hourly_rate: Mapped[Decimal] = mapped_column(Money)
    billing_basis: Mapped[BillingBasis] = mapped_column(
        string_enum(BillingBasis, "billing_basis"), default=BillingBasis.BOOKED
    )
    rounding_minutes: Mapped[int] = mapped_column(Integer, default=15)
    minimum_minutes: Mapped[int] = mapped_column(Integer, default=0)

    instrument: Mapped[Instrument] = relationship(back_populates="rate_cards")
