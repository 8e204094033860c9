"""What a charge line says it is and how it says it was computed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from labbook.accounts.models import PriceTier
from labbook.billing import services as billing
from labbook.billing.lines import (
    booked_by,
    computation,
    describe,
    kind_label,
    line_date,
    project_ref,
)
from labbook.billing.models import BillingBasis, Charge, ChargeKind, StatementState
from labbook.booking.models import BookingState
from labbook.extensions import db
from tests.factories import (
    create_admin,
    create_booking,
    create_charge,
    create_instrument,
    create_service,
    create_statement,
    create_user,
    lab_time,
)

DAY = dt.date(2026, 11, 2)
NOW = lab_time(dt.date(2026, 11, 30), 12)


@pytest.fixture(autouse=True)
def _english():
    with force_locale("en"):
        yield


def booking_charge(rate: str, minutes: int, *, kind: ChargeKind = ChargeKind.USAGE,
                   basis: BillingBasis = BillingBasis.BOOKED, rounding: int = 15,
                   minimum: int = 0, used: int | None = None, share: int = 50,
                   **booking: object):
    instrument = create_instrument(code="XRD-01", name_en="X-ray diffractometer",
                                   name_zh="X射线衍射仪", rates={PriceTier.EXTERNAL: Decimal(rate)})
    card = instrument.rate_cards[0]
    card.billing_basis, card.rounding_minutes, card.minimum_minutes = basis, rounding, minimum
    card.no_show_percent = card.late_cancel_percent = share
    start = lab_time(DAY, 9)
    booking = create_booking(instrument=instrument, start_at=start,
                             end_at=start + dt.timedelta(minutes=minutes),
                             state=BookingState.COMPLETED, **booking)
    if used is not None:
        booking.checked_in_at = start
        booking.checked_out_at = start + dt.timedelta(minutes=used)
    charge = {ChargeKind.USAGE: billing.charge_completed_booking,
              ChargeKind.NO_SHOW: billing.charge_no_show,
              ChargeKind.LATE_CANCELLATION: billing.charge_late_cancellation}[kind](
        db.session, booking, now=NOW)
    db.session.commit()
    return charge


def test_31_minutes_booked_at_37_50_in_15_minute_increments():
    charge = booking_charge("37.50", 31)
    assert describe(charge) == "XRD-01 X-ray diffractometer, 2026-11-02 09:00–09:31"
    assert computation(charge) == ("31 min booked → 45 min billed (15-min increments) "
                                   "× ¥37.50/h = ¥28.13")
    assert line_date(charge) == DAY


def test_the_chinese_name_outside_english():
    charge = booking_charge("37.50", 31)
    with force_locale("zh_CN"):
        assert describe(charge).startswith("XRD-01 X射线衍射仪, 2026-11-02 09:00")


def test_actual_basis_with_a_minimum():
    charge = booking_charge("60.00", 60, basis=BillingBasis.ACTUAL, minimum=30, used=10)
    assert computation(charge) == ("10 min used → 30 min billed (15-min increments, minimum "
                                   "30 min) × ¥60.00/h = ¥30.00")


def test_the_larger_of_booked_and_used():
    charge = booking_charge("100.00", 60, basis=BillingBasis.LARGER, rounding=1, used=75)
    assert computation(charge) == ("the larger of 60 min booked and 75 min used → 75 min "
                                   "billed × ¥100.00/h = ¥125.00")


def test_actual_basis_never_used():
    charge = booking_charge("100.00", 60, basis=BillingBasis.ACTUAL, minimum=15)
    assert computation(charge).startswith("not used → 15 min billed")


def test_no_show_says_so_with_its_share():
    charge = booking_charge("200.00", 60, kind=ChargeKind.NO_SHOW, share=50)
    assert describe(charge).startswith("No-show: XRD-01 X-ray diffractometer, 2026-11-02")
    assert computation(charge) == ("no-show: 50 % of 60 min booked → 60 min billed "
                                   "(15-min increments) × ¥200.00/h = ¥100.00")


def test_late_cancellation_says_so_with_its_share():
    charge = booking_charge("37.50", 31, kind=ChargeKind.LATE_CANCELLATION, share=33)
    assert describe(charge).startswith("Late cancellation: XRD-01")
    # 45/60 × 37.50 × 33 % = 9.28125 → 9.28
    assert computation(charge) == ("late cancellation: 33 % of 31 min booked → 45 min billed "
                                   "(15-min increments) × ¥37.50/h = ¥9.28")


def test_a_testing_service_with_express():
    service = create_service(code="FOOD-S001", name_en="Pesticide residues",
                             express_surcharge_percent=50)
    charge = create_charge(kind=ChargeKind.SERVICE, lab=service.lab, service=service, samples=5,
                           unit_price=Decimal("120.00"), surcharge=Decimal("300.00"),
                           amount=Decimal("900.00"), reason="")
    assert describe(charge) == "FOOD-S001 Pesticide residues, 5 samples, express"
    assert computation(charge) == "5 samples × ¥120.00 + express ¥300.00 = ¥900.00"
    one = create_charge(kind=ChargeKind.SERVICE, lab=service.lab, service=service, samples=1,
                        unit_price=Decimal("1200.00"), surcharge=Decimal("0.00"),
                        amount=Decimal("1200.00"), reason="")
    assert describe(one) == "FOOD-S001 Pesticide residues, 1 sample"
    assert computation(one) == "1 sample × ¥1,200.00 = ¥1,200.00"


def test_an_adjustment_gives_its_reason_and_author():
    admin = create_admin(name="Wang Fang")
    charge = create_charge(amount=Decimal("-12.50"), reason="Double-booked slot refunded",
                           created_by=admin)
    assert describe(charge) == "Adjustment: Double-booked slot refunded"
    assert computation(charge) == "entered by Wang Fang on 2026-11-02 = -¥12.50"
    assert kind_label(charge.kind) == "Adjustment"
    unsigned = create_charge(amount=Decimal("3.00"), reason="Imported")
    assert computation(unsigned) == "entered by the system on 2026-11-02 = ¥3.00"


def test_a_late_charge_on_a_later_statement_is_labelled_with_its_month():
    late = create_charge(occurred_at=lab_time(dt.date(2026, 10, 31), 23), reason="Late")
    create_statement([late], period="2026-11")
    assert line_date(late) == dt.date(2026, 10, 31)
    assert describe(late) == "Adjustment: Late (late charge of 2026-10)"


def test_a_line_names_who_booked_it_and_the_project_reference_given():
    charge = booking_charge("60.00", 60, user=create_user(name="Li Lei"),
                            project_ref="PO-2026-118")
    assert (booked_by(charge).name, project_ref(charge)) == ("Li Lei", "PO-2026-118")
    adjustment = create_charge(reason="Refund")
    assert (booked_by(adjustment), project_ref(adjustment)) == (None, "")


def test_a_correction_after_issue_says_what_it_corrects_and_how():
    charge = booking_charge("60.00", 120, basis=BillingBasis.ACTUAL, used=30,
                            user=create_user(name="Li Lei"), project_ref="PO-7")
    statement = create_statement([charge], number="LB-2026-000007", period="2026-11")
    statement.state = StatementState.ISSUED
    booking = charge.booking
    booking.checked_out_at = booking.checked_in_at + dt.timedelta(minutes=90)
    db.session.commit()
    billing.charge_completed_booking(db.session, booking, now=NOW)
    db.session.commit()
    correction = db.session.scalars(select(Charge).where(Charge.corrects_charge_id == charge.id)
                                    ).one()
    assert describe(correction) == ("Correction of XRD-01 X-ray diffractometer, "
                                    "2026-11-02 09:00–11:00, billed on statement "
                                    "LB-2026-000007")
    assert computation(correction) == ("90 min used → 90 min billed (15-min increments) "
                                       "× ¥60.00/h = ¥90.00, less ¥30.00 billed before "
                                       "= ¥60.00")
    assert (booked_by(correction).name, project_ref(correction)) == ("Li Lei", "PO-7")



def test_a_minimum_without_increments():
    charge = booking_charge("60.00", 10, rounding=1, minimum=30)
    assert computation(charge) == ("10 min booked → 30 min billed (minimum 30 min) "
                                   "× ¥60.00/h = ¥30.00")


def test_increments_of_two_minutes_are_named():
    charge = booking_charge("60.00", 31, rounding=2)
    assert computation(charge) == ("31 min booked → 32 min billed (2-min increments) "
                                   "× ¥60.00/h = ¥32.00")


def test_a_correction_of_a_shared_line_prices_the_time_at_that_share():
    no_show = booking_charge("200.00", 60, kind=ChargeKind.NO_SHOW, share=50)
    statement = create_statement([no_show], number="LB-2026-000008", period="2026-11")
    statement.state = StatementState.ISSUED
    correction = create_charge(
        organization=no_show.organization, lab=no_show.lab, instrument=no_show.instrument,
        corrects=no_show, basis=BillingBasis.BOOKED, booked_minutes=90, billed_minutes=90,
        rounding_minutes=15, minimum_minutes=0, unit_price=Decimal("200.00"),
        share_percent=50, amount=Decimal("50.00"), reason="")
    assert computation(correction) == ("50 % of 90 min booked → 90 min billed (15-min "
                                       "increments) × ¥200.00/h = ¥150.00, less ¥100.00 billed "
                                       "before = ¥50.00")
