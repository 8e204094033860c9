"""Money at its edges: the amount in words, payments and the balance, prepaid deposits, what a
statement with nothing to pay becomes, vouchers, invoices, receivables and the
``payment_overdue`` rule, overdue reminders, and the pages and PDFs that show them."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from labbook.billing import payments, receivables, services, vouchers
from labbook.billing.models import (
    BalanceEntry,
    Charge,
    ChargeKind,
    Invoice,
    Payment,
    PaymentMethod,
    Statement,
    StatementState,
    Voucher,
)
from labbook.billing.payable import mask_name
from labbook.billing.words import amount_in_words
from labbook.booking import changes
from labbook.booking import services as booking_services
from labbook.booking.recurrence import Recurrence
from labbook.booking.rules import BookingRequest, check_booking
from labbook.core.engine import write_transaction
from labbook.extensions import db
from labbook.jobs.registry import JOBS, run_job
from labbook.notify.models import OutboxMessage
from tests.documents.reading import pdf_qr_payloads, pdf_text
from tests.factories import (
    bearer,
    create_admin,
    create_booking,
    create_charge,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_service,
    create_statement,
    create_user,
    lab_time,
)
from tests.statements import Sent

# -- the amount in words ------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "words"), [
    # the issue's example and the People's Bank's worked examples
    ("2404.00", "贰仟肆佰零肆元整"),
    ("1409.50", "壹仟肆佰零玖元伍角"),
    ("6007.14", "陆仟零柒元壹角肆分"),
    ("1680.32", "壹仟陆佰捌拾元零叁角贰分"),
    ("107000.53", "壹拾万柒仟元零伍角叁分"),
    ("325.04", "叁佰贰拾伍元零肆分"),
    # zeros across the groups, 拾 with its digit, amounts below a yuan, credits
    ("10.00", "壹拾元整"),
    ("100005.00", "壹拾万零伍元整"),
    ("1000000.00", "壹佰万元整"),
    ("10000001.00", "壹仟万零壹元整"),
    ("100000000.00", "壹亿元整"),
    ("100010000.00", "壹亿零壹万元整"),
    ("30000.07", "叁万元零柒分"),
    ("0.50", "伍角"),
    ("0.05", "伍分"),
    ("0.00", "零元整"),
    ("-12.50", "负壹拾贰元伍角"),
])
def test_amounts_are_written_in_capitals_as_cheques_write_them(amount, words):
    assert amount_in_words(Decimal(amount)) == words


def test_customers_names_are_masked_on_the_public_check():
    assert mask_name("焦作市某某科技有限公司") == "焦作*******公司"
    assert mask_name("甲公司") == "甲**"


# -- a small scene --------------------------------------------------------------------------------


NOW = lab_time(dt.date(2026, 11, 20), 10)
#: Statements of one organization are one a month: each test statement gets a month of its own.
MONTHS = (f"{2000 + n // 12}-{n % 12 + 1:02d}" for n in itertools.count())


def issued_statement(organization, amount: str, *, issued: dt.datetime = NOW,
                     kind: ChargeKind = ChargeKind.ADJUSTMENT, lab=None, **charge) -> Statement:
    line = create_charge(organization=organization, amount=Decimal(amount), kind=kind,
                         **({"lab": lab} if lab else {}), **charge)
    return create_statement([line], state=StatementState.ISSUED, issued_at=issued,
                            period=next(MONTHS),
                            verification_code=payments.new_verification_code())


def pay(actor, organization, statements, amount: str, *, now: dt.datetime = NOW) -> Payment:
    with write_transaction(db.session):
        return payments.record_payment(db.session, actor, payments.PaymentInput(
            organization_id=organization.id, received_on=now.date(), amount=Decimal(amount),
            method=PaymentMethod.BANK_TRANSFER, reference="HX",
            statement_ids=[s.id for s in statements]), now=now)


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


# -- payments -------------------------------------------------------------------------------------


def test_a_part_payment_leaves_the_rest_and_the_last_one_pays_the_statement():
    admin, organization = create_admin(), create_organization()
    statement = issued_statement(organization, "1000.00")
    pay(admin, organization, [statement], "400.00")
    assert (statement.state, statement.paid_amount, statement.outstanding) == \
        (StatementState.ISSUED, Decimal("400.00"), Decimal("600.00"))
    payment = pay(admin, organization, [statement], "600.00")
    assert (statement.state, statement.outstanding, payment.credited) == \
        (StatementState.PAID, Decimal("0.00"), Decimal("0.00"))


@pytest.mark.parametrize(("amount", "code"), [("0.00", "invalid_amount"),
                                              ("-5.00", "invalid_amount")])
def test_a_payment_of_zero_or_less_is_refused_and_writes_nothing(amount, code):
    admin, organization = create_admin(), create_organization()
    statement = issued_statement(organization, "10.00")
    with pytest.raises(Exception) as refused:
        pay(admin, organization, [statement], amount)
    assert refused.value.code == code
    assert count(Payment) == 0


def test_paying_a_statement_already_covered_is_refused_and_changes_nothing():
    admin, organization = create_admin(), create_organization()
    statement = issued_statement(organization, "10.00")
    pay(admin, organization, [statement], "10.00")
    with pytest.raises(Exception) as refused:
        pay(admin, organization, [statement], "10.00")
    assert refused.value.code == "already_paid"
    assert count(Payment) == 1
    assert payments.profile_of(db.session, organization).balance == Decimal("0.00")


def test_drafts_other_organizations_statements_and_non_finance_are_refused():
    admin, organization, other = create_admin(), create_organization(), create_organization()
    draft = create_statement([create_charge(organization=organization)])
    theirs = issued_statement(other, "10.00")
    with pytest.raises(Exception) as refused:
        pay(admin, organization, [draft], "10.00")
    assert refused.value.code == "invalid_state"
    with pytest.raises(Exception) as refused:
        pay(admin, organization, [theirs], "10.00")
    assert refused.value.code == "not_this_organization"
    with pytest.raises(Exception) as refused:
        pay(create_user(organization=organization), organization, [theirs], "10.00")
    assert refused.value.code == "not_admin"
    assert count(Payment) == 0


def test_an_overpayment_goes_to_the_balance_which_pays_a_later_statement():
    admin, organization = create_admin(), create_organization()
    first = issued_statement(organization, "80.00", issued=NOW - dt.timedelta(days=40))
    second = issued_statement(organization, "50.00")
    payment = pay(admin, organization, [second, first], "100.00")
    # oldest first: the first statement in full, 20.00 of the second, nothing left over
    assert [(a.statement_id, a.amount) for a in payment.allocations] == [
        (first.id, Decimal("80.00")), (second.id, Decimal("20.00"))]
    payment = pay(admin, organization, [second], "40.00")
    assert payment.credited == Decimal("10.00")
    third = issued_statement(organization, "25.00")
    with write_transaction(db.session):
        payments.apply_balance(db.session, admin, third.id, now=NOW)
    assert (third.paid_amount, third.outstanding) == (Decimal("10.00"), Decimal("15.00"))
    with pytest.raises(Exception) as refused, write_transaction(db.session):
        payments.apply_balance(db.session, admin, third.id, now=NOW)
    assert refused.value.code == "no_balance"
    assert [(e.kind.value, e.amount) for e in payments.balance_history(db.session,
                                                                        organization.id)] == [
        ("overpayment", Decimal("10.00")), ("applied", Decimal("-10.00"))]


def test_a_prepaid_deposit_pays_open_statements_and_later_issues_pay_from_the_balance():
    admin, organization = create_admin(), create_organization()
    open_statement = issued_statement(organization, "30.00")
    with pytest.raises(Exception) as refused, write_transaction(db.session):
        payments.record_deposit(db.session, admin, organization.id, Decimal("100.00"), "",
                                now=NOW)
    assert refused.value.code == "prepaid_not_enabled"
    with write_transaction(db.session):
        payments.locked_profile(db.session, organization.id, now=NOW).prepaid = True
    with write_transaction(db.session):
        payments.record_deposit(db.session, admin, organization.id, Decimal("100.00"),
                                "预存", now=NOW)
    assert open_statement.state == StatementState.PAID
    draft = create_statement([create_charge(organization=organization,
                                            amount=Decimal("120.00"))])
    with write_transaction(db.session):
        services.issue_statement(db.session, admin, draft, now=NOW)
    assert (draft.state, draft.paid_amount, draft.outstanding) == \
        (StatementState.ISSUED, Decimal("70.00"), Decimal("50.00"))
    assert payments.profile_of(db.session, organization).balance == Decimal("0.00")


def test_a_statement_with_nothing_to_pay_is_paid_at_issue_and_a_credit_goes_to_the_balance():
    admin, organization = create_admin(), create_organization()
    credit = create_statement([create_charge(organization=organization,
                                             amount=Decimal("-35.00"))])
    with write_transaction(db.session):
        services.issue_statement(db.session, admin, credit, now=NOW)
    assert credit.state == StatementState.PAID
    assert credit.verification_code
    assert payments.profile_of(db.session, organization).balance == Decimal("35.00")
    assert db.session.scalar(select(BalanceEntry.kind)).value == "credit_note"


# -- vouchers -------------------------------------------------------------------------------------


def voucher_input(**overrides) -> vouchers.VoucherInput:
    values = {"number": "KJQ-1", "authority": "科技局", "face_value": Decimal("100.00"),
              "share_percent": 50, "valid_from": dt.date(2026, 11, 1),
              "valid_to": dt.date(2026, 12, 31)}
    values.update(overrides)
    return vouchers.VoucherInput(**values)


@pytest.mark.parametrize(("overrides", "code"), [
    ({"share_percent": 101}, "invalid_share"),
    ({"share_percent": 0}, "invalid_share"),
    ({"valid_to": dt.date(2026, 11, 19)}, "voucher_expired"),
    ({"valid_from": dt.date(2026, 12, 2), "valid_to": dt.date(2026, 12, 1)}, "invalid_period"),
    ({"face_value": Decimal("0.00")}, "invalid_amount"),
    ({"kinds": ["adjustment"]}, "invalid_kind"),
])
def test_a_bad_voucher_is_refused_and_nothing_is_recorded(overrides, code):
    admin, organization = create_admin(), create_organization()
    with pytest.raises(Exception) as refused, write_transaction(db.session):
        vouchers.create_voucher(db.session, admin, organization, voucher_input(**overrides),
                                now=NOW)
    assert refused.value.code == code
    assert count(Voucher) == 0


def test_a_voucher_number_is_recorded_once():
    admin, organization = create_admin(), create_organization()
    with write_transaction(db.session):
        vouchers.create_voucher(db.session, admin, organization, voucher_input(), now=NOW)
    with pytest.raises(Exception) as refused, write_transaction(db.session):
        vouchers.create_voucher(db.session, admin, organization, voucher_input(), now=NOW)
    assert refused.value.code == "duplicate_voucher"


def test_month_close_covers_eligible_lines_only_and_a_voucher_is_applied_once():
    admin, organization = create_admin(), create_organization()
    lab, other_lab = create_lab(), create_lab()
    with write_transaction(db.session):
        vouchers.create_voucher(db.session, admin, organization,
                                voucher_input(lab_ids=[lab.id]),
                                now=lab_time(dt.date(2026, 11, 1), 9))
    service = create_service(lab=lab)
    day = lab_time(dt.date(2026, 11, 10), 10)
    covered = create_charge(organization=organization, lab=lab, kind=ChargeKind.SERVICE,
                            service=service, samples=1, unit_price=Decimal("90.00"),
                            amount=Decimal("90.00"), occurred_at=day)
    create_charge(organization=organization, lab=other_lab, kind=ChargeKind.SERVICE,
                  service=create_service(lab=other_lab), samples=1,
                  unit_price=Decimal("60.00"), amount=Decimal("60.00"), occurred_at=day)
    create_charge(organization=organization, lab=lab, amount=Decimal("40.00"), occurred_at=day)
    with write_transaction(db.session):
        result = services.close_month(db.session, admin, "2026-11",
                                      now=lab_time(dt.date(2026, 12, 1), 3))
    statement = result.statements[0]
    assert (statement.total, statement.voucher_amount, statement.amount_due) == \
        (Decimal("190.00"), Decimal("45.00"), Decimal("145.00"))
    assert db.session.get(Charge, covered.id).voucher_amount == Decimal("45.00")
    with pytest.raises(Exception) as refused, write_transaction(db.session):
        vouchers.apply_to_draft(db.session, admin, statement, now=NOW)
    assert refused.value.code == "nothing_to_cover"
    assert db.session.scalar(select(Voucher.balance)) == Decimal("55.00")


@pytest.fixture
def covers(monkeypatch) -> list[tuple[int, list[str], Decimal]]:
    """Each statement the vouchers cover while the test runs: its organization, the SQL that
    covering it sent, and the voucher part it came to."""
    seen: list[tuple[int, list[str], Decimal]] = []
    real_cover = vouchers.cover_statement

    def counted_cover(session, statement, *, now):
        with Sent() as sent:
            part = real_cover(session, statement, now=now)
        seen.append((statement.organization_id, sent, part))
        return part

    monkeypatch.setattr(vouchers, "cover_statement", counted_cover)
    return seen


def test_month_close_reads_no_voucher_part_again_for_organizations_that_hold_no_voucher(
        covers):
    """Two statements for each such organization (its lines, its vouchers to lock): its
    voucher part is nothing, as its lines hold. One with a voucher has its part summed."""
    admin = create_admin()
    lab = create_lab()
    day = lab_time(dt.date(2026, 11, 10), 10)
    plain = [create_organization() for _ in range(3)]
    for organization in plain:
        create_charge(organization=organization, lab=lab, kind=ChargeKind.SERVICE,
                      service=create_service(lab=lab), samples=1, unit_price=Decimal("40.00"),
                      amount=Decimal("40.00"), occurred_at=day)
    holder = create_organization()
    with write_transaction(db.session):
        vouchers.create_voucher(db.session, admin, holder, voucher_input(lab_ids=[lab.id]),
                                now=lab_time(dt.date(2026, 11, 1), 9))
    create_charge(organization=holder, lab=lab, kind=ChargeKind.SERVICE,
                  service=create_service(lab=lab), samples=1, unit_price=Decimal("90.00"),
                  amount=Decimal("90.00"), occurred_at=day)
    db.session.commit()
    with write_transaction(db.session):
        result = services.close_month(db.session, admin, "2026-11",
                                      now=lab_time(dt.date(2026, 12, 1), 3))
    assert sorted((organization_id, len(sent), part)
                  for organization_id, sent, part in covers
                  if organization_id != holder.id) == \
        [(organization.id, 2, Decimal(0)) for organization in plain]
    db.session.expire_all()
    parts = {statement.organization_id: statement.voucher_amount
             for statement in db.session.scalars(select(Statement))}
    assert parts == {**{organization.id: Decimal(0) for organization in plain},
                     holder.id: Decimal("45.00")}
    assert len(result.statements) == 4


def _voucher_month(face_value: str, lines: list[tuple[str, dt.datetime]]):
    """An organization holding a voucher (half of each line, ``face_value``) and service lines
    of November (amount, moment), created in this order."""
    admin, organization, lab = create_admin(), create_organization(), create_lab()
    with write_transaction(db.session):
        vouchers.create_voucher(db.session, admin, organization,
                                voucher_input(face_value=Decimal(face_value)),
                                now=lab_time(dt.date(2026, 11, 1), 9))
    charges = [create_charge(organization=organization, lab=lab, kind=ChargeKind.SERVICE,
                             service=create_service(lab=lab), samples=1,
                             unit_price=Decimal(amount), amount=Decimal(amount),
                             occurred_at=moment) for amount, moment in lines]
    return admin, charges


def _close_november(admin):
    with write_transaction(db.session):
        return services.close_month(db.session, admin, "2026-11",
                                    now=lab_time(dt.date(2026, 12, 1), 3)).statements


@pytest.mark.parametrize(("days", "paid"), [((10, 9), 1), ((9, 9), 0)])
def test_a_voucher_too_small_for_both_lines_pays_the_one_that_occurred_first(days, paid):
    """Made later but earlier in the month, the 9 November line is paid; of two lines of the
    same moment, the one recorded first."""
    admin, lines = _voucher_month("20.00", [
        ("40.00", lab_time(dt.date(2026, 11, day), 10)) for day in days])
    _close_november(admin)
    db.session.expire_all()
    assert [db.session.get(Charge, line.id).voucher_amount for line in lines] == \
        [Decimal("20.00") if n == paid else Decimal("0.00") for n in range(2)]


def test_a_voucher_pays_its_share_of_a_line_under_one_yuan():
    admin, _lines = _voucher_month("100.00", [("0.60", lab_time(dt.date(2026, 11, 9), 10))])
    [statement] = _close_november(admin)
    assert statement.voucher_amount == Decimal("0.30")


def test_a_line_a_voucher_paid_since_this_session_read_it_is_not_paid_again():
    admin, (line,) = _voucher_month("100.00", [("90.00", lab_time(dt.date(2026, 11, 9), 10))])
    assert db.session.get(Charge, line.id).voucher_amount == Decimal("0.00")
    with db.engine.begin() as elsewhere:
        elsewhere.execute(update(Charge).where(Charge.id == line.id)
                          .values(voucher_amount=Decimal("45.00")))
    [statement] = _close_november(admin)
    assert statement.voucher_amount == Decimal("45.00")
    assert db.session.scalar(select(Voucher.balance)) == Decimal("100.00")


def test_month_close_locks_no_voucher_for_a_statement_that_no_voucher_could_pay(covers):
    """Adjustments, one of them a credit that corrects no line, and a free test: nothing for a
    voucher to pay or give back, and one statement (the lines) to find that out."""
    admin, organization = create_admin(), create_organization()
    lab = create_lab()
    moment = lab_time(dt.date(2026, 11, 9), 10)
    for amount in ("25.00", "-5.00"):
        create_charge(organization=organization, lab=lab, amount=Decimal(amount),
                      occurred_at=moment)
    create_charge(organization=organization, lab=lab, kind=ChargeKind.SERVICE,
                  service=create_service(lab=lab), samples=1, unit_price=Decimal("0.00"),
                  amount=Decimal("0.00"), occurred_at=moment)
    [statement] = _close_november(admin)
    assert statement.voucher_amount == Decimal(0)
    assert [(len(sent), part) for _organization, sent, part in covers] == [(1, Decimal(0))]


# -- invoices -------------------------------------------------------------------------------------


def test_invoices_refuse_missing_details_amounts_beyond_their_statements_and_files(client):
    organization = create_organization()
    contact = create_user(organization=organization)
    organization.billing_contact = contact
    db.session.commit()
    statement = issued_statement(organization, "300.00")
    admin, mine = bearer(create_admin()), bearer(contact)

    def post(path, headers=admin, **body):
        return client.post(f"/api/v1{path}", headers=headers, json=body)

    special = post("/invoices", mine, organization_id=organization.id,
                   statement_ids=[statement.id], kind="special", medium="electronic")
    assert (special.status_code, special.json["code"]) == (422, "invoice_details_missing")
    assert count(Invoice) == 0
    invoice = post("/invoices", mine, organization_id=organization.id,
                   statement_ids=[statement.id], kind="ordinary", medium="electronic").json
    assert invoice["amount"] == "300.00"
    path = f"/invoices/{invoice['id']}/issue"
    body = {"invoice_number": "9001", "issued_on": "2026-11-20"}
    assert post(path, **body, amount="300.01").json["code"] == "invoice_exceeds_amount"
    assert post(path, **body, amount="300.00").json["code"] == "file_required"
    assert post(path, **body, amount="300.00", file_base64="aGVsbG8=").json["code"] == \
        "invalid_file"
    refused = post(f"/invoices/{invoice['id']}/refuse", reason="抬头有误")
    assert refused.json["state"] == "refused"
    again = post("/invoices", mine, organization_id=organization.id,
                 statement_ids=[statement.id], kind="ordinary", medium="paper")
    assert again.status_code == 201
    # Another organization's contact sees nothing of it.
    stranger = create_user(organization=create_organization())
    assert client.get(f"/api/v1/invoices/{invoice['id']}",
                      headers=bearer(stranger)).status_code == 404


def test_invoicing_details_default_to_the_organization_and_check_the_taxpayer_id(client):
    organization = create_organization(name="焦作开票公司")
    admin = bearer(create_admin())
    profile = client.get(f"/api/v1/organizations/{organization.id}/billing", headers=admin).json
    assert (profile["invoice_title"], profile["taxpayer_id"]) == ("焦作开票公司", organization.uscc)
    refused = client.put(f"/api/v1/organizations/{organization.id}/billing", headers=admin,
                         json={"taxpayer_id": "91410800-123"})
    assert refused.json["code"] == "invalid_taxpayer_id"


# -- receivables, the payment_overdue rule, reminders -------------------------------------------


def test_ageing_puts_a_statement_in_its_bucket_by_lab_days_since_issue():
    organization = create_organization()
    issued = lab_time(dt.date(2026, 9, 1), 23)
    issued_statement(organization, "100.00", issued=issued)
    on = {days: lab_time(dt.date(2026, 9, 1) + dt.timedelta(days=days), 9)
          for days in (30, 31, 60, 61, 90, 91)}
    assert [receivables.ageing(db.session, now=on[days])[0].buckets for days in on] == [
        (Decimal("100.00"), 0, 0, 0), (0, Decimal("100.00"), 0, 0),
        (0, Decimal("100.00"), 0, 0), (0, 0, Decimal("100.00"), 0),
        (0, 0, Decimal("100.00"), 0), (0, 0, 0, Decimal("100.00"))]


def test_bookings_are_refused_while_a_statement_is_overdue_beyond_the_setting():
    admin, organization = create_admin(), create_organization()
    user = create_user(organization=organization)
    instrument = create_instrument()
    statement = issued_statement(organization, "100.00",
                                 issued=lab_time(dt.date(2026, 10, 1), 10))
    # due on 2026-10-31; on 2026-11-03 it is 3 days overdue
    now = lab_time(dt.date(2026, 11, 3), 9)
    start = lab_time(dt.date(2026, 11, 9), 10)
    request = BookingRequest(instrument=instrument, user=user, organization=organization,
                             start=start, end=start + dt.timedelta(hours=1))

    def codes() -> set[str]:
        return {problem.code for problem in check_booking(db.session, request, now=now)}

    assert "payment_overdue" not in codes()  # no setting: never refused
    with write_transaction(db.session):
        payments.locked_profile(db.session, organization.id, now=now).overdue_block_days = 3
    assert "payment_overdue" not in codes()  # 3 days overdue is not beyond 3
    with write_transaction(db.session):
        payments.locked_profile(db.session, organization.id, now=now).overdue_block_days = 2
    assert "payment_overdue" in codes()
    pay(admin, organization, [statement], "100.00", now=now)
    assert "payment_overdue" not in codes()


def test_bookings_made_and_moved_are_refused_while_a_statement_is_overdue():
    """The setting read with the organization's lock, as making and moving a booking and
    booking a series read it (a series asks once for all its dates, or a preview of one)."""
    organization = create_organization()
    user = create_user(organization=organization)
    instrument = create_instrument()
    issued_statement(organization, "100.00", issued=lab_time(dt.date(2026, 10, 1), 10))
    now = lab_time(dt.date(2026, 11, 3), 9)  # 3 days overdue

    def book(day: int):
        return booking_services.create_booking(
            db.session, user, instrument_id=instrument.id, start=lab_time(
                dt.date(2026, 11, day), 10), end=lab_time(dt.date(2026, 11, day), 11),
            purpose="run", now=now)

    def move(booking, day: int):
        return changes.change_booking(
            db.session, user, booking.id, start=lab_time(dt.date(2026, 11, day), 14),
            end=lab_time(dt.date(2026, 11, day), 15), now=now, priced=True)

    def series(day: int, **preview):
        start = lab_time(dt.date(2026, 11, day), 10)
        arguments = {"start": start, "end": start + dt.timedelta(hours=1),
                     "recurrence": Recurrence("daily", count=2), "now": now}
        if preview:
            return booking_services.preview_series(db.session, user, instrument, override=False,
                                                   **arguments)
        return booking_services.create_series(db.session, user, instrument_id=instrument.id,
                                              purpose="run", skip_conflicts=False, **arguments)

    booking = book(9)
    with write_transaction(db.session):
        payments.locked_profile(db.session, organization.id, now=now).overdue_block_days = 3
    assert move(book(10), 10).change.state.value == "applied"  # not beyond 3
    assert series(16, preview=True) == []
    assert len(series(16).created) == 2
    with write_transaction(db.session):
        payments.locked_profile(db.session, organization.id, now=now).overdue_block_days = 2
    for attempt in (lambda: book(11), lambda: move(booking, 9)):
        with pytest.raises(booking_services.BookingRefused) as refused:
            attempt()
        assert [p.code for p in refused.value.problems] == ["payment_overdue"]
    with pytest.raises(booking_services.BookingRefused) as refused:
        series(23)
    assert [p.code for p in refused.value.problems] == ["payment_overdue"] * 2
    assert [[p["code"] for p in occurrence["problems"]]
            for occurrence in series(23, preview=True)] == [["payment_overdue"]] * 2


def test_a_change_is_not_approved_while_its_organization_is_overdue():
    """Approving a change waiting for it checks the paying organization's overdue setting,
    read with its lock, as making and moving a booking do."""
    organization = create_organization()
    user = create_user(organization=organization)
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    issued_statement(organization, "100.00", issued=lab_time(dt.date(2026, 10, 1), 10))
    now = lab_time(dt.date(2026, 11, 3), 9)  # 3 days overdue
    booking = create_booking(instrument=instrument, user=user,
                             start_at=lab_time(dt.date(2026, 11, 9), 10))
    waiting = changes.change_booking(
        db.session, user, booking.id, start=lab_time(dt.date(2026, 11, 9), 14),
        end=lab_time(dt.date(2026, 11, 9), 15), now=now).change
    with write_transaction(db.session):
        payments.locked_profile(db.session, organization.id, now=now).overdue_block_days = 2
    with pytest.raises(booking_services.BookingRefused) as refused:
        changes.decide_change(db.session, manager, waiting.id, approve=True, now=now)
    assert [p.code for p in refused.value.problems] == ["payment_overdue"]


def test_overdue_reminders_go_once_per_stage(app):
    organization = create_organization()
    contact = create_user(organization=organization)
    organization.billing_contact = contact
    db.session.commit()
    issued_statement(organization, "100.00", issued=lab_time(dt.date(2026, 10, 1), 10))
    job = JOBS["overdue-reminders"]

    def messages() -> int:
        db.session.rollback()
        return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "statement_overdue"))

    run_job(app, job, now=lab_time(dt.date(2026, 10, 31), 10))  # due today: not overdue
    assert messages() == 0
    run_job(app, job, now=lab_time(dt.date(2026, 11, 1), 10))
    run_job(app, job, now=lab_time(dt.date(2026, 11, 1), 11))
    run_job(app, job, now=lab_time(dt.date(2026, 11, 30), 10))
    assert messages() == 1
    run_job(app, job, now=lab_time(dt.date(2026, 12, 1), 10))
    assert messages() == 2


# -- pages and PDFs -------------------------------------------------------------------------------


def test_the_statement_page_is_one_to_pay_from_and_its_qr_opens_the_public_check(
        app, client, login_as, monkeypatch):
    monkeypatch.setitem(app.config, "LABBOOK_PAYEE_BANK", "中国银行焦作分行")
    monkeypatch.setitem(app.config, "LABBOOK_PAYEE_ACCOUNT", "2468 1357 9000")
    organization = create_organization(name="焦作市某某科技有限公司")
    statement = issued_statement(organization, "2404.00")
    page = login_as(create_admin()).get(f"/statements/{statement.id}").get_data(as_text=True)
    for text in ("贰仟肆佰零肆元整", "焦作市产业技术科学院", "中国银行焦作分行", "2468 1357 9000",
                 statement.number, statement.verification_code, "<svg"):
        assert text in page
    check = client.get(f"/statements/verify/{statement.verification_code}")
    body = check.get_data(as_text=True)
    assert check.status_code == 200
    assert "焦作*******公司" in body and "焦作市某某科技有限公司" not in body
    assert "¥2,404.00" in body
    assert client.get("/statements/verify/NOSUCHCODE").status_code == 404


def test_the_statement_pdf_carries_the_amount_in_words_and_the_verification_qr(
        client, login_as):
    organization = create_organization()
    statement = issued_statement(organization, "325.04")
    response = login_as(create_admin()).get(f"/statements/{statement.id}.pdf")
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "叁佰贰拾伍元零肆分" in text and statement.number in text
    assert pdf_qr_payloads(response.data) == [
        f"http://localhost/statements/verify/{statement.verification_code}"]


def test_finance_pages_render_and_the_redemption_pack_downloads(client, login_as):
    admin = create_admin()
    organization = create_organization()
    lab = create_lab()
    with write_transaction(db.session):
        voucher = vouchers.create_voucher(db.session, admin, organization, voucher_input(),
                                          now=lab_time(dt.date(2026, 11, 1), 9))
    create_charge(organization=organization, lab=lab, kind=ChargeKind.SERVICE,
                  service=create_service(lab=lab), samples=1, unit_price=Decimal("80.00"),
                  amount=Decimal("80.00"), occurred_at=lab_time(dt.date(2026, 11, 5), 10))
    with write_transaction(db.session):
        statement = services.close_month(db.session, admin, "2026-11",
                                         now=lab_time(dt.date(2026, 12, 1), 3)).statements[0]
        services.issue_statement(db.session, admin, statement,
                                 now=lab_time(dt.date(2026, 12, 1), 9))
    browser = login_as(admin)
    for path in (f"/billing/organizations/{organization.id}", "/billing/receivables",
                 "/billing/invoices", f"/billing/vouchers/{voucher.id}",
                 "/billing/voucher-redemptions?authority=科技局&period=2026-11"):
        response = browser.get(path)
        assert response.status_code == 200, path
    workbook = load_workbook(io.BytesIO(browser.get(
        "/billing/voucher-redemptions.xlsx?authority=科技局&period=2026-11").data))
    assert [cell for row in workbook.active.iter_rows(values_only=True) for cell in row
            if cell == Decimal("40.00") or cell == 40] != []
    pdf = browser.get("/billing/voucher-redemptions.pdf?authority=科技局&period=2026-11")
    assert "肆拾元整" in pdf_text(pdf.data)


def test_the_billing_contact_asks_for_an_invoice_and_finance_records_it_in_the_browser(
        client, login_as):
    organization = create_organization()
    contact = create_user(organization=organization)
    organization.billing_contact = contact
    db.session.commit()
    statement = issued_statement(organization, "88.00")
    organization_id, statement_id = organization.id, statement.id
    browser = login_as(contact)
    page = browser.get(f"/statements/{statement_id}").get_data(as_text=True)
    assert f"/billing/organizations/{organization_id}" in page
    assert browser.get(f"/billing/organizations/{organization_id}").status_code == 200
    asked = browser.post(f"/billing/organizations/{organization_id}/invoices",
                         data={"statement_ids": [str(statement_id)], "kind": "ordinary",
                               "medium": "electronic", "note": ""})
    assert asked.status_code == 302
    invoice_id = db.session.scalar(select(Invoice.id))
    browser = login_as(create_admin())
    issued = browser.post(f"/billing/invoices/{invoice_id}/issue", data={
        "invoice_number": "25410000000012345678"[:20], "issued_on": "2026-11-20",
        "amount": "88.00", "file": (io.BytesIO(b"%PDF-1.7 invoice"), "fapiao.pdf")},
        content_type="multipart/form-data")
    assert issued.status_code == 302, issued.get_data(as_text=True)
    invoice = db.session.get(Invoice, invoice_id)
    db.session.refresh(invoice)
    assert (invoice.state.value, invoice.issued_amount, invoice.file_name) == \
        ("issued", Decimal("88.00"), "fapiao.pdf")
    login_as(contact)
    assert client.get(f"/billing/invoices/{invoice_id}/file").data == b"%PDF-1.7 invoice"
    other = create_user(organization=create_organization())
    login_as(other)
    assert client.get(f"/billing/invoices/{invoice_id}").status_code == 404
    assert client.get(f"/billing/organizations/{organization_id}").status_code == 404


def test_the_statement_xlsx_has_voucher_and_own_parts_when_vouchers_pay(login_as):
    admin, organization = create_admin(locale="en"), create_organization()
    lab = create_lab()
    with write_transaction(db.session):
        vouchers.create_voucher(db.session, admin, organization, voucher_input(),
                                now=lab_time(dt.date(2026, 11, 1), 9))
    create_charge(organization=organization, lab=lab, kind=ChargeKind.SERVICE,
                  service=create_service(lab=lab), samples=1, unit_price=Decimal("99.99"),
                  amount=Decimal("99.99"), occurred_at=lab_time(dt.date(2026, 11, 5), 10))
    with write_transaction(db.session):
        statement = services.close_month(db.session, admin, "2026-11",
                                         now=lab_time(dt.date(2026, 12, 1), 3)).statements[0]
    data = login_as(admin).get(f"/statements/{statement.id}.xlsx").data
    rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    header = next(row for row in rows if row and row[-1] == "Own part (¥)")
    total = rows[-1]
    # 50 % of 99.99 is 49.995 → 50.00 (half-up); the enterprise pays 49.99
    assert header[-3:] == ("Amount (¥)", "Voucher part (¥)", "Own part (¥)")
    assert [float(cell) for cell in total[-3:]] == [99.99, 50.00, 49.99]


def test_a_covered_line_repriced_on_its_draft_gives_its_voucher_the_excess_back():
    admin, organization = create_admin(), create_organization()
    lab = create_lab()
    with write_transaction(db.session):
        voucher = vouchers.create_voucher(db.session, admin, organization, voucher_input(),
                                          now=lab_time(dt.date(2026, 11, 1), 9))
    line = create_charge(organization=organization, lab=lab, kind=ChargeKind.SERVICE,
                         service=create_service(lab=lab), samples=1,
                         unit_price=Decimal("100.00"), amount=Decimal("100.00"),
                         occurred_at=lab_time(dt.date(2026, 11, 5), 10))
    with write_transaction(db.session):
        statement = services.close_month(db.session, admin, "2026-11",
                                         now=lab_time(dt.date(2026, 12, 1), 3)).statements[0]
    assert (line.voucher_amount, voucher.balance) == (Decimal("50.00"), Decimal("50.00"))
    with write_transaction(db.session):
        line.amount = Decimal("60.00")
        db.session.flush()
        vouchers.refit_line(db.session, line, statement, now=NOW)
    # 50 % of 60.00 is 30.00: 20.00 goes back
    assert (line.voucher_amount, voucher.balance, statement.voucher_amount) == \
        (Decimal("30.00"), Decimal("70.00"), Decimal("30.00"))
