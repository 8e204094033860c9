"""Testing-service pages: a service's page with its request form and the form's actions, my
requests, one request, and the lab managers' queue. Requests a user may not see answer 404, as
if they did not exist."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required

from labbook.accounts import services as accounts
from labbook.accounts.access import current_actor, current_manager, current_viewer
from labbook.accounts.models import PriceTier
from labbook.audit.services import history as audit_history
from labbook.catalogue import services as catalogue
from labbook.catalogue.models import TestingService
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict, DomainError, NotFound, ValidationError
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.http import UPLOAD_OVERHEAD
from labbook.testing import services
from labbook.testing.forms import AcceptForm, CompleteForm, NoteForm, ServiceRequestForm
from labbook.testing.models import ServiceRequestState
from labbook.web import FORM_REFUSED, refuse, safe_next, show_errors

bp = Blueprint("testing", __name__)

UPLOAD_ENDPOINTS = frozenset({"testing.complete_request"})

@bp.url_value_preprocessor
def allow_report_uploads(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Runs before every before_request function, including the CSRF check that reads the form.
    if endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = \
            current_app.config["LABBOOK_REPORT_MAX_BYTES"] + UPLOAD_OVERHEAD


@bp.context_processor
def request_states() -> dict[str, Any]:
    return {"request_states": list(ServiceRequestState)}


# -- a service's page ---------------------------------------------------------------------------


@bp.get("/services/<int:service_id>")
def service_detail(service_id: int):
    return service_page(catalogue.get_service(db.session, service_id))


def service_page(service: TestingService, form: ServiceRequestForm | None = None, *,
                 quote=None, status: int = 200, form_errors: list[str] | None = None):
    """A testing service's page in the catalogue, with the request form (and its quote) for
    signed-in users."""
    viewer = current_viewer()
    if form is None and viewer is not None:
        form = ServiceRequestForm(formdata=None)
    return render_template("catalogue/service_detail.html", service=service,
                           viewer_tier=viewer.price_tier if viewer is not None else None,
                           tiers=list(PriceTier), request_form=form, quote=quote,
                           request_errors=form_errors or []), status


# -- requesting ---------------------------------------------------------------------------------


@bp.post("/services/<int:service_id>/request")
@login_required
def request_service(service_id: int):
    """"Show price" (action=quote) re-renders the page with the quote; "Submit" requests."""
    service = catalogue.get_service(db.session, service_id)
    actor = current_actor()
    form = ServiceRequestForm()
    if not services.offers_express(service) and not form.express.data:
        del form.express
    if not form.validate_on_submit():
        return service_page(service, form, status=FORM_REFUSED)
    express = bool(form.express.data) if "express" in form else False
    arguments = {"samples": form.samples.data, "sample_description": form.sample_description.data,
                 "express": express, "notes": form.notes.data or ""}
    try:
        if request.form.get("action") != "submit":
            quote = services.quote_for(actor, service, **arguments)
            return service_page(service, form, quote=quote)
        with write_transaction(db.session):
            service = catalogue.get_service(db.session, service_id)
            service_request = services.submit(db.session, actor, service, now=utcnow(),
                                              **arguments)
            request_id = service_request.id
    except DomainError as error:
        show_errors(form, error)
        return service_page(catalogue.get_service(db.session, service_id), form,
                            status=FORM_REFUSED, form_errors=[error.message])
    flash(_("Your request #%(id)d was sent to the lab.", id=request_id), "success")
    return redirect(url_for(".request_detail", request_id=request_id))


# -- my requests, one request ----------------------------------------------------------------------


@bp.get("/service-requests")
@login_required
def my_requests():
    return render_template("testing/my_requests.html", requests=db.session.scalars(
        services.visible_requests(current_actor())).all())


@bp.get("/service-requests/<int:request_id>")
@login_required
def request_detail(request_id: int):
    actor = current_actor()
    service_request = services.get_request(db.session, actor, request_id)
    is_manager = services.can_decide(actor, service_request)
    return render_template(
        "testing/request_detail.html", item=service_request,
        history=audit_history(db.session, service_request), is_manager=is_manager,
        can_cancel=services.can_cancel(actor, service_request),
        can_download=services.can_download_report(actor, service_request),
        accept_form=AcceptForm(formdata=None), note_form=NoteForm(formdata=None),
        complete_form=CompleteForm(formdata=None),
        default_due=services.default_due_date(db.session, service_request, now=utcnow()))


@bp.post("/service-requests/<int:request_id>/cancel")
@login_required
def cancel_request(request_id: int):
    form = NoteForm()
    return _change(request_id, lambda session, actor, item, now: services.cancel(
        session, actor, item, now=now, note=form.note.data or ""),
        _("Service request #%(id)d was cancelled.", id=request_id),
        valid=form.validate_on_submit(), form=form)


@bp.get("/service-requests/<int:request_id>/report")
@login_required
def download_report(request_id: int):
    service_request = services.get_request_for_report(db.session, current_actor(), request_id)
    path = services.report_file(service_request, current_app.config["LABBOOK_REPORT_DIR"])
    if not path.is_file():
        raise NotFound(_("No report for service request %(id)d.", id=request_id))
    return send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=service_request.report_filename or "report.pdf",
                     max_age=0)


# -- the lab's queue ---------------------------------------------------------------------------


@bp.get("/manage/service-requests")
@login_required
def manage_queue():
    actor = current_manager()
    labs = accounts.managed_labs(db.session, actor)
    lab_code = (request.args.get("lab") or "").upper() or None
    state_arg = request.args.get("state", "open")
    shown = labs
    if lab_code:
        shown = [lab for lab in labs if lab.code == lab_code]
        if not shown:  # a lab the user does not manage has an empty queue; no lab, a 404
            catalogue.get_lab(db.session, lab_code)
    if state_arg in ("", "all"):
        states = None
    elif state_arg == "open":
        states = services.OPEN_STATES
    else:
        try:
            states = (ServiceRequestState(state_arg),)
        except ValueError:
            raise ValidationError(_("Unknown state %(state)s.", state=state_arg),
                                  code="invalid_parameter") from None
    return render_template("testing/manage_queue.html", labs=labs,
                           items=services.request_queue(db.session, actor, shown, states),
                           lab_code=lab_code, state=state_arg,
                           accept_form=AcceptForm(formdata=None),
                           note_form=NoteForm(formdata=None),
                           complete_form=CompleteForm(formdata=None), now=utcnow(),
                           default_due=lambda item: services.default_due_date(db.session, item,
                                                                             now=utcnow()))


def _back(request_id: int) -> str:
    return safe_next(request.form.get("next"),
                     url_for(".request_detail", request_id=request_id))


def _change(request_id: int, change, message: str, *, valid: bool = True, form=None):
    """Apply one change for the signed-in user in one write, then go back with a message."""
    actor = current_actor()
    back = _back(request_id)
    if not valid:
        for field in form or []:
            for error in field.errors:
                flash(f"{field.label.text}: {error}", "danger")
        return redirect(back), 303
    try:
        with write_transaction(db.session):
            item = services.get_request(db.session, actor, request_id)
            change(db.session, actor, item, utcnow())
    except (Conflict, ValidationError) as error:
        return refuse(error, back), 303
    flash(message, "success")
    return redirect(back), 303


@bp.post("/manage/service-requests/<int:request_id>/accept")
@login_required
def accept_request(request_id: int):
    current_manager()
    form = AcceptForm()
    return _change(request_id, lambda session, actor, item, now: services.accept(
        session, actor, item, now=now, due_date=form.due_date.data, note=form.note.data or ""),
        _("Service request #%(id)d was accepted.", id=request_id),
        valid=form.validate_on_submit(), form=form)


@bp.post("/manage/service-requests/<int:request_id>/reject")
@login_required
def reject_request(request_id: int):
    current_manager()
    form = NoteForm()
    return _change(request_id, lambda session, actor, item, now: services.reject(
        session, actor, item, now=now, note=form.note.data),
        _("Service request #%(id)d was rejected.", id=request_id),
        valid=form.validate_on_submit(), form=form)


@bp.post("/manage/service-requests/<int:request_id>/start")
@login_required
def start_request(request_id: int):
    current_manager()
    return _change(request_id, lambda session, actor, item, now: services.start(
        session, actor, item, now=now),
        _("Work on service request #%(id)d has started.", id=request_id))


@bp.post("/manage/service-requests/<int:request_id>/complete")
@login_required
def complete_request(request_id: int):
    current_manager()
    upload = request.files.get("report")
    report = None
    if upload is not None and upload.filename:
        report = services.ReportUpload(upload.filename, upload.read())
    try:
        services.complete_in_one_write(
            db.session, current_actor(), request_id, now=utcnow(), report=report,
            report_dir=current_app.config["LABBOOK_REPORT_DIR"],
            max_bytes=current_app.config["LABBOOK_REPORT_MAX_BYTES"])
    except (Conflict, ValidationError, services.ReportTooLarge) as error:
        return refuse(error, _back(request_id)), 303
    flash(_("Service request #%(id)d is completed.", id=request_id), "success")
    return redirect(_back(request_id)), 303
