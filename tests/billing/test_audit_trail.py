"""What billing writes down besides the money: who did what and when, on the lines, the
statements and the month closes, and in the audit log that managers and auditors read."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from sqlalchemy import select

from labbook.accounts.models import PriceTier
from labbook.audit.models import AuditEvent
from labbook.billing import services as billing
from labbook.billing.models import BillingBasis, ChargeKind, MonthClose, StatementState
from labbook.booking import services as bookings
from labbook.core.engine import write_transaction
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from tests.billing.test_services import (
    AFTER_OCTOBER,
    NOV_3,
    OCT_12,
    charges,
    close,
    completed,
    correct,
    instrument_at,
    rate_input,
    use,
)
from tests.factories import (
    create_admin,
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_user,
    lab_time,
)


def events(object_type: str) -> list[tuple]:
    db.session.rollback()
    return [(e.actor_id, e.object_id, e.action, e.from_state, e.to_state, e.note, e.at,
             e.details)
            for e in db.session.scalars(select(AuditEvent)
                                        .where(AuditEvent.object_type == object_type)
                                        .order_by(AuditEvent.id))]


def test_an_adjustment_records_its_author_terms_and_statement():
    lab = create_lab()
    organization = create_organization(tier=PriceTier.PARTNER)
    manager = create_manager(lab)
    with write_transaction(db.session):
        charge = billing.create_adjustment(db.session, manager, organization=organization,
                                           lab=lab, amount=Decimal("-12.50"),
                                           reason="  refund  ", now=AFTER_OCTOBER)
    [line] = charges()
    assert (line.kind, line.tier, line.share_percent, line.amount, line.reason) \
        == (ChargeKind.ADJUSTMENT, PriceTier.PARTNER, 100, Decimal("-12.50"), "refund")
    assert (line.created_by_id, line.created_at, line.occurred_at, line.period,
            line.statement_id) == (manager.id, AFTER_OCTOBER, AFTER_OCTOBER, "2026-11", None)
    assert events("charges") == [(
        manager.id, charge.id, "adjust", None, None, "refund", AFTER_OCTOBER,
        {"amount": "-12.50", "organization_id": organization.id, "lab_id": lab.id,
         "statement_id": None})]


def test_an_adjustment_into_a_draft_is_of_the_drafts_month_and_says_so():
    instrument = instrument_at("60.00")
    user = create_user()
    completed(instrument, user, OCT_12, 9, 60)
    [statement] = close("2026-10").statements
    admin = create_admin()
    with write_transaction(db.session):
        charge = billing.create_adjustment(db.session, admin, organization=user.organization,
                                           lab=instrument.lab, amount=Decimal("5.00"),
                                           reason="extra", now=lab_time(NOV_3, 9),
                                           statement=statement)
    db.session.rollback()
    assert (charge.period, charge.statement_id) == ("2026-10", statement.id)
    assert events("charges")[-1][-1]["statement_id"] == statement.id


def test_closing_a_month_records_who_closed_it_and_how_many_statements_it_made():
    instrument = instrument_at("60.00")
    completed(instrument, create_user(), OCT_12, 9, 60)
    completed(instrument, create_user(), OCT_12, 14, 60)
    admin = create_admin()
    result = close("2026-10", actor=admin)
    db.session.rollback()
    [closing] = db.session.scalars(select(MonthClose)).all()
    assert (closing.period, closing.closed_at, closing.closed_by_id, closing.statements_created) \
        == ("2026-10", AFTER_OCTOBER, admin.id, 2)
    for statement in result.statements:
        db.session.refresh(statement)
        assert (statement.state, statement.created_at, statement.payment_note, statement.total) \
            == (StatementState.DRAFT, AFTER_OCTOBER, "", Decimal("60.00"))
    assert events("month_closes") == [(admin.id, closing.id, "close_month", None, None, "",
                                       AFTER_OCTOBER, {"period": "2026-10", "statements": 2})]


def test_the_scheduler_closes_a_month_as_nobody():
    instrument = instrument_at("60.00")
    completed(instrument, create_user(), OCT_12, 9, 60)
    close("2026-10")
    db.session.rollback()
    assert db.session.scalars(select(MonthClose.closed_by_id)).all() == [None]
    assert [event[0] for event in events("month_closes")] == [None]


def test_issuing_and_payment_record_who_when_and_the_total():
    instrument = instrument_at("60.00")
    user = create_user()
    completed(instrument, user, OCT_12, 9, 60)
    [statement] = close("2026-10").statements
    user.organization.billing_contact = user
    db.session.commit()
    issuer, payee = create_admin(), create_admin()
    issued_at, paid_at = lab_time(NOV_3, 9), lab_time(NOV_3, 15)
    with write_transaction(db.session):
        billing.issue_statement(db.session, issuer, statement, now=issued_at)
    with write_transaction(db.session):
        billing.mark_paid(db.session, payee, statement, now=paid_at, note=" wire 0042 ")
    db.session.rollback()
    assert (statement.issued_by_id, statement.issued_at, statement.paid_by_id,
            statement.paid_at, statement.payment_note) \
        == (issuer.id, issued_at, payee.id, paid_at, "wire 0042")
    assert events("statements") == [
        (issuer.id, statement.id, "issue", "draft", "issued", "", issued_at,
             {"total": "60.00", "voucher_amount": "0.00"}),
        (payee.id, statement.id, "mark_paid", "issued", "paid", "wire 0042", paid_at, {}),
    ]
    [mail] = db.session.scalars(select(OutboxMessage)).all()
    assert mail.created_at == issued_at


def test_a_payment_without_a_note_records_none():
    instrument = instrument_at("60.00")
    completed(instrument, create_user(), OCT_12, 9, 60)
    [statement] = close("2026-10").statements
    admin = create_admin()
    with write_transaction(db.session):
        billing.issue_statement(db.session, admin, statement, now=AFTER_OCTOBER)
    with write_transaction(db.session):
        billing.mark_paid(db.session, admin, statement, now=AFTER_OCTOBER)
    assert statement.payment_note == ""


def test_a_booking_charge_is_made_at_the_moment_it_became_billable():
    instrument = instrument_at("60.00", no_show_percent=50, late_cancel_percent=50)
    instrument.cancellation_window_hours = 24
    db.session.commit()
    used = create_booking(instrument=instrument, start_at=lab_time(OCT_12, 9),
                          end_at=lab_time(OCT_12, 10))
    use(used, lab_time(OCT_12, 9), lab_time(OCT_12, 10, 15))
    cancelled = create_booking(instrument=instrument, start_at=lab_time(OCT_12, 14),
                               end_at=lab_time(OCT_12, 15))
    cancelled_at = lab_time(OCT_12, 12)
    with write_transaction(db.session):
        bookings.cancel_booking(db.session, cancelled.user, cancelled, now=cancelled_at)
    absent = create_booking(instrument=instrument, start_at=lab_time(OCT_12, 16),
                            end_at=lab_time(OCT_12, 17))
    marked_at = lab_time(OCT_12, 16, 45)
    with write_transaction(db.session):
        billing.charge_no_show(db.session, absent, now=marked_at)
    assert [(c.kind, c.created_at, c.reason, c.occurred_at) for c in charges()] == [
        (ChargeKind.USAGE, lab_time(OCT_12, 10, 15), "", lab_time(OCT_12, 9)),
        (ChargeKind.LATE_CANCELLATION, cancelled_at, "", lab_time(OCT_12, 14)),
        (ChargeKind.NO_SHOW, marked_at, "", lab_time(OCT_12, 16)),
    ]


def test_a_charge_of_nothing_is_no_line_and_one_of_a_yuan_is():
    free = instrument_at("60.00", no_show_percent=0, rounding_minutes=1)
    absent = create_booking(instrument=free, start_at=lab_time(OCT_12, 9),
                            end_at=lab_time(OCT_12, 10))
    with write_transaction(db.session):
        assert billing.charge_no_show(db.session, absent, now=lab_time(OCT_12, 10)) is None
    minute = create_booking(instrument=free, start_at=lab_time(OCT_12, 11),
                            end_at=lab_time(OCT_12, 11, 1))
    use(minute, lab_time(OCT_12, 11), lab_time(OCT_12, 11, 1))
    assert [(c.booking_id, c.amount) for c in charges()] == [(minute.id, Decimal("1.00"))]


def test_a_booking_without_a_rate_card_is_logged_and_not_charged(caplog):
    instrument = create_instrument(code="NEM-009", rates={PriceTier.INTERNAL: Decimal("60.00")})
    booking = create_booking(instrument=instrument, user=create_user(),
                             start_at=lab_time(OCT_12, 9), end_at=lab_time(OCT_12, 10))
    with caplog.at_level(logging.WARNING, logger="labbook.billing.services"):
        use(booking, lab_time(OCT_12, 9), lab_time(OCT_12, 10))
    assert charges() == []
    assert [record.getMessage() for record in caplog.records
            if record.name == "labbook.billing.services"] \
        == [f"booking {booking.id}: no external rate card for NEM-009 at its start; "
            "nothing charged"]


def half_an_hour_used_of_two_booked():
    """A booking of 9:00–11:00 on 12 October, on a card billing actual use in 15-minute
    increments at ¥60.00/h, checked out after 30 minutes: ¥30.00."""
    instrument = instrument_at("60.00", billing_basis=BillingBasis.ACTUAL, rounding_minutes=15)
    start = lab_time(OCT_12, 9)
    booking = create_booking(instrument=instrument, start_at=start,
                             end_at=start + dt.timedelta(hours=2))
    use(booking, start, start + dt.timedelta(minutes=30))
    return booking, create_manager(instrument.lab)


def test_a_repriced_line_records_the_old_and_the_new_amount():
    booking, manager = half_an_hour_used_of_two_booked()
    [statement] = close("2026-10").statements
    correct(booking, manager, minutes=90, now=lab_time(NOV_3, 9))
    [charge] = charges()
    assert events("charges") == [(None, charge.id, "reprice", None, None, "",
                                  lab_time(NOV_3, 9),
                                  {"old_amount": "30.00", "new_amount": "90.00",
                                   "statement_id": statement.id})]


def test_a_correction_after_issue_is_a_line_of_the_same_instrument_card_and_tier():
    booking, manager = half_an_hour_used_of_two_booked()
    [october] = close("2026-10").statements
    with write_transaction(db.session):
        billing.issue_statement(db.session, create_admin(), october, now=AFTER_OCTOBER)
    corrected_at = lab_time(NOV_3, 9)
    correct(booking, manager, minutes=90, now=corrected_at)
    line, correction = charges()
    assert (correction.instrument_id, correction.rate_card_id, correction.tier,
            correction.reason, correction.created_at, correction.occurred_at) \
        == (line.instrument_id, line.rate_card_id, line.tier, "", corrected_at, corrected_at)
    assert events("charges") == [(None, correction.id, "adjust", None, None, "", corrected_at,
                                  {"amount": "60.00", "organization_id": line.organization_id,
                                   "lab_id": line.lab_id, "old_amount": "30.00",
                                   "new_amount": "90.00"})]


def test_rate_card_changes_are_recorded_with_their_terms_and_listed_per_instrument():
    instrument, other = create_instrument(), create_instrument()
    manager = create_manager(instrument.lab, name="Wang Fang")
    admin = create_admin(name="Li Lei")
    later, earlier = lab_time(NOV_3, 11), lab_time(NOV_3, 9)
    with write_transaction(db.session):
        first = billing.add_rate_card(db.session, manager, instrument, rate_input(),
                                      now=later)
    with write_transaction(db.session):
        second = billing.add_rate_card(db.session, admin, instrument,
                                       rate_input(effective_from=dt.date(2026, 12, 2)),
                                       now=earlier)
    with write_transaction(db.session):
        billing.add_rate_card(db.session, admin, other, rate_input(), now=earlier)
    with write_transaction(db.session):
        billing.withdraw_rate_card(db.session, admin, first, now=later)
    history = billing.rate_card_history(db.session, instrument)
    assert [(entry.event.action, entry.event.object_id, entry.actor_name) for entry in history] \
        == [("create", second.id, "Li Lei"), ("create", first.id, "Wang Fang"),
            ("withdraw", first.id, "Li Lei")]
    assert history[0].event.details == {
        "instrument_id": instrument.id, "tier": "partner", "effective_from": "2026-12-02",
        "hourly_rate": "90.00", "billing_basis": "larger", "rounding_minutes": "30",
        "minimum_minutes": "60", "no_show_percent": "80", "late_cancel_percent": "40"}
    assert history[2].event.details == {
        "instrument_id": instrument.id, "tier": "partner", "effective_from": "2026-12-01",
        "hourly_rate": "90.00"}
