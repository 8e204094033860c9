"""Payments, the organization's balance (overpayments and prepaid deposits, 预存款) and what
paying a statement means.

A statement's ``amount_due`` is its total less what vouchers pay. Payments are spread over the
issued statements they name, oldest first, each taking at most what is still outstanding; what
is left over goes to the organization's balance. A statement is paid once ``paid_amount``
reaches ``amount_due``. The balance pays statements too: by hand (finance), and for an
organization that pays from a prepaid balance, by itself whenever a statement is issued or a
deposit arrives.

Locks are taken in one order: the organization's billing profile (its balance), then statements
in id order. Every amount moves in SQL (``SET x = x + :amount``) under those locks, so two
payments racing for the last amount of a statement cannot both take it: the second waits, sees
the statement paid and is refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labbook.accounts.models import Organization, User
from labbook.audit.services import record
from labbook.billing.models import (
    AllocationSource,
    BalanceEntry,
    BalanceEntryKind,
    BillingProfile,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    Statement,
    StatementState,
)
from labbook.core.engine import locked
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from labbook.core.time import to_lab_time

#: The largest single payment or deposit (a typo guard, not a business limit).
MAX_PAYMENT = Decimal("100000000.00")
MAX_REFERENCE = 100
MAX_STATEMENTS = 50
#: Letters and digits of a verification code: no 0/O or 1/I/L to misread on paper.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10


def require_finance(actor: User) -> None:
    """Finance is the admins: they record payments, deposits, vouchers and invoices."""
    if not actor.is_admin:
        raise PermissionDenied(_("Only finance (admins) records payments, deposits, vouchers "
                                 "and invoices."), code="not_admin")


def _refused(code: str, message: str, field: str | None = None) -> ValidationError:
    return ValidationError(message, code=code, problems=[Problem(code, message, field=field)])


def check_amount(amount: Decimal, field: str = "amount") -> None:
    """A payment or deposit: more than zero, at most ``MAX_PAYMENT``."""
    if amount <= 0:
        raise _refused("invalid_amount", _("A payment is more than zero."), field)
    if amount > MAX_PAYMENT:
        raise _refused("invalid_amount", _("A payment is at most ¥%(max)s.",
                                           max=f"{MAX_PAYMENT:,}"), field)


# -- the billing profile ------------------------------------------------------------------------

def profile_of(session: Session, organization: Organization) -> BillingProfile:
    """The organization's billing profile as it stands (a default one, unsaved, if it has none
    yet): its name and USCC as invoice title and taxpayer id."""
    return session.get(BillingProfile, organization.id) or _default_profile(organization)


def _default_profile(organization: Organization) -> BillingProfile:
    return BillingProfile(organization_id=organization.id, invoice_title=organization.name,
                          taxpayer_id=organization.uscc, address="", phone="", bank="",
                          bank_account="", prepaid=False, overdue_block_days=None,
                          balance=Decimal("0.00"))


def locked_profile(session: Session, organization_id: int, *, now: dt.datetime
                   ) -> BillingProfile:
    """The organization's billing profile under a row lock, made first if it has none: the
    first lock every change of its money takes. Two transactions making it at once: the
    second's insert fails in its savepoint and it locks the row the first made."""
    profile = locked(session, BillingProfile, organization_id)
    if profile is not None:
        return profile
    organization = session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(_("No organization with id %(id)d.", id=organization_id))
    # A racing transaction that made it first wins; its row is the one locked below.
    with contextlib.suppress(IntegrityError), session.begin_nested():
        profile = _default_profile(organization)
        profile.updated_at = now
        session.add(profile)
    profile = locked(session, BillingProfile, organization_id)
    assert profile is not None
    return profile


def _move_balance(session: Session, profile: BillingProfile, amount: Decimal, *,
                  kind: BalanceEntryKind, now: dt.datetime, actor: User | None,
                  payment: Payment | None = None, statement: Statement | None = None,
                  note: str = "") -> None:
    """Add ``amount`` (negative: take) to the locked profile's balance, in SQL, with its entry
    in the balance's history. The balance never goes below zero (a check constraint)."""
    session.execute(update(BillingProfile)
                    .where(BillingProfile.organization_id == profile.organization_id)
                    .values(balance=BillingProfile.balance + amount, updated_at=now)
                    .execution_options(synchronize_session=False))
    session.expire(profile, ["balance", "updated_at"])
    session.add(BalanceEntry(organization_id=profile.organization_id, kind=kind, amount=amount,
                             payment_id=payment.id if payment else None,
                             statement_id=statement.id if statement else None, note=note,
                             created_by_id=actor.id if actor else None, created_at=now))


# -- paying statements --------------------------------------------------------------------------

def _add_paid(session: Session, statement: Statement, amount: Decimal, *, now: dt.datetime,
              actor: User | None, payment: Payment | None) -> None:
    """Put ``amount`` towards the locked, issued ``statement``: in SQL; paid once covered."""
    session.add(PaymentAllocation(
        statement_id=statement.id, payment_id=payment.id if payment else None,
        source=AllocationSource.PAYMENT if payment else AllocationSource.BALANCE,
        amount=amount, created_at=now))
    session.execute(update(Statement).where(Statement.id == statement.id)
                    .values(paid_amount=Statement.paid_amount + amount)
                    .execution_options(synchronize_session=False))
    session.expire(statement, ["paid_amount"])
    if statement.paid_amount >= statement.amount_due:
        statement.state = StatementState.PAID
        statement.paid_at = now
        statement.paid_by_id = actor.id if actor else None
        record(session, actor, statement, "paid_in_full", at=now, from_state="issued",
               to_state="paid", paid_amount=str(statement.paid_amount),
               payment_id=payment.id if payment else None)


def pay_from_balance(session: Session, profile: BillingProfile, statement: Statement, *,
                     now: dt.datetime, actor: User | None) -> Decimal:
    """Pay what the balance allows of the locked, issued ``statement`` from the locked
    ``profile``'s balance; the amount taken (zero when there is nothing to take)."""
    amount = min(profile.balance, statement.outstanding)
    if amount <= 0:
        return Decimal("0.00")
    _move_balance(session, profile, -amount, kind=BalanceEntryKind.APPLIED, now=now,
                  actor=actor, statement=statement)
    _add_paid(session, statement, amount, now=now, actor=actor, payment=None)
    record(session, actor, statement, "pay_from_balance", at=now, amount=str(amount))
    return amount


def settle_from_balance(session: Session, profile: BillingProfile, *, now: dt.datetime,
                        actor: User | None) -> list[Statement]:
    """For a prepaid organization: pay its issued statements from its balance, oldest first,
    as far as the balance goes. The profile is locked; the statements are locked here."""
    if not profile.prepaid or profile.balance <= 0:
        return []
    statement_ids = session.scalars(
        select(Statement.id).where(Statement.organization_id == profile.organization_id,
                                   Statement.state == StatementState.ISSUED)
        .order_by(Statement.id))
    paid = []
    for statement_id in list(statement_ids):
        statement = locked(session, Statement, statement_id)
        if statement is not None and pay_from_balance(session, profile, statement, now=now,
                                                      actor=actor) > 0:
            paid.append(statement)
        if profile.balance <= 0:
            break
    return paid


def new_verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def on_issue(session: Session, statement: Statement, profile: BillingProfile, *,
             now: dt.datetime, actor: User) -> None:
    """What issuing a statement sets going (statement and profile locked): its verification
    code; nothing to pay (vouchers or credits cover it): paid at once, a credit's amount to the
    organization's balance; a prepaid organization's balance pays what it can."""
    statement.verification_code = new_verification_code()
    due = statement.amount_due
    if due <= 0:
        statement.state = StatementState.PAID
        statement.paid_at = now
        statement.paid_by_id = actor.id
        if due < 0:
            session.flush()
            _move_balance(session, profile, -due, kind=BalanceEntryKind.CREDIT_NOTE, now=now,
                          actor=actor, statement=statement)
        record(session, actor, statement, "paid_in_full", at=now, from_state="issued",
               to_state="paid", paid_amount="0.00")
        return
    if profile.prepaid:
        pay_from_balance(session, profile, statement, now=now, actor=actor)


@dataclass(frozen=True)
class PaymentInput:
    organization_id: int
    received_on: dt.date
    amount: Decimal
    method: PaymentMethod
    reference: str
    statement_ids: Sequence[int]


def _payment_problems(values: PaymentInput, today: dt.date) -> list[Problem]:
    problems = []
    if values.amount <= 0:
        problems.append(Problem("invalid_amount", _("A payment is more than zero."),
                                field="amount"))
    elif values.amount > MAX_PAYMENT:
        problems.append(Problem("invalid_amount", _("A payment is at most ¥%(max)s.",
                                                    max=f"{MAX_PAYMENT:,}"), field="amount"))
    if values.received_on > today:
        problems.append(Problem("in_future", _("The payment cannot be received after today."),
                                field="received_on"))
    elif values.received_on.year < 2000:
        problems.append(Problem("out_of_range", _("Give a date from the year 2000 on."),
                                field="received_on"))
    if len(values.reference) > MAX_REFERENCE:
        problems.append(Problem("too_long", _("The reference is at most %(n)d characters.",
                                              n=MAX_REFERENCE), field="reference"))
    if not values.statement_ids:
        problems.append(Problem("statements_required",
                                _("Name the statements the payment is for."),
                                field="statement_ids"))
    elif len(values.statement_ids) > MAX_STATEMENTS or \
            len(set(values.statement_ids)) != len(values.statement_ids):
        problems.append(Problem("invalid_statements", _(
            "Name each statement once, at most %(n)d.", n=MAX_STATEMENTS),
            field="statement_ids"))
    return problems


def _payable_statements(session: Session, organization_id: int,
                        statement_ids: Sequence[int]) -> list[Statement]:
    """The statements a payment or an invoice names, locked in id order, each checked: it
    exists and belongs to the organization (422), and it is issued (409)."""
    statements = []
    for statement_id in sorted(statement_ids):
        statement = locked(session, Statement, statement_id)
        if statement is None or statement.organization_id != organization_id:
            raise _refused("not_this_organization", _(
                "Statement %(id)d is not one of this organization's statements.",
                id=statement_id), "statement_ids")
        if statement.state == StatementState.DRAFT:
            raise Conflict(_("Statement %(number)s is a draft: issue it first.",
                             number=statement.number), code="invalid_state")
        statements.append(statement)
    return statements


def record_payment(session: Session, actor: User, values: PaymentInput, *,
                   now: dt.datetime) -> Payment:
    """Record money received and spread it over the statements it names (oldest first, each
    up to what it still owes); the rest goes to the organization's balance. A statement that
    is already paid is refused (409 ``already_paid``): a payment is never put on it twice."""
    require_finance(actor)
    problems = _payment_problems(values, to_lab_time(now).date())
    if problems:
        raise ValidationError(problems[0].message, code=problems[0].code, problems=problems)
    profile = locked_profile(session, values.organization_id, now=now)
    statements = _payable_statements(session, values.organization_id, values.statement_ids)
    for statement in statements:
        if statement.outstanding <= 0:
            raise Conflict(_("Statement %(number)s is already paid in full; record the money "
                             "against another statement.", number=statement.number),
                           code="already_paid")
    payment = Payment(organization_id=values.organization_id, received_on=values.received_on,
                      amount=values.amount, method=values.method,
                      reference=values.reference.strip(), credited=Decimal("0.00"),
                      recorded_by_id=actor.id, recorded_at=now)
    session.add(payment)
    session.flush()
    left = values.amount
    for statement in sorted(statements, key=lambda s: (s.issued_at, s.id)):
        part = min(left, statement.outstanding)
        if part <= 0:
            break
        _add_paid(session, statement, part, now=now, actor=actor, payment=payment)
        left -= part
    if left > 0:
        payment.credited = left
        _move_balance(session, profile, left, kind=BalanceEntryKind.OVERPAYMENT, now=now,
                      actor=actor, payment=payment)
    record(session, actor, payment, "create", at=now, amount=str(values.amount),
           organization_id=values.organization_id, method=values.method.value,
           reference=payment.reference, credited=str(payment.credited),
           statements=[s.number for s in statements])
    return payment


def apply_balance(session: Session, actor: User, statement_id: int, *,
                  now: dt.datetime) -> Statement:
    """Finance pays an issued statement from its organization's balance, as far as it goes."""
    require_finance(actor)
    statement = session.get(Statement, statement_id)
    if statement is None:
        raise NotFound(_("No statement with id %(id)d.", id=statement_id))
    profile = locked_profile(session, statement.organization_id, now=now)
    statement = _payable_statements(session, statement.organization_id, [statement_id])[0]
    if statement.outstanding <= 0:
        raise Conflict(_("Statement %(number)s is already paid in full.",
                         number=statement.number), code="already_paid")
    if pay_from_balance(session, profile, statement, now=now, actor=actor) <= 0:
        raise Conflict(_("The organization has no balance to pay from."), code="no_balance")
    return statement


def record_deposit(session: Session, actor: User, organization_id: int, amount: Decimal,
                   note: str, *, now: dt.datetime) -> BillingProfile:
    """A prepaid deposit (预存款) received by finance; it pays the organization's issued
    statements at once, oldest first, as far as it goes."""
    require_finance(actor)
    check_amount(amount)
    note = (note or "").strip()
    if len(note) > MAX_REFERENCE:
        raise _refused("too_long", _("The reference is at most %(n)d characters.",
                                     n=MAX_REFERENCE), "note")
    profile = locked_profile(session, organization_id, now=now)
    if not profile.prepaid:
        raise Conflict(_("This organization does not pay from a prepaid balance; turn it on "
                         "in its billing details first."), code="prepaid_not_enabled")
    _move_balance(session, profile, amount, kind=BalanceEntryKind.DEPOSIT, now=now,
                  actor=actor, note=note)
    session.flush()
    record(session, actor, profile, "deposit", at=now, amount=str(amount), note=note)
    settle_from_balance(session, profile, now=now, actor=actor)
    return profile


def balance_history(session: Session, organization_id: int) -> list[BalanceEntry]:
    return list(session.scalars(select(BalanceEntry)
                                .where(BalanceEntry.organization_id == organization_id)
                                .order_by(BalanceEntry.created_at, BalanceEntry.id)))


def payments_of(session: Session, organization_id: int | None = None):
    """A query of payments, newest first."""
    query = select(Payment).order_by(Payment.received_on.desc(), Payment.id.desc())
    if organization_id is not None:
        query = query.where(Payment.organization_id == organization_id)
    return query


def statement_allocations(session: Session, statement_id: int) -> list[PaymentAllocation]:
    return list(session.scalars(select(PaymentAllocation)
                                .where(PaymentAllocation.statement_id == statement_id)
                                .order_by(PaymentAllocation.id)))
