"""The booked day and the billing month are lab days and lab months (Asia/Shanghai, UTC+8).

Worked examples around midnight lab time on the first of a month, where the lab's date is a day
ahead of UTC's from 00:00 to 08:00: a booking at 07:30 on 1 December, lab time, starts at 23:30
UTC on 30 November, yet it is December's, priced on the card in force from 1 December and billed
on December's statement.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

import labbook.cli
from labbook.accounts.models import PriceTier
from labbook.billing import services as billing
from labbook.billing.models import BillingBasis, Charge, RateCard, Statement
from labbook.booking import attendance
from labbook.core.engine import write_transaction
from labbook.core.errors import ValidationError
from labbook.extensions import db
from tests.factories import create_admin, create_booking, create_instrument, create_user, lab_time

NOV_30 = dt.date(2026, 11, 30)
DEC_1 = dt.date(2026, 12, 1)
#: When the card from 1 December was entered: well before the day it applies from.
NOV_20 = lab_time(dt.date(2026, 11, 20), 10)


def new_card(instrument, effective_from: dt.date, rate: str, *, now: dt.datetime) -> None:
    """An admin enters a card of the external tier for ``instrument`` from ``effective_from``."""
    with write_transaction(db.session):
        billing.add_rate_card(db.session, create_admin(), instrument, billing.RateCardInput(
            tier=PriceTier.EXTERNAL, effective_from=effective_from, hourly_rate=Decimal(rate),
            billing_basis=BillingBasis.BOOKED, rounding_minutes=15, minimum_minutes=0,
            no_show_percent=100, late_cancel_percent=50), now=now)


def completed_hour(instrument, start: dt.datetime):
    """A one-hour booking (paid by an external organization) used from start to end."""
    booking = create_booking(instrument=instrument, user=create_user(), start_at=start,
                             end_at=start + dt.timedelta(hours=1))
    with write_transaction(db.session):
        attendance.check_in(db.session, booking.user, booking, now=start)
    with write_transaction(db.session):
        attendance.check_out(db.session, booking.user, booking,
                             now=start + dt.timedelta(hours=1))
    return booking


def close(period: str, now: dt.datetime) -> billing.CloseResult:
    with write_transaction(db.session):
        return billing.close_month(db.session, None, period, now=now)


def test_the_worked_example_is_a_day_apart_in_utc():
    assert lab_time(DEC_1, 7, 30) == dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC)
    assert lab_time(DEC_1, 0) == dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.UTC)


def imported_card(instrument, effective_from: dt.date, rate: str) -> None:
    """A card written as a catalogue import writes it: without saying when it applies from."""
    instrument.rate_cards.append(RateCard(tier=PriceTier.EXTERNAL, effective_from=effective_from,
                                          hourly_rate=Decimal(rate)))
    db.session.commit()


@pytest.mark.parametrize("entered", ["by an admin", "by a catalogue import"])
@pytest.mark.parametrize(("day", "hour", "minute", "month", "amount"), [
    (NOV_30, 23, 59, "2026-11", "100.00"),  # the last minute of November: November's card
    (DEC_1, 0, 0, "2026-12", "120.00"),  # the first moment of December (16:00 UTC, 30 Nov)
    (DEC_1, 7, 30, "2026-12", "120.00"),  # 23:30 UTC on 30 November
])
def test_a_booking_is_priced_on_its_lab_days_card_and_billed_in_its_lab_month(
        day, hour, minute, month, amount, entered):
    """¥100/h until 30 November, ¥120/h from 1 December (lab dates): a one-hour booking is
    priced on the card of the lab day it starts on, and goes on the statement of that lab
    month."""
    instrument = create_instrument(rates={PriceTier.EXTERNAL: Decimal("100.00")})
    if entered == "by an admin":
        new_card(instrument, DEC_1, "120.00", now=NOV_20)
    else:
        imported_card(instrument, DEC_1, "120.00")
    booking = completed_hour(instrument, lab_time(day, hour, minute))

    charge = db.session.scalars(select(Charge).where(Charge.booking_id == booking.id)).one()
    assert (charge.amount, charge.period) == (Decimal(amount), month)

    november = close("2026-11", now=lab_time(dt.date(2026, 12, 2), 2))
    december = close("2026-12", now=lab_time(dt.date(2027, 1, 2), 2))
    [statement] = november.statements + december.statements
    assert statement.period == month
    assert [line.id for line in statement.charges] == [charge.id]
    assert statement.total == Decimal(amount)


def test_a_card_entered_later_on_the_booked_day_prices_an_earlier_booking_of_that_day():
    """A tier with no card yet at the booked start is priced on the first card that applied on
    the booked (lab) day: entered at 09:00 on 1 December and effective that day, it prices a
    booking at 07:30 that morning, which in UTC was still 30 November."""
    instrument = create_instrument(rates={PriceTier.INTERNAL: Decimal("60.00")})
    start = lab_time(DEC_1, 7, 30)
    booking = create_booking(instrument=instrument, user=create_user(), start_at=start,
                             end_at=start + dt.timedelta(hours=1))
    new_card(instrument, DEC_1, "120.00", now=lab_time(DEC_1, 9))
    with write_transaction(db.session):
        attendance.check_in(db.session, booking.user, booking, now=lab_time(DEC_1, 7, 30))
    with write_transaction(db.session):
        attendance.check_out(db.session, booking.user, booking, now=lab_time(DEC_1, 10))

    charge = db.session.scalars(select(Charge).where(Charge.booking_id == booking.id)).one()
    assert (charge.amount, charge.period) == (Decimal("120.00"), "2026-12")


def test_a_month_can_be_closed_from_midnight_lab_time_on_the_first_and_not_a_second_before():
    create_booking(user=create_user())
    with pytest.raises(ValidationError) as refused:
        close("2026-11", now=lab_time(DEC_1, 0) - dt.timedelta(seconds=1))
    assert refused.value.code == "period_not_ended"
    db.session.rollback()

    result = close("2026-11", now=lab_time(DEC_1, 0))
    assert result.period == "2026-11" and not result.was_already_closed


@pytest.mark.parametrize(("moment", "month"), [
    (lab_time(DEC_1, 0) - dt.timedelta(seconds=1), "2026-10"),
    (lab_time(DEC_1, 0), "2026-11"),
    (lab_time(DEC_1, 7, 59), "2026-11"),
])
def test_the_close_month_command_closes_the_lab_month_before_today(app, monkeypatch, moment,
                                                                   month):
    """``labbook close-month`` without a month closes the month before today's lab date: in
    the first eight hours of 1 December, lab time, UTC still says 30 November."""
    instrument = create_instrument(rates={PriceTier.EXTERNAL: Decimal("100.00")})
    completed_hour(instrument, lab_time(dt.date(2026, 10, 12), 9))
    monkeypatch.setattr(labbook.cli, "utcnow", lambda: moment)

    result = app.test_cli_runner().invoke(args=["labbook", "close-month"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{month} closed: 1 draft statement(s).")
    db.session.rollback()
    assert db.session.scalars(select(Statement.period)).all() == [month]
