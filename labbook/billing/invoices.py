"""Invoices (发票): the organization's invoicing details, requests by its billing contact,
and what finance records — issued (number, date, amount, the PDF or OFD file) or refused, and
the red-letter reversal (红字发票) of an issued invoice whose statement was corrected.

An invoice covers what its statements leave to pay (their totals less the vouchers' part) that
no live invoice (requested or issued) covers yet, so statements are never invoiced twice and
an invoice never exceeds what it covers. A special VAT invoice (增值税专用发票) needs the
buyer's full details. labbook records what the finance office issued; it does not talk to the
tax system.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labbook.accounts.models import Organization, User
from labbook.accounts.uscc import is_valid_uscc
from labbook.audit.services import record
from labbook.billing.labels import INVOICE_STATE_LABELS
from labbook.billing.models import (
    BillingProfile,
    Charge,
    Invoice,
    InvoiceKind,
    InvoiceMedium,
    InvoiceReversal,
    InvoiceState,
    InvoiceStatement,
    Statement,
)
from labbook.billing.payments import _payable_statements, locked_profile, require_finance
from labbook.core.engine import lock
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from labbook.core.time import to_lab_time

LIVE_STATES = (InvoiceState.REQUESTED, InvoiceState.ISSUED)
MAX_FILE_BYTES = 10 * 1024 * 1024
#: What an electronic invoice file is, by how it starts: a PDF, or an OFD (a ZIP package).
FILE_TYPES = {b"%PDF-": ("pdf", "application/pdf"), b"PK\x03\x04": ("ofd", "application/ofd")}
MAX_TEXT = {"invoice_title": 200, "taxpayer_id": 20, "address": 200, "phone": 40,
            "bank": 100, "bank_account": 40}


def _refused(code: str, message: str, field: str | None = None) -> ValidationError:
    return ValidationError(message, code=code, problems=[Problem(code, message, field=field)])


def may_see_money(session: Session, actor: User, organization_id: int) -> bool:
    """Finance, and the organization's billing contact."""
    if actor.is_admin:
        return True
    organization = session.get(Organization, organization_id)
    return organization is not None and organization.billing_contact_id == actor.id


# -- invoicing details --------------------------------------------------------------------------

@dataclass(frozen=True)
class ProfileInput:
    invoice_title: str
    taxpayer_id: str
    address: str
    phone: str
    bank: str
    bank_account: str
    #: Finance only; None leaves them as they are.
    prepaid: bool | None = None
    overdue_block_days: int | None = None
    clear_overdue_block: bool = False


def update_profile(session: Session, actor: User, organization_id: int, values: ProfileInput,
                   *, now: dt.datetime) -> BillingProfile:
    """The organization's invoicing details, by its billing contact or finance; whether it pays
    from a prepaid balance and after how many days overdue it is refused new work, by finance."""
    profile = locked_profile(session, organization_id, now=now)
    if not may_see_money(session, actor, organization_id):
        raise PermissionDenied(_("Only finance and the organization's billing contact change "
                                 "its invoicing details."), code="not_billing_contact")
    finance_only = values.prepaid is not None or values.overdue_block_days is not None \
        or values.clear_overdue_block
    if finance_only:
        require_finance(actor)
    problems = []
    texts = {name: getattr(values, name).strip() for name in MAX_TEXT}
    for name, limit in MAX_TEXT.items():
        if len(texts[name]) > limit:
            problems.append(Problem("too_long", _("At most %(n)d characters.", n=limit),
                                    field=name))
    if not texts["invoice_title"]:
        problems.append(Problem("required", _("Give the invoice title (发票抬头)."),
                                field="invoice_title"))
    if texts["taxpayer_id"] and not is_valid_uscc(texts["taxpayer_id"].upper()):
        problems.append(Problem("invalid_taxpayer_id", _(
            "The taxpayer identification number is the 18-character unified social credit "
            "code."), field="taxpayer_id"))
    if values.overdue_block_days is not None and not 0 <= values.overdue_block_days <= 3650:
        problems.append(Problem("out_of_range", _("Give 0 to 3650 days."),
                                field="overdue_block_days"))
    if problems:
        raise ValidationError(problems[0].message, code=problems[0].code, problems=problems)
    texts["taxpayer_id"] = texts["taxpayer_id"].upper()
    changed = {name: value for name, value in texts.items() if getattr(profile, name) != value}
    for name, value in changed.items():
        setattr(profile, name, value)
    if values.prepaid is not None and values.prepaid != profile.prepaid:
        profile.prepaid = values.prepaid
        changed["prepaid"] = values.prepaid
    block = None if values.clear_overdue_block else values.overdue_block_days
    if finance_only and (values.clear_overdue_block or block is not None) \
            and block != profile.overdue_block_days:
        profile.overdue_block_days = block
        changed["overdue_block_days"] = block
    profile.updated_at = now
    session.flush()
    if changed:
        record(session, actor, profile, "update", at=now, **changed)
    return profile


# -- requests -----------------------------------------------------------------------------------

def invoiced_amount(session: Session, statement_id: int) -> Decimal:
    """What live invoices (requested or issued) cover of a statement, summed in SQL."""
    return session.scalar(
        select(func.coalesce(func.sum(InvoiceStatement.amount), 0))
        .join(Invoice, Invoice.id == InvoiceStatement.invoice_id)
        .where(InvoiceStatement.statement_id == statement_id,
               Invoice.state.in_(LIVE_STATES)))


def invoiceable_amount(session: Session, statement: Statement) -> Decimal:
    return statement.amount_due - invoiced_amount(session, statement.id)


def request_invoice(session: Session, actor: User, organization_id: int,
                    statement_ids: Sequence[int], kind: InvoiceKind, medium: InvoiceMedium,
                    note: str, *, now: dt.datetime) -> Invoice:
    """The billing contact (or finance) asks for one invoice over issued statements; it covers
    what they leave to pay that no live invoice covers yet."""
    if not statement_ids or len(set(statement_ids)) != len(statement_ids) \
            or len(statement_ids) > 50:
        raise _refused("invalid_statements", _("Name each statement once, at most 50."),
                       "statement_ids")
    note = (note or "").strip()
    if len(note) > 500:
        raise _refused("too_long", _("At most %(n)d characters.", n=500), "note")
    profile = locked_profile(session, organization_id, now=now)
    if not (actor.is_admin or profile.organization.billing_contact_id == actor.id):
        raise PermissionDenied(_("Only the organization's billing contact or finance asks for "
                                 "its invoices."), code="not_billing_contact")
    statements = _payable_statements(session, organization_id, statement_ids)
    covers = []
    for statement in statements:
        amount = invoiceable_amount(session, statement)
        if amount <= 0:
            raise Conflict(_("Statement %(number)s is already invoiced in full.",
                             number=statement.number), code="already_invoiced")
        covers.append((statement, amount))
    if kind == InvoiceKind.SPECIAL:
        missing = [name for name in MAX_TEXT if not getattr(profile, name)]
        if missing:
            message = _("A special VAT invoice needs the title, taxpayer identification "
                        "number, address and phone, bank and account: complete the invoicing "
                        "details first.")
            raise ValidationError(message, code="invoice_details_missing", problems=[
                Problem("invoice_details_missing", message, field=name) for name in missing])
    invoice = Invoice(organization_id=organization_id, kind=kind, medium=medium,
                      state=InvoiceState.REQUESTED, amount=sum(a for _s, a in covers),
                      title=profile.invoice_title, taxpayer_id=profile.taxpayer_id,
                      address=profile.address, phone=profile.phone, bank=profile.bank,
                      bank_account=profile.bank_account, note=note, requested_by_id=actor.id,
                      requested_at=now, refusal_reason="", file_name="", file_type="")
    invoice.covers = [InvoiceStatement(statement_id=s.id, amount=a) for s, a in covers]
    session.add(invoice)
    session.flush()
    record(session, actor, invoice, "request", at=now, to_state="requested",
           amount=str(invoice.amount), kind=kind.value, medium=medium.value,
           statements=[s.number for s, _a in covers])
    return invoice


def _locked_invoice(session: Session, invoice: Invoice, state: InvoiceState) -> Invoice:
    lock(session, invoice)
    if invoice.state != state:
        raise Conflict(_("This invoice is %(state)s: that is no longer possible.",
                         state=INVOICE_STATE_LABELS[invoice.state]), code="invalid_state")
    return invoice


def file_kind(content: bytes) -> tuple[str, str] | None:
    for magic, kind in FILE_TYPES.items():
        if content.startswith(magic):
            return kind
    return None


@dataclass(frozen=True)
class IssueInput:
    invoice_number: str
    issued_on: dt.date
    amount: Decimal
    file_name: str = ""
    file_content: bytes | None = None


def issue_invoice(session: Session, actor: User, invoice: Invoice, values: IssueInput, *,
                  now: dt.datetime) -> Invoice:
    """Finance records the invoice as issued: its number, date, amount (never more than it
    covers) and, for an electronic invoice, its PDF or OFD file."""
    require_finance(actor)
    invoice = _locked_invoice(session, invoice, InvoiceState.REQUESTED)
    problems = []
    number = values.invoice_number.strip()
    if not number or len(number) > 30:
        problems.append(Problem("invalid_number", _("Give the invoice number (at most 30 "
                                                    "characters)."), field="invoice_number"))
    if values.amount <= 0:
        problems.append(Problem("invalid_amount", _("An invoice is for more than zero."),
                                field="amount"))
    elif values.amount > invoice.amount:
        problems.append(Problem("invoice_exceeds_amount", _(
            "An invoice never exceeds what it covers (¥%(amount)s).",
            amount=f"{invoice.amount:,}"), field="amount"))
    if values.issued_on > to_lab_time(now).date() or values.issued_on.year < 2000:
        problems.append(Problem("out_of_range", _("The invoice date is today or earlier."),
                                field="issued_on"))
    kind = None
    if values.file_content is not None:
        kind = file_kind(values.file_content)
        if len(values.file_content) > MAX_FILE_BYTES:
            problems.append(Problem("file_too_large", _("The file is at most 10 MB."),
                                    field="file"))
        elif kind is None:
            problems.append(Problem("invalid_file", _("The invoice file is a PDF or an OFD."),
                                    field="file"))
    elif invoice.medium == InvoiceMedium.ELECTRONIC:
        problems.append(Problem("file_required", _(
            "An electronic invoice is recorded with its PDF or OFD file."), field="file"))
    if problems:
        raise ValidationError(problems[0].message, code=problems[0].code, problems=problems)
    invoice.state = InvoiceState.ISSUED
    invoice.invoice_number = number
    invoice.issued_on = values.issued_on
    invoice.issued_amount = values.amount
    invoice.decided_by_id = actor.id
    invoice.decided_at = now
    if values.file_content is not None and kind is not None:
        stem = (values.file_name or number).rsplit(".", 1)[0][:150] or number
        invoice.file_name = f"{stem}.{kind[0]}"
        invoice.file_type = kind[1]
        invoice.file_content = values.file_content
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        message = _("Invoice number %(number)s is already recorded.", number=number)
        raise Conflict(message, code="duplicate_invoice_number", problems=[
            Problem("duplicate_invoice_number", message, field="invoice_number")]) from None
    record(session, actor, invoice, "issue", at=now, from_state="requested", to_state="issued",
           invoice_number=number, issued_on=values.issued_on.isoformat(),
           amount=str(values.amount))
    return invoice


def refuse_invoice(session: Session, actor: User, invoice: Invoice, reason: str, *,
                   now: dt.datetime) -> Invoice:
    require_finance(actor)
    invoice = _locked_invoice(session, invoice, InvoiceState.REQUESTED)
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise _refused("reason_required", _("Give the reason (at most 500 characters)."),
                       "reason")
    invoice.state = InvoiceState.REFUSED
    invoice.refusal_reason = reason
    invoice.decided_by_id = actor.id
    invoice.decided_at = now
    record(session, actor, invoice, "refuse", at=now, from_state="requested",
           to_state="refused", note=reason)
    return invoice


@dataclass(frozen=True)
class ReversalInput:
    red_number: str
    issued_on: dt.date
    reason: str
    correction_charge_id: int | None = None


def reverse_invoice(session: Session, actor: User, invoice: Invoice, values: ReversalInput,
                    *, now: dt.datetime) -> InvoiceReversal:
    """Record the red-letter invoice that reversed an issued one after a statement it covers
    was corrected; it names the correcting line. The statements can then be invoiced again."""
    require_finance(actor)
    invoice = _locked_invoice(session, invoice, InvoiceState.ISSUED)
    problems = []
    red_number = values.red_number.strip()
    if not red_number or len(red_number) > 30:
        problems.append(Problem("invalid_number", _("Give the red-letter invoice's number (at "
                                                    "most 30 characters)."),
                                field="red_number"))
    reason = values.reason.strip()
    if not reason or len(reason) > 500:
        problems.append(Problem("reason_required", _("Give the reason (at most 500 "
                                                     "characters)."), field="reason"))
    if values.issued_on > to_lab_time(now).date() or values.issued_on.year < 2000:
        problems.append(Problem("out_of_range", _("The invoice date is today or earlier."),
                                field="issued_on"))
    if values.correction_charge_id is not None:
        correction = session.get(Charge, values.correction_charge_id)
        if correction is None or correction.organization_id != invoice.organization_id:
            problems.append(Problem("not_found", _(
                "No line of this organization with id %(id)d.", id=values.correction_charge_id),
                field="correction_charge_id"))
    if problems:
        raise ValidationError(problems[0].message, code=problems[0].code, problems=problems)
    reversal = InvoiceReversal(invoice_id=invoice.id, red_number=red_number,
                               issued_on=values.issued_on,
                               correction_charge_id=values.correction_charge_id, reason=reason,
                               created_by_id=actor.id, created_at=now)
    try:
        with session.begin_nested():
            session.add(reversal)
    except IntegrityError:
        message = _("Invoice number %(number)s is already recorded.", number=red_number)
        raise Conflict(message, code="duplicate_invoice_number", problems=[
            Problem("duplicate_invoice_number", message, field="red_number")]) from None
    invoice.state = InvoiceState.REVERSED
    record(session, actor, invoice, "reverse", at=now, from_state="issued",
           to_state="reversed", red_number=red_number, note=reason,
           correction_charge_id=values.correction_charge_id)
    return reversal


def get_invoice(session: Session, actor: User, invoice_id: int) -> Invoice:
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or not may_see_money(session, actor, invoice.organization_id):
        raise NotFound(_("No invoice with id %(id)d.", id=invoice_id))
    return invoice


def visible_invoices(session: Session, actor: User, *, state: InvoiceState | None = None,
                     organization_id: int | None = None):
    """Invoices newest first: finance all, a billing contact its organizations'."""
    query = select(Invoice).order_by(Invoice.requested_at.desc(), Invoice.id.desc())
    if state is not None:
        query = query.where(Invoice.state == state)
    if organization_id is not None:
        query = query.where(Invoice.organization_id == organization_id)
    if not actor.is_admin:
        query = query.where(Invoice.organization_id.in_(
            select(Organization.id).where(Organization.billing_contact_id == actor.id)))
    return query
