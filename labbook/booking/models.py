"""Bookings, recurring series, blackouts and training records."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from labbook.core.db import Base, UTCDateTime
from labbook.core.enums import equals_literal, string_enum
from labbook.core.time import utcnow

if TYPE_CHECKING:
    from labbook.accounts.models import Organization, User
    from labbook.catalogue.models import Instrument, Lab


class BookingState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    IN_USE = "in_use"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


#: States in which a booking holds its time slot.
SLOT_HOLDING = (BookingState.PENDING, BookingState.APPROVED, BookingState.IN_USE)

TRANSITIONS: dict[BookingState, frozenset[BookingState]] = {
    BookingState.PENDING: frozenset({BookingState.APPROVED, BookingState.REJECTED,
                                     BookingState.CANCELLED, BookingState.EXPIRED}),
    BookingState.APPROVED: frozenset({BookingState.IN_USE, BookingState.NO_SHOW,
                                      BookingState.CANCELLED, BookingState.COMPLETED}),
    BookingState.IN_USE: frozenset({BookingState.COMPLETED}),
}


class ChannelMask(TypeDecorator[int]):
    """A set of up to 64 channels as the bits of an unsigned mask in Python, stored in a signed
    64-bit integer (channel 64 is the sign bit) that both databases compare bitwise."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Any) -> int | None:
        if value is None:
            return None
        return value - (1 << 64) if value >= 1 << 63 else value

    def process_result_value(self, value: int | None, dialect: Any) -> int | None:
        return None if value is None else value & ((1 << 64) - 1)


def channel_numbers(mask: int) -> list[int]:
    """The channels (from 1) a channel mask holds."""
    return [bit + 1 for bit in range(mask.bit_length()) if mask >> bit & 1]


def channel_mask(channels: list[int]) -> int:
    return sum(1 << (channel - 1) for channel in set(channels))


class BookingSeries(Base):
    """The recurrence a set of bookings was created from."""

    __tablename__ = "booking_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    frequency: Mapped[str] = mapped_column(String(10))
    interval: Mapped[int] = mapped_column(Integer, default=1)
    weekdays: Mapped[str] = mapped_column(String(20), default="")
    count: Mapped[int | None] = mapped_column(Integer)
    until: Mapped[dt.date | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    bookings: Mapped[list[Booking]] = relationship(back_populates="series",
                                                   order_by="Booking.start_at")


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="end_after_start"),
        CheckConstraint("blocked_until >= end_at", name="blocked_after_end"),
        CheckConstraint("channel_mask <> 0", name="channel_mask_not_empty"),
        # Calendar reads (the overlap check above all) seek each wanted state of one instrument
        # and take only bookings that end after the window starts, so their cost depends on the
        # coming weeks and never on the length of history. Leading with the state makes SQLite
        # prefer this index over (state, start_at), which would walk all instruments.
        Index("ix_bookings_instrument_state_blocked_until", "instrument_id", "state",
              "blocked_until"),
        Index("ix_bookings_organization_start", "organization_id", "start_at"),
        Index("ix_bookings_user_start", "user_id", "start_at"),
        Index("ix_bookings_state_start", "state", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("booking_series.id"), index=True)
    #: The testing-order line this instrument time serves (booked by the lab's staff).
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"), index=True)
    start_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # End of the time this booking keeps others off the instrument: end plus the buffer
    # (cleaning, pump-down) the instrument needed when it was booked.
    blocked_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    state: Mapped[BookingState] = mapped_column(string_enum(BookingState, "booking_state"))
    # The instrument's channels this booking holds: channel n when bit n - 1 is set (channel 1
    # on a single-channel instrument). The database refuses two slot-holding bookings that
    # hold a channel in common at the same time (the migration's exclusion constraint on
    # PostgreSQL, triggers on SQLite).
    channel_mask: Mapped[int] = mapped_column(ChannelMask, default=1)
    purpose: Mapped[str] = mapped_column(String(500))
    project_ref: Mapped[str] = mapped_column(String(100), default="")
    is_override: Mapped[bool] = mapped_column(default=False)
    is_late_cancellation: Mapped[bool] = mapped_column(default=False)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Who made the booking when it is not its user's own: a lab manager or a colleague booking
    # on the user's behalf (the user's organization pays all the same).
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    checked_out_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # iCal SEQUENCE: grows with every change a calendar app should notice.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    instrument: Mapped[Instrument] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    organization: Mapped[Organization] = relationship()
    series: Mapped[BookingSeries | None] = relationship(back_populates="bookings")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    cancelled_by: Mapped[User | None] = relationship(foreign_keys=[cancelled_by_id])
    booked_by: Mapped[User | None] = relationship(foreign_keys=[booked_by_id])

    @property
    def channel_numbers(self) -> list[int]:
        """The channels held, from 1."""
        return channel_numbers(self.channel_mask)

    @property
    def holds_slot(self) -> bool:
        return self.state in SLOT_HOLDING

    def can_become(self, state: BookingState) -> bool:
        return state in TRANSITIONS.get(self.state, frozenset())

    def __repr__(self) -> str:
        return f"<Booking {self.id} {self.state} {self.start_at:%Y-%m-%d %H:%M}>"


class Blackout(Base):
    """Maintenance, a holiday or an outage: no booking may overlap it."""

    __tablename__ = "blackouts"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="end_after_start"),
        CheckConstraint("(instrument_id IS NULL) <> (lab_id IS NULL)", name="instrument_or_lab"),
        Index("ix_blackouts_instrument_end", "instrument_id", "end_at"),
        Index("ix_blackouts_lab_end", "lab_id", "end_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.id",
                                                                ondelete="CASCADE"))
    lab_id: Mapped[int | None] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"))
    start_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    instrument: Mapped[Instrument | None] = relationship()
    lab: Mapped[Lab | None] = relationship()


class ChangeState(enum.StrEnum):
    #: Waits for the lab's approval; the booking keeps its time meanwhile.
    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"
    #: A later change of the same booking, or its cancellation, took its place.
    WITHDRAWN = "withdrawn"


class BookingChange(Base):
    """A booking moved, extended or shortened: applied at once, or waiting for approval on an
    instrument that needs it (at most one waits per booking)."""

    __tablename__ = "booking_changes"
    __table_args__ = (
        CheckConstraint("new_end_at > new_start_at", name="new_end_after_start"),
        Index("uq_booking_changes_pending", "booking_id", unique=True,
              sqlite_where=text("state = 'pending'"), postgresql_where=text("state = 'pending'")),
        Index("ix_booking_changes_state_requested", "state", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"),
                                            index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    old_start_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    old_end_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    new_start_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    new_end_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    state: Mapped[ChangeState] = mapped_column(string_enum(ChangeState, "booking_change_state"))
    is_override: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    #: Booked minutes the change gave back, and whether inside the cancellation window.
    given_back_minutes: Mapped[int] = mapped_column(Integer, default=0)
    is_late: Mapped[bool] = mapped_column(default=False)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")

    booking: Mapped[Booking] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


#: "The change waits for approval", as the partial index of pending changes writes it.
CHANGE_IS_PENDING = equals_literal(BookingChange.__table__.c.state, ChangeState.PENDING)


class WaitlistState(enum.StrEnum):
    WAITING = "waiting"
    #: Offered a freed slot, claimable until the offer lapses.
    OFFERED = "offered"
    CLAIMED = "claimed"
    #: The offer lapsed unclaimed: the next in line gets the time.
    LAPSED = "lapsed"
    LEFT = "left"
    #: The window passed without an offer.
    EXPIRED = "expired"


#: Entries still in the line.
IN_LINE = (WaitlistState.WAITING, WaitlistState.OFFERED)


class WaitlistEntry(Base):
    """A wish for ``minutes`` of an instrument's time anywhere inside ``[window_start,
    window_end)``: a taken slot itself (window as long as the wish) or any free slot of that
    length within a longer window. First come, first offered."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("window_end > window_start", name="window_end_after_start"),
        CheckConstraint("minutes > 0", name="minutes_positive"),
        CheckConstraint("channels > 0", name="channels_positive"),
        Index("ix_waitlist_entries_instrument_state", "instrument_id", "state", "window_end"),
        Index("ix_waitlist_entries_state_offer_expires", "state", "offer_expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    minutes: Mapped[int] = mapped_column(Integer)
    #: How many of the instrument's channels (or places) the wish is for.
    channels: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    purpose: Mapped[str] = mapped_column(String(500))
    state: Mapped[WaitlistState] = mapped_column(string_enum(WaitlistState, "waitlist_state"))
    offer_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    offer_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    offer_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The secret of the claim link in the offer email.
    offer_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id",
                                                              ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    instrument: Mapped[Instrument] = relationship()
    user: Mapped[User] = relationship()
    booking: Mapped[Booking | None] = relationship()


class BookingSuspension(Base):
    """A user may not book for themselves in a lab for a while: too many no-shows there."""

    __tablename__ = "booking_suspensions"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_booking_suspensions_user_lab_ends", "user_id", "lab_id", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    no_shows: Mapped[int] = mapped_column(Integer)
    window_days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                ondelete="SET NULL"))
    lift_note: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    lab: Mapped[Lab] = relationship()
    lifted_by: Mapped[User | None] = relationship(foreign_keys=[lifted_by_id])

    def is_in_force_at(self, moment: dt.datetime) -> bool:
        return self.lifted_at is None and self.starts_at <= moment < self.ends_at


class Qualification(Base):
    """A user is trained on an instrument, granted by one of its lab's managers."""

    __tablename__ = "qualifications"
    # At most one record in force per user and instrument: a new grant revokes the one before,
    # and two grants at the same moment cannot both write one.
    __table_args__ = (
        Index("uq_qualifications_unrevoked", "user_id", "instrument_id", unique=True,
              sqlite_where=text("revoked_at IS NULL"),
              postgresql_where=text("revoked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"),
                                               index=True)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    instrument: Mapped[Instrument] = relationship()

    def is_valid_at(self, moment: dt.datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= moment:
            return False
        return self.expires_at is None or moment < self.expires_at
