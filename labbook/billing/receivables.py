"""Receivables: what organizations still owe on issued statements, by age; overdue statements,
their reminders, and the organization setting that refuses new bookings and orders while a
statement is overdue beyond a number of days (rule code ``payment_overdue``).

A statement is due ``PAYMENT_TERMS_DAYS`` after the lab day it was issued; it is overdue from
the day after. Ages and days are counted in lab days (Asia/Shanghai): a statement issued on the
1st is 30 days old on the 31st, in the 0–30 bucket, and 31 days old the next day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, ScalarSelect, bindparam, case, func, select, type_coerce
from sqlalchemy.orm import Session

from labbook.accounts.models import Organization
from labbook.billing.models import BillingProfile, Statement, StatementState
from labbook.core.db import Money
from labbook.core.errors import Conflict, Problem
from labbook.core.time import LAB_TZ, to_lab_time
from labbook.notify import services as notify

#: Days from issue to the day a statement is due.
PAYMENT_TERMS_DAYS = 30
#: Overdue statements are reminded of on the first day overdue and every this many days after.
REMINDER_EVERY_DAYS = 30
#: The ageing buckets: (label key, fewest days, most days or None).
BUCKETS = (("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))

OUTSTANDING = Statement.total - Statement.voucher_amount - Statement.paid_amount


def start_of_lab_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=LAB_TZ).astimezone(dt.UTC)


def issued_before(now: dt.datetime, days: int) -> dt.datetime:
    """The moment before which a statement issued is more than ``days`` lab days old."""
    return start_of_lab_day(to_lab_time(now).date() - dt.timedelta(days=days))


def _open_statements():
    return (Statement.state == StatementState.ISSUED, OUTSTANDING > 0)


@dataclass(frozen=True)
class AgeingRow:
    organization_id: int
    name: str
    buckets: tuple[Decimal, Decimal, Decimal, Decimal]
    statements: int

    @property
    def total(self) -> Decimal:
        return sum(self.buckets, Decimal("0.00"))


def ageing(session: Session, *, now: dt.datetime) -> list[AgeingRow]:
    """Outstanding amounts by organization and age (days since issue, lab time): 0–30, 31–60,
    61–90, over 90; summed in SQL over the open statements only."""
    limits = [issued_before(now, high) for _key, _low, high in BUCKETS if high is not None]
    money = Money()

    def bucket(condition):
        return type_coerce(func.coalesce(func.sum(case((condition, OUTSTANDING), else_=0)), 0),
                           money)

    issued = Statement.issued_at
    rows = session.execute(
        select(Statement.organization_id, Organization.name,
               bucket(issued >= limits[0]),
               bucket((issued < limits[0]) & (issued >= limits[1])),
               bucket((issued < limits[1]) & (issued >= limits[2])),
               bucket(issued < limits[2]),
               func.count(Statement.id))
        .join(Organization, Organization.id == Statement.organization_id)
        .where(*_open_statements())
        .group_by(Statement.organization_id, Organization.name)
        .order_by(Organization.name))
    return [AgeingRow(row[0], row[1], (row[2], row[3], row[4], row[5]), row[6]) for row in rows]


def open_statements(session: Session, organization_id: int | None = None):
    """A query of the issued statements with something left to pay, oldest first."""
    query = select(Statement).where(*_open_statements()).order_by(Statement.issued_at,
                                                                   Statement.id)
    if organization_id is not None:
        query = query.where(Statement.organization_id == organization_id)
    return query


def due_on(statement: Statement) -> dt.date | None:
    if statement.issued_at is None:
        return None
    return to_lab_time(statement.issued_at).date() + dt.timedelta(days=PAYMENT_TERMS_DAYS)


def days_overdue(statement: Statement, now: dt.datetime) -> int:
    """Lab days since the statement was due (0 when it is not overdue or nothing is owed)."""
    due = due_on(statement)
    if due is None or statement.outstanding <= 0:
        return 0
    return max((to_lab_time(now).date() - due).days, 0)


# Built once: every booking and order asks it.
_OVERDUE_BLOCK_DAYS = select(BillingProfile.overdue_block_days).where(
    BillingProfile.organization_id == bindparam("organization_id"))


def overdue_block_days_of(organization_id: ColumnElement[int]) -> ScalarSelect[int | None]:
    """The billing profile's ``overdue_block_days`` of the organization ``organization_id``, as
    a column of a statement that reads the organization anyway: given to ``overdue_problem``,
    it needs no statement of its own."""
    return select(BillingProfile.overdue_block_days).where(
        BillingProfile.organization_id == organization_id).scalar_subquery()


class Unread(Enum):
    """A value not read yet, where None is one of the values it may have."""

    UNREAD = "unread"


def overdue_problem(session: Session, organization_id: int, now: dt.datetime, *,
                    allowed: int | Unread | None = Unread.UNREAD) -> Problem | None:
    """The ``payment_overdue`` problem when the organization refuses new work while one of its
    statements is overdue beyond the days its billing profile allows (``allowed``, read here
    unless the caller read it: ``overdue_block_days_of``); None otherwise."""
    if allowed is Unread.UNREAD:
        allowed = session.scalar(_OVERDUE_BLOCK_DAYS, {"organization_id": organization_id})
    if allowed is None:
        return None
    oldest = session.scalars(
        open_statements(session, organization_id)
        .where(Statement.issued_at < issued_before(now, PAYMENT_TERMS_DAYS + allowed))
        .limit(1)).first()
    if oldest is None:
        return None
    return Problem("payment_overdue", _(
        "Statement %(number)s is %(days)d days overdue (more than %(allowed)d allowed): new "
        "bookings and orders wait until it is paid.", number=oldest.number,
        days=days_overdue(oldest, now), allowed=allowed))


def refuse_if_overdue(session: Session, organization_id: int, now: dt.datetime) -> None:
    """Refuse (409 ``payment_overdue``) new work for an organization whose statements are
    overdue beyond its setting; the orders area calls this when an order is submitted."""
    problem = overdue_problem(session, organization_id, now)
    if problem is not None:
        raise Conflict(problem.message, code=problem.code, problems=[problem])


def send_overdue_reminders(session: Session, *, now: dt.datetime) -> list:
    """Remind billing contacts of overdue statements: on the first day overdue and every
    ``REMINDER_EVERY_DAYS`` after. Each reminder has a key of its own in the outbox, so running
    the job again (or twice) sends nothing more."""
    messages = []
    statements = session.scalars(
        open_statements(session).where(Statement.issued_at
                                       < issued_before(now, PAYMENT_TERMS_DAYS)))
    for statement in list(statements):
        contact = statement.organization.billing_contact
        overdue = days_overdue(statement, now)
        if contact is None or overdue <= 0:
            continue
        stage = (overdue - 1) // REMINDER_EVERY_DAYS
        message = notify.enqueue(
            session, contact, kind="statement_overdue", template="statement_overdue",
            subject=lambda s=statement: _("Statement %(number)s is overdue", number=s.number),
            context={"statement": statement, "days_overdue": overdue,
                     "due_on": due_on(statement)},
            now=now, dedupe_key=f"statement-overdue:{statement.id}:{stage}")
        if message is not None:
            messages.append(message)
    return messages
