"""Charges created exactly once per billable event, month close and statements."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from labbook.accounts.models import PriceTier
from labbook.audit.models import AuditEvent
from labbook.billing import services as billing
from labbook.billing.models import (
    BillingBasis,
    Charge,
    ChargeKind,
    MonthClose,
    RateCard,
    Statement,
    StatementState,
)
from labbook.booking import attendance
from labbook.booking import services as bookings
from labbook.booking.models import BookingState
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict, PermissionDenied, ValidationError
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from labbook.orders.models import LineState
from tests.factories import (
    create_admin,
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_service,
    create_user,
    lab_time,
)
from tests.orders.factories import create_order

OCT_12 = dt.date(2026, 10, 12)  # a Monday
OCT_20 = dt.date(2026, 10, 20)
NOV_3 = dt.date(2026, 11, 3)
AFTER_OCTOBER = lab_time(dt.date(2026, 11, 2), 2)
AFTER_NOVEMBER = lab_time(dt.date(2026, 12, 1), 2)


def charges() -> list[Charge]:
    db.session.rollback()
    return list(db.session.scalars(select(Charge).order_by(Charge.id)))


def instrument_at(rate: str, **card: object):
    instrument = create_instrument(rates={PriceTier.EXTERNAL: Decimal(rate)})
    for rate_card in instrument.rate_cards:
        for key, value in card.items():
            setattr(rate_card, key, value)
    db.session.commit()
    return instrument


def use(booking, checked_in_at: dt.datetime, checked_out_at: dt.datetime) -> None:
    with write_transaction(db.session):
        attendance.check_in(db.session, booking.user, booking, now=checked_in_at)
    with write_transaction(db.session):
        attendance.check_out(db.session, booking.user, booking, now=checked_out_at)


def test_a_completed_booking_is_charged_on_its_basis():
    instrument = instrument_at("37.50", rounding_minutes=15)
    start = lab_time(OCT_12, 9)
    booking = create_booking(instrument=instrument, start_at=start,
                             end_at=start + dt.timedelta(minutes=31))
    use(booking, start, start + dt.timedelta(minutes=20))

    [charge] = charges()
    assert charge.kind == ChargeKind.USAGE and charge.booking_id == booking.id
    assert (charge.basis, charge.booked_minutes, charge.actual_minutes, charge.billed_minutes) \
        == (BillingBasis.BOOKED, 31, 20, 45)
    assert charge.unit_price == Decimal("37.50") and charge.amount == Decimal("28.13")
    assert charge.tier == PriceTier.EXTERNAL and charge.period == "2026-10"
    assert charge.organization_id == booking.organization_id
    assert charge.lab_id == instrument.lab_id


def test_actual_basis_bills_the_time_between_check_in_and_out():
    instrument = instrument_at("60.00", billing_basis=BillingBasis.ACTUAL, rounding_minutes=30,
                               minimum_minutes=60)
    start = lab_time(OCT_12, 9)
    booking = create_booking(instrument=instrument, start_at=start,
                             end_at=start + dt.timedelta(hours=3))
    use(booking, start + dt.timedelta(minutes=5), start + dt.timedelta(minutes=96))
    [charge] = charges()
    assert (charge.actual_minutes, charge.billed_minutes, charge.amount) \
        == (91, 120, Decimal("120.00"))


def test_a_correction_of_actual_times_reprices_the_unbilled_charge_in_place():
    instrument = instrument_at("60.00", billing_basis=BillingBasis.ACTUAL, rounding_minutes=15)
    manager = create_manager(instrument.lab)
    start = lab_time(OCT_12, 9)
    booking = create_booking(instrument=instrument, start_at=start,
                             end_at=start + dt.timedelta(hours=2))
    use(booking, start, start + dt.timedelta(minutes=30))
    with write_transaction(db.session):
        attendance.correct_actual_times(db.session, manager, booking, checked_in_at=start,
                                        checked_out_at=start + dt.timedelta(minutes=90),
                                        reason="forgot to check out", now=AFTER_OCTOBER)
    [charge] = charges()
    assert (charge.billed_minutes, charge.amount) == (90, Decimal("90.00"))


def test_a_no_show_is_charged_its_share_once_the_grace_period_is_over():
    instrument = instrument_at("200.00", no_show_percent=50)
    start = lab_time(OCT_12, 9)
    booking = create_booking(instrument=instrument, start_at=start,
                             end_at=start + dt.timedelta(hours=1))
    with write_transaction(db.session):
        assert attendance.mark_no_shows(db.session, now=start + dt.timedelta(minutes=29)) == []
    with write_transaction(db.session):
        marked = attendance.mark_no_shows(db.session, now=start + dt.timedelta(minutes=30))
    assert [b.id for b in marked] == [booking.id]
    with write_transaction(db.session):
        assert attendance.mark_no_shows(db.session, now=start + dt.timedelta(hours=5)) == []

    [charge] = charges()
    assert charge.kind == ChargeKind.NO_SHOW and charge.share_percent == 50
    assert charge.billed_minutes == 60 and charge.amount == Decimal("100.00")
    assert booking.state == BookingState.NO_SHOW


def test_only_the_labs_managers_mark_a_no_show_and_not_before_the_grace_period():
    instrument = instrument_at("200.00")
    start = lab_time(OCT_12, 9)
    booking = create_booking(instrument=instrument, start_at=start,
                             end_at=start + dt.timedelta(hours=1))
    other_manager = create_manager(create_lab())
    manager = create_manager(instrument.lab)
    with pytest.raises(Conflict) as early:
        attendance.mark_no_show(db.session, manager, booking, now=start)
    assert early.value.code == "too_early_for_no_show"
    with pytest.raises(PermissionDenied):
        attendance.mark_no_show(db.session, booking.user, booking,
                                now=start + dt.timedelta(hours=1))
    with pytest.raises(Exception) as hidden:
        attendance.mark_no_show(db.session, other_manager, booking,
                                now=start + dt.timedelta(hours=1))
    assert hidden.value.code == "not_found"
    with write_transaction(db.session):
        attendance.mark_no_show(db.session, manager, booking, now=start + dt.timedelta(hours=1))
    assert [c.kind for c in charges()] == [ChargeKind.NO_SHOW]


def test_a_late_cancellation_is_charged_its_share_and_an_early_one_nothing():
    instrument = instrument_at("37.50", late_cancel_percent=50)
    instrument.cancellation_window_hours = 24
    db.session.commit()
    start = lab_time(OCT_20, 9)
    late = create_booking(instrument=instrument, start_at=start,
                          end_at=start + dt.timedelta(minutes=90))
    early = create_booking(instrument=instrument, start_at=start + dt.timedelta(hours=2),
                           end_at=start + dt.timedelta(hours=3))
    by_lab = create_booking(instrument=instrument, start_at=start + dt.timedelta(hours=4),
                            end_at=start + dt.timedelta(hours=5))
    manager = create_manager(instrument.lab)
    with write_transaction(db.session):
        bookings.cancel_booking(db.session, late.user, late, now=start - dt.timedelta(hours=3))
        bookings.cancel_booking(db.session, early.user, early,
                                now=start - dt.timedelta(days=3))
        bookings.cancel_booking(db.session, manager, by_lab, now=start - dt.timedelta(hours=1),
                                by_lab=True)
    [charge] = charges()
    assert charge.kind == ChargeKind.LATE_CANCELLATION and charge.booking_id == late.id
    # 90 min at ¥37.50/h = 56.25; half of it is 28.125 → 28.13.
    assert (charge.billed_minutes, charge.share_percent, charge.amount) \
        == (90, 50, Decimal("28.13"))


def test_a_price_change_mid_month_applies_from_its_date_on():
    instrument = create_instrument(rates={PriceTier.EXTERNAL: Decimal("100.00")})
    admin = create_admin()
    with write_transaction(db.session):
        billing.add_rate_card(db.session, admin, instrument, billing.RateCardInput(
            tier=PriceTier.EXTERNAL, effective_from=dt.date(2026, 10, 15),
            hourly_rate=Decimal("120.00"), billing_basis=BillingBasis.BOOKED,
            rounding_minutes=15, minimum_minutes=0, no_show_percent=100,
            late_cancel_percent=50), now=lab_time(dt.date(2026, 10, 1), 9))
    user = create_user()
    before = create_booking(instrument=instrument, user=user, start_at=lab_time(OCT_12, 9),
                            end_at=lab_time(OCT_12, 10))
    after = create_booking(instrument=instrument, user=user, start_at=lab_time(OCT_20, 9),
                           end_at=lab_time(OCT_20, 10))
    use(before, lab_time(OCT_12, 9), lab_time(OCT_12, 10))
    use(after, lab_time(OCT_20, 9), lab_time(OCT_20, 10))
    assert [c.amount for c in charges()] == [Decimal("100.00"), Decimal("120.00")]


def card_from(day: dt.date, rate: str, *, entered: dt.datetime, instrument=None,
              basis: BillingBasis = BillingBasis.ACTUAL) -> RateCard:
    """An admin's new external-tier card from ``day``, entered at ``entered``."""
    with write_transaction(db.session):
        return billing.add_rate_card(db.session, create_admin(), instrument,
                                     billing.RateCardInput(
                                         tier=PriceTier.EXTERNAL, effective_from=day,
                                         hourly_rate=Decimal(rate), billing_basis=basis,
                                         rounding_minutes=15, minimum_minutes=0,
                                         no_show_percent=100, late_cancel_percent=50),
                                     now=entered)


def correct(booking, manager, *, minutes: int, now: dt.datetime) -> None:
    with write_transaction(db.session):
        attendance.correct_actual_times(db.session, manager, booking,
                                        checked_in_at=booking.start_at,
                                        checked_out_at=booking.start_at
                                        + dt.timedelta(minutes=minutes),
                                        reason="forgot to check out", now=now)


def test_a_card_made_effective_today_leaves_an_earlier_charge_of_the_day_on_its_card():
    instrument = instrument_at("60.00", billing_basis=BillingBasis.ACTUAL, rounding_minutes=15)
    manager = create_manager(instrument.lab)
    start = lab_time(OCT_12, 9)
    booking = create_booking(instrument=instrument, start_at=start,
                             end_at=start + dt.timedelta(hours=2))
    use(booking, start, start + dt.timedelta(minutes=30))
    first_card = charges()[0].rate_card_id
    card_from(OCT_12, "120.00", entered=lab_time(OCT_12, 11), instrument=instrument)

    correct(booking, manager, minutes=90, now=lab_time(OCT_12, 12))
    [charge] = charges()
    assert (charge.billed_minutes, charge.unit_price, charge.amount) \
        == (90, Decimal("60.00"), Decimal("90.00"))
    assert charge.rate_card_id == first_card


def test_a_card_made_effective_today_prices_the_bookings_that_start_after_it_was_made():
    instrument = instrument_at("60.00")
    card_from(OCT_12, "120.00", entered=lab_time(OCT_12, 11), instrument=instrument,
              basis=BillingBasis.BOOKED)
    user = create_user()
    # Started before the new card was entered, charged only after it: the card in force at
    # the booked start prices it.
    morning = create_booking(instrument=instrument, user=user, start_at=lab_time(OCT_12, 9),
                             end_at=lab_time(OCT_12, 10))
    afternoon = create_booking(instrument=instrument, user=user, start_at=lab_time(OCT_12, 14),
                               end_at=lab_time(OCT_12, 15))
    use(morning, lab_time(OCT_12, 9), lab_time(OCT_12, 11, 30))
    use(afternoon, lab_time(OCT_12, 14), lab_time(OCT_12, 15))
    assert [c.amount for c in charges()] == [Decimal("60.00"), Decimal("120.00")]


def test_the_first_card_of_a_tier_prices_that_days_earlier_bookings_too():
    instrument = create_instrument(rates={PriceTier.PARTNER: Decimal("10.00")})
    card_from(OCT_12, "80.00", entered=lab_time(OCT_12, 11), instrument=instrument,
              basis=BillingBasis.BOOKED)
    booking = create_booking(instrument=instrument, start_at=lab_time(OCT_12, 9),
                             end_at=lab_time(OCT_12, 10))
    use(booking, lab_time(OCT_12, 9), lab_time(OCT_12, 11, 30))
    assert [c.amount for c in charges()] == [Decimal("80.00")]


def test_a_correction_of_a_line_on_a_draft_reprices_it_and_the_drafts_total():
    instrument = instrument_at("60.00", billing_basis=BillingBasis.ACTUAL, rounding_minutes=15)
    manager = create_manager(instrument.lab)
    start = lab_time(OCT_12, 9)
    booking = create_booking(instrument=instrument, start_at=start,
                             end_at=start + dt.timedelta(hours=2))
    use(booking, start, start + dt.timedelta(minutes=30))
    [statement] = close("2026-10").statements
    correct(booking, manager, minutes=90, now=AFTER_OCTOBER)
    [charge] = charges()
    assert (charge.statement_id, charge.amount) == (statement.id, Decimal("90.00"))
    db.session.refresh(statement)
    assert statement.total == Decimal("90.00")


def test_a_correction_after_issue_becomes_an_adjustment_on_the_next_statement():
    instrument = instrument_at("60.00", billing_basis=BillingBasis.ACTUAL, rounding_minutes=15)
    manager = create_manager(instrument.lab)
    start = lab_time(OCT_12, 9)
    booking = create_booking(instrument=instrument, start_at=start,
                             end_at=start + dt.timedelta(hours=2))
    use(booking, start, start + dt.timedelta(minutes=30))
    [october] = close("2026-10").statements
    with write_transaction(db.session):
        billing.issue_statement(db.session, create_admin(), october, now=AFTER_OCTOBER)

    correct(booking, manager, minutes=90, now=lab_time(NOV_3, 9))
    correct(booking, manager, minutes=60, now=lab_time(NOV_3, 10))
    line, *corrections = charges()
    # The issued statement and its line are as they were issued.
    assert (line.statement_id, line.actual_minutes, line.amount) \
        == (october.id, 30, Decimal("30.00"))
    db.session.refresh(october)
    assert october.total == Decimal("30.00") == sum(c.amount for c in october.charges)
    # Each correction bills the difference to what was billed before, on the next statement.
    assert [(c.kind, c.corrects_charge_id, c.statement_id, c.period, c.amount)
            for c in corrections] == [
        (ChargeKind.ADJUSTMENT, line.id, None, "2026-11", Decimal("60.00")),
        (ChargeKind.ADJUSTMENT, line.id, None, "2026-11", Decimal("-30.00"))]
    assert [c.actual_minutes for c in corrections] == [90, 60]
    assert [(e.action, e.details["old_amount"], e.details["new_amount"]) for e in
            db.session.scalars(select(AuditEvent).where(
                AuditEvent.object_type == "charges",
                AuditEvent.object_id.in_([c.id for c in corrections]))
                .order_by(AuditEvent.id))] == [
        ("adjust", "30.00", "90.00"), ("adjust", "90.00", "60.00")]
    [november] = close("2026-11", now=AFTER_NOVEMBER).statements
    db.session.refresh(november)
    assert november.total == Decimal("30.00")
    assert line.amount + november.total == Decimal("60.00")  # what 60 minutes cost


def test_a_correction_after_issue_that_changes_no_price_adds_nothing():
    instrument = instrument_at("60.00")  # billed on the booked time
    manager = create_manager(instrument.lab)
    start = lab_time(OCT_12, 9)
    booking = create_booking(instrument=instrument, start_at=start,
                             end_at=start + dt.timedelta(hours=1))
    use(booking, start, start + dt.timedelta(minutes=30))
    [october] = close("2026-10").statements
    with write_transaction(db.session):
        billing.issue_statement(db.session, create_admin(), october, now=AFTER_OCTOBER)
    correct(booking, manager, minutes=50, now=lab_time(NOV_3, 9))
    assert len(charges()) == 1


def test_a_completed_order_line_is_charged_its_quote():
    service = create_service(express_surcharge_percent=50)
    line = create_order(service, create_user(), samples=3, line_state=LineState.COMPLETED)
    # external ¥100.00 × 3 = 300.00, express +50 % = 150.00
    line.is_express, line.express_surcharge_percent = True, 50
    line.express_surcharge, line.total = Decimal("150.00"), Decimal("450.00")
    line.completed_at = lab_time(OCT_20, 15)
    with write_transaction(db.session):
        billing.charge_order_line(db.session, line, now=lab_time(OCT_20, 15))
    [charge] = charges()
    assert charge.kind == ChargeKind.SERVICE and charge.order_line_id == line.id
    assert (charge.samples, charge.unit_price, charge.surcharge, charge.amount) \
        == (3, Decimal("100.00"), Decimal("150.00"), Decimal("450.00"))
    assert charge.period == "2026-10"


def test_the_database_refuses_a_second_charge_for_one_booking():
    instrument = instrument_at("60.00")
    start = lab_time(OCT_12, 9)
    booking = create_booking(instrument=instrument, start_at=start,
                             end_at=start + dt.timedelta(hours=1))
    use(booking, start, start + dt.timedelta(hours=1))
    [charge] = charges()
    db.session.add(Charge(kind=ChargeKind.USAGE, organization_id=charge.organization_id,
                          lab_id=charge.lab_id, booking_id=booking.id,
                          occurred_at=charge.occurred_at, period=charge.period,
                          amount=Decimal("1.00")))
    with pytest.raises(Exception, match=r"(?i)unique"):
        db.session.commit()
    db.session.rollback()


# -- adjustments ---------------------------------------------------------------------------------

def test_a_manager_credits_an_organization_with_a_reason():
    lab = create_lab()
    manager = create_manager(lab)
    organization = create_organization()
    with write_transaction(db.session):
        charge = billing.create_adjustment(db.session, manager, organization=organization,
                                           lab=lab, amount=Decimal("-50.00"),
                                           reason="instrument fault", now=AFTER_OCTOBER)
    assert charge.kind == ChargeKind.ADJUSTMENT and charge.amount == Decimal("-50.00")
    assert charge.created_by_id == manager.id and charge.period == "2026-11"


@pytest.mark.parametrize(("amount", "reason", "code"), [
    (Decimal("10.00"), "", "reason_required"),
    (Decimal("10.00"), "   ", "reason_required"),
    (Decimal("0.00"), "nothing", "invalid_amount"),
    (Decimal("1000000.01"), "absurd", "invalid_amount"),
    (Decimal("-1000000.01"), "absurd", "invalid_amount"),
])
def test_bad_adjustments_are_refused_and_change_nothing(amount, reason, code):
    lab = create_lab()
    manager = create_manager(lab)
    with pytest.raises(ValidationError) as refused, write_transaction(db.session):
        billing.create_adjustment(db.session, manager, organization=create_organization(),
                                  lab=lab, amount=amount, reason=reason, now=AFTER_OCTOBER)
    assert refused.value.code == code
    assert charges() == []


def test_managers_of_other_labs_and_researchers_make_no_adjustments():
    lab = create_lab()
    for actor in (create_manager(create_lab()), create_user()):
        with pytest.raises(PermissionDenied):
            billing.create_adjustment(db.session, actor, organization=create_organization(),
                                      lab=lab, amount=Decimal("5.00"), reason="x",
                                      now=AFTER_OCTOBER)


@pytest.mark.parametrize(("text", "valid"), [
    ("12.5", True), ("-3.10", True), (7, True), ("1.234", False), ("abc", False),
    ("NaN", False), ("Infinity", False), (None, False), (True, False), ("", False),
    ("1e30", False),  # beyond the decimal context: refused, not an uncaught error
    # Python's Decimal reads all of these as numbers; a person meant none of them.
    ("1_000", False), ("1e3", False), ("1E2", False), ("１２", False), ("1,000", False),
    ("-inf", False), (float("nan"), False), (1e16, False), ("1" * 40, False),
    ("+3.", True), ("-.5", True), (" 4 ", True),
])
def test_amounts_are_parsed_exactly(text, valid):
    if valid:
        assert billing.parse_amount(text) == Decimal(str(text)).quantize(Decimal("0.01"))
    else:
        with pytest.raises(ValidationError):
            billing.parse_amount(text)


# -- month close ---------------------------------------------------------------------------------

def completed(instrument, user, day: dt.date, hour: int, minutes: int) -> None:
    start = lab_time(day, hour)
    booking = create_booking(instrument=instrument, user=user, start_at=start,
                             end_at=start + dt.timedelta(minutes=minutes))
    use(booking, start, start + dt.timedelta(minutes=minutes))


def close(period: str, now: dt.datetime = AFTER_OCTOBER, actor=None) -> billing.CloseResult:
    with write_transaction(db.session):
        return billing.close_month(db.session, actor, period, now=now)


def test_closing_a_month_builds_one_numbered_draft_per_organization():
    instrument = instrument_at("37.50")
    alpha, beta = create_user(), create_user()
    completed(instrument, alpha, OCT_12, 9, 31)      # 28.13
    completed(instrument, alpha, OCT_20, 9, 60)      # 37.50
    completed(instrument, beta, OCT_12, 14, 45)      # 28.13
    completed(instrument, beta, NOV_3, 9, 60)        # November: not in October's statements
    lab = instrument.lab
    with write_transaction(db.session):
        billing.create_adjustment(db.session, create_admin(), organization=alpha.organization,
                                  lab=lab, amount=Decimal("-5.00"), reason="goodwill",
                                  now=lab_time(OCT_20, 12))

    result = close("2026-10")
    assert [s.number for s in result.statements] == ["LB-2026-000001", "LB-2026-000002"]
    by_org = {s.organization_id: s for s in result.statements}
    assert by_org[alpha.organization_id].total == Decimal("60.63")
    assert by_org[beta.organization_id].total == Decimal("28.13")
    for statement in result.statements:
        db.session.refresh(statement)
        assert statement.state == StatementState.DRAFT and statement.period == "2026-10"
        assert statement.total == sum(c.amount for c in statement.charges)
    november = [c for c in charges() if c.period == "2026-11"]
    assert len(november) == 1 and november[0].statement_id is None


def test_closing_a_month_twice_creates_nothing_new():
    instrument = instrument_at("60.00")
    completed(instrument, create_user(), OCT_12, 9, 60)
    first = close("2026-10")
    again = close("2026-10", now=AFTER_OCTOBER + dt.timedelta(hours=1))
    assert len(first.statements) == 1
    assert again.was_already_closed and again.statements == []
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Statement)) == 1
    assert db.session.scalar(select(func.count()).select_from(MonthClose)) == 1


def test_a_month_that_has_not_ended_cannot_be_closed():
    with pytest.raises(ValidationError) as refused:
        close("2026-11", now=lab_time(dt.date(2026, 11, 30), 23, 59))
    assert refused.value.code == "period_not_ended"
    with pytest.raises(ValidationError) as bad:
        close("2026-13")
    assert bad.value.code == "invalid_period"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(MonthClose)) == 0


@pytest.mark.parametrize("period", ["9999-12", "2100-01", "1999-12", "２０２６-１０"])
def test_a_month_beyond_the_calendar_is_refused_plainly(period):
    with pytest.raises(ValidationError) as refused:
        close(period, now=lab_time(dt.date(2026, 11, 2), 2))
    assert refused.value.code == "invalid_period"


@pytest.mark.parametrize("period", ["9999-12", "0000-01"])
def test_the_close_month_command_refuses_a_month_beyond_the_calendar(app, period):
    result = app.test_cli_runner().invoke(args=["labbook", "close-month", period])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "2000-01" in result.output and "Traceback" not in result.output


def test_only_admins_close_a_month():
    with pytest.raises(PermissionDenied):
        close("2026-10", actor=create_manager(create_lab()))
    assert close("2026-10", actor=create_admin()).statements == []


def test_a_late_charge_for_a_closed_month_goes_into_the_next_statement_with_its_date():
    instrument = instrument_at("60.00")
    user = create_user()
    completed(instrument, user, OCT_12, 9, 60)
    close("2026-10")
    late_start = lab_time(dt.date(2026, 10, 30), 9)  # checked out only after the close
    late = create_booking(instrument=instrument, user=user, start_at=late_start,
                          end_at=late_start + dt.timedelta(hours=2))
    use(late, late_start, late_start + dt.timedelta(hours=2))
    completed(instrument, user, NOV_3, 9, 60)

    november = close("2026-11", now=AFTER_NOVEMBER)
    [statement] = november.statements
    db.session.refresh(statement)
    assert statement.number == "LB-2026-000002"
    assert sorted(c.period for c in statement.charges) == ["2026-10", "2026-11"]
    assert statement.total == Decimal("180.00")
    assert all(c.statement_id is not None for c in charges())


def test_statement_numbers_start_again_each_year():
    instrument = instrument_at("60.00")
    user = create_user()
    completed(instrument, user, dt.date(2026, 12, 7), 9, 60)
    completed(instrument, user, dt.date(2027, 1, 4), 9, 60)
    close("2026-12", now=lab_time(dt.date(2027, 1, 1), 2))
    [january] = close("2027-01", now=lab_time(dt.date(2027, 2, 1), 2)).statements
    assert january.number == "LB-2027-000001"


def test_an_issued_statement_never_changes_and_is_paid_once():
    instrument = instrument_at("60.00")
    user = create_user()
    completed(instrument, user, OCT_12, 9, 60)
    [statement] = close("2026-10").statements
    admin = create_admin()
    with pytest.raises(Conflict):
        billing.mark_paid(db.session, admin, statement, now=AFTER_OCTOBER)
    with write_transaction(db.session):
        billing.issue_statement(db.session, admin, statement, now=AFTER_OCTOBER)
    with pytest.raises(Conflict) as again:
        billing.issue_statement(db.session, admin, statement, now=AFTER_OCTOBER)
    assert again.value.code == "invalid_state"
    with pytest.raises(Conflict) as adjusted:
        billing.create_adjustment(db.session, admin, organization=user.organization,
                                  lab=instrument.lab, amount=Decimal("1.00"), reason="late",
                                  now=AFTER_OCTOBER, statement=statement)
    assert adjusted.value.code == "invalid_state"
    db.session.rollback()
    with write_transaction(db.session):
        billing.mark_paid(db.session, admin, statement, now=AFTER_OCTOBER, note="bank transfer")
    db.session.refresh(statement)
    assert statement.state == StatementState.PAID and statement.total == Decimal("60.00")
    assert len(statement.charges) == 1


def test_an_adjustment_into_a_draft_changes_its_total():
    instrument = instrument_at("60.00")
    user = create_user()
    completed(instrument, user, OCT_12, 9, 60)
    [statement] = close("2026-10").statements
    with write_transaction(db.session):
        billing.create_adjustment(db.session, create_admin(), organization=user.organization,
                                  lab=instrument.lab, amount=Decimal("-12.50"),
                                  reason="short run", now=AFTER_OCTOBER, statement=statement)
    db.session.refresh(statement)
    assert statement.total == Decimal("47.50") == sum(c.amount for c in statement.charges)


def test_who_sees_a_statement():
    instrument = instrument_at("60.00")
    other_lab_instrument = instrument_at("60.00")
    user = create_user()
    completed(instrument, user, OCT_12, 9, 60)
    completed(other_lab_instrument, user, OCT_12, 14, 60)
    [statement] = close("2026-10").statements
    contact = create_user(organization=user.organization)
    user.organization.billing_contact = contact
    db.session.commit()
    manager = create_manager(instrument.lab)
    outsider = create_manager(create_lab())
    assert not billing.can_view_statement(contact, statement)  # a draft is the labs' own
    assert not billing.can_view_statement(user, statement)
    assert billing.can_view_statement(manager, statement)
    assert [c.lab_id for c in billing.visible_lines(manager, statement)] == [instrument.lab_id]
    assert not billing.can_view_statement(outsider, statement)
    with write_transaction(db.session):
        billing.issue_statement(db.session, create_admin(), statement, now=AFTER_OCTOBER)
    assert billing.can_view_statement(contact, statement)
    assert len(billing.visible_lines(contact, statement)) == 2
    assert not billing.can_view_statement(user, statement)
    assert db.session.scalars(billing.visible_statements(db.session, contact)).all() \
        == [statement]
    assert db.session.scalars(billing.visible_statements(db.session, user)).all() == []


# -- rate cards ----------------------------------------------------------------------------------

def rate_input(**overrides: object) -> billing.RateCardInput:
    values: dict = {"tier": PriceTier.PARTNER, "effective_from": dt.date(2026, 12, 1),
                    "hourly_rate": Decimal("90.00"), "billing_basis": BillingBasis.LARGER,
                    "rounding_minutes": 30, "minimum_minutes": 60, "no_show_percent": 80,
                    "late_cancel_percent": 40}
    values.update(overrides)
    return billing.RateCardInput(**values)


@pytest.mark.parametrize(("overrides", "code"), [
    ({"effective_from": dt.date(2026, 11, 1)}, "in_past"),
    ({"hourly_rate": Decimal("-1.00")}, "out_of_range"),
    ({"rounding_minutes": 0}, "out_of_range"),
    ({"no_show_percent": 101}, "out_of_range"),
    ({"late_cancel_percent": -1}, "out_of_range"),
    ({"minimum_minutes": 100000}, "out_of_range"),
])
def test_bad_rate_cards_are_refused(overrides, code):
    instrument = create_instrument()
    manager = create_manager(instrument.lab)
    with pytest.raises(ValidationError) as refused, write_transaction(db.session):
        billing.add_rate_card(db.session, manager, instrument, rate_input(**overrides),
                              now=lab_time(NOV_3, 9))
    assert refused.value.code == code
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(RateCard)) == 3


def test_a_rate_card_with_the_same_start_is_refused_and_a_future_one_withdrawn():
    instrument = create_instrument()
    manager = create_manager(instrument.lab)
    now = lab_time(NOV_3, 9)
    with write_transaction(db.session):
        card = billing.add_rate_card(db.session, manager, instrument, rate_input(), now=now)
    with pytest.raises(ValidationError) as clash, write_transaction(db.session):
        billing.add_rate_card(db.session, manager, instrument, rate_input(), now=now)
    assert clash.value.code == "overlapping_effective_dates"
    with pytest.raises(PermissionDenied):
        billing.add_rate_card(db.session, create_manager(create_lab()), instrument,
                              rate_input(effective_from=dt.date(2026, 12, 2)), now=now)
    with pytest.raises(Conflict):
        billing.withdraw_rate_card(db.session, manager, card, now=lab_time(dt.date(2026, 12, 1), 9))
    with write_transaction(db.session):
        billing.withdraw_rate_card(db.session, manager, card, now=now)
    db.session.rollback()
    assert db.session.get(RateCard, card.id) is None


def test_a_card_that_priced_a_charge_cannot_be_withdrawn():
    instrument = create_instrument(rates={PriceTier.EXTERNAL: Decimal("60.00")})
    manager = create_manager(instrument.lab)
    tomorrow = dt.date(2026, 11, 4)
    card = card_from(tomorrow, "90.00", entered=lab_time(NOV_3, 9), instrument=instrument,
                     basis=BillingBasis.BOOKED)
    # Cancelled late, the day before: charged on the card in force at the booked start.
    booking = create_booking(instrument=instrument, start_at=lab_time(tomorrow, 9),
                             end_at=lab_time(tomorrow, 10))
    with write_transaction(db.session):
        bookings.cancel_booking(db.session, booking.user, booking, now=lab_time(NOV_3, 20))
    assert [(c.rate_card_id, c.amount) for c in charges()] == [(card.id, Decimal("45.00"))]
    with pytest.raises(Conflict) as refused, write_transaction(db.session):
        billing.withdraw_rate_card(db.session, manager, card, now=lab_time(NOV_3, 21))
    assert refused.value.code == "rate_card_in_force"


def test_a_manager_who_is_also_the_billing_contact_sees_only_their_labs_lines_of_a_draft():
    instrument = instrument_at("60.00")
    other = instrument_at("60.00")
    user = create_user()
    completed(instrument, user, OCT_12, 9, 60)
    completed(other, user, OCT_12, 14, 60)
    [statement] = close("2026-10").statements
    manager = create_manager(instrument.lab, organization=user.organization)
    user.organization.billing_contact = manager
    db.session.commit()
    assert not billing.sees_whole_statement(manager, statement)
    assert [c.lab_id for c in billing.visible_lines(manager, statement)] == [instrument.lab_id]


def test_issuing_a_statement_emails_the_billing_contact():
    instrument = instrument_at("60.00")
    user = create_user()
    completed(instrument, user, OCT_12, 9, 60)
    [statement] = close("2026-10").statements
    user.organization.billing_contact = user
    db.session.commit()
    with write_transaction(db.session):
        billing.issue_statement(db.session, create_admin(), statement, now=AFTER_OCTOBER)
    db.session.rollback()
    [mail] = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "statement_issued")).all()
    assert mail.recipient == user.email and statement.number in mail.subject
