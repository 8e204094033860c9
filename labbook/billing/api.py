"""Billing API: statements and their exports, charges and adjustments, month close, rate cards."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any, TypeVar

from flask import Response, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from labbook.accounts.models import Organization, PriceTier, User
from labbook.api import bp
from labbook.api.auth import api_user, token_required
from labbook.billing import services
from labbook.billing.exports import export_filename, statement_csv, statement_xlsx
from labbook.billing.lines import booked_by, computation, describe, line_date, project_ref
from labbook.billing.models import (
    BillingBasis,
    Charge,
    RateCard,
    Statement,
    StatementState,
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
from labbook.i18n import localized

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
        "csv_url": url_for("api.get_statement_csv", statement_id=statement.id),
        "xlsx_url": url_for("api.get_statement_xlsx", statement_id=statement.id),
    }
    if with_lines:
        data["lines"] = [charge_json(line) for group in subtotals for line in group.lines]
    return data


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
    fields.done()
    with write_transaction(db.session):
        organization = _load(Organization, organization_id, "organization_id",
                             _("No organization with id %(id)d.", id=organization_id))
        lab = catalogue.get_lab(db.session, lab_code, field="lab")
        statement = None if statement_id is None else _load(
            Statement, statement_id, "statement_id",
            _("No statement with id %(id)d.", id=statement_id))
        charge = services.create_adjustment(db.session, actor, organization=organization,
                                            lab=lab, amount=amount, reason=reason,
                                            statement=statement, now=utcnow())
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
