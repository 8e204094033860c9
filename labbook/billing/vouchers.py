"""Innovation vouchers (科技创新券): what they pay of the lines of a month, and what a
correction gives back.

At month close, each new statement's eligible lines (instrument use and testing services, or
the kinds the voucher names; of the labs it names; dated within its validity, lab time) are
covered by the organization's vouchers, soonest expiry first. A voucher pays at most
``share_percent`` of a line (rounded half-up to the fen) and never more than its balance;
the share is the most a line's voucher part reaches: a second voucher only tops a line up to
its own share when the first ran short. A correction that lowers a covered line (an adjustment
that corrects it) gives back what the vouchers paid beyond their share of the corrected
amount: the correcting line's voucher part is negative and the voucher's balance grows again.

Vouchers are locked in id order after the statements; balances move in SQL under those locks,
and a voucher pays a line once (a unique constraint).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labbook.accounts.models import Organization, User
from labbook.audit.services import record
from labbook.billing.models import (
    Charge,
    ChargeKind,
    Statement,
    StatementState,
    Voucher,
    VoucherUse,
)
from labbook.billing.payments import require_finance
from labbook.catalogue.models import Lab
from labbook.core.engine import lock
from labbook.core.errors import Conflict, Problem, ValidationError
from labbook.core.money import to_fen
from labbook.core.time import to_lab_time

#: The kinds of line a voucher may pay when it names none.
DEFAULT_KINDS = (ChargeKind.USAGE.value, ChargeKind.SERVICE.value)
#: The kinds a voucher may name.
ELIGIBLE_KINDS = (ChargeKind.USAGE, ChargeKind.SERVICE, ChargeKind.NO_SHOW,
                  ChargeKind.LATE_CANCELLATION)
MAX_FACE_VALUE = Decimal("10000000.00")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class VoucherInput:
    number: str
    authority: str
    face_value: Decimal
    share_percent: int
    valid_from: dt.date
    valid_to: dt.date
    lab_ids: Sequence[int] = ()
    kinds: Sequence[str] = ()


def _voucher_problems(session: Session, values: VoucherInput, today: dt.date) -> list[Problem]:
    problems = []
    if not values.number.strip() or len(values.number.strip()) > 50:
        problems.append(Problem("invalid_number", _("Give the voucher's number (at most 50 "
                                                     "characters)."), field="number"))
    if not values.authority.strip() or len(values.authority.strip()) > 200:
        problems.append(Problem("invalid_authority", _(
            "Give the issuing authority (at most 200 characters)."), field="authority"))
    if not Decimal(0) < values.face_value <= MAX_FACE_VALUE:
        problems.append(Problem("invalid_amount", _(
            "The face value is more than zero and at most ¥%(max)s.",
            max=f"{MAX_FACE_VALUE:,}"), field="face_value"))
    if isinstance(values.share_percent, bool) or not isinstance(values.share_percent, int) \
            or not 1 <= values.share_percent <= 100:
        problems.append(Problem("invalid_share", _(
            "The share a voucher pays of a line is 1 to 100 percent."), field="share_percent"))
    if values.valid_to < values.valid_from:
        problems.append(Problem("invalid_period", _(
            "A voucher is valid until a day on or after its first day."), field="valid_to"))
    elif values.valid_to < today:
        problems.append(Problem("voucher_expired", _(
            "This voucher expired on %(date)s.", date=values.valid_to.isoformat()),
            field="valid_to"))
    known = set(session.scalars(select(Lab.id).where(Lab.id.in_(list(values.lab_ids)))))
    if set(values.lab_ids) - known:
        problems.append(Problem("not_found", _("No lab with id %(id)d.",
                                               id=min(set(values.lab_ids) - known)),
                                field="lab_ids"))
    allowed = {kind.value for kind in ELIGIBLE_KINDS}
    if set(values.kinds) - allowed:
        problems.append(Problem("invalid_kind", _(
            "A voucher pays instrument use, testing services, no-shows or late "
            "cancellations."), field="kinds"))
    return problems


def create_voucher(session: Session, actor: User, organization: Organization,
                   values: VoucherInput, *, now: dt.datetime) -> Voucher:
    """Finance records a voucher the organization holds; its balance starts at face value."""
    require_finance(actor)
    problems = _voucher_problems(session, values, to_lab_time(now).date())
    if problems:
        raise ValidationError(problems[0].message, code=problems[0].code, problems=problems)
    voucher = Voucher(organization_id=organization.id, number=values.number.strip(),
                      authority=values.authority.strip(), face_value=values.face_value,
                      balance=values.face_value, share_percent=values.share_percent,
                      lab_ids=sorted(set(values.lab_ids)), kinds=sorted(set(values.kinds)),
                      valid_from=values.valid_from, valid_to=values.valid_to,
                      created_by_id=actor.id, created_at=now)
    try:
        with session.begin_nested():
            session.add(voucher)
    except IntegrityError:
        message = _("A voucher numbered %(number)s is already recorded.",
                    number=values.number.strip())
        raise Conflict(message, code="duplicate_voucher", problems=[
            Problem("duplicate_voucher", message, field="number")]) from None
    record(session, actor, voucher, "create", at=now, organization_id=organization.id,
           number=voucher.number, authority=voucher.authority,
           face_value=str(voucher.face_value), share_percent=voucher.share_percent,
           valid_from=voucher.valid_from.isoformat(), valid_to=voucher.valid_to.isoformat())
    return voucher


def pays_line(voucher: Voucher, charge: Charge) -> bool:
    """Whether ``voucher`` may pay ``charge``: its kind, its lab, its date within validity."""
    kinds = voucher.kinds or DEFAULT_KINDS
    day = to_lab_time(charge.occurred_at).date()
    return (charge.kind.value in kinds and (not voucher.lab_ids or charge.lab_id in voucher.lab_ids)
            and voucher.valid_from <= day <= voucher.valid_to)


def _locked_vouchers(session: Session, organization_id: int) -> list[Voucher]:
    """The organization's vouchers with a balance, locked in id order, soonest expiry first."""
    vouchers = list(session.scalars(
        select(Voucher).where(Voucher.organization_id == organization_id, Voucher.balance > 0)
        .order_by(Voucher.id).with_for_update().execution_options(populate_existing=True)))
    return sorted(vouchers, key=lambda v: (v.valid_to, v.id))


def _take(session: Session, voucher: Voucher, charge: Charge, statement: Statement,
          amount: Decimal, now: dt.datetime) -> None:
    """Move ``amount`` (negative: give back) between the locked voucher and ``charge``."""
    session.execute(update(Voucher).where(Voucher.id == voucher.id)
                    .values(balance=Voucher.balance - amount)
                    .execution_options(synchronize_session=False))
    session.expire(voucher, ["balance"])
    session.add(VoucherUse(voucher_id=voucher.id, charge_id=charge.id,
                           statement_id=statement.id, amount=amount, created_at=now))
    session.execute(update(Charge).where(Charge.id == charge.id)
                    .values(voucher_amount=Charge.voucher_amount + amount)
                    .execution_options(synchronize_session=False))


def _cover_line(session: Session, charge: Charge, statement: Statement,
                vouchers: list[Voucher], now: dt.datetime) -> None:
    covered = Decimal("0.00")
    for voucher in vouchers:
        if not pays_line(voucher, charge):
            continue
        cap = to_fen(charge.amount * voucher.share_percent / HUNDRED) - covered
        part = min(cap, voucher.balance)
        if part <= 0:
            continue
        _take(session, voucher, charge, statement, part, now)
        covered += part


def _give_back(session: Session, correction: Charge, statement: Statement,
               now: dt.datetime) -> None:
    """What the vouchers paid of the corrected line beyond their share of what it comes to
    now, given back on the correcting line (latest use first)."""
    original_id = correction.corrects_charge_id
    uses = list(session.scalars(
        select(VoucherUse).join(Charge, Charge.id == VoucherUse.charge_id)
        .where((Charge.id == original_id) | (Charge.corrects_charge_id == original_id))
        .order_by(VoucherUse.id)))
    if not uses:
        return
    by_voucher: dict[int, Decimal] = {}
    for use in uses:
        by_voucher[use.voucher_id] = by_voucher.get(use.voucher_id, Decimal(0)) + use.amount
    net = session.scalar(select(func.coalesce(func.sum(Charge.amount), 0)).where(
        ((Charge.id == original_id) | (Charge.corrects_charge_id == original_id))
        & Charge.statement_id.is_not(None)))
    vouchers = {v.id: v for v in session.scalars(
        select(Voucher).where(Voucher.id.in_(list(by_voucher))).order_by(Voucher.id)
        .with_for_update().execution_options(populate_existing=True))}
    share = max(vouchers[voucher_id].share_percent for voucher_id in by_voucher)
    excess = sum(by_voucher.values()) - to_fen(max(net, Decimal(0)) * share / HUNDRED)
    for voucher_id in sorted(by_voucher, key=lambda v: -max(
            u.id for u in uses if u.voucher_id == v)):
        if excess <= 0:
            break
        back = min(excess, by_voucher[voucher_id])
        if back > 0:
            _take(session, vouchers[voucher_id], correction, statement, -back, now)
            excess -= back


def cover_statement(session: Session, statement: Statement, *, now: dt.datetime) -> Decimal:
    """Apply the organization's vouchers to the lines of the new draft ``statement`` and give
    back what corrections on it undo; its voucher part, summed in SQL, is returned."""
    lines = list(session.scalars(select(Charge).where(Charge.statement_id == statement.id)
                                 .order_by(Charge.occurred_at, Charge.id)
                                 .execution_options(populate_existing=True)))
    corrections = [line for line in lines if line.corrects_charge_id is not None
                   and line.amount < 0]
    for correction in corrections:
        _give_back(session, correction, statement, now)
    candidates = [line for line in lines if line.amount > 0 and line.corrects_charge_id is None
                  and line.kind != ChargeKind.ADJUSTMENT and line.voucher_amount == 0]
    vouchers = _locked_vouchers(session, statement.organization_id) if candidates else []
    for line in candidates:
        _cover_line(session, line, statement, vouchers, now)
    if not corrections and not vouchers:
        # No voucher paid or took back anything: the voucher part is what the lines, as just
        # read, already hold. Most organizations have no voucher, and a month closes
        # thousands of statements: three statements less for each.
        held = sum((line.voucher_amount for line in lines), Decimal(0))
        if held == statement.voucher_amount:
            return held
    return refresh_voucher_amount(session, statement)


def refresh_voucher_amount(session: Session, statement: Statement) -> Decimal:
    """Set the statement's voucher part to the sum of its lines' voucher parts, in SQL."""
    session.flush()
    session.execute(update(Statement).where(Statement.id == statement.id)
                    .values(voucher_amount=select(func.coalesce(func.sum(Charge.voucher_amount),
                                                                0))
                            .where(Charge.statement_id == statement.id).scalar_subquery())
                    .execution_options(synchronize_session=False))
    session.expire(statement, ["voucher_amount"])
    for line in session.scalars(select(Charge).where(Charge.statement_id == statement.id)):
        session.expire(line, ["voucher_amount"])
    return statement.voucher_amount


def refit_line(session: Session, charge: Charge, statement: Statement, *,
               now: dt.datetime) -> None:
    """A covered line repriced in place on a (locked) draft: what its vouchers paid beyond
    their share of its new amount goes back to them, latest use first. The draft is not final,
    so the uses themselves shrink (a voucher pays a line once)."""
    uses = list(session.scalars(select(VoucherUse).where(VoucherUse.charge_id == charge.id)
                                .order_by(VoucherUse.id.desc())))
    if not uses:
        return
    vouchers = {v.id: v for v in session.scalars(
        select(Voucher).where(Voucher.id.in_([use.voucher_id for use in uses]))
        .order_by(Voucher.id).with_for_update().execution_options(populate_existing=True))}
    share = max(voucher.share_percent for voucher in vouchers.values())
    excess = sum(use.amount for use in uses) - to_fen(max(charge.amount, Decimal(0))
                                                        * share / HUNDRED)
    for use in uses:
        back = min(excess, use.amount)
        if back <= 0:
            break
        session.execute(update(Voucher).where(Voucher.id == use.voucher_id)
                        .values(balance=Voucher.balance + back)
                        .execution_options(synchronize_session=False))
        session.expire(vouchers[use.voucher_id], ["balance"])
        session.execute(update(VoucherUse).where(VoucherUse.id == use.id)
                        .values(amount=VoucherUse.amount - back)
                        .execution_options(synchronize_session=False))
        session.execute(update(Charge).where(Charge.id == charge.id)
                        .values(voucher_amount=Charge.voucher_amount - back)
                        .execution_options(synchronize_session=False))
        excess -= back
    session.expire(charge, ["voucher_amount"])
    refresh_voucher_amount(session, statement)


def correction_on_draft(session: Session, correction: Charge, statement: Statement, *,
                        now: dt.datetime) -> None:
    """A correction of a covered line put straight on a (locked) draft: give back now."""
    if correction.corrects_charge_id is not None and correction.amount < 0:
        _give_back(session, correction, statement, now)
        refresh_voucher_amount(session, statement)


def voucher_history(session: Session, voucher: Voucher) -> list[VoucherUse]:
    return list(session.scalars(select(VoucherUse).where(VoucherUse.voucher_id == voucher.id)
                                .order_by(VoucherUse.created_at, VoucherUse.id)))


def vouchers_of(session: Session, organization_id: int | None = None):
    query = select(Voucher).order_by(Voucher.valid_to, Voucher.id)
    if organization_id is not None:
        query = query.where(Voucher.organization_id == organization_id)
    return query


def redemption_lines(session: Session, authority: str, period: str) -> list[VoucherUse]:
    """The voucher uses of ``authority``'s vouchers on issued statements of ``period`` (兑付
    申请): what the lab asks the authority to pay, line by line."""
    return list(session.scalars(
        select(VoucherUse).join(Voucher, Voucher.id == VoucherUse.voucher_id)
        .join(Statement, Statement.id == VoucherUse.statement_id)
        .join(Charge, Charge.id == VoucherUse.charge_id)
        .where(Voucher.authority == authority, Statement.period == period,
               Statement.state != StatementState.DRAFT)
        .order_by(Statement.number, Charge.occurred_at, Charge.id, VoucherUse.id)))


def authorities(session: Session) -> list[str]:
    return list(session.scalars(select(Voucher.authority).distinct().order_by(Voucher.authority)))


def apply_to_draft(session: Session, actor: User, statement: Statement, *,
                   now: dt.datetime) -> Statement:
    """Finance applies the organization's vouchers again to a draft that gained lines since
    the month close (the statement read afresh under its lock). Lines a voucher already pays
    are left alone, so nothing is paid twice; with nothing left to cover it is refused (409
    ``nothing_to_cover``)."""
    lock(session, statement)
    require_finance(actor)
    if statement.state != StatementState.DRAFT:
        raise Conflict(_("Statement %(number)s is no longer a draft; its voucher part is "
                         "final.", number=statement.number), code="invalid_state")
    before = statement.voucher_amount
    session.flush()
    after = cover_statement(session, statement, now=now)
    if after == before:
        raise Conflict(_("No line of statement %(number)s is left for the vouchers to pay.",
                         number=statement.number), code="nothing_to_cover")
    record(session, actor, statement, "apply_vouchers", at=now, voucher_amount=str(after))
    return statement
