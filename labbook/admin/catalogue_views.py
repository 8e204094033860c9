"""Administration of the catalogue: instruments (details, booking rules, status), testing
services, and importing the catalogue files."""

from __future__ import annotations

import dataclasses

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import SelectChoice

from labbook.accounts import services as accounts
from labbook.accounts.access import current_actor, require
from labbook.accounts.models import PriceTier
from labbook.admin.blueprint import bp
from labbook.admin.forms import (
    CatalogueApplyForm,
    CatalogueUploadForm,
    InstrumentForm,
    InstrumentStatusForm,
    NewInstrumentForm,
    NewServiceForm,
    ServiceForm,
)
from labbook.audit import services as audit
from labbook.booking import closures
from labbook.booking.manage_forms import BlackoutCancelForm
from labbook.booking.models import BookingState
from labbook.catalogue import loader
from labbook.catalogue import services as catalogue
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab, TestingService
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict, NotFound, Problem, ValidationError
from labbook.core.time import to_lab_time, utcnow
from labbook.extensions import db
from labbook.faults import services as faults
from labbook.http import page_arg
from labbook.i18n import localized
from labbook.notify import services as notify
from labbook.notify.channels import email_delivered
from labbook.web import FORM_REFUSED, keep_refused, refuse, restore_kept, show_errors


def _managed_lab(code: str) -> Lab:
    return catalogue.get_lab(db.session, code, managed_by=current_actor())


def _instrument(instrument_id: int) -> Instrument:
    instrument = db.session.get(Instrument, instrument_id)
    if instrument is None or not catalogue.can_edit_instrument(current_actor(), instrument):
        raise NotFound(_("No instrument with id %(id)d.", id=instrument_id))
    return instrument


def _service(service_id: int) -> TestingService:
    service = db.session.get(TestingService, service_id)
    if service is None or not catalogue.can_edit_service(current_actor(), service):
        raise NotFound(_("No testing service with id %(id)d.", id=service_id))
    return service


def _category_choices() -> list[SelectChoice]:
    return [SelectChoice("", _("Choose a category"))] + [
        SelectChoice(str(category.id), f"{localized(category, 'name')} · {category.key}")
        for category in catalogue.all_categories(db.session)]


def _show_problems(form: FlaskForm, problems: list[Problem]) -> None:
    """Besides the form's own errors (a number that is none), the service's problems with the
    other fields, so that every problem shows at once."""
    others = [p for p in problems if p.field not in form._fields or not form[p.field].errors]
    if others:
        show_errors(form, ValidationError(others[0].message, problems=others))


def _list_filter(statuses: list[str]) -> catalogue.CatalogueFilter:
    """The list's search and filters, narrowed to the labs the user manages."""
    criteria = catalogue.parse_filter(request.args, statuses=statuses)
    actor = current_actor()
    lab_ids = None if actor.is_admin else tuple(lab.id for lab in actor.managed_labs)
    return dataclasses.replace(criteria, lab_ids=lab_ids)


# -- instruments ------------------------------------------------------------------------------


@bp.get("/instruments")
def instruments():
    criteria = _list_filter(list(InstrumentStatus))
    page = catalogue.search_instruments(db.session, criteria, page=page_arg(),
                                        per_page=current_app.config["UI_PER_PAGE"])
    return render_template("admin/instruments.html", page=page, criteria=criteria,
                           labs=accounts.managed_labs(db.session, current_actor()),
                           statuses=list(InstrumentStatus))


def _instrument_form_page(form: InstrumentForm, *, instrument: Instrument | None = None,
                          lab: Lab | None = None, status: int = 200):
    today = to_lab_time(utcnow()).date()
    missing_rates = [tier for tier in PriceTier
                     if instrument is not None and instrument.current_rate(tier, today) is None]
    history = audit.history(db.session, instrument) if instrument is not None else []
    fault_log = faults.instrument_log(db.session, instrument, limit=10) \
        if instrument is not None else []
    return render_template("admin/instrument_form.html", form=form, instrument=instrument,
                           lab=lab or instrument.lab, missing_rates=missing_rates,
                           history=history, fault_log=fault_log), status


def _instrument_refused(form: InstrumentForm, *, lab: Lab | None = None,
                        instrument: Instrument | None = None):
    """Back to the form's page (Post/Redirect/Get), which finds the service's problems with it
    again, in the page's language (a kept message would stay in the language it was given); a
    form too large to keep is shown with this answer. ``lab`` for a new instrument."""
    if kept := keep_refused(form):
        return kept
    _show_problems(form, catalogue.instrument_problems(db.session, form.data, lab=lab))
    return _instrument_form_page(form, instrument=instrument, lab=lab, status=FORM_REFUSED)


@bp.route("/labs/<code>/instruments/new", methods=["GET", "POST"])
def new_instrument(code: str):
    lab = _managed_lab(code)
    # A new instrument starts with the model's default rules.
    form = NewInstrumentForm() if request.method == "POST" else NewInstrumentForm(
        formdata=None, **{name: Instrument.__table__.c[name].default.arg
                          for name in loader.RULE_RANGES})
    form.category_id.choices = _category_choices()
    if not form.validate_on_submit():
        if not form.is_submitted():
            if restore_kept(form):
                _show_problems(form, catalogue.instrument_problems(db.session, form.data,
                                                                   lab=lab))
            return _instrument_form_page(form, lab=lab)
        return _instrument_refused(form, lab=lab)
    try:
        with write_transaction(db.session):
            instrument = catalogue.create_instrument(db.session, current_actor(),
                                                     _managed_lab(code), form.data, now=utcnow())
            instrument_id, code = instrument.id, instrument.code
    except ValidationError:
        return _instrument_refused(form, lab=lab)
    flash(_("%(code)s was added. Set its hourly rates before it is booked: until then its "
            "bookings cost nothing.", code=code), "success")
    return redirect(url_for(".edit_instrument", instrument_id=instrument_id))


@bp.route("/instruments/<int:instrument_id>", methods=["GET", "POST"])
def edit_instrument(instrument_id: int):
    instrument = _instrument(instrument_id)
    form = InstrumentForm() if request.method == "POST" else InstrumentForm(
        formdata=None, obj=instrument)
    form.category_id.choices = _category_choices()
    if not form.validate_on_submit():
        if not form.is_submitted():
            if restore_kept(form):
                _show_problems(form, catalogue.instrument_problems(db.session, form.data))
            return _instrument_form_page(form, instrument=instrument)
        return _instrument_refused(form, instrument=instrument)
    try:
        with write_transaction(db.session):
            changes = catalogue.update_instrument(db.session, current_actor(),
                                                  _instrument(instrument_id), form.data,
                                                  now=utcnow())
    except ValidationError:
        return _instrument_refused(form, instrument=instrument)
    if changes:
        flash(_("The instrument was saved. New rules apply to bookings made from now on; "
                "bookings already made stay as they are."), "success")
    else:
        flash(_("Nothing was changed."), "info")
    return redirect(url_for(".edit_instrument", instrument_id=instrument_id))


def _status_page(instrument: Instrument, form: InstrumentStatusForm, status: int = 200):
    return render_template("admin/instrument_status.html", instrument=instrument, form=form,
                           upcoming=closures.bookings_ahead(db.session, instrument,
                                                            now=utcnow())), status


@bp.route("/instruments/<int:instrument_id>/status", methods=["GET", "POST"])
def instrument_status(instrument_id: int):
    instrument = _instrument(instrument_id)
    form = InstrumentStatusForm() if request.method == "POST" else InstrumentStatusForm(
        formdata=None, status=instrument.status.value, reason=instrument.status_reason)
    if not form.validate_on_submit():
        if not form.is_submitted():
            restore_kept(form)
            return _status_page(instrument, form)
        return keep_refused(form) or _status_page(instrument, form, FORM_REFUSED)
    try:
        with write_transaction(db.session):
            now = utcnow()
            instrument = _instrument(instrument_id)
            changed = catalogue.change_instrument_status(db.session, current_actor(), instrument,
                                                         form.status.data, form.reason.data,
                                                         now=now)
            hit = len(closures.bookings_ahead(db.session, instrument, now=now)) \
                if instrument.status != InstrumentStatus.AVAILABLE else 0
    except ValidationError as error:
        show_errors(form, error)
        return keep_refused(form) or _status_page(instrument, form, FORM_REFUSED)
    if not changed:
        flash(_("Nothing was changed."), "info")
    elif hit:
        flash(ngettext("The status was changed. %(num)d booking still holds time on the "
                       "instrument: choose below whether to cancel it.",
                       "The status was changed. %(num)d bookings still hold time on the "
                       "instrument: choose below which to cancel.", hit), "warning")
        return redirect(url_for(".instrument_bookings", instrument_id=instrument_id))
    else:
        flash(_("The status was changed."), "success")
    return redirect(url_for(".edit_instrument", instrument_id=instrument_id))


def _cancel_form(instrument: Instrument, *, formdata: bool) -> tuple[BlackoutCancelForm, list]:
    upcoming = closures.bookings_ahead(db.session, instrument, now=utcnow())
    cancellable = [b.id for b in upcoming if b.state != BookingState.IN_USE]
    form = BlackoutCancelForm() if formdata else BlackoutCancelForm(formdata=None,
                                                                    booking_ids=cancellable)
    form.booking_ids.choices = [SelectChoice(str(booking_id)) for booking_id in cancellable]
    return form, upcoming


def _bookings_page(instrument: Instrument, form: BlackoutCancelForm, upcoming: list,
                   status: int = 200):
    return render_template("admin/instrument_bookings.html", instrument=instrument, form=form,
                           upcoming=upcoming, selected=set(form.booking_ids.data or []),
                           email_delivered=email_delivered(current_app.config)), status


@bp.get("/instruments/<int:instrument_id>/bookings")
def instrument_bookings(instrument_id: int):
    instrument = _instrument(instrument_id)
    form, upcoming = _cancel_form(instrument, formdata=False)
    restore_kept(form)
    return _bookings_page(instrument, form, upcoming)


@bp.post("/instruments/<int:instrument_id>/bookings")
def cancel_instrument_bookings(instrument_id: int):
    instrument = _instrument(instrument_id)
    form, upcoming = _cancel_form(instrument, formdata=True)
    if not form.validate_on_submit():
        return keep_refused(form) or _bookings_page(instrument, form, upcoming, FORM_REFUSED)
    try:
        with write_transaction(db.session):
            now = utcnow()
            cancelled = closures.cancel_bookings_ahead(
                db.session, current_actor(), _instrument(instrument_id), form.booking_ids.data,
                notice=form.notice.data, now=now)
            told = notify.cancellations_told(db.session, cancelled, now=now)
    except ValidationError as error:
        show_errors(form, error)
        return keep_refused(form) or _bookings_page(
            instrument, form, closures.bookings_ahead(db.session, instrument, now=utcnow()),
            FORM_REFUSED)
    except Conflict as error:
        return refuse(error, url_for(".instrument_status", instrument_id=instrument_id))
    flash(ngettext("%(num)d booking was cancelled.", "%(num)d bookings were cancelled.",
                   len(cancelled)), "success")
    if told:
        flash(notify.queued_emails_notice(told), "info")
    return redirect(url_for(".instrument_bookings", instrument_id=instrument_id))


# -- testing services -------------------------------------------------------------------------


@bp.get("/services")
def services():
    criteria = _list_filter(["active", "inactive"])
    page = catalogue.search_services(db.session, criteria, page=page_arg(),
                                     per_page=current_app.config["UI_PER_PAGE"])
    return render_template("admin/services.html", page=page, criteria=criteria,
                           labs=accounts.managed_labs(db.session, current_actor()))


def _service_form(form_class: type[ServiceForm], lab: Lab, **defaults) -> ServiceForm:
    form = form_class() if request.method == "POST" else form_class(formdata=None, **defaults)
    form.category_id.choices = _category_choices()
    form.instrument_ids.choices = [
        SelectChoice(str(i.id), f"{i.code} · {localized(i, 'name')}")
        for i in sorted(lab.instruments, key=lambda i: i.code)]
    return form


def _service_form_page(form: ServiceForm, lab: Lab, *, service: TestingService | None = None,
                       status: int = 200):
    history = audit.history(db.session, service) if service is not None else []
    return render_template("admin/service_form.html", form=form, lab=lab, service=service,
                           history=history), status


def _service_refused(form: ServiceForm, lab: Lab, *, service: TestingService | None = None):
    """Back to the form's page (Post/Redirect/Get), which finds the service's problems with it
    again, in the page's language; a form too large to keep is shown with this answer."""
    if kept := keep_refused(form):
        return kept
    _show_problems(form, catalogue.service_problems(db.session, lab, form.data, service=service))
    return _service_form_page(form, lab, service=service, status=FORM_REFUSED)


@bp.route("/labs/<code>/services/new", methods=["GET", "POST"])
def new_service(code: str):
    lab = _managed_lab(code)
    form = _service_form(NewServiceForm, lab, express_surcharge_percent=0)
    if not form.validate_on_submit():
        if not form.is_submitted():
            if restore_kept(form):
                _show_problems(form, catalogue.service_problems(db.session, lab, form.data))
            return _service_form_page(form, lab)
        return _service_refused(form, lab)
    try:
        with write_transaction(db.session):
            service = catalogue.create_service(db.session, current_actor(), _managed_lab(code),
                                               form.data, now=utcnow())
            service_id, service_code = service.id, service.code
    except ValidationError:
        return _service_refused(form, lab)
    flash(_("%(code)s was added and is offered now.", code=service_code), "success")
    return redirect(url_for(".edit_service", service_id=service_id))


@bp.route("/services/<int:service_id>", methods=["GET", "POST"])
def edit_service(service_id: int):
    service = _service(service_id)
    form = _service_form(ServiceForm, service.lab, obj=service,
                         instrument_ids=[i.id for i in service.instruments])
    if not form.validate_on_submit():
        if not form.is_submitted():
            if restore_kept(form):
                _show_problems(form, catalogue.service_problems(db.session, service.lab,
                                                                form.data, service=service))
            return _service_form_page(form, service.lab, service=service)
        return _service_refused(form, service.lab, service=service)
    try:
        with write_transaction(db.session):
            changes = catalogue.update_service(db.session, current_actor(), _service(service_id),
                                               form.data, now=utcnow())
    except ValidationError:
        return _service_refused(form, service.lab, service=service)
    flash(_("The testing service was saved.") if changes else _("Nothing was changed."),
          "success" if changes else "info")
    return redirect(url_for(".edit_service", service_id=service_id))


def _set_offered(service_id: int, offered: bool):
    # The CSRF token of the button's form is checked for every POST by CSRFProtect.
    with write_transaction(db.session):
        catalogue.set_service_offered(db.session, current_actor(), _service(service_id),
                                      offered=offered, now=utcnow())
    flash(_("The testing service is offered again.") if offered else _(
        "The testing service is retired: it takes no new requests; requests under way go on."),
        "success")
    return redirect(url_for(".edit_service", service_id=service_id))


@bp.post("/services/<int:service_id>/retire")
def retire_service(service_id: int):
    return _set_offered(service_id, False)


@bp.post("/services/<int:service_id>/offer")
def offer_service(service_id: int):
    return _set_offered(service_id, True)


# -- importing the catalogue files ------------------------------------------------------------


def _upload_page(form: CatalogueUploadForm, errors: list[loader.RowError] | None = None,
                 status: int = 200):
    return render_template("admin/catalogue_upload.html", form=form, errors=errors or []), \
        status


def _preview_page(preview: catalogue.ImportPreview, form: CatalogueApplyForm | None = None,
                  status: int = 200):
    form = form or CatalogueApplyForm(formdata=None)
    form.payload.data, form.fingerprint.data = preview.payload, preview.fingerprint
    response = make_response(render_template(
        "admin/catalogue_preview.html", preview=preview, form=form, kinds=loader.KINDS), status)
    # The page carries the files: not for any cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/catalogue/import")
def catalogue_import():
    require(catalogue.can_import_catalogue(current_actor()))
    form = CatalogueUploadForm(formdata=None)
    restore_kept(form)
    return _upload_page(form)


@bp.post("/catalogue/import")
def catalogue_preview():
    admin = require(catalogue.can_import_catalogue(current_actor()))
    form = CatalogueUploadForm()
    if not form.validate_on_submit():
        return keep_refused(form) or _upload_page(form, status=FORM_REFUSED)
    uploads = [(upload.filename or "", upload.read(catalogue.MAX_IMPORT_BYTES + 1))
               for upload in form.files.data]
    try:
        # The preview writes inside a savepoint it rolls back: the write lock keeps it exact.
        with write_transaction(db.session):
            preview = catalogue.preview_import(db.session, admin, uploads,
                                               today=to_lab_time(utcnow()).date())
    except loader.CatalogueError as error:
        # Refused files are shown with this answer, not kept for the page: no page can be
        # handed the files again, and their problems (the rows at fault) are read from them.
        return _upload_page(form, error.errors, FORM_REFUSED)
    except ValidationError as error:
        show_errors(form, error)
        return _upload_page(form, status=FORM_REFUSED)
    return _preview_page(preview)


@bp.post("/catalogue/import/apply")
def catalogue_apply():
    admin = require(catalogue.can_import_catalogue(current_actor()))
    form = CatalogueApplyForm()
    if form.validate_on_submit():
        try:
            with write_transaction(db.session):
                report = catalogue.apply_import(db.session, admin, form.payload.data,
                                                form.fingerprint.data, now=utcnow())
        except catalogue.ImportChanged as error:
            form.form_errors.append(error.message)
            form.confirm.data = False
        except (loader.CatalogueError, ValidationError):
            return _files_lost()
        else:
            flash(_("The catalogue files were imported: %(created)d rows added, %(updated)d "
                    "changed, %(unchanged)d unchanged.", created=report.created.total(),
                    updated=report.updated.total(), unchanged=report.unchanged.total()),
                  "success")
            return redirect(url_for(".catalogue_import"))
    # Not confirmed, or the catalogue changed since the preview: preview the files anew, with
    # this answer (the preview has no address of its own, and the files it carries are too
    # large to keep for one).
    try:
        with write_transaction(db.session):
            preview = catalogue.preview_again(db.session, admin, form.payload.data or "",
                                              today=to_lab_time(utcnow()).date())
    except (loader.CatalogueError, ValidationError):
        return _files_lost()
    return _preview_page(preview, form, FORM_REFUSED)


def _files_lost():
    """The confirmation came without the previewed files (a tampered or truncated form)."""
    flash(_("The files to import were lost on the way; upload them again."), "danger")
    return redirect(url_for(".catalogue_import"))
