"""Charges, month close, statements and rate cards.

Charges are created exactly once per billable event, in the transaction of the change that
makes the event billable:

- a completed booking: its time on the rate card in force at the booked start for the paying
  organization's tier (basis ``booked``, ``actual`` or the larger), rounded up to the card's
  increment, at least its minimum; a later correction of the actual times reprices the charge
  on the terms it was first priced with — in place while it is unbilled or on a draft, as an
  adjustment for the next statement once its statement is issued;
- a no-show and a late cancellation: the card's share of the booked time's charge;
- a completed line of a testing order: the line's quote, fixed when the order was submitted
  (the charges of the testing-service requests before them now name the lines those became);
- a manual adjustment (positive or a credit) by an admin or a manager of the lab, with a reason.

A charge belongs to the Asia/Shanghai month of the booked start, the test's completion or the
adjustment. Closing a month puts every unbilled charge of that month and earlier into one draft
statement per organization; charges that arrive after their month was closed go into the next
statement, under their own date. Issued statements never change: corrections are adjustments.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import exists, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from labbook.accounts.labels import TIER_LABELS
from labbook.accounts.models import Organization, PriceTier, User
from labbook.audit.models import AuditEvent
from labbook.audit.services import HistoryEntry, record
from labbook.billing import estimates, payments, vouchers
from labbook.billing.models import (
    BillingBasis,
    Charge,
    ChargeKind,
    MonthClose,
    RateCard,
    Statement,
    StatementState,
)
from labbook.billing.pricing import (
    TimePrice,
    booked_share_price,
    price_time,
    reprice_time,
    whole_minutes,
)
from labbook.booking.models import Booking, BookingChange
from labbook.catalogue.models import Instrument, Lab
from labbook.core.engine import lock, locked, on_postgresql
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from labbook.core.money import AmountError, AmountFault, read_amount
from labbook.core.time import LAB_TZ, to_lab_time
from labbook.notify import services as notify
from labbook.orders.models import Order, OrderLine
from labbook.testing.models import ServiceRequest

log = logging.getLogger(__name__)

MAX_ADJUSTMENT = Decimal("1000000.00")
MAX_HOURLY_RATE = Decimal("100000.00")
MAX_REASON = 500
MAX_RULE_MINUTES = 1440
#: PostgreSQL advisory lock that month closes take in turn (any fixed number no other lock uses).
MONTH_CLOSE_LOCK_KEY = 0x6C62_6D63  # "lbmc"
# ASCII digits only: ``\d`` would take full-width digits (２０２６) as well.
PERIOD_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})")
#: The months a statement can belong to (a month of 9999 has no end to compute).
FIRST_PERIOD, LAST_PERIOD = "2000-01", "2099-12"


#: What printing a charge line reads besides the charge: loaded with it, not line by line.
LINE_LOADS = (
    selectinload(Charge.lab), selectinload(Charge.organization), selectinload(Charge.instrument),
    selectinload(Charge.service), selectinload(Charge.statement),
    selectinload(Charge.created_by),
    selectinload(Charge.booking).selectinload(Booking.user),
    selectinload(Charge.service_request).selectinload(ServiceRequest.requester),
    selectinload(Charge.order_line).selectinload(OrderLine.order).selectinload(Order.requester),
    selectinload(Charge.corrects).options(selectinload(Charge.statement),
                                          selectinload(Charge.instrument),
                                          selectinload(Charge.booking).selectinload(Booking.user)),
)


# -- months -------------------------------------------------------------------------------------

def period_of(moment: dt.datetime) -> str:
    """The Asia/Shanghai month of ``moment`` as ``YYYY-MM``."""
    return to_lab_time(moment).strftime("%Y-%m")


def parse_period(text: str | None) -> str:
    """``text`` if it names a month from 2000-01 to 2099-12 as ``YYYY-MM``; a 422 otherwise."""
    match = PERIOD_PATTERN.fullmatch((text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValidationError(_("Give the month as YYYY-MM, e.g. 2026-11."),
                              code="invalid_period")
    if not FIRST_PERIOD <= match.group(0) <= LAST_PERIOD:
        raise ValidationError(_("Give a month from %(first)s to %(last)s.", first=FIRST_PERIOD,
                                last=LAST_PERIOD), code="invalid_period")
    return match.group(0)


def period_bounds(period: str) -> tuple[dt.datetime, dt.datetime]:
    """The first moment of ``period`` and of the month after it, Asia/Shanghai, in UTC."""
    year, month = (int(part) for part in period.split("-"))
    start = dt.datetime(year, month, 1, tzinfo=LAB_TZ)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=LAB_TZ)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def previous_period(moment: dt.datetime) -> str:
    """The month before the Asia/Shanghai month of ``moment``."""
    first = to_lab_time(moment).replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


#: How many months back the admin's "Close a month" form looks.
CLOSABLE_MONTHS = 24


def closable_periods(session: Session, *, now: dt.datetime,
                     count: int = CLOSABLE_MONTHS) -> list[str]:
    """The months left to close, newest first: those of the last ``count`` that have ended and
    come after the latest month closed (the scheduler closes last month on its own). A month
    before a closed one has nothing left: its close took their unbilled charges too."""
    latest_closed = session.scalar(select(func.max(MonthClose.period)))
    periods: list[str] = []
    period = previous_period(now)
    while len(periods) < count and (latest_closed is None or period > latest_closed):
        periods.append(period)
        period = previous_period(period_bounds(period)[0])
    return periods


# -- charges for bookings and service requests --------------------------------------------------

def _locked_charge(session: Session, **source: int) -> Charge | None:
    """The charge of one booking or service request, read afresh under a row lock: whoever
    reprices it, or closes its month, waits for the other and then sees what it wrote."""
    return session.scalars(select(Charge).filter_by(**source).with_for_update()
                           .execution_options(populate_existing=True)).one_or_none()


def _add_charge(session: Session, charge: Charge, **source: int) -> Charge:
    """``charge``, added; or, when a concurrent transaction has just charged the same source,
    the charge it made. A source is charged once (a unique constraint): the second insert fails
    inside its savepoint, and the charge that won is returned instead of an error."""
    try:
        with session.begin_nested():
            session.add(charge)
    except IntegrityError:
        existing = _locked_charge(session, **source)
        if existing is None:
            raise
        return existing
    return charge


def rate_card_for(session: Session, booking: Booking) -> RateCard | None:
    """The rate card of the booking's organization's tier in force at its booked start
    (``pricing.card_in_force``, as every estimate chooses it)."""
    tier = booking.organization.tier
    return estimates.card_for(estimates.rate_cards(session, [(booking.instrument_id, tier)]),
                              booking.instrument_id, tier, booking.start_at)


def _booked_minutes(booking: Booking) -> int:
    return whole_minutes(booking.start_at, booking.end_at)


def _actual_minutes(booking: Booking) -> int | None:
    if booking.checked_in_at is None or booking.checked_out_at is None:
        return None
    return whole_minutes(booking.checked_in_at, booking.checked_out_at)


def _apply_time_price(charge: Charge, price: TimePrice) -> None:
    charge.basis = price.basis
    charge.booked_minutes = price.booked_minutes
    charge.actual_minutes = price.actual_minutes
    charge.rounding_minutes = price.rounding_minutes
    charge.minimum_minutes = price.minimum_minutes
    charge.billed_minutes = price.billed_minutes
    charge.unit_price = price.hourly_rate
    charge.share_percent = price.share_percent
    charge.amount = price.amount


def _add_to_total(session: Session, statement: Statement, amount: Decimal) -> None:
    """Add ``amount`` to the total of ``statement``, whose row the caller has locked: in SQL,
    never by writing back a total read earlier."""
    session.execute(update(Statement).where(Statement.id == statement.id)
                    .values(total=Statement.total + amount)
                    .execution_options(synchronize_session=False))
    session.expire(statement, ["total"])


def _reprice(session: Session, charge: Charge, booking: Booking, *,
             now: dt.datetime) -> Charge:
    """Price ``charge`` again after the booking's times changed, on the terms it was first
    priced with. Unbilled or on a draft, the line changes (and the draft's total with it); on
    an issued or paid statement it stays as issued, and the difference becomes an adjustment
    for the organization's next statement."""
    price = reprice_time(charge, booked=_booked_minutes(booking),
                         actual=_actual_minutes(booking))
    statement = None if charge.statement_id is None else \
        locked(session, Statement, charge.statement_id)
    if statement is not None and statement.state != StatementState.DRAFT:
        _correct_billed_charge(session, charge, price, now=now)
        return charge
    before = charge.amount
    _apply_time_price(charge, price)
    if charge.amount != before:
        if statement is not None:
            _add_to_total(session, statement, charge.amount - before)
            session.flush()
            vouchers.refit_line(session, charge, statement, now=now)
        record(session, None, charge, "reprice", at=now, old_amount=str(before),
               new_amount=str(charge.amount), statement_id=charge.statement_id)
    return charge


def _correct_billed_charge(session: Session, charge: Charge, price: TimePrice, *,
                           now: dt.datetime) -> Charge | None:
    """The adjustment that brings what was billed for ``charge`` (its line on an issued
    statement, and earlier corrections) to ``price``; None when nothing is owed either way."""
    billed = charge.amount + session.scalar(
        select(func.coalesce(func.sum(Charge.amount), 0))
        .where(Charge.corrects_charge_id == charge.id))
    if price.amount == billed:
        return None
    correction = Charge(kind=ChargeKind.ADJUSTMENT, organization_id=charge.organization_id,
                        lab_id=charge.lab_id, instrument_id=charge.instrument_id,
                        rate_card_id=charge.rate_card_id, corrects_charge_id=charge.id,
                        occurred_at=now, period=period_of(now), tier=charge.tier, reason="",
                        created_at=now)
    _apply_time_price(correction, price)
    correction.amount = price.amount - billed
    session.add(correction)
    session.flush()
    record(session, None, correction, "adjust", at=now, amount=str(correction.amount),
           organization_id=charge.organization_id, lab_id=charge.lab_id,
           old_amount=str(billed), new_amount=str(price.amount))
    return correction


def _charge_booking(session: Session, booking: Booking, kind: ChargeKind, *,
                    now: dt.datetime) -> Charge | None:
    """Charge ``booking`` once; a charge it already has keeps the terms it was priced with."""
    charge = _locked_charge(session, booking_id=booking.id)
    if charge is not None:
        return _reprice(session, charge, booking, now=now) if charge.kind == kind else charge
    card = rate_card_for(session, booking)
    if card is None:
        log.warning("booking %s: no %s rate card for %s at its start; nothing charged",
                    booking.id, booking.organization.tier.value, booking.instrument.code)
        return None
    booked = _booked_minutes(booking)
    if kind == ChargeKind.USAGE:
        price = price_time(card, booked=booked, actual=_actual_minutes(booking))
    else:
        share = card.no_show_percent if kind == ChargeKind.NO_SHOW else card.late_cancel_percent
        price = booked_share_price(card, booked, share)
    if price.amount == 0:
        return None
    charge = Charge(kind=kind, organization_id=booking.organization_id,
                    lab_id=booking.instrument.lab_id, booking_id=booking.id,
                    instrument_id=booking.instrument_id, rate_card_id=card.id,
                    occurred_at=booking.start_at, period=period_of(booking.start_at),
                    tier=booking.organization.tier, reason="", created_at=now)
    _apply_time_price(charge, price)
    return _add_charge(session, charge, booking_id=booking.id)


def charge_completed_booking(session: Session, booking: Booking, *,
                             now: dt.datetime) -> Charge | None:
    """The usage charge of a completed booking (created, or repriced while unbilled)."""
    return _charge_booking(session, booking, ChargeKind.USAGE, now=now)


def charge_no_show(session: Session, booking: Booking, *, now: dt.datetime) -> Charge | None:
    return _charge_booking(session, booking, ChargeKind.NO_SHOW, now=now)


def charge_late_cancellation(session: Session, booking: Booking, *,
                             now: dt.datetime) -> Charge | None:
    return _charge_booking(session, booking, ChargeKind.LATE_CANCELLATION, now=now)


def charge_late_change(session: Session, booking: Booking, change: BookingChange, *,
                       now: dt.datetime) -> Charge | None:
    """The booked time a late change gave back (``change.given_back_minutes``), charged as a late
    cancellation of that much time: the rate card in force at the booking's start (the caller
    calls this before moving it), the card's late-cancellation share, its increment and minimum.
    One charge per change; the booking's own charge (usage, no-show, late cancellation) stays
    separate."""
    charge = _locked_charge(session, booking_change_id=change.id)
    if charge is not None:
        return charge
    card = rate_card_for(session, booking)
    if card is None:
        log.warning("booking %s: no %s rate card for %s at its start; late change not charged",
                    booking.id, booking.organization.tier.value, booking.instrument.code)
        return None
    price = booked_share_price(card, change.given_back_minutes, card.late_cancel_percent)
    if price.amount == 0:
        return None
    charge = Charge(kind=ChargeKind.LATE_CANCELLATION, organization_id=booking.organization_id,
                    lab_id=booking.instrument.lab_id, booking_change_id=change.id,
                    instrument_id=booking.instrument_id, rate_card_id=card.id,
                    occurred_at=booking.start_at, period=period_of(booking.start_at),
                    tier=booking.organization.tier, reason="", created_at=now)
    _apply_time_price(charge, price)
    return _add_charge(session, charge, booking_change_id=change.id)


def charge_order_line(session: Session, line: OrderLine, *, now: dt.datetime) -> Charge:
    """The charge of a completed order line: the line's quote, fixed at the order's submission.
    The statement line names the order's number."""
    charge = _locked_charge(session, order_line_id=line.id)
    if charge is not None:
        return charge
    moment = line.completed_at or now
    order = line.order
    charge = Charge(kind=ChargeKind.SERVICE, organization_id=order.organization_id,
                    lab_id=order.lab_id, order_line_id=line.id, service_id=line.service_id,
                    occurred_at=moment, period=period_of(moment), tier=order.tier,
                    samples=len(line.samples), unit_price=line.unit_price,
                    surcharge=line.express_surcharge, share_percent=100, amount=line.total,
                    reason="", created_at=now)
    return _add_charge(session, charge, order_line_id=line.id)


# -- adjustments --------------------------------------------------------------------------------

def can_adjust(actor: User, lab: Lab) -> bool:
    return actor.manages(lab)


def _amount_refused(message: str, field_name: str) -> ValidationError:
    return ValidationError(message, code="invalid_amount",
                           problems=[Problem("invalid_amount", message, field=field_name)])


def parse_amount(value: object, field_name: str = "amount") -> Decimal:
    """A money amount given as a number or a string of digits with at most two decimals
    (``labbook.core.money.read_amount``), refused in the words of a form or the API."""
    try:
        return read_amount(value)
    except AmountError as error:
        if error.fault == AmountFault.SUB_FEN:
            message = _("Amounts have at most two decimals (fen).")
        else:
            message = _("Give the amount in yuan as plain digits, e.g. 1200 or -120.50 "
                        "(no separators, no exponent).")
        raise _amount_refused(message, field_name) from None


def create_adjustment(session: Session, actor: User, *, organization: Organization, lab: Lab,
                      amount: Decimal, reason: str | None, now: dt.datetime,
                      statement: Statement | None = None,
                      corrects: Charge | None = None) -> Charge:
    """A manual line, positive or a credit (negative), with a reason.

    It goes into ``statement`` when that is the organization's draft (a correction found in
    review), and the draft's total grows by it; otherwise into the organization's next
    statement, in the month of ``now``. The draft is read afresh under a lock, so a statement
    issued meanwhile refuses the line (409) rather than holding a line its total leaves out.
    ``corrects`` names the billed line a credit corrects: what vouchers paid of that line
    beyond their share of its corrected amount goes back to them.
    """
    if statement is not None:
        statement_id = statement.id
        statement = locked(session, Statement, statement_id)
        if statement is None:
            raise NotFound(_("No statement with id %(id)d.", id=statement_id))
    if not can_adjust(actor, lab):
        raise PermissionDenied(_("Only admins and the lab's managers make adjustments."),
                               code="not_lab_manager")
    if statement is not None and statement.state != StatementState.DRAFT:
        message = _("Statement %(number)s is no longer a draft and never changes: record the "
                    "correction as an adjustment for the organization's next statement instead.",
                    number=statement.number)
        raise Conflict(message, code="invalid_state", problems=[
            Problem("invalid_state", message, field="statement_id")])
    problems: list[Problem] = []
    reason = (reason or "").strip()
    if not reason:
        problems.append(Problem("reason_required", _("Give the reason for the adjustment."),
                                field="reason"))
    elif len(reason) > MAX_REASON:
        problems.append(Problem("too_long", _("The reason is at most %(n)d characters.",
                                              n=MAX_REASON), field="reason"))
    if amount == 0:
        problems.append(Problem("invalid_amount", _("An adjustment of zero changes nothing."),
                                field="amount"))
    elif abs(amount) > MAX_ADJUSTMENT:
        problems.append(Problem("invalid_amount", _(
            "An adjustment is at most ¥%(max)s either way.", max=f"{MAX_ADJUSTMENT:,}"),
            field="amount"))
    if statement is not None and statement.organization_id != organization.id:
        problems.append(Problem("statement_not_draft", _(
            "Adjustments go only into a draft statement of the same organization."),
            field="statement_id"))
    if corrects is not None and (corrects.organization_id != organization.id
                                 or corrects.statement_id is None
                                 or corrects.corrects_charge_id is not None):
        problems.append(Problem("not_correctable", _(
            "Only a billed line of the same organization can be corrected."),
            field="corrects_charge_id"))
    if problems:
        raise ValidationError(problems[0].message, code=problems[0].code, problems=problems)
    charge = Charge(kind=ChargeKind.ADJUSTMENT, organization_id=organization.id, lab_id=lab.id,
                    occurred_at=now, period=statement.period if statement else period_of(now),
                    tier=organization.tier, share_percent=100, amount=amount, reason=reason,
                    created_by_id=actor.id, created_at=now,
                    statement_id=statement.id if statement else None,
                    corrects_charge_id=corrects.id if corrects else None)
    session.add(charge)
    session.flush()
    if statement is not None:
        _add_to_total(session, statement, amount)
        vouchers.correction_on_draft(session, charge, statement, now=now)
    record(session, actor, charge, "adjust", at=now, amount=str(amount),
           organization_id=organization.id, lab_id=lab.id,
           statement_id=statement.id if statement else None, note=reason,
           **({"corrects_charge_id": corrects.id} if corrects else {}))
    return charge


# -- month close --------------------------------------------------------------------------------

@dataclass
class CloseResult:
    period: str
    statements: list[Statement] = field(default_factory=list)
    already_closed_at: dt.datetime | None = None

    @property
    def was_already_closed(self) -> bool:
        return self.already_closed_at is not None


def statement_number(year: int, sequence: int) -> str:
    return f"LB-{year}-{sequence:06d}"


def _take_turn_to_close(session: Session) -> None:
    """Month closes run one at a time: each numbers its statements after the last one of the
    year and takes every unbilled charge up to its month, so a second close waits for the first
    to commit and then sees its work (a month closed before is a no-op). On SQLite the write
    transaction already runs alone."""
    if on_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": MONTH_CLOSE_LOCK_KEY})


def close_month(session: Session, actor: User | None, period: str, *,
                now: dt.datetime) -> CloseResult:
    """Build one draft statement per organization with unbilled charges of ``period`` or
    earlier, its lines covered by the organization's innovation vouchers
    (``labbook.billing.vouchers``). ``actor`` is an admin, or None for the scheduler. Closing
    a month twice creates nothing; a month that has not ended cannot be closed. The caller
    commits."""
    if actor is not None and not actor.is_admin:
        raise PermissionDenied(_("Only admins close a month."), code="not_admin")
    period = parse_period(period)
    period_end = period_bounds(period)[1]
    if now < period_end:
        raise ValidationError(_("%(period)s has not ended yet; it can be closed from "
                                "%(date)s on.", period=period,
                                date=to_lab_time(period_end).strftime("%Y-%m-%d %H:%M")),
                              code="period_not_ended")
    _take_turn_to_close(session)
    done = session.scalars(select(MonthClose).where(MonthClose.period == period)).one_or_none()
    if done is not None:
        return CloseResult(period, already_closed_at=done.closed_at)
    closing = MonthClose(period=period, closed_at=now, closed_by_id=actor.id if actor else None)
    session.add(closing)

    unbilled = (Charge.statement_id.is_(None), Charge.period <= period)
    organization_ids = list(session.scalars(
        select(Charge.organization_id).where(*unbilled).group_by(Charge.organization_id)
        .order_by(Charge.organization_id)))
    year = int(period[:4])
    last = session.scalar(select(func.max(Statement.sequence)).where(Statement.year == year))
    rows = [{"number": statement_number(year, sequence), "year": year, "sequence": sequence,
             "organization_id": organization_id, "period": period,
             "state": StatementState.DRAFT, "total": Decimal(0), "created_at": now,
             "payment_note": ""}
            for sequence, organization_id in enumerate(organization_ids, start=(last or 0) + 1)]
    statements: list[Statement] = []
    if rows:
        statements = list(session.scalars(select(Statement).from_statement(
            Statement.__table__.insert().returning(*Statement.__table__.c)), rows))
        # Charges are linked first and totalled after, in SQL, so a total is always the sum of
        # exactly the lines its statement holds, even if a charge arrived while the month was
        # closing.
        charges, owners = Charge.__table__.c, Statement.__table__.c
        session.execute(
            update(Charge.__table__)
            .where(charges.statement_id.is_(None), charges.period <= period,
                   charges.organization_id.in_(organization_ids))
            .values(statement_id=select(owners.id)
                    .where(owners.organization_id == charges.organization_id,
                           owners.period == period)
                    .scalar_subquery()))
        statement_ids = [statement.id for statement in statements]
        session.execute(
            update(Statement.__table__).where(owners.id.in_(statement_ids))
            .values(total=select(func.coalesce(func.sum(charges.amount), 0))
                    .where(charges.statement_id == owners.id).scalar_subquery()))
        statements = list(session.scalars(
            select(Statement).where(Statement.id.in_(statement_ids))
            .order_by(Statement.sequence).execution_options(populate_existing=True)))
        for statement in statements:
            vouchers.cover_statement(session, statement, now=now)
    closing.statements_created = len(statements)
    record(session, actor, closing, "close_month", at=now, period=period,
           statements=len(statements))
    return CloseResult(period, statements=statements)


# -- statements ---------------------------------------------------------------------------------

def is_billing_contact(actor: User, organization: Organization) -> bool:
    return organization.billing_contact_id == actor.id


def may_see_statements(session: Session, actor: User) -> bool:
    """Whether any statement could be shown to ``actor``: admins, lab managers and the
    billing contacts of organizations (the navigation offers the statements to them)."""
    return actor.is_admin or actor.is_lab_manager or bool(session.scalar(
        select(exists().where(Organization.billing_contact_id == actor.id))))


def can_view_statement(actor: User, statement: Statement) -> bool:
    """Admins see every statement; an organization's billing contact sees its issued ones;
    a lab manager sees the statements that hold lines of their labs (only those lines)."""
    if sees_whole_statement(actor, statement):
        return True
    return bool(actor.is_lab_manager and visible_lines(actor, statement))


def sees_whole_statement(actor: User, statement: Statement) -> bool:
    """Admins, and the organization's billing contact once the statement is issued."""
    return actor.is_admin or (is_billing_contact(actor, statement.organization)
                              and statement.state != StatementState.DRAFT)


def visible_lines(actor: User, statement: Statement) -> list[Charge]:
    """The lines of ``statement`` that ``actor`` may see."""
    if sees_whole_statement(actor, statement):
        return list(statement.charges)
    return [charge for charge in statement.charges if actor.manages_lab_id(charge.lab_id)]


def get_statement(session: Session, actor: User, statement_id: int) -> Statement:
    statement = session.get(Statement, statement_id,
                            options=[selectinload(Statement.charges).options(*LINE_LOADS)])
    if statement is None or not can_view_statement(actor, statement):
        raise NotFound(_("No statement with id %(id)d.", id=statement_id))
    return statement


def visible_statements(session: Session, actor: User, *, period: str | None = None,
                       organization_id: int | None = None,
                       state: StatementState | None = None):
    """A query of the statements ``actor`` may see, newest first."""
    query = select(Statement).order_by(Statement.period.desc(), Statement.number.desc())
    if period is not None:
        query = query.where(Statement.period == period)
    if organization_id is not None:
        query = query.where(Statement.organization_id == organization_id)
    if state is not None:
        query = query.where(Statement.state == state)
    if actor.is_admin:
        return query
    contact_of = select(Organization.id).where(Organization.billing_contact_id == actor.id)
    visible = (Statement.organization_id.in_(contact_of)
               & (Statement.state != StatementState.DRAFT))
    if actor.is_lab_manager:
        lab_ids = [lab.id for lab in actor.managed_labs]
        visible |= Statement.id.in_(select(Charge.statement_id)
                                    .where(Charge.lab_id.in_(lab_ids)))
    return query.where(visible)


@dataclass(frozen=True)
class LabSubtotal:
    lab: Lab
    lines: list[Charge]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


def lab_subtotals(lines: list[Charge]) -> list[LabSubtotal]:
    """Lines grouped by lab, in lab-code order, each group by date."""
    groups: dict[int, list[Charge]] = {}
    for line in lines:
        groups.setdefault(line.lab_id, []).append(line)
    subtotals = [LabSubtotal(group[0].lab, sorted(group, key=lambda c: (c.occurred_at, c.id)))
                 for group in groups.values()]
    return sorted(subtotals, key=lambda s: s.lab.code)


def _require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise PermissionDenied(_("Only admins issue statements and record payments."),
                               code="not_admin")


def issue_statement(session: Session, actor: User, statement: Statement, *,
                    now: dt.datetime) -> Statement:
    """Draft → issued. From now on the statement never changes: any attempt to change it is
    refused. It gets its verification code; a prepaid organization's balance pays what it can,
    and a statement with nothing to pay is paid at once (a credit goes to the balance). The
    statement is read afresh under a lock: of two racing issues, or an issue and an adjustment,
    the second sees what the first did (409 ``invalid_state`` for a statement no longer a
    draft), and the total recorded is that of every line the statement holds."""
    _require_admin(actor)
    # The organization's balance first (the lock order of money), then the statement.
    profile = payments.locked_profile(session, statement.organization_id, now=now)
    lock(session, statement)
    if statement.state != StatementState.DRAFT:
        raise Conflict(_("Statement %(number)s is already issued; an issued statement "
                         "never changes (corrections are adjustments on the next one).",
                         number=statement.number), code="invalid_state")
    statement.state = StatementState.ISSUED
    statement.issued_at = now
    statement.issued_by_id = actor.id
    record(session, actor, statement, "issue", at=now, from_state="draft", to_state="issued",
           total=str(statement.total), voucher_amount=str(statement.voucher_amount))
    payments.on_issue(session, statement, profile, now=now, actor=actor)
    notify.statement_issued(session, statement, now=now)
    return statement


def mark_paid(session: Session, actor: User, statement: Statement, *, now: dt.datetime,
              note: str | None = None) -> Statement:
    """Issued → paid, decided on the statement read afresh under a lock (409 ``invalid_state``
    for a draft or a statement already paid)."""
    lock(session, statement)
    _require_admin(actor)
    if statement.state != StatementState.ISSUED:
        message = (_("Statement %(number)s is already paid.", number=statement.number)
                   if statement.state == StatementState.PAID else
                   _("Statement %(number)s is a draft: issue it before recording the payment.",
                     number=statement.number))
        raise Conflict(message, code="invalid_state")
    note = (note or "").strip()
    if len(note) > MAX_REASON:
        raise ValidationError(_("The note is at most %(n)d characters.", n=MAX_REASON),
                              code="too_long")
    statement.state = StatementState.PAID
    statement.paid_at = now
    statement.paid_by_id = actor.id
    statement.payment_note = note
    record(session, actor, statement, "mark_paid", at=now, from_state="issued",
           to_state="paid", note=note)
    return statement


def unbilled_charges(session: Session, actor: User, *, lab_ids: list[int] | None = None,
                     period: str | None = None):
    """A query of the charges not yet on a statement that ``actor`` may see, newest first,
    optionally only those of one month."""
    return visible_charges(session, actor, lab_ids=lab_ids, period=period, unbilled=True)


def can_list_charges(actor: User) -> bool:
    return actor.is_admin or actor.is_lab_manager


def visible_charges(session: Session, actor: User, *, lab_ids: list[int] | None = None,
                    period: str | None = None, organization_id: int | None = None,
                    unbilled: bool = False):
    """A query of the charges ``actor`` may see (admins all, lab managers their labs'),
    newest first, narrowed by lab, month, organization or to those not yet on a statement."""
    query = select(Charge).order_by(Charge.occurred_at.desc(), Charge.id.desc())
    if unbilled:
        query = query.where(Charge.statement_id.is_(None))
    if period is not None:
        query = query.where(Charge.period == period)
    if organization_id is not None:
        query = query.where(Charge.organization_id == organization_id)
    if not actor.is_admin:
        lab_ids = [lab.id for lab in actor.managed_labs
                   if lab_ids is None or lab.id in lab_ids]
    if lab_ids is not None:
        query = query.where(Charge.lab_id.in_(lab_ids))
    return query


# -- rate cards ---------------------------------------------------------------------------------

def can_edit_rates(actor: User, instrument: Instrument) -> bool:
    return actor.manages(instrument.lab)


#: What a rate card says besides its tier, its first day and its rate.
CARD_TERMS = ("billing_basis", "rounding_minutes", "minimum_minutes", "no_show_percent",
              "late_cancel_percent")


def default_card_terms() -> dict[str, Any]:
    """The terms of a card that says no others: the rate card model's defaults."""
    return {name: RateCard.__table__.c[name].default.arg for name in CARD_TERMS}


def rate_card_terms(instrument: Instrument, tier: PriceTier,
                    effective_from: dt.date) -> dict[str, Any]:
    """The terms a new card of ``tier`` from ``effective_from`` takes where none are given:
    those of the tier's card in force on that date, so a price change needs only the rate;
    the default terms for a tier's first card."""
    card = instrument.current_rate(tier, effective_from)
    if card is None:
        return default_card_terms()
    return {name: getattr(card, name) for name in CARD_TERMS}


def rate_card_form_defaults(*, now: dt.datetime) -> dict[str, Any]:
    """What the form for a new card shows before anything is entered: the default terms,
    from today (lab time)."""
    return {"effective_from": to_lab_time(now).date(), **default_card_terms()}


def _int_problem(value: object, name: str, low: int, high: int, message: str) -> Problem | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return Problem("out_of_range", message, field=name)
    return None


@dataclass(frozen=True)
class RateCardInput:
    tier: PriceTier
    effective_from: dt.date
    hourly_rate: Decimal
    billing_basis: BillingBasis
    rounding_minutes: int
    minimum_minutes: int
    no_show_percent: int
    late_cancel_percent: int


def _rate_card_problems(session: Session, instrument: Instrument, values: RateCardInput,
                        today: dt.date) -> list[Problem]:
    problems = [problem for problem in (
        _int_problem(values.rounding_minutes, "rounding_minutes", 1, MAX_RULE_MINUTES,
                     _("The rounding increment is 1 to 1440 minutes.")),
        _int_problem(values.minimum_minutes, "minimum_minutes", 0, MAX_RULE_MINUTES,
                     _("The minimum is 0 to 1440 minutes.")),
        _int_problem(values.no_show_percent, "no_show_percent", 0, 100,
                     _("A share is 0 to 100 percent.")),
        _int_problem(values.late_cancel_percent, "late_cancel_percent", 0, 100,
                     _("A share is 0 to 100 percent.")),
    ) if problem]
    if not Decimal(0) <= values.hourly_rate <= MAX_HOURLY_RATE:
        problems.append(Problem("out_of_range", _(
            "The hourly rate is ¥0.00 to ¥%(max)s.", max=f"{MAX_HOURLY_RATE:,}"),
            field="hourly_rate"))
    if values.effective_from < today:
        problems.append(Problem("in_past", _(
            "A rate card starts today or later; charges already incurred keep their price "
            "(correct them with an adjustment)."), field="effective_from"))
    clash = session.scalar(select(RateCard.id).where(
        RateCard.instrument_id == instrument.id, RateCard.tier == values.tier,
        RateCard.effective_from == values.effective_from))
    if clash is not None:
        problems.append(Problem("overlapping_effective_dates", _(
            "This instrument already has a rate card for the %(tier)s tier starting on "
            "%(date)s; withdraw it or choose another date.", tier=TIER_LABELS[values.tier],
            date=values.effective_from.isoformat()), field="effective_from"))
    return problems


def _locked_instrument(session: Session, instrument_id: int) -> Instrument:
    """The instrument whose rate cards change, under a row lock: changes to one instrument's
    cards run one at a time, so two cards racing for one day cannot both pass the check."""
    instrument = locked(session, Instrument, instrument_id)
    if instrument is None:
        raise NotFound(_("No instrument with id %(id)d.", id=instrument_id))
    return instrument


def add_rate_card(session: Session, actor: User, instrument: Instrument, values: RateCardInput,
                  *, now: dt.datetime) -> RateCard:
    """A new rate card for one tier: the price of bookings that start from its date on (lab
    time). A card made effective today applies from now on: bookings that started earlier
    today keep the card that was in force at their start."""
    instrument = _locked_instrument(session, instrument.id)
    if not can_edit_rates(actor, instrument):
        raise PermissionDenied(_("Only admins and the lab's managers change rates."),
                               code="not_lab_manager")
    problems = _rate_card_problems(session, instrument, values, to_lab_time(now).date())
    if problems:
        raise ValidationError(problems[0].message, code=problems[0].code, problems=problems)
    start_of_day = dt.datetime.combine(values.effective_from, dt.time(), tzinfo=LAB_TZ)
    card = RateCard(instrument_id=instrument.id, applies_from=max(start_of_day, now),
                    **values.__dict__)
    session.add(card)
    session.flush()
    session.expire(instrument, ["rate_cards"])
    record(session, actor, card, "create", at=now, instrument_id=instrument.id,
           **{key: str(value) for key, value in values.__dict__.items()})
    return card


def withdraw_rate_card(session: Session, actor: User, card: RateCard, *,
                       now: dt.datetime) -> None:
    """Remove a rate card that has not started yet and priced nothing."""
    card_id = card.id
    _locked_instrument(session, card.instrument_id)
    card = locked(session, RateCard, card_id)
    if card is None:  # withdrawn meanwhile
        raise NotFound(_("No rate card with id %(id)d.", id=card_id))
    if not can_edit_rates(actor, card.instrument):
        raise PermissionDenied(_("Only admins and the lab's managers change rates."),
                               code="not_lab_manager")
    priced = session.scalar(select(Charge.id).where(Charge.rate_card_id == card.id).limit(1))
    if card.effective_from <= to_lab_time(now).date() or priced is not None:
        raise Conflict(_("This rate card is already in force; add a new one instead."),
                       code="rate_card_in_force")
    record(session, actor, card, "withdraw", at=now, instrument_id=card.instrument_id,
           tier=card.tier.value, effective_from=card.effective_from.isoformat(),
           hourly_rate=str(card.hourly_rate))
    instrument = card.instrument
    session.delete(card)
    session.flush()
    session.expire(instrument, ["rate_cards"])


def rate_card_history(session: Session, instrument: Instrument) -> list[HistoryEntry]:
    """Every rate-card change of ``instrument``, oldest first, withdrawn cards included (their
    rows are gone, so the events are found by the instrument they name)."""
    rows = session.execute(
        select(AuditEvent, User.name).outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.object_type == RateCard.__tablename__,
               AuditEvent.details["instrument_id"].as_integer() == instrument.id)
        .order_by(AuditEvent.at, AuditEvent.id))
    return [HistoryEntry(event, name) for event, name in rows]
