"""Billing API: statements and their exports, charges and adjustments, month close, rate cards."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
from decimal import Decimal
from typing import Any, TypeVar

from flask import Response, current_app, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from labbook.accounts.models import Organization, PriceTier, User
from labbook.api import bp
from labbook.api.auth import api_user, token_required
from labbook.billing import (
    invoices,
    money_exports,
    payable,
    payments,
    receivables,
    services,
    statement_pdf,
    vouchers,
)
from labbook.billing.exports import export_filename, statement_csv, statement_xlsx
from labbook.billing.lines import booked_by, computation, describe, line_date, project_ref
from labbook.billing.models import (
    BillingBasis,
    BillingProfile,
    Charge,
    Invoice,
    InvoiceKind,
    InvoiceMedium,
    InvoiceState,
    Payment,
    PaymentMethod,
    RateCard,
    Statement,
    StatementState,
    Voucher,
)
from labbook.catalogue import services as catalogue
from labbook.catalogue.args import lab_arg
from labbook.catalogue.models import Instrument
from labbook.core.engine import write_transaction
from labbook.core.errors import NotFound, PermissionDenied, Problem, ValidationError
from labbook.core.tables import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE
from labbook.core.time import to_lab_time, utcnow
from labbook.extensions import db
from labbook.http import (
    Fields,
    bool_arg,
    enum_arg,
    int_arg,
    json_body,
    optional_json_body,
    page_of,
    pagination_args,
)
from labbook.i18n import is_english, localized
from labbook.links import external_url

E = TypeVar("E", bound=enum.Enum)


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def charge_json(charge: Charge) -> dict[str, Any]:
    """One charge line: what it is, who booked it, how it was computed and what it costs."""
    person = booked_by(charge)
    return {
        "id": charge.id,
        "kind": charge.kind.value,
        "date": line_date(charge).isoformat(),
        "occurred_at": charge.occurred_at.isoformat(),
        "period": charge.period,
        "lab": charge.lab.code,
        "organization": {"id": charge.organization_id, "name": charge.organization.name},
        "tier": charge.tier.value if charge.tier else None,
        "instrument_code": charge.instrument.code if charge.instrument else None,
        "service_code": charge.service.code if charge.service else None,
        "booking_id": charge.booking_id,
        "service_request_id": charge.service_request_id,
        "statement_id": charge.statement_id,
        "description": describe(charge),
        "computation": {
            "text": computation(charge),
            "basis": charge.basis.value if charge.basis else None,
            "booked_minutes": charge.booked_minutes,
            "actual_minutes": charge.actual_minutes,
            "billed_minutes": charge.billed_minutes,
            "rounding_minutes": charge.rounding_minutes,
            "minimum_minutes": charge.minimum_minutes,
            "unit_price": _optional(charge.unit_price),
            "share_percent": charge.share_percent,
            "samples": charge.samples,
            "surcharge": _optional(charge.surcharge),
        },
        "booked_by": None if person is None else {"id": person.id, "name": person.name},
        "project_ref": project_ref(charge),
        "corrects_charge_id": charge.corrects_charge_id,
        "reason": charge.reason,
        "amount": str(charge.amount),
        "voucher_amount": str(charge.voucher_amount),
        "own_amount": str(charge.amount - charge.voucher_amount),
        "created_at": charge.created_at.isoformat(),
    }


def statement_json(statement: Statement, viewer: User, *,
                   with_lines: bool = False) -> dict[str, Any]:
    """A statement as ``viewer`` may see it: a lab manager gets only their labs' lines and
    subtotals, and no grand total of the labs they do not manage."""
    lines = services.visible_lines(viewer, statement)
    subtotals = services.lab_subtotals(lines)
    whole = services.sees_whole_statement(viewer, statement)
    data: dict[str, Any] = {
        "id": statement.id,
        "number": statement.number,
        "organization": {"id": statement.organization_id, "name": statement.organization.name,
                         "uscc": statement.organization.uscc},
        "period": statement.period,
        "state": statement.state.value,
        "is_partial": not whole,
        "total": str(statement.total) if whole else None,
        "lines_total": str(sum((group.total for group in subtotals), Decimal("0.00"))),
        "subtotals": [{"lab": group.lab.code, "name": localized(group.lab, "name"),
                       "lines": len(group.lines), "amount": str(group.total)}
                      for group in subtotals],
        "created_at": statement.created_at.isoformat(),
        "issued_at": statement.issued_at.isoformat() if statement.issued_at else None,
        "paid_at": statement.paid_at.isoformat() if statement.paid_at else None,
        "payment_note": statement.payment_note,
        **_payable_json(statement, whole),
        "csv_url": url_for("api.get_statement_csv", statement_id=statement.id),
        "xlsx_url": url_for("api.get_statement_xlsx", statement_id=statement.id),
    }
    if with_lines:
        data["lines"] = [charge_json(line) for group in subtotals for line in group.lines]
    return data


def _payable_json(statement: Statement, whole: bool) -> dict[str, Any]:
    """What paying the statement needs (for those who see it whole): the voucher part, the
    amount to pay and in words, what is paid and still owed, the reference to quote and the
    verification code with its public address."""
    if not whole:
        return {"voucher_amount": None, "amount_due": None, "amount_in_words": None,
                "paid_amount": None, "outstanding": None, "payment_reference": None,
                "verification_code": None, "verification_url": None}
    code = statement.verification_code
    return {
        "voucher_amount": str(statement.voucher_amount),
        "amount_due": str(statement.amount_due),
        "amount_in_words": payable.in_words(statement),
        "paid_amount": str(statement.paid_amount),
        "outstanding": str(statement.outstanding),
        "payment_reference": statement.number,
        "verification_code": code,
        "verification_url": None if code is None else
        external_url("billing.verify_statement", code=code),
    }


def _amount(fields: Fields, name: str) -> Decimal | None:
    """A required money field, read by the same rule as every amount (at most two decimals)."""
    if fields.data.get(name) is None:
        fields._fail("required", name, _("'%(name)s' is required.", name=name))
        return None
    try:
        return services.parse_amount(fields.data[name], name)
    except ValidationError as error:
        fields.problems += error.problems
        return None


def _period(value: str | None, name: str = "period") -> str:
    """``value`` as a month, or a 422 that names the field it came from."""
    try:
        return services.parse_period(value)
    except ValidationError as error:
        raise ValidationError(error.message, code=error.code, problems=[
            Problem(error.code, error.message, field=name)]) from None


def _period_arg() -> str | None:
    """The month the ``period`` query parameter names, if it is given."""
    raw = request.args.get("period")
    return _period(raw) if raw else None


def _organization_arg() -> int | None:
    """The organization the ``organization_id`` query parameter names, if it is given: a 422
    beyond what an id column holds, which the database would refuse with an error."""
    return int_arg("organization_id", 0) or None


# -- statements ---------------------------------------------------------------------------------

@bp.get("/statements")
@token_required
def list_statements():
    actor = api_user()
    page, per_page = pagination_args()
    period = _period_arg()
    query = services.visible_statements(
        db.session, actor, period=period, organization_id=_organization_arg(),
        state=enum_arg("state", StatementState))
    statements, total = page_of(query.options(
        selectinload(Statement.organization),
        selectinload(Statement.charges).options(*services.LINE_LOADS)), page, per_page)
    return {"items": [statement_json(s, actor) for s in statements], "total": total,
            "page": page, "per_page": per_page}


@bp.get("/statements/<int:statement_id>")
@token_required
def get_statement(statement_id: int):
    actor = api_user()
    statement = services.get_statement(db.session, actor, statement_id)
    return statement_json(statement, actor, with_lines=True)


def _export(statement_id: int, render, mimetype: str, extension: str) -> Response:
    actor = api_user()
    statement = services.get_statement(db.session, actor, statement_id)
    body = render(statement, services.visible_lines(actor, statement))
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = \
        f'attachment; filename="{export_filename(statement, extension)}"'
    return response


@bp.get("/statements/<int:statement_id>.csv")
@token_required
def get_statement_csv(statement_id: int):
    return _export(statement_id, statement_csv, CSV_MEDIA_TYPE, "csv")


@bp.get("/statements/<int:statement_id>.xlsx")
@token_required
def get_statement_xlsx(statement_id: int):
    return _export(statement_id, statement_xlsx, XLSX_MEDIA_TYPE, "xlsx")


@bp.post("/statements/close")
@token_required
def close_month():
    actor = api_user()
    fields = Fields(json_body())
    period = fields.string("period", max_length=7)
    fields.done()
    period = _period(period)
    with write_transaction(db.session):
        result = services.close_month(db.session, actor, period, now=utcnow())
    if result.was_already_closed:
        return {"period": result.period, "already_closed": True,
                "closed_at": result.already_closed_at.isoformat(), "statements": []}
    return {"period": result.period, "already_closed": False, "closed_at": None,
            "statements": [statement_json(s, actor) for s in result.statements]}, 201


def _change_statement(statement_id: int, change) -> dict[str, Any]:
    """Apply one statement service (issue, mark paid) for the token's user, in one write."""
    actor = api_user()
    with write_transaction(db.session):
        statement = services.get_statement(db.session, actor, statement_id)
        change(db.session, actor, statement, now=utcnow())
    return statement_json(statement, actor, with_lines=True)


@bp.post("/statements/<int:statement_id>/issue")
@token_required
def issue_statement(statement_id: int):
    return _change_statement(statement_id, services.issue_statement)


@bp.post("/statements/<int:statement_id>/paid")
@token_required
def mark_statement_paid(statement_id: int):
    fields = Fields(optional_json_body())
    note = fields.string("note", required=False, max_length=services.MAX_REASON)
    fields.done()
    return _change_statement(statement_id, lambda session, actor, statement, now:
                             services.mark_paid(session, actor, statement, now=now, note=note))


# -- charges ------------------------------------------------------------------------------------

@bp.get("/charges")
@token_required
def list_charges():
    actor = api_user()
    if not services.can_list_charges(actor):
        raise PermissionDenied(_("Only admins and lab managers see charges; statements are "
                                 "under /statements."), code="not_lab_manager")
    page, per_page = pagination_args()
    period = _period_arg()
    lab = lab_arg()
    query = services.visible_charges(
        db.session, actor, lab_ids=[lab.id] if lab else None, period=period,
        organization_id=_organization_arg(), unbilled=bool_arg("unbilled"))
    charges, total = page_of(query.options(*services.LINE_LOADS), page, per_page)
    return {"items": [charge_json(charge) for charge in charges], "total": total,
            "page": page, "per_page": per_page}


def _load(model: type, key: int | None, name: str, message: str):
    """The row of ``model`` a body field names, or a 404 naming the field."""
    row = db.session.get(model, key)
    if row is None:
        raise NotFound(message, problems=[Problem("not_found", message, field=name)])
    return row


@bp.post("/charges")
@token_required
def create_adjustment():
    actor = api_user()
    fields = Fields(json_body())
    organization_id = fields.integer("organization_id")
    lab_code = fields.string("lab", max_length=16)
    amount = _amount(fields, "amount")
    reason = fields.string("reason", required=False, max_length=services.MAX_REASON)
    statement_id = fields.integer("statement_id", required=False)
    corrects_id = fields.integer("corrects_charge_id", required=False)
    fields.done()
    with write_transaction(db.session):
        corrects = None if corrects_id is None else _load(
            Charge, corrects_id, "corrects_charge_id",
            _("No charge with id %(id)d.", id=corrects_id))
        organization = _load(Organization, organization_id, "organization_id",
                             _("No organization with id %(id)d.", id=organization_id))
        lab = catalogue.get_lab(db.session, lab_code, field="lab")
        statement = None if statement_id is None else _load(
            Statement, statement_id, "statement_id",
            _("No statement with id %(id)d.", id=statement_id))
        charge = services.create_adjustment(db.session, actor, organization=organization,
                                            lab=lab, amount=amount, reason=reason,
                                            statement=statement, corrects=corrects,
                                            now=utcnow())
    return charge_json(charge), 201


# -- rate cards ---------------------------------------------------------------------------------

def rate_card_json(card: RateCard, *, today: dt.date) -> dict[str, Any]:
    return {
        "id": card.id, "instrument_id": card.instrument_id, "tier": card.tier.value,
        "effective_from": card.effective_from.isoformat(),
        "applies_from": card.applies_from.isoformat(),
        "hourly_rate": str(card.hourly_rate), "billing_basis": card.billing_basis.value,
        "rounding_minutes": card.rounding_minutes, "minimum_minutes": card.minimum_minutes,
        "no_show_percent": card.no_show_percent,
        "late_cancel_percent": card.late_cancel_percent,
        "is_future": card.effective_from > today,
    }


def rate_cards_json(instrument: Instrument) -> dict[str, Any]:
    today = to_lab_time(utcnow()).date()
    current = {tier.value: instrument.current_rate(tier, today) for tier in PriceTier}
    return {"instrument_id": instrument.id,
            "items": [rate_card_json(card, today=today) for card in instrument.rate_cards],
            "current": {tier: rate_card_json(card, today=today) if card else None
                        for tier, card in current.items()}}


@bp.get("/instruments/<int:instrument_id>/rate-cards")
def list_rate_cards(instrument_id: int):
    return rate_cards_json(catalogue.get_instrument(db.session, instrument_id,
                                                    field="instrument_id"))


def _choice(fields: Fields, name: str, enum_class: type[E], default: E | None = None) -> E | None:
    value = fields.data.get(name)
    if value is None:
        if default is None:
            fields._fail("required", name, _("'%(name)s' is required.", name=name))
        return default
    try:
        return enum_class(value)
    except ValueError:
        fields._fail("invalid", name, _("Unknown %(name)s %(value)s.", name=name, value=value))
        return None


def _rate_card_input(instrument: Instrument, fields: Fields) -> services.RateCardInput:
    """The new card from the body. Settings left out are those of the tier's card in force on
    the new card's start date (or the usual defaults), so a price change needs only the rate."""
    tier = _choice(fields, "tier", PriceTier)
    effective_from = fields.date("effective_from")
    if fields.data.get("effective_from") is None:
        fields._fail("required", "effective_from",
                     _("'%(name)s' is required.", name="effective_from"))
    hourly_rate = _amount(fields, "hourly_rate")
    # The defaults depend on the tier and the date, so those must be right first.
    fields.done()
    terms = services.rate_card_terms(instrument, tier, effective_from)
    basis = _choice(fields, "billing_basis", BillingBasis, terms.pop("billing_basis"))
    # Any whole number passes here; the service says which range each setting allows.
    numbers = {name: fields.integer(name, minimum=-(2**31)) if name in fields.data else term
               for name, term in terms.items()}
    fields.done()
    return services.RateCardInput(tier=tier, effective_from=effective_from,
                                  hourly_rate=hourly_rate, billing_basis=basis, **numbers)


@bp.post("/instruments/<int:instrument_id>/rate-cards")
@token_required
def add_rate_card(instrument_id: int):
    actor = api_user()
    fields = Fields(json_body())
    instrument = catalogue.get_instrument(db.session, instrument_id, field="instrument_id")
    values = _rate_card_input(instrument, fields)
    with write_transaction(db.session):
        instrument = catalogue.get_instrument(db.session, instrument_id, field="instrument_id")
        card = services.add_rate_card(db.session, actor, instrument, values, now=utcnow())
    return rate_card_json(card, today=to_lab_time(utcnow()).date()), 201


@bp.delete("/rate-cards/<int:card_id>")
@token_required
def withdraw_rate_card(card_id: int):
    actor = api_user()
    with write_transaction(db.session):
        card = _load(RateCard, card_id, "card_id", _("No rate card with id %(id)d.", id=card_id))
        services.withdraw_rate_card(db.session, actor, card, now=utcnow())
    return "", 204


# -- payments, balances and receivables --------------------------------------------------------

def _statement_ids(fields: Fields, name: str = "statement_ids") -> list[int]:
    value = fields.data.get(name)
    if not isinstance(value, list) or not value or any(
            isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= 2**31 - 1
            for item in value):
        fields._fail("invalid", name, _("'%(name)s' must be a list of statement ids.",
                                        name=name))
        return []
    return value


def _required_date(fields: Fields, name: str) -> dt.date | None:
    if fields.data.get(name) is None:
        fields._fail("required", name, _("'%(name)s' is required.", name=name))
        return None
    return fields.date(name)


def payment_json(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id, "organization_id": payment.organization_id,
        "received_on": payment.received_on.isoformat(), "amount": str(payment.amount),
        "method": payment.method.value, "reference": payment.reference,
        "credited": str(payment.credited),
        "allocations": [{"statement_id": a.statement_id, "statement_number": a.statement.number,
                         "amount": str(a.amount)} for a in payment.allocations],
        "recorded_at": payment.recorded_at.isoformat(),
    }


@bp.post("/payments")
@token_required
def record_payment():
    actor = api_user()
    fields = Fields(json_body())
    organization_id = fields.integer("organization_id")
    received_on = _required_date(fields, "received_on")
    amount = _amount(fields, "amount")
    method = _choice(fields, "method", PaymentMethod)
    reference = fields.string("reference", required=False, max_length=payments.MAX_REFERENCE)
    statement_ids = _statement_ids(fields)
    fields.done()
    with write_transaction(db.session):
        payment = payments.record_payment(db.session, actor, payments.PaymentInput(
            organization_id=organization_id, received_on=received_on, amount=amount,
            method=method, reference=reference or "", statement_ids=statement_ids),
            now=utcnow())
    return payment_json(payment), 201


@bp.get("/payments")
@token_required
def list_payments():
    actor = api_user()
    payments.require_finance(actor)
    page, per_page = pagination_args()
    query = payments.payments_of(db.session, _organization_arg())
    items, total = page_of(query.options(selectinload(Payment.allocations)), page, per_page)
    return {"items": [payment_json(p) for p in items], "total": total, "page": page,
            "per_page": per_page}


@bp.post("/statements/<int:statement_id>/pay-from-balance")
@token_required
def pay_statement_from_balance(statement_id: int):
    actor = api_user()
    with write_transaction(db.session):
        statement = payments.apply_balance(db.session, actor, statement_id, now=utcnow())
    return statement_json(statement, actor, with_lines=True)


def _money_organization(actor: User, organization_id: int) -> Organization:
    organization = db.session.get(Organization, organization_id)
    if organization is None or not invoices.may_see_money(db.session, actor, organization_id):
        raise NotFound(_("No organization with id %(id)d.", id=organization_id))
    return organization


def profile_json(profile: BillingProfile) -> dict[str, Any]:
    return {
        "organization_id": profile.organization_id, "invoice_title": profile.invoice_title,
        "taxpayer_id": profile.taxpayer_id, "address": profile.address, "phone": profile.phone,
        "bank": profile.bank, "bank_account": profile.bank_account, "prepaid": profile.prepaid,
        "overdue_block_days": profile.overdue_block_days, "balance": str(profile.balance),
    }


@bp.get("/organizations/<int:organization_id>/billing")
@token_required
def get_billing_profile(organization_id: int):
    organization = _money_organization(api_user(), organization_id)
    return profile_json(payments.profile_of(db.session, organization))


@bp.put("/organizations/<int:organization_id>/billing")
@token_required
def update_billing_profile(organization_id: int):
    actor = api_user()
    fields = Fields(json_body())
    texts = {name: fields.string(name, required=False, max_length=limit)
             for name, limit in invoices.MAX_TEXT.items()}
    prepaid = fields.boolean("prepaid") if "prepaid" in fields.data else None
    clear_block = "overdue_block_days" in fields.data and \
        fields.data["overdue_block_days"] is None
    block = fields.integer("overdue_block_days", required=False, minimum=0)
    fields.done()
    organization = _money_organization(actor, organization_id)
    current = payments.profile_of(db.session, organization)
    values = invoices.ProfileInput(
        **{name: getattr(current, name) if value is None else value
           for name, value in texts.items()},
        prepaid=prepaid, overdue_block_days=block, clear_overdue_block=clear_block)
    with write_transaction(db.session):
        profile = invoices.update_profile(db.session, actor, organization_id, values,
                                          now=utcnow())
    return profile_json(profile)


@bp.post("/organizations/<int:organization_id>/deposits")
@token_required
def record_deposit(organization_id: int):
    actor = api_user()
    fields = Fields(json_body())
    amount = _amount(fields, "amount")
    note = fields.string("note", required=False, max_length=payments.MAX_REFERENCE)
    fields.done()
    _money_organization(actor, organization_id)
    with write_transaction(db.session):
        profile = payments.record_deposit(db.session, actor, organization_id, amount,
                                          note or "", now=utcnow())
    return profile_json(profile), 201


@bp.get("/organizations/<int:organization_id>/balance")
@token_required
def get_balance_history(organization_id: int):
    organization = _money_organization(api_user(), organization_id)
    profile = payments.profile_of(db.session, organization)
    return {"organization_id": organization_id, "balance": str(profile.balance),
            "entries": [{"kind": entry.kind.value, "amount": str(entry.amount),
                         "statement_number": entry.statement.number if entry.statement
                         else None, "payment_id": entry.payment_id, "note": entry.note,
                         "at": entry.created_at.isoformat()}
                        for entry in payments.balance_history(db.session, organization_id)]}


@bp.get("/receivables")
@token_required
def get_receivables():
    actor = api_user()
    payments.require_finance(actor)
    rows = receivables.ageing(db.session, now=utcnow())
    return {"buckets": [key for key, _low, _high in receivables.BUCKETS],
            "items": [{"organization_id": row.organization_id, "name": row.name,
                       "buckets": [str(amount) for amount in row.buckets],
                       "total": str(row.total), "statements": row.statements}
                      for row in rows]}


@bp.get("/receivables.xlsx")
@token_required
def get_receivables_xlsx():
    actor = api_user()
    payments.require_finance(actor)
    now = utcnow()
    return _attachment(money_exports.receivables_xlsx(
        receivables.ageing(db.session, now=now), now=now), XLSX_MEDIA_TYPE,
        f"receivables-{to_lab_time(now):%Y-%m-%d}.xlsx")


def _attachment(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# -- vouchers -----------------------------------------------------------------------------------

def voucher_json(voucher: Voucher, *, with_history: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": voucher.id, "organization_id": voucher.organization_id,
        "number": voucher.number, "authority": voucher.authority,
        "face_value": str(voucher.face_value), "balance": str(voucher.balance),
        "share_percent": voucher.share_percent, "lab_ids": list(voucher.lab_ids),
        "kinds": list(voucher.kinds), "valid_from": voucher.valid_from.isoformat(),
        "valid_to": voucher.valid_to.isoformat(),
    }
    if with_history:
        data["history"] = [{"statement_number": use.statement.number, "charge_id": use.charge_id,
                            "amount": str(use.amount), "at": use.created_at.isoformat()}
                           for use in vouchers.voucher_history(db.session, voucher)]
    return data


@bp.post("/vouchers")
@token_required
def create_voucher():
    actor = api_user()
    fields = Fields(json_body())
    organization_id = fields.integer("organization_id")
    number = fields.string("number", max_length=50)
    authority = fields.string("authority", max_length=200)
    face_value = _amount(fields, "face_value")
    share = fields.integer("share_percent", minimum=-(2**31))
    valid_from = _required_date(fields, "valid_from")
    valid_to = _required_date(fields, "valid_to")
    lab_ids = fields.data.get("lab_ids", [])
    kinds = fields.data.get("kinds", [])
    if not isinstance(lab_ids, list) or any(isinstance(i, bool) or not isinstance(i, int)
                                            or not 1 <= i <= 2**31 - 1 for i in lab_ids):
        fields._fail("invalid", "lab_ids", _("'%(name)s' must be a list of lab ids.",
                                             name="lab_ids"))
    if not isinstance(kinds, list) or any(not isinstance(k, str) for k in kinds):
        fields._fail("invalid", "kinds", _("'%(name)s' must be a list of kinds.", name="kinds"))
    fields.done()
    with write_transaction(db.session):
        organization = _load(Organization, organization_id, "organization_id",
                             _("No organization with id %(id)d.", id=organization_id))
        voucher = vouchers.create_voucher(db.session, actor, organization, vouchers.VoucherInput(
            number=number, authority=authority, face_value=face_value, share_percent=share,
            valid_from=valid_from, valid_to=valid_to, lab_ids=lab_ids, kinds=kinds),
            now=utcnow())
    return voucher_json(voucher), 201


@bp.get("/vouchers")
@token_required
def list_vouchers():
    actor = api_user()
    organization_id = _organization_arg()
    if not actor.is_admin and (organization_id is None or not invoices.may_see_money(
            db.session, actor, organization_id)):
        payments.require_finance(actor)
    items = db.session.scalars(vouchers.vouchers_of(db.session, organization_id)).all()
    return {"items": [voucher_json(v) for v in items]}


@bp.get("/vouchers/<int:voucher_id>")
@token_required
def get_voucher(voucher_id: int):
    actor = api_user()
    voucher = db.session.get(Voucher, voucher_id)
    if voucher is None or not invoices.may_see_money(db.session, actor, voucher.organization_id):
        raise NotFound(_("No voucher with id %(id)d.", id=voucher_id))
    return voucher_json(voucher, with_history=True)


@bp.post("/statements/<int:statement_id>/apply-vouchers")
@token_required
def apply_vouchers(statement_id: int):
    return _change_statement(statement_id, vouchers.apply_to_draft)


def _redemption_args() -> tuple[str, str]:
    authority = (request.args.get("authority") or "").strip()
    if not authority or len(authority) > 200:
        raise ValidationError(_("Name the issuing authority."), code="invalid_authority",
                              problems=[Problem("invalid_authority",
                                                _("Name the issuing authority."),
                                                field="authority")])
    return authority, _period(request.args.get("period"))


@bp.get("/voucher-redemptions")
@token_required
def get_redemption():
    payments.require_finance(api_user())
    authority, period = _redemption_args()
    pack = money_exports.redemption_pack(db.session, authority, period)
    return {"authority": authority, "period": period, "total": str(pack.total),
            "lines": [{"organization": line.organization, "voucher_number": line.voucher_number,
                       "statement_number": line.statement_number,
                       "date": line.date.isoformat(), "description": line.description,
                       "line_amount": str(line.line_amount),
                       "voucher_amount": str(line.voucher_amount),
                       "confirmed": line.confirmed} for line in pack.lines]}


@bp.get("/voucher-redemptions.pdf")
@token_required
def get_redemption_pdf():
    payments.require_finance(api_user())
    authority, period = _redemption_args()
    pack = money_exports.redemption_pack(db.session, authority, period)
    return _attachment(statement_pdf.render_redemption(pack, _document_language()),
                       "application/pdf", f"voucher-redemption-{period}.pdf")


def _document_language() -> str:
    return "en" if is_english() else "zh_CN"


@bp.get("/statements/<int:statement_id>.pdf")
@token_required
def get_statement_pdf(statement_id: int):
    actor = api_user()
    statement = services.get_statement(db.session, actor, statement_id)
    if not services.sees_whole_statement(actor, statement):
        raise NotFound(_("No statement with id %(id)d.", id=statement_id))
    code = statement.verification_code
    body = statement_pdf.render_statement(
        statement, services.visible_lines(actor, statement),
        payable.payee_from(current_app.config),
        external_url("billing.verify_statement", code=code) if code else None,
        _document_language())
    return _attachment(body, "application/pdf", export_filename(statement, "pdf"))


@bp.get("/voucher-redemptions.xlsx")
@token_required
def get_redemption_xlsx():
    payments.require_finance(api_user())
    authority, period = _redemption_args()
    pack = money_exports.redemption_pack(db.session, authority, period)
    return _attachment(money_exports.redemption_xlsx(pack), XLSX_MEDIA_TYPE,
                       f"voucher-redemption-{period}.xlsx")


# -- invoices -----------------------------------------------------------------------------------

def invoice_json(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.id, "organization_id": invoice.organization_id,
        "kind": invoice.kind.value, "medium": invoice.medium.value,
        "state": invoice.state.value, "amount": str(invoice.amount),
        "title": invoice.title, "taxpayer_id": invoice.taxpayer_id,
        "statements": [{"statement_id": cover.statement_id,
                        "statement_number": cover.statement.number,
                        "amount": str(cover.amount)} for cover in invoice.covers],
        "requested_at": invoice.requested_at.isoformat(),
        "invoice_number": invoice.invoice_number,
        "issued_on": invoice.issued_on.isoformat() if invoice.issued_on else None,
        "issued_amount": _optional(invoice.issued_amount),
        "refusal_reason": invoice.refusal_reason or None,
        "file_url": url_for("api.get_invoice_file", invoice_id=invoice.id)
        if invoice.file_name else None,
        "reversal": None if invoice.reversal is None else {
            "red_number": invoice.reversal.red_number,
            "issued_on": invoice.reversal.issued_on.isoformat(),
            "reason": invoice.reversal.reason,
            "correction_charge_id": invoice.reversal.correction_charge_id},
    }


@bp.post("/invoices")
@token_required
def request_invoice():
    actor = api_user()
    fields = Fields(json_body())
    organization_id = fields.integer("organization_id")
    statement_ids = _statement_ids(fields)
    kind = _choice(fields, "kind", InvoiceKind)
    medium = _choice(fields, "medium", InvoiceMedium)
    note = fields.string("note", required=False, max_length=500)
    fields.done()
    with write_transaction(db.session):
        _money_organization(actor, organization_id)
        invoice = invoices.request_invoice(db.session, actor, organization_id, statement_ids,
                                           kind, medium, note or "", now=utcnow())
    return invoice_json(invoice), 201


@bp.get("/invoices")
@token_required
def list_invoices():
    actor = api_user()
    page, per_page = pagination_args()
    query = invoices.visible_invoices(db.session, actor, state=enum_arg("state", InvoiceState),
                                      organization_id=_organization_arg())
    items, total = page_of(query, page, per_page)
    return {"items": [invoice_json(i) for i in items], "total": total, "page": page,
            "per_page": per_page}


@bp.get("/invoices.xlsx")
@token_required
def get_invoices_xlsx():
    actor = api_user()
    payments.require_finance(actor)
    items = db.session.scalars(invoices.visible_invoices(
        db.session, actor, state=enum_arg("state", InvoiceState))).all()
    return _attachment(money_exports.invoices_xlsx(items), XLSX_MEDIA_TYPE, "invoices.xlsx")


@bp.get("/invoices/<int:invoice_id>")
@token_required
def get_invoice(invoice_id: int):
    return invoice_json(invoices.get_invoice(db.session, api_user(), invoice_id))


@bp.get("/invoices/<int:invoice_id>/file")
@token_required
def get_invoice_file(invoice_id: int):
    invoice = invoices.get_invoice(db.session, api_user(), invoice_id)
    if not invoice.file_name:
        raise NotFound(_("This invoice has no file."))
    return _attachment(invoice.file_content or b"", invoice.file_type, invoice.file_name)


@bp.post("/invoices/<int:invoice_id>/issue")
@token_required
def issue_invoice(invoice_id: int):
    actor = api_user()
    fields = Fields(json_body())
    number = fields.string("invoice_number", max_length=30)
    issued_on = _required_date(fields, "issued_on")
    amount = _amount(fields, "amount")
    file_name = fields.string("file_name", required=False, max_length=200)
    encoded = fields.string("file_base64", required=False, max_length=15 * 1024 * 1024)
    content = None
    if encoded is not None:
        try:
            content = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            fields._fail("invalid_file", "file_base64", _("The file is not valid base64."))
    fields.done()
    with write_transaction(db.session):
        invoice = invoices.get_invoice(db.session, actor, invoice_id)
        invoices.issue_invoice(db.session, actor, invoice, invoices.IssueInput(
            invoice_number=number, issued_on=issued_on, amount=amount,
            file_name=file_name or "", file_content=content), now=utcnow())
    return invoice_json(invoice)


@bp.post("/invoices/<int:invoice_id>/refuse")
@token_required
def refuse_invoice(invoice_id: int):
    actor = api_user()
    fields = Fields(json_body())
    reason = fields.string("reason", max_length=500)
    fields.done()
    with write_transaction(db.session):
        invoice = invoices.get_invoice(db.session, actor, invoice_id)
        invoices.refuse_invoice(db.session, actor, invoice, reason, now=utcnow())
    return invoice_json(invoice)


@bp.post("/invoices/<int:invoice_id>/reverse")
@token_required
def reverse_invoice(invoice_id: int):
    actor = api_user()
    fields = Fields(json_body())
    red_number = fields.string("red_number", max_length=30)
    issued_on = _required_date(fields, "issued_on")
    reason = fields.string("reason", max_length=500)
    correction = fields.integer("correction_charge_id", required=False)
    fields.done()
    with write_transaction(db.session):
        invoice = invoices.get_invoice(db.session, actor, invoice_id)
        invoices.reverse_invoice(db.session, actor, invoice, invoices.ReversalInput(
            red_number=red_number, issued_on=issued_on, reason=reason,
            correction_charge_id=correction), now=utcnow())
    return invoice_json(invoice)
