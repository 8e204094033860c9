"""What billing refuses, and the words it refuses in: the code a program reads, the message a
person reads (here in English) and the field a form marks, for every refusal of the billing
services. A refused change writes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from labbook.accounts.models import PriceTier
from labbook.billing import services as billing
from labbook.billing.models import Charge, RateCard, Statement, StatementState
from labbook.catalogue.models import Instrument
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from labbook.extensions import db
from tests.billing.test_services import rate_input
from tests.factories import (
    create_admin,
    create_charge,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_statement,
    create_user,
    lab_time,
)
from tests.refusals import problem, refusal

NOW = lab_time(dt.date(2026, 11, 3), 9)
TODAY = dt.date(2026, 11, 3)


@pytest.fixture(autouse=True)
def _english():
    with force_locale("en"):
        yield


def statement_in(state: StatementState, **charge: object) -> Statement:
    statement = create_statement([create_charge(**charge)], number="LB-2026-000042")
    statement.state = state
    db.session.commit()
    return statement


def charge_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Charge))


# -- adjustments ------------------------------------------------------------------------------


def adjust(actor, *, lab, organization=None, amount: str = "10.00", reason: str | None = "x",
           statement: Statement | None = None) -> Charge:
    with write_transaction(db.session):
        return billing.create_adjustment(
            db.session, actor, organization=organization or create_organization(), lab=lab,
            amount=Decimal(amount), reason=reason, now=NOW, statement=statement)


def test_an_adjustment_is_made_by_the_labs_managers_and_admins_only():
    lab = create_lab()
    for outsider in (create_user(), create_manager(create_lab())):
        with pytest.raises(PermissionDenied) as refused:
            adjust(outsider, lab=lab)
        assert refusal(refused) == (
            "not_lab_manager", "Only admins and the lab's managers make adjustments.", [])
    assert charge_count() == 0
    adjust(create_manager(lab), lab=lab)
    adjust(create_admin(), lab=lab)
    assert charge_count() == 2


@pytest.mark.parametrize(("amount", "reason", "problems"), [
    ("10.00", "  ", [problem("reason_required", "Give the reason for the adjustment.",
                             "reason")]),
    ("10.00", None, [problem("reason_required", "Give the reason for the adjustment.",
                             "reason")]),
    ("10.00", "r" * 501, [problem("too_long", "The reason is at most 500 characters.",
                                  "reason")]),
    ("0.00", "x", [problem("invalid_amount", "An adjustment of zero changes nothing.",
                           "amount")]),
    ("1000000.01", "x", [problem("invalid_amount",
                                 "An adjustment is at most ¥1,000,000.00 either way.", "amount")]),
    ("-1000000.01", "x", [problem("invalid_amount",
                                  "An adjustment is at most ¥1,000,000.00 either way.",
                                  "amount")]),
    ("0", "", [problem("reason_required", "Give the reason for the adjustment.", "reason"),
               problem("invalid_amount", "An adjustment of zero changes nothing.", "amount")]),
])
def test_an_adjustment_needs_a_reason_and_an_amount_within_bounds(amount, reason, problems):
    lab = create_lab()
    with pytest.raises(ValidationError) as refused:
        adjust(create_admin(), lab=lab, amount=amount, reason=reason)
    assert refusal(refused) == (problems[0]["code"], problems[0]["message"], problems)
    assert charge_count() == 0


def test_the_longest_reason_and_the_largest_amounts_are_taken():
    lab = create_lab()
    admin = create_admin()
    adjust(admin, lab=lab, reason="r" * 500)
    adjust(admin, lab=lab, amount="1000000.00")
    adjust(admin, lab=lab, amount="-1000000.00")
    assert charge_count() == 3


def test_an_adjustment_goes_only_into_a_draft_of_its_own_organization():
    lab = create_lab()
    admin = create_admin()
    issued = statement_in(StatementState.ISSUED, lab=lab)
    with pytest.raises(Conflict) as refused:
        adjust(admin, lab=lab, organization=issued.organization, statement=issued)
    message = ("Statement LB-2026-000042 is no longer a draft and never changes: record the "
               "correction as an adjustment for the organization's next statement instead.")
    assert refusal(refused) == ("invalid_state", message,
                                [problem("invalid_state", message, "statement_id")])
    issued.state = StatementState.DRAFT
    db.session.commit()
    with pytest.raises(ValidationError) as elsewhere:
        adjust(admin, lab=lab, statement=issued)
    message = "Adjustments go only into a draft statement of the same organization."
    assert refusal(elsewhere) == ("statement_not_draft", message,
                                  [problem("statement_not_draft", message, "statement_id")])
    assert charge_count() == 1


def test_an_adjustment_into_a_statement_gone_meanwhile_is_not_found():
    lab = create_lab()
    with pytest.raises(NotFound) as refused:
        adjust(create_admin(), lab=lab, statement=Statement(id=999))
    assert refusal(refused) == ("not_found", "No statement with id 999.", [])


# -- statements -------------------------------------------------------------------------------


def test_only_admins_issue_statements_and_record_payments():
    lab = create_lab()
    draft = statement_in(StatementState.DRAFT, lab=lab)
    for change in (billing.issue_statement, billing.mark_paid):
        with pytest.raises(PermissionDenied) as refused:
            change(db.session, create_manager(lab), draft, now=NOW)
        assert refusal(refused) == (
            "not_admin", "Only admins issue statements and record payments.", [])
        db.session.rollback()


def test_a_statement_is_issued_once_and_paid_once():
    admin = create_admin()
    issued = statement_in(StatementState.ISSUED)
    with pytest.raises(Conflict) as again:
        billing.issue_statement(db.session, admin, issued, now=NOW)
    assert refusal(again) == (
        "invalid_state", "Statement LB-2026-000042 is already issued; an issued statement "
        "never changes (corrections are adjustments on the next one).", [])
    issued.state = StatementState.DRAFT
    db.session.commit()
    with pytest.raises(Conflict) as draft:
        billing.mark_paid(db.session, admin, issued, now=NOW)
    assert refusal(draft) == (
        "invalid_state",
        "Statement LB-2026-000042 is a draft: issue it before recording the payment.", [])
    issued.state = StatementState.PAID
    db.session.commit()
    with pytest.raises(Conflict) as paid:
        billing.mark_paid(db.session, admin, issued, now=NOW)
    assert refusal(paid) == ("invalid_state", "Statement LB-2026-000042 is already paid.", [])


def test_a_payment_note_is_at_most_500_characters():
    admin = create_admin()
    statement = statement_in(StatementState.ISSUED)
    with pytest.raises(ValidationError) as refused:
        billing.mark_paid(db.session, admin, statement, now=NOW, note="n" * 501)
    assert refusal(refused) == ("too_long", "The note is at most 500 characters.", [])
    db.session.rollback()
    with write_transaction(db.session):
        billing.mark_paid(db.session, admin, statement, now=NOW, note=" " + "n" * 500 + " ")
    assert statement.payment_note == "n" * 500


def test_a_statement_nobody_may_see_is_not_found():
    statement = statement_in(StatementState.ISSUED)
    for viewer, statement_id in ((create_user(), statement.id), (create_admin(), 999)):
        with pytest.raises(NotFound) as refused:
            billing.get_statement(db.session, viewer, statement_id)
        assert refusal(refused) == ("not_found", f"No statement with id {statement_id}.", [])


# -- months -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["2000-01", "2099-12", " 2026-11 "])
def test_months_from_2000_01_to_2099_12_are_months(text):
    assert billing.parse_period(text) == text.strip()


@pytest.mark.parametrize(("text", "message"), [
    (None, "Give the month as YYYY-MM, e.g. 2026-11."),
    ("2026-13", "Give the month as YYYY-MM, e.g. 2026-11."),
    ("2026-00", "Give the month as YYYY-MM, e.g. 2026-11."),
    ("2026-1", "Give the month as YYYY-MM, e.g. 2026-11."),
    ("1999-12", "Give a month from 2000-01 to 2099-12."),
    ("2100-01", "Give a month from 2000-01 to 2099-12."),
])
def test_anything_else_is_refused_as_a_month(text, message):
    with pytest.raises(ValidationError) as refused:
        billing.parse_period(text)
    assert refusal(refused) == ("invalid_period", message, [])


def test_only_admins_close_a_month_and_only_once_it_has_ended():
    with pytest.raises(PermissionDenied) as refused:
        billing.close_month(db.session, create_manager(create_lab()), "2026-10", now=NOW)
    assert refusal(refused) == ("not_admin", "Only admins close a month.", [])
    with pytest.raises(ValidationError) as early:
        billing.close_month(db.session, create_admin(), "2026-11", now=NOW)
    assert refusal(early) == (
        "period_not_ended",
        "2026-11 has not ended yet; it can be closed from 2026-12-01 00:00 on.", [])


def test_a_month_runs_from_midnight_lab_time_on_its_first_day():
    assert billing.period_bounds("2026-11") == (
        dt.datetime(2026, 10, 31, 16, tzinfo=dt.UTC), dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC))
    assert billing.period_bounds("2026-12")[1] == dt.datetime(2026, 12, 31, 16, tzinfo=dt.UTC)


# -- amounts typed in -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("1.234", "Amounts have at most two decimals (fen)."),
    ("1e3", "Give the amount in yuan as plain digits, e.g. 1200 or -120.50 (no separators, no "
            "exponent)."),
])
def test_an_amount_is_refused_in_words_for_its_field(text, message):
    with pytest.raises(ValidationError) as refused:
        billing.parse_amount(text)
    assert refusal(refused) == ("invalid_amount", message,
                                [problem("invalid_amount", message, "amount")])
    with pytest.raises(ValidationError) as named:
        billing.parse_amount(text, "hourly_rate")
    assert refusal(named)[2] == [problem("invalid_amount", message, "hourly_rate")]


# -- rate cards -------------------------------------------------------------------------------


def add_card(actor, instrument, **overrides: object) -> RateCard:
    with write_transaction(db.session):
        return billing.add_rate_card(db.session, actor, instrument, rate_input(**overrides),
                                     now=NOW)


@pytest.mark.parametrize(("overrides", "problems"), [
    ({"rounding_minutes": 0}, [problem("out_of_range", "The rounding increment is 1 to 1440 "
                                       "minutes.", "rounding_minutes")]),
    ({"rounding_minutes": 1441}, [problem("out_of_range", "The rounding increment is 1 to 1440 "
                                          "minutes.", "rounding_minutes")]),
    ({"rounding_minutes": True}, [problem("out_of_range", "The rounding increment is 1 to 1440 "
                                          "minutes.", "rounding_minutes")]),
    ({"rounding_minutes": "15"}, [problem("out_of_range", "The rounding increment is 1 to 1440 "
                                          "minutes.", "rounding_minutes")]),
    ({"minimum_minutes": -1}, [problem("out_of_range", "The minimum is 0 to 1440 minutes.",
                                       "minimum_minutes")]),
    ({"no_show_percent": -1}, [problem("out_of_range", "A share is 0 to 100 percent.",
                                       "no_show_percent")]),
    ({"late_cancel_percent": 101}, [problem("out_of_range", "A share is 0 to 100 percent.",
                                            "late_cancel_percent")]),
    ({"hourly_rate": Decimal("-0.01")}, [problem("out_of_range", "The hourly rate is ¥0.00 to "
                                                 "¥100,000.00.", "hourly_rate")]),
    ({"hourly_rate": Decimal("100000.01")}, [problem("out_of_range", "The hourly rate is ¥0.00 "
                                                     "to ¥100,000.00.", "hourly_rate")]),
    ({"effective_from": dt.date(2026, 11, 2)}, [problem(
        "in_past", "A rate card starts today or later; charges already incurred keep their "
        "price (correct them with an adjustment).", "effective_from")]),
    ({"minimum_minutes": 1441, "no_show_percent": 101}, [
        problem("out_of_range", "The minimum is 0 to 1440 minutes.", "minimum_minutes"),
        problem("out_of_range", "A share is 0 to 100 percent.", "no_show_percent")]),
])
def test_a_rate_card_out_of_bounds_is_refused_field_by_field(overrides, problems):
    instrument = create_instrument()
    with pytest.raises(ValidationError) as refused:
        add_card(create_manager(instrument.lab), instrument, **overrides)
    assert refusal(refused) == (problems[0]["code"], problems[0]["message"], problems)


@pytest.mark.parametrize("overrides", [
    {"rounding_minutes": 1, "minimum_minutes": 0, "no_show_percent": 0, "late_cancel_percent": 0,
     "hourly_rate": Decimal("0.00"), "effective_from": TODAY},
    {"rounding_minutes": 1440, "minimum_minutes": 1440, "no_show_percent": 100,
     "late_cancel_percent": 100, "hourly_rate": Decimal("100000.00")},
])
def test_the_bounds_of_a_rate_card_are_taken(overrides):
    instrument = create_instrument()
    card = add_card(create_manager(instrument.lab), instrument, **overrides)
    for name, value in overrides.items():
        assert getattr(card, name) == value


def test_a_second_card_for_the_same_tier_and_day_is_refused():
    instrument = create_instrument()
    manager = create_manager(instrument.lab)
    add_card(manager, instrument)
    with pytest.raises(ValidationError) as refused:
        add_card(manager, instrument)
    message = ("This instrument already has a rate card for the Partner tier starting on "
               "2026-12-01; withdraw it or choose another date.")
    assert refusal(refused) == ("overlapping_effective_dates", message,
                                [problem("overlapping_effective_dates", message,
                                         "effective_from")])
    other_tier = add_card(manager, instrument, tier=PriceTier.INTERNAL)
    assert (other_tier.tier, other_tier.effective_from) \
        == (PriceTier.INTERNAL, dt.date(2026, 12, 1))


def test_only_the_labs_managers_and_admins_change_rates():
    instrument = create_instrument()
    card = add_card(create_admin(), instrument)
    outsider = create_manager(create_lab())
    with pytest.raises(PermissionDenied) as adding:
        add_card(outsider, instrument, effective_from=dt.date(2026, 12, 2))
    with pytest.raises(PermissionDenied) as withdrawing, write_transaction(db.session):
        billing.withdraw_rate_card(db.session, outsider, card, now=NOW)
    for refused in (adding, withdrawing):
        assert refusal(refused) == (
            "not_lab_manager", "Only admins and the lab's managers change rates.", [])


def test_a_card_or_instrument_gone_meanwhile_is_not_found():
    instrument = create_instrument()
    admin = create_admin()
    card = add_card(admin, instrument)
    with write_transaction(db.session):
        billing.withdraw_rate_card(db.session, admin, card, now=NOW)
    with pytest.raises(NotFound) as card_gone, write_transaction(db.session):
        billing.withdraw_rate_card(db.session, admin, card, now=NOW)
    assert refusal(card_gone) == ("not_found", f"No rate card with id {card.id}.", [])
    with pytest.raises(NotFound) as instrument_gone:
        add_card(admin, Instrument(id=999))
    assert refusal(instrument_gone) == ("not_found", "No instrument with id 999.", [])


def test_a_card_in_force_stays():
    instrument = create_instrument()
    manager = create_manager(instrument.lab)
    card = add_card(manager, instrument, effective_from=TODAY)
    with pytest.raises(Conflict) as refused, write_transaction(db.session):
        billing.withdraw_rate_card(db.session, manager, card, now=NOW)
    assert refusal(refused) == (
        "rate_card_in_force", "This rate card is already in force; add a new one instead.", [])
    db.session.rollback()
    assert db.session.get(RateCard, card.id) is not None
