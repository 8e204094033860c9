"""Testing-order pages: placing an order, my orders, one order (with the lab's work on it), the
lab's queue, its testing settings and staff, and the public report verification.

Orders a user may not see answer 404, as if they did not exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from labbook import links, ratelimit
from labbook.accounts.access import current_actor, current_viewer
from labbook.accounts.models import User
from labbook.audit.services import history as audit_history
from labbook.catalogue import services as catalogue
from labbook.catalogue.models import Lab, TestingService
from labbook.core.engine import write_transaction
from labbook.core.errors import DomainError, NotFound, PermissionDenied, Problem, ValidationError
from labbook.core.ids import database_id
from labbook.core.money import AmountError, read_amount
from labbook.core.time import LAB_TZ, is_plausible_date, utcnow
from labbook.documents.agreement import render_agreement
from labbook.extensions import db
from labbook.http import UPLOAD_OVERHEAD
from labbook.orders import intake, reporting, retention, services, work
from labbook.orders.forms import LINE_SLOTS, OrderRequestForm
from labbook.orders.models import (
    Capability,
    Disposition,
    IntakeStatus,
    Order,
    Remains,
    ReportLanguage,
)
from labbook.web import (
    FORM_REFUSED,
    keep_refused,
    keeps_kept_form,
    refuse,
    restore_kept,
    safe_next,
)

bp = Blueprint("orders", __name__)

UPLOAD_ENDPOINTS = frozenset({"orders.add_attachment"})


@bp.app_context_processor
def testing_queue_link() -> dict[str, Any]:
    # A function, so that nothing is queried unless a template asks.
    def works_in_testing() -> bool:
        viewer = current_viewer()
        return viewer is not None and services.works_in_testing(db.session, viewer)
    return {"works_in_testing": works_in_testing}


@bp.url_value_preprocessor
def allow_uploads(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Runs before the CSRF check that reads the form.
    if endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = \
            current_app.config["LABBOOK_ATTACHMENT_MAX_BYTES"] + UPLOAD_OVERHEAD


def _language() -> str:
    return "en" if str(get_locale()) == "en" else "zh_CN"


# -- placing an order ---------------------------------------------------------------------------


def parse_samples(text: str) -> list[services.SampleInput]:
    samples = []
    for row in (text or "").splitlines():
        if not row.strip():
            continue
        cells = [cell.strip() for cell in row.split("|")]
        cells += [""] * (len(services.SAMPLE_FIELDS) - len(cells))
        values = dict(zip(services.SAMPLE_FIELDS, cells[:6], strict=True))
        samples.append(services.SampleInput(**values))
    return samples


def _order_input(sent: MultiDict) -> services.OrderInput:
    """The order the page ``sent``: its lines, from the service slots that are filled in."""
    lines = []
    for slot in range(LINE_SLOTS):
        code = (sent.get(f"service_{slot}") or "").strip()
        samples = sent.get(f"samples_{slot}") or ""
        if not code and not samples.strip():
            continue
        service_id = db.session.scalar(select(TestingService.id).where(
            TestingService.code == code.upper())) if code else None
        lines.append(services.LineInput(
            service_id=service_id, samples=parse_samples(samples),
            method=sent.get(f"method_{slot}") or "",
            express=sent.get(f"express_{slot}") == "on"))
    try:
        remains = Remains(sent.get("remains") or Remains.DISPOSE.value)
        language = ReportLanguage(sent.get("report_language") or _language())
    except ValueError:
        message = _("Choose one of the options offered.")
        raise ValidationError(message, code="invalid_choice",
                              problems=[Problem("invalid_choice", message)]) from None
    return services.OrderInput(
        lines=lines, remains=remains, report_language=language,
        notes=sent.get("notes") or "", contact_phone=sent.get("contact_phone") or "",
        terms_confirmed=sent.get("terms_confirmed") == "on")


def _order_page(sent: MultiDict, order_input: services.OrderInput | None = None, *,
                status: int = 200, errors: list[Problem] | None = None,
                preset: TestingService | None = None):
    actor = current_actor()
    service_list = db.session.scalars(select(TestingService)
                                      .where(TestingService.is_active.is_(True))
                                      .order_by(TestingService.code)).all()
    return render_template(
        "orders/new.html", services=service_list, slots=range(LINE_SLOTS), form=sent,
        errors=errors or [], preset=preset, remains_options=list(Remains),
        languages=list(ReportLanguage), organization=actor.organization,
        **_quote_context(order_input, preset)), status


def _quote_context(order_input: services.OrderInput | None,
                   preset: TestingService | None = None) -> dict[str, Any]:
    """The running quote of the order form and the terms of its lab."""
    quote = services.preview_quote(db.session, current_actor(), order_input) \
        if order_input is not None else None
    lab = quote.lab if quote is not None else (preset.lab if preset is not None else None)
    return {"quote": quote,
            "terms": services.terms_text(db.session, lab, _language()) if lab else None}


def _shown_total(sent: MultiDict) -> Decimal | None:
    """The total the order form showed when it was sent (None: it showed none)."""
    try:
        return read_amount(sent.get("shown_total") or "")
    except AmountError:
        return None


def _problems(error: DomainError) -> list[Problem]:
    return error.problems or [Problem(error.code, error.message)]


def _refusal(actor: User, sent: MultiDict, order_input: services.OrderInput) -> list[Problem]:
    """Why what the page ``sent`` is not placed (nothing when it is only a request for the
    price and it has one): "Submit" places the order at the total the page showed, and only
    at that total; without one, the page shows the price first. Checked only: it places
    nothing."""
    shown_total = _shown_total(sent)
    try:
        if sent.get("action") != "submit" or shown_total is None:
            services.quote_order(db.session, actor, order_input)
        else:
            services.check_submission(db.session, actor, order_input, now=utcnow(),
                                      expected_total=shown_total)
    except DomainError as error:
        return _problems(error)
    if sent.get("action") == "submit" and shown_total is None:
        return [Problem("quote_not_shown", _("Check the price below, then submit the order."))]
    return []


@bp.get("/orders/new")
@login_required
def new_order():
    kept = OrderRequestForm(formdata=None)
    if restore_kept(kept):
        # A request for the price, or an order refused, after its redirect: what was sent,
        # priced and checked again now, so the price and the refusal are today's, in the
        # page's language (a price that changed since shows its new quote).
        sent = kept.sent()
        try:
            order_input = _order_input(sent)
        except DomainError as error:
            return _order_page(sent, errors=_problems(error))
        return _order_page(sent, order_input,
                           errors=_refusal(current_actor(), sent, order_input))
    service_id = request.args.get("service_id", type=database_id)
    preset = db.session.get(TestingService, service_id) if service_id else None
    return _order_page(MultiDict(), preset=preset)


@bp.post("/orders/new/quote")
@login_required
@keeps_kept_form
def order_quote():
    """The quote and terms of the order form as it stands, for the form's script to show."""
    try:
        order_input = _order_input(request.form)
    except DomainError:
        order_input = None
    return render_template("orders/_quote.html", **_quote_context(order_input))


@bp.post("/orders/new")
@login_required
def submit_order():
    """"Show price" (action=quote) shows the quote and the lab's terms; "Submit" places the
    order at the total the form showed, and only at that total. Either comes back to the
    order page after a redirect, with what was sent, unless the order is placed."""
    actor = current_actor()
    order_input = None
    try:
        order_input = _order_input(request.form)
        shown_total = _shown_total(request.form)
        if request.form.get("action") != "submit" or shown_total is None:
            return _kept(order_input, _refusal(actor, request.form, order_input))
        with write_transaction(db.session):
            order = services.submit(db.session, actor, order_input, now=utcnow(),
                                    expected_total=shown_total)
            order_id, number = order.id, order.number
    except DomainError as error:
        return _kept(order_input, _problems(error))
    flash(_("Your order %(number)s was sent to the lab.", number=number), "success")
    return redirect(url_for(".order_detail", order_id=order_id), 303)


def _kept(order_input: services.OrderInput | None, problems: list[Problem]):
    """Back to the order page with what was sent; an order page too large to keep is the
    POST's answer, as before."""
    return keep_refused(OrderRequestForm(), url_for(".new_order")) \
        or _order_page(request.form, order_input, errors=problems,
                       status=FORM_REFUSED if problems else 200)


# -- my orders, one order -----------------------------------------------------------------------


@bp.get("/orders")
@login_required
def my_orders():
    return render_template("orders/my_orders.html", orders=db.session.scalars(
        services.my_orders(current_actor()).limit(500)).all())


@bp.get("/orders/<int:order_id>")
@login_required
def order_detail(order_id: int):
    actor = current_actor()
    order = services.get_order(db.session, actor, order_id)
    is_staff = services.is_lab_staff(db.session, actor, order.lab_id)
    mine = services.capabilities(db.session, actor, order.lab_id)
    return render_template(
        "orders/detail.html", order=order, is_staff=is_staff,
        is_manager=actor.manages_lab_id(order.lab_id), capabilities=mine,
        is_customer=services.is_customer(actor, order),
        analysts=services.staff_of(db.session, order.lab_id, Capability.ANALYST)
        if is_staff else [],
        items={line.id: services.test_items(db.session, line.service) for line in order.lines},
        methods={line.id: services.accepted_methods(db.session, line.service)
                 for line in order.lines},
        current_report=reporting.current_report(order),
        history=audit_history(db.session, order), intake_statuses=list(IntakeStatus)[1:],
        dispositions=list(Disposition), today=retention.lab_today(utcnow()))


def _back(order_id: int) -> str:
    return safe_next(request.form.get("next"), url_for(".order_detail", order_id=order_id))


def _change(order_id: int, change: Callable[[Session, User, Order], Any], message: str):
    """Apply one change for the signed-in user in one write, then go back with a message."""
    actor = current_actor()
    back = _back(order_id)
    try:
        with write_transaction(db.session):
            order = services.get_order(db.session, actor, order_id)
            change(db.session, actor, order)
    except (NotFound, PermissionDenied):
        raise
    except DomainError as error:
        return refuse(error, back), 303
    flash(message, "success")
    return redirect(back), 303


@bp.post("/orders/<int:order_id>/cancel")
@login_required
def cancel_order(order_id: int):
    return _change(order_id, lambda session, actor, order: services.cancel(
        session, actor, order, now=utcnow(), note=request.form.get("note") or ""),
        _("The order was cancelled."))


def _pdf(data: bytes, name: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/orders/<int:order_id>/agreement.pdf")
@login_required
def agreement_pdf(order_id: int):
    order = services.get_order(db.session, current_actor(), order_id)
    document = reporting.agreement_document(db.session, order, _language())
    return _pdf(render_agreement(document), f"{order.number}-agreement.pdf")


@bp.get("/orders/<int:order_id>/labels.pdf")
@login_required
def labels_pdf(order_id: int):
    actor = current_actor()
    order = services.get_order(db.session, actor, order_id)
    return _pdf(reporting.sample_labels_pdf(db.session, actor, order, _language()),
                f"{order.number}-labels.pdf")


@bp.get("/orders/<int:order_id>/reports/<int:report_id>.pdf")
@login_required
def report_pdf(order_id: int, report_id: int):
    order = services.get_order(db.session, current_actor(), order_id)
    report = reporting.get_report(order, report_id)
    path = reporting.report_file(report, current_app.config["LABBOOK_ORDER_FILES_DIR"])
    if not path.is_file():
        raise NotFound(_("This report has not been issued."))
    return _pdf(path.read_bytes(), f"{report.number}.pdf")


# -- the lab's work ----------------------------------------------------------------------------


@bp.post("/orders/<int:order_id>/intake")
@login_required
def receive_samples(order_id: int):
    def decisions(order: Order) -> list[intake.SampleDecision]:
        chosen = []
        for sample in order.samples:
            raw = request.form.get(f"status_{sample.id}") or ""
            status = IntakeStatus(raw) if raw in IntakeStatus._value2member_map_ else None
            chosen.append(intake.SampleDecision(
                sample.id, status, condition=request.form.get(f"condition_{sample.id}") or "",
                note=request.form.get(f"note_{sample.id}") or ""))
        return chosen

    return _change(order_id, lambda session, actor, order: intake.receive(
        session, actor, order, decisions(order), now=utcnow()),
        _("The intake is recorded."))


@bp.post("/orders/<int:order_id>/lines/<int:line_id>/assign")
@login_required
def assign_line(order_id: int, line_id: int):
    raw = request.form.get("analyst_id") or ""
    analyst = db.session.get(User, int(raw)) if raw.isdigit() else None
    return _change(order_id, lambda session, actor, order: work.assign(
        session, actor, order, line_id, analyst, now=utcnow()),
        _("The line is assigned."))


def _lab_moment(name: str) -> dt.datetime | None:
    """A datetime-local field, in lab time."""
    try:
        moment = dt.datetime.fromisoformat((request.form.get(name) or "").strip())
    except ValueError:
        return None
    if moment.tzinfo is not None or not is_plausible_date(moment.date()):
        return None
    return moment.replace(tzinfo=LAB_TZ).astimezone(dt.UTC)


@bp.post("/orders/<int:order_id>/lines/<int:line_id>/bookings")
@login_required
def book_line(order_id: int, line_id: int):
    raw = request.form.get("instrument_id") or ""
    return _change(order_id, lambda session, actor, order: work.book_instrument(
        session, actor, order, line_id, instrument_id=int(raw) if raw.isdigit() else None,
        start=_lab_moment("start"), end=_lab_moment("end"), now=utcnow()),
        _("The instrument is booked for the line."))


@bp.post("/orders/<int:order_id>/lines/<int:line_id>/start")
@login_required
def start_line(order_id: int, line_id: int):
    return _change(order_id, lambda session, actor, order: work.start(
        session, actor, order, line_id, now=utcnow()), _("Testing has started."))


@bp.post("/orders/<int:order_id>/lines/<int:line_id>/results")
@login_required
def record_results(order_id: int, line_id: int):
    entries = []
    for index in range(int(request.form.get("rows") or 0) if (request.form.get("rows") or "")
                       .isdigit() else 0):
        value = request.form.get(f"value_{index}") or ""
        if not value.strip():
            continue
        sample = request.form.get(f"sample_{index}") or ""
        entries.append(work.ResultInput(
            sample_id=int(sample) if sample.isdigit() else None,
            item=request.form.get(f"item_{index}"), value=value,
            unit=request.form.get(f"unit_{index}"), method=request.form.get(f"method_{index}")))
        if len(entries) > 2000:
            break
    return _change(order_id, lambda session, actor, order: work.record_results(
        session, actor, order, line_id, entries, now=utcnow()), _("The results are saved."))


@bp.post("/orders/<int:order_id>/lines/<int:line_id>/complete")
@login_required
def complete_line(order_id: int, line_id: int):
    return _change(order_id, lambda session, actor, order: work.complete(
        session, actor, order, line_id, now=utcnow()),
        _("The line is completed and billed."))


@bp.post("/orders/<int:order_id>/attachments")
@login_required
def add_attachment(order_id: int):
    actor = current_actor()
    order = services.get_order(db.session, actor, order_id)
    services.require_staff(db.session, actor, order)
    upload = request.files.get("file")
    back = _back(order_id)
    if upload is None or not upload.filename:
        flash(_("Choose a file."), "danger")
        return redirect(back), 303
    written: list[Path] = []
    try:
        with write_transaction(db.session):
            order = services.get_order(db.session, actor, order_id)
            _attachment, path = work.add_attachment(
                db.session, actor, order,
                work.Upload(upload.filename, upload.mimetype or "", upload.read()),
                directory=attachments_dir(), max_bytes=current_app.config[
                    "LABBOOK_ATTACHMENT_MAX_BYTES"], now=utcnow())
            written.append(path)
    except (NotFound, PermissionDenied):
        raise
    except DomainError as error:
        for path in written:
            path.unlink(missing_ok=True)
        return refuse(error, back), 303
    flash(_("The file is kept with the order."), "success")
    return redirect(back), 303


def attachments_dir() -> Path:
    return Path(current_app.config["LABBOOK_ORDER_FILES_DIR"]) / "attachments"


@bp.get("/orders/<int:order_id>/attachments/<int:attachment_id>")
@login_required
def attachment_file(order_id: int, attachment_id: int):
    actor = current_actor()
    order = services.get_order(db.session, actor, order_id)
    services.require_staff(db.session, actor, order)
    attachment = work.get_attachment(order, attachment_id)
    path = attachments_dir() / attachment.path
    if not path.is_file():
        raise NotFound(_("No attachment %(id)d in this order.", id=attachment_id))
    return send_file(path, mimetype=attachment.content_type, as_attachment=True,
                     download_name=attachment.filename, max_age=0)


# -- reports ------------------------------------------------------------------------------------


@bp.post("/orders/<int:order_id>/reports")
@login_required
def prepare_report(order_id: int):
    return _change(order_id, lambda session, actor, order: reporting.prepare(
        session, actor, order, conclusion=request.form.get("conclusion"), now=utcnow()),
        _("The report is prepared and awaits review."))


@bp.post("/orders/<int:order_id>/reports/<int:report_id>/amend")
@login_required
def amend_report(order_id: int, report_id: int):
    return _change(order_id, lambda session, actor, order: reporting.amend(
        session, actor, order, report_id, conclusion=request.form.get("conclusion"),
        reason=request.form.get("reason"), now=utcnow()),
        _("The amended report is prepared and awaits review."))


@bp.post("/orders/<int:order_id>/reports/<int:report_id>/review")
@login_required
def review_report(order_id: int, report_id: int):
    return _change(order_id, lambda session, actor, order: reporting.review(
        session, actor, order, report_id, now=utcnow()),
        _("The report is reviewed and awaits approval."))


@bp.post("/orders/<int:order_id>/reports/<int:report_id>/approve")
@login_required
def approve_report(order_id: int, report_id: int):
    actor = current_actor()
    back = _back(order_id)
    written: list[Path] = []
    try:
        with write_transaction(db.session):
            order = services.get_order(db.session, actor, order_id)
            issued = reporting.approve(
                db.session, actor, order, report_id,
                base_url=links.base_url(),
                report_dir=current_app.config["LABBOOK_ORDER_FILES_DIR"], now=utcnow())
            written.append(issued.path)
    except (NotFound, PermissionDenied):
        raise
    except DomainError as error:
        for path in written:
            path.unlink(missing_ok=True)
        return refuse(error, back), 303
    flash(_("The report is approved and issued."), "success")
    return redirect(back), 303


@bp.post("/orders/<int:order_id>/reports/<int:report_id>/withdraw")
@login_required
def withdraw_report(order_id: int, report_id: int):
    return _change(order_id, lambda session, actor, order: reporting.withdraw(
        session, actor, order, report_id, reason=request.form.get("reason"), now=utcnow()),
        _("The report is withdrawn."))


@bp.post("/orders/<int:order_id>/samples/<int:sample_id>/retention")
@login_required
def dispose_sample(order_id: int, sample_id: int):
    raw = request.form.get("disposition") or ""
    disposition = Disposition(raw) if raw in Disposition._value2member_map_ else None
    return _change(order_id, lambda session, actor, order: retention.record_disposition(
        session, actor, order, sample_id, disposition, note=request.form.get("note") or "",
        now=utcnow()), _("The remains' fate is recorded."))


# -- the lab's queue and settings ----------------------------------------------------------------


@bp.get("/lab/orders")
@login_required
def lab_queue():
    actor = current_actor()
    labs = services.staff_labs(db.session, actor, db.session.scalars(
        select(Lab).order_by(Lab.code)).all())
    if not labs:
        raise NotFound(_("You work in no lab's testing."))
    lab_ids = [lab.id for lab in labs]
    now = utcnow()
    return render_template(
        "orders/lab_queue.html", labs=labs,
        managed={lab.id for lab in labs if actor.manages(lab)},
        awaiting=services.orders_awaiting_intake(db.session, lab_ids),
        queue=services.line_queue(db.session, lab_ids, now=now),
        reports=reporting.reports_in_workflow(db.session, lab_ids),
        retention=retention.due_samples(db.session, lab_ids, now=now))


@bp.get("/lab/<code>/testing")
@login_required
def lab_testing(code: str):
    actor = current_actor()
    lab = catalogue.get_lab(db.session, code)
    if not actor.manages(lab):
        raise NotFound(_("No lab %(code)s.", code=code))
    return render_template(
        "orders/lab_settings.html", lab=lab, settings=services.lab_settings(db.session, lab),
        staff=services.lab_staff_table(db.session, lab), capabilities=list(Capability),
        services=sorted(lab.services, key=lambda service: service.code))


@bp.post("/lab/<code>/testing")
@login_required
def save_lab_testing(code: str):
    actor = current_actor()
    back = url_for(".lab_testing", code=code)
    try:
        with write_transaction(db.session):
            lab = catalogue.get_lab(db.session, code)
            if not actor.manages(lab):
                raise NotFound(_("No lab %(code)s.", code=code))
            form = request.form
            services.update_lab_settings(
                db.session, actor, lab, terms_zh=form.get("terms_zh") or "",
                terms_en=form.get("terms_en") or "", address_zh=form.get("address_zh") or "",
                address_en=form.get("address_en") or "", phone=form.get("phone") or "",
                accreditation_marks=form.getlist("marks"), now=utcnow())
    except (NotFound, PermissionDenied):
        raise
    except DomainError as error:
        return refuse(error, back), 303
    flash(_("The lab's testing settings are saved."), "success")
    return redirect(back), 303


@bp.post("/lab/<code>/testing/staff")
@login_required
def save_lab_staff(code: str):
    actor = current_actor()
    back = url_for(".lab_testing", code=code)
    email = (request.form.get("email") or "").strip().lower()
    wanted = {Capability(value) for value in request.form.getlist("capabilities")
              if value in Capability._value2member_map_}
    try:
        with write_transaction(db.session):
            lab = catalogue.get_lab(db.session, code)
            if not actor.manages(lab):
                raise NotFound(_("No lab %(code)s.", code=code))
            user = db.session.scalar(select(User).where(User.email == email))
            if user is None:
                message = _("No user has the email address %(email)s.", email=email[:254])
                raise ValidationError(message, code="unknown_user")
            services.set_capabilities(db.session, actor, lab, user, wanted, now=utcnow())
    except (NotFound, PermissionDenied):
        raise
    except DomainError as error:
        return refuse(error, back), 303
    flash(_("The capabilities are saved."), "success")
    return redirect(back), 303


def _service_of(lab_code: str, service_id: int) -> TestingService:
    """One of the lab's services, for its managers (404 otherwise)."""
    actor = current_actor()
    lab = catalogue.get_lab(db.session, lab_code)
    service = db.session.get(TestingService, service_id)
    if not actor.manages(lab) or service is None or service.lab_id != lab.id:
        raise NotFound(_("No lab %(code)s.", code=lab_code))
    return service


def _items_text(service: TestingService) -> str:
    return "\n".join(" | ".join([item.name_zh, item.name_en, item.unit,
                                 item.lower_limit or "", item.upper_limit or ""])
                      for item in services.test_items(db.session, service))


@bp.get("/lab/<code>/testing/services/<int:service_id>")
@login_required
def service_testing(code: str, service_id: int):
    service = _service_of(code, service_id)
    methods = services.accepted_methods(db.session, service)[1:]
    return render_template(
        "orders/service_testing.html", service=service, methods="\n".join(methods),
        items=_items_text(service), retention=services.retention_days(db.session, service))


@bp.post("/lab/<code>/testing/services/<int:service_id>")
@login_required
def save_service_testing(code: str, service_id: int):
    actor = current_actor()
    back = url_for(".service_testing", code=code, service_id=service_id)
    raw_retention = (request.form.get("retention_days") or "").strip()
    items = []
    for row in (request.form.get("items") or "").splitlines()[:200]:
        if row.strip():
            cells = [cell.strip() for cell in row.split("|")] + [""] * 5
            items.append(services.TestItemInput(*cells[:5]))
    try:
        with write_transaction(db.session):
            service = _service_of(code, service_id)
            services.update_service_testing(
                db.session, actor, service,
                methods=(request.form.get("methods") or "").splitlines()[:100],
                retention=int(raw_retention) if raw_retention.isdigit() else None,
                items=items, now=utcnow())
    except (NotFound, PermissionDenied):
        raise
    except DomainError as error:
        return refuse(error, back), 303
    flash(_("The service's testing settings are saved."), "success")
    return redirect(back), 303


# -- public verification -------------------------------------------------------------------------


def _rate_limited() -> tuple[str, int, dict[str, str]] | None:
    retry_after = ratelimit.hit(current_app.config["LABBOOK_RATELIMIT_VERIFY"], "verify",
                                get_remote_address())
    if retry_after is None:
        return None
    message = _("Too many requests from your address in a short time. Please try again "
                "after %(time)s (lab time).", time=ratelimit.lab_clock(retry_after))
    return (render_template("errors/error.html", status=429, message=message), 429,
            {"Retry-After": str(retry_after)})


def _verification_page(verification, *, number: str = "", code: str = "", status: int = 200,
                       error: str | None = None):
    response = render_template("orders/verify.html", verification=verification, number=number,
                               code=code, error=error)
    return response, status, {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


@bp.get("/verify")
def verify_form():
    number = (request.args.get("number") or "")[:100]
    code = (request.args.get("code") or "")[:100]
    if not number and not code:
        return _verification_page(None)
    limited = _rate_limited()
    if limited is not None:
        return limited
    try:
        verification = reporting.verify_number(db.session, number, code)
    except NotFound as error:
        return _verification_page(None, number=number, code=code, status=404,
                                  error=error.message)
    return _verification_page(verification, number=number, code=code)


@bp.get("/verify/<code>")
def verify(code: str):
    limited = _rate_limited()
    if limited is not None:
        return limited
    try:
        verification = reporting.verify(db.session, code)
    except NotFound as error:
        return _verification_page(None, code=code[:100], status=404, error=error.message)
    return _verification_page(verification, code=code)
