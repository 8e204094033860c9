"""Testing-order API under /api/v1/orders, and the public report verification under
/api/v1/verify."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Response, current_app, request, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from sqlalchemy.orm import Session

from labbook import links, ratelimit
from labbook.accounts.models import User
from labbook.api import bp
from labbook.api.auth import api_user, token_required
from labbook.billing.services import parse_amount
from labbook.catalogue import services as catalogue
from labbook.core.engine import write_transaction
from labbook.core.errors import DomainError, NotFound, Problem, ValidationError
from labbook.core.time import utcnow
from labbook.documents.agreement import render_agreement
from labbook.extensions import db
from labbook.http import (
    Fields,
    enum_arg,
    json_body,
    optional_json_body,
    page_of,
    pagination_args,
    problem_response,
)
from labbook.orders import intake, reporting, retention, services, work
from labbook.orders.models import (
    Disposition,
    IntakeStatus,
    Order,
    OrderLine,
    OrderState,
    Remains,
    Report,
    ReportLanguage,
    Sample,
)

MAX_ITEMS = 2000


# -- answers ------------------------------------------------------------------------------------


def _time(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def sample_json(sample: Sample) -> dict[str, Any]:
    return {
        "id": sample.id, "position": sample.position, "number": sample.number,
        "name": sample.name, "batch": sample.batch, "specification": sample.specification,
        "quantity": sample.quantity, "condition": sample.condition, "hazards": sample.hazards,
        "intake": {"status": sample.intake_status.value, "condition": sample.intake_condition,
                   "note": sample.intake_note, "received_at": _time(sample.received_at)},
        "retention": {"retain_until": sample.retain_until.isoformat()
                      if sample.retain_until else None,
                      "disposition": sample.disposition.value if sample.disposition else None,
                      "disposed_at": _time(sample.disposed_at),
                      "note": sample.disposition_note},
        "results": [{"id": r.id, "item": r.item, "value": r.value, "unit": r.unit,
                     "method": r.method, "limit": r.limit, "conclusion": r.conclusion.value}
                    for r in sample.results],
    }


def line_json(line: OrderLine) -> dict[str, Any]:
    return {
        "id": line.id, "position": line.position, "service_id": line.service_id,
        "service_code": line.service.code, "method": line.method, "express": line.is_express,
        "state": line.state.value,
        "quote": {"unit_price": str(line.unit_price), "samples": len(line.samples),
                  "subtotal": str(line.subtotal),
                  "express_surcharge_percent": line.express_surcharge_percent,
                  "express_surcharge": str(line.express_surcharge), "total": str(line.total)},
        "analyst": {"id": line.analyst.id, "name": line.analyst.name} if line.analyst else None,
        "due_date": line.due_date.isoformat() if line.due_date else None,
        "started_at": _time(line.started_at), "completed_at": _time(line.completed_at),
        "samples": [sample_json(sample) for sample in line.samples],
        "bookings": [{"id": booking.id, "instrument_id": booking.instrument_id,
                      "start": booking.start_at.isoformat(), "end": booking.end_at.isoformat(),
                      "state": booking.state.value} for booking in line.bookings],
    }


def report_json(order: Order, report: Report) -> dict[str, Any]:
    return {
        "id": report.id, "number": report.number, "state": report.state.value,
        "language": report.language.value, "conclusion": report.conclusion,
        "replaces": report.replaces.number if report.replaces else None,
        "amendment_reason": report.amendment_reason,
        "prepared_by": report.prepared_by.name, "prepared_at": _time(report.prepared_at),
        "reviewed_by": report.reviewed_by.name if report.reviewed_by else None,
        "reviewed_at": _time(report.reviewed_at),
        "approved_by": report.approved_by.name if report.approved_by else None,
        "approved_at": _time(report.approved_at),
        "issued_on": report.issued_on.isoformat() if report.issued_on else None,
        "sha256": report.sha256, "verification_code": report.verification_code,
        "pdf_url": url_for("api.get_order_report_pdf", order_id=order.id, report_id=report.id)
        if report.is_issued else None,
    }


def order_json(order: Order) -> dict[str, Any]:
    return {
        "id": order.id, "number": order.number, "lab": order.lab.code,
        "state": order.state.value, "organization": order.organization.name,
        "requester": {"id": order.requester.id, "name": order.requester.name,
                      "email": order.requester.email},
        "contact_phone": order.contact_phone, "remains": order.remains.value,
        "report_language": order.report_language.value, "notes": order.notes,
        "tier": order.tier.value, "total": str(order.quoted_total),
        "confirmed_at": _time(order.confirmed_at), "created_at": _time(order.created_at),
        "received_at": _time(order.received_at), "cancelled_at": _time(order.cancelled_at),
        "lines": [line_json(line) for line in order.lines],
        "reports": [report_json(order, report) for report in order.reports],
        "attachments": [{"id": a.id, "filename": a.filename, "size": a.size,
                         "sha256": a.sha256} for a in order.attachments],
    }


def quote_json(quote: services.OrderQuote) -> dict[str, Any]:
    return {
        "lab": quote.lab.code, "tier": quote.organization.tier.value,
        "lines": [{"service_id": line.service.id, "service_code": line.service.code,
                   "method": line.method, "samples": line.price.samples,
                   "unit_price": str(line.price.unit_price), "subtotal": str(line.price.subtotal),
                   "express_surcharge_percent": line.price.express_surcharge_percent,
                   "express_surcharge": str(line.price.express_surcharge),
                   "total": str(line.price.total)} for line in quote.lines],
        "total": str(quote.total),
    }


# -- reading bodies -----------------------------------------------------------------------------


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError(message, code=code, problems=[Problem(code, message, field=field)])


def _list(data: dict[str, Any], name: str, *, limit: int = MAX_ITEMS) -> list[Any]:
    value = data.get(name)
    if not isinstance(value, list):
        raise _invalid(name, _("'%(name)s' must be a list.", name=name))
    if len(value) > limit:
        raise _invalid(name, _("'%(name)s' has more than %(n)d entries.", name=name, n=limit),
                       "too_many")
    return value


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(name, _("'%(name)s' must be an object.", name=name))
    return value


def _strings(data: dict[str, Any], where: str, names: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for name in names:
        value = data.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise _invalid(f"{where}.{name}", _("'%(name)s' must be text.", name=name))
        values[name] = value
    return values


def _choice(value: Any, enum_class, name: str, default=None):
    if value is None and default is not None:
        return default
    try:
        return enum_class(value)
    except ValueError:
        raise _invalid(name, _("'%(name)s' must be one of %(values)s.", name=name, values=", ".join(
            member.value for member in enum_class)), "invalid_choice") from None


def _order_input(data: dict[str, Any]) -> services.OrderInput:
    lines = []
    # 10,000 samples reach the service's own check of the count; larger bodies stop here.
    for index, raw in enumerate(_list(data, "lines", limit=100)):
        where = f"lines[{index}]"
        line = _object(raw, where)
        service_id = line.get("service_id")
        if isinstance(service_id, bool) or not isinstance(service_id, int):
            raise _invalid(f"{where}.service_id", _("'%(name)s' must be a whole number.",
                                                    name="service_id"))
        express = line.get("express", False)
        if not isinstance(express, bool):
            raise _invalid(f"{where}.express", _("'%(name)s' must be true or false.",
                                                 name="express"))
        samples = [services.SampleInput(**_strings(_object(sample, f"{where}.samples[{i}]"),
                                                   f"{where}.samples[{i}]",
                                                   services.SAMPLE_FIELDS))
                   for i, sample in enumerate(_list(line, "samples", limit=20000))]
        method = line.get("method") or ""
        if not isinstance(method, str):
            raise _invalid(f"{where}.method", _("'%(name)s' must be text.", name="method"))
        lines.append(services.LineInput(service_id=service_id, samples=samples, method=method,
                                        express=express))
    fields = Fields(data)
    notes = fields.string("notes", required=False, max_length=services.MAX_NOTES) or ""
    phone = fields.string("contact_phone", required=False, max_length=services.MAX_PHONE) or ""
    confirmed = fields.boolean("terms_confirmed")
    fields.done()
    return services.OrderInput(
        lines=lines, remains=_choice(data.get("remains"), Remains, "remains", Remains.DISPOSE),
        report_language=_choice(data.get("report_language"), ReportLanguage,
                                "report_language", ReportLanguage.ZH_CN),
        notes=notes, contact_phone=phone, terms_confirmed=confirmed)


# -- orders ---------------------------------------------------------------------------------------


@bp.post("/orders/quote")
@token_required
def quote_order():
    return quote_json(services.quote_order(db.session, api_user(), _order_input(json_body())))


def _expected_total(data: dict[str, Any]) -> Decimal | None:
    """The total the client showed its user (optional): the order is placed at no other."""
    value = data.get("expected_total")
    return None if value is None else parse_amount(value, "expected_total")


@bp.post("/orders")
@token_required
def create_order():
    actor = api_user()
    data = json_body()
    order_input = _order_input(data)
    expected_total = _expected_total(data)
    try:
        with write_transaction(db.session):
            order = services.submit(db.session, actor, order_input, now=utcnow(),
                                    expected_total=expected_total)
    except services.QuoteChanged as changed:
        return problem_response(changed.status, changed.message, code=changed.code,
                                problems=changed.problems, quote=quote_json(changed.quote))
    order = services.get_order(db.session, actor, order.id)
    return order_json(order), 201, {"Location": url_for("api.get_order", order_id=order.id)}


@bp.get("/orders")
@token_required
def list_orders():
    """Without ``lab``: the orders I placed or pay for; with ``lab``: that lab's orders, for
    its staff."""
    actor = api_user()
    page, per_page = pagination_args()
    state = enum_arg("state", OrderState)
    lab_code = (request.args.get("lab") or "").strip().upper()
    if lab_code:
        lab = catalogue.get_lab(db.session, lab_code)
        if not services.is_lab_staff(db.session, actor, lab.id):
            raise NotFound(_("No lab %(code)s.", code=lab_code))
        query = services.lab_orders([lab.id], None if state is None else [state])
    else:
        query = services.my_orders(actor)
        if state is not None:
            query = query.where(Order.state == state)
    items, total = page_of(query, page, per_page)
    return {"items": [order_json(item) for item in items], "total": total, "page": page,
            "per_page": per_page}


@bp.get("/orders/<int:order_id>")
@token_required
def get_order(order_id: int):
    return order_json(services.get_order(db.session, api_user(), order_id))


def _change(order_id: int, change: Callable[[Session, User, Order], Any]) -> dict[str, Any]:
    actor = api_user()
    with write_transaction(db.session):
        order = services.get_order(db.session, actor, order_id)
        change(db.session, actor, order)
    db.session.expire_all()
    return order_json(services.get_order(db.session, actor, order_id))


@bp.post("/orders/<int:order_id>/cancel")
@token_required
def cancel_order(order_id: int):
    fields = Fields(optional_json_body())
    note = fields.string("note", required=False, max_length=services.MAX_NOTE) or ""
    fields.done()
    return _change(order_id, lambda session, actor, order: services.cancel(
        session, actor, order, now=utcnow(), note=note))


def _pdf(data: bytes, name: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _language() -> str:
    language = request.args.get("language", "zh_CN")
    return _choice(language, ReportLanguage, "language").value


@bp.get("/orders/<int:order_id>/agreement")
@token_required
def get_order_agreement(order_id: int):
    order = services.get_order(db.session, api_user(), order_id)
    return _pdf(render_agreement(reporting.agreement_document(db.session, order, _language())),
                f"{order.number}-agreement.pdf")


@bp.get("/orders/<int:order_id>/labels")
@token_required
def get_order_labels(order_id: int):
    actor = api_user()
    order = services.get_order(db.session, actor, order_id)
    return _pdf(reporting.sample_labels_pdf(db.session, actor, order, _language()),
                f"{order.number}-labels.pdf")


@bp.post("/orders/<int:order_id>/intake")
@token_required
def receive_order_samples(order_id: int):
    data = json_body()
    decisions = []
    for index, raw in enumerate(_list(data, "samples")):
        entry = _object(raw, f"samples[{index}]")
        sample_id = entry.get("sample_id")
        texts = _strings(entry, f"samples[{index}]", ("condition", "note"))
        decisions.append(intake.SampleDecision(
            sample_id if isinstance(sample_id, int) and not isinstance(sample_id, bool)
            else None,
            _choice(entry.get("status"), IntakeStatus, f"samples[{index}].status"),
            condition=texts["condition"], note=texts["note"]))
    return _change(order_id, lambda session, actor, order: intake.receive(
        session, actor, order, decisions, now=utcnow()))


@bp.post("/orders/<int:order_id>/lines/<int:line_id>/assign")
@token_required
def assign_order_line(order_id: int, line_id: int):
    fields = Fields(json_body())
    analyst_id = fields.integer("analyst_id")
    fields.done()
    analyst = db.session.get(User, analyst_id)
    return _change(order_id, lambda session, actor, order: work.assign(
        session, actor, order, line_id, analyst, now=utcnow()))


@bp.post("/orders/<int:order_id>/lines/<int:line_id>/start")
@token_required
def start_order_line(order_id: int, line_id: int):
    return _change(order_id, lambda session, actor, order: work.start(
        session, actor, order, line_id, now=utcnow()))


@bp.post("/orders/<int:order_id>/lines/<int:line_id>/bookings")
@token_required
def book_order_line(order_id: int, line_id: int):
    fields = Fields(json_body())
    instrument_id = fields.integer("instrument_id")
    start, end = fields.datetime("start"), fields.datetime("end")
    fields.done()
    return _change(order_id, lambda session, actor, order: work.book_instrument(
        session, actor, order, line_id, instrument_id=instrument_id, start=start, end=end,
        now=utcnow())), 201


@bp.post("/orders/<int:order_id>/lines/<int:line_id>/results")
@token_required
def record_order_results(order_id: int, line_id: int):
    entries = []
    for index, raw in enumerate(_list(json_body(), "results")):
        where = f"results[{index}]"
        entry = _object(raw, where)
        sample_id = entry.get("sample_id")
        texts = _strings(entry, where, ("item", "value", "unit", "method"))
        entries.append(work.ResultInput(
            sample_id=sample_id if isinstance(sample_id, int) and not isinstance(sample_id, bool)
            else None, **texts))
    return _change(order_id, lambda session, actor, order: work.record_results(
        session, actor, order, line_id, entries, now=utcnow()))


@bp.post("/orders/<int:order_id>/lines/<int:line_id>/complete")
@token_required
def complete_order_line(order_id: int, line_id: int):
    return _change(order_id, lambda session, actor, order: work.complete(
        session, actor, order, line_id, now=utcnow()))


@bp.post("/orders/<int:order_id>/samples/<int:sample_id>/retention")
@token_required
def record_sample_disposition(order_id: int, sample_id: int):
    data = json_body()
    fields = Fields(data)
    note = fields.string("note", required=False, max_length=services.MAX_NOTE) or ""
    fields.done()
    disposition = _choice(data.get("disposition"), Disposition, "disposition")
    return _change(order_id, lambda session, actor, order: retention.record_disposition(
        session, actor, order, sample_id, disposition, note=note, now=utcnow()))


# -- reports --------------------------------------------------------------------------------------


@bp.post("/orders/<int:order_id>/reports")
@token_required
def prepare_order_report(order_id: int):
    fields = Fields(json_body())
    conclusion = fields.string("conclusion", max_length=reporting.MAX_CONCLUSION)
    fields.done()
    return _change(order_id, lambda session, actor, order: reporting.prepare(
        session, actor, order, conclusion=conclusion, now=utcnow())), 201


@bp.post("/orders/<int:order_id>/reports/<int:report_id>/amend")
@token_required
def amend_order_report(order_id: int, report_id: int):
    fields = Fields(json_body())
    conclusion = fields.string("conclusion", max_length=reporting.MAX_CONCLUSION)
    reason = fields.string("reason", max_length=services.MAX_NOTE)
    fields.done()
    return _change(order_id, lambda session, actor, order: reporting.amend(
        session, actor, order, report_id, conclusion=conclusion, reason=reason,
        now=utcnow())), 201


@bp.post("/orders/<int:order_id>/reports/<int:report_id>/review")
@token_required
def review_order_report(order_id: int, report_id: int):
    return _change(order_id, lambda session, actor, order: reporting.review(
        session, actor, order, report_id, now=utcnow()))


@bp.post("/orders/<int:order_id>/reports/<int:report_id>/approve")
@token_required
def approve_order_report(order_id: int, report_id: int):
    actor = api_user()
    written: list[Path] = []
    try:
        with write_transaction(db.session):
            order = services.get_order(db.session, actor, order_id)
            issued = reporting.approve(
                db.session, actor, order, report_id,
                base_url=links.base_url(),
                report_dir=current_app.config["LABBOOK_ORDER_FILES_DIR"], now=utcnow())
            written.append(issued.path)
    except DomainError:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    db.session.expire_all()
    return order_json(services.get_order(db.session, actor, order_id))


@bp.post("/orders/<int:order_id>/reports/<int:report_id>/withdraw")
@token_required
def withdraw_order_report(order_id: int, report_id: int):
    fields = Fields(json_body())
    reason = fields.string("reason", max_length=services.MAX_NOTE)
    fields.done()
    return _change(order_id, lambda session, actor, order: reporting.withdraw(
        session, actor, order, report_id, reason=reason, now=utcnow()))


@bp.get("/orders/<int:order_id>/reports/<int:report_id>/pdf")
@token_required
def get_order_report_pdf(order_id: int, report_id: int):
    order = services.get_order(db.session, api_user(), order_id)
    report = reporting.get_report(order, report_id)
    path = reporting.report_file(report, current_app.config["LABBOOK_ORDER_FILES_DIR"])
    if not path.is_file():
        raise NotFound(_("This report has not been issued."))
    return _pdf(path.read_bytes(), f"{report.number}.pdf")


# -- verification ---------------------------------------------------------------------------------


def verification_json(verification: reporting.Verification) -> dict[str, Any]:
    return {"number": verification.number, "customer": verification.customer,
            "issued_on": verification.issued_on.isoformat(), "status": verification.status,
            "superseded_by": verification.superseded_by, "sha256": verification.sha256}


class TooManyVerifications(DomainError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def extra(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after}


def _count_verification() -> None:
    retry_after = ratelimit.hit(current_app.config["LABBOOK_RATELIMIT_VERIFY"], "verify",
                                get_remote_address())
    if retry_after is not None:
        raise TooManyVerifications(_("Too many requests from your address in a short time. "
                                     "Please try again after %(time)s (lab time).",
                                     time=ratelimit.lab_clock(retry_after)),
                                   retry_after=retry_after)


@bp.get("/verify/<code>")
def verify_report(code: str):
    """Public: what anyone may learn of an issued report from its verification code."""
    _count_verification()
    return verification_json(reporting.verify(db.session, code))


@bp.get("/verify")
def verify_report_number():
    _count_verification()
    return verification_json(reporting.verify_number(
        db.session, request.args.get("number") or "", request.args.get("code") or ""))

