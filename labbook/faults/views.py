"""Pages of the instrument log: users report a problem (from an instrument's or a booking's
page); the lab's managers see the reports, answer them, put the instrument into maintenance
and close them, and log breakdowns and maintenance themselves.

Entries of a lab the user does not manage answer 404, as if they did not exist.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from labbook.accounts.access import current_actor, current_manager
from labbook.booking import closures
from labbook.catalogue import services as catalogue
from labbook.catalogue.models import Instrument, InstrumentStatus
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from labbook.core.time import LAB_TZ, utcnow
from labbook.extensions import db
from labbook.faults import services
from labbook.faults.forms import (
    AnswerForm,
    CloseForm,
    LogEntryForm,
    MaintenanceForm,
    ReportProblemForm,
)
from labbook.faults.models import FaultState, InstrumentFault
from labbook.http import int_arg
from labbook.web import FORM_REFUSED, keep_refused, refuse, restore_kept, show_errors

bp = Blueprint("faults", __name__)


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    """A lab-time form value as an aware UTC moment."""
    return None if moment is None else moment.replace(tzinfo=LAB_TZ).astimezone(dt.UTC)


# -- reporting a problem ----------------------------------------------------------------------


def _report_page(instrument: Instrument, form: ReportProblemForm, booking_id: int | None,
                 status: int = 200):
    reports = services.own_reports(db.session, current_actor(), instrument)
    return render_template("faults/report.html", instrument=instrument, form=form,
                           booking_id=booking_id, reports=reports), status


@bp.route("/instruments/<int:instrument_id>/report-problem", methods=["GET", "POST"])
@login_required
def report(instrument_id: int):
    instrument = catalogue.get_instrument(db.session, instrument_id)
    booking_id = int_arg("booking", 0) or None
    if request.method != "POST":
        form = ReportProblemForm(formdata=None)
        restore_kept(form)
        return _report_page(instrument, form, booking_id)
    form = ReportProblemForm()
    if not form.validate_on_submit():
        return keep_refused(form) or _report_page(instrument, form, booking_id, FORM_REFUSED)
    actor = current_actor()
    try:
        with write_transaction(db.session):
            booking = services.reportable_booking(db.session, actor, instrument, booking_id)
            services.report_problem(db.session, actor, instrument,
                                    description=form.description.data, booking=booking,
                                    now=utcnow())
    except ValidationError as error:
        show_errors(form, error, otherwise=form.description)
        return keep_refused(form) or _report_page(instrument, form, booking_id, FORM_REFUSED)
    flash(_("Thank you: the lab's managers have your report and will answer you by email."),
          "success")
    return redirect(url_for(".report", instrument_id=instrument_id))


# -- the managers' side -----------------------------------------------------------------------


@bp.get("/manage/faults")
@login_required
def index():
    actor = current_manager()
    return render_template(
        "faults/index.html",
        open_faults=services.managed_faults(db.session, actor),
        closed_faults=services.managed_faults(db.session, actor, state=FaultState.CLOSED,
                                              limit=50))


#: The detail page shows the maintenance and close forms side by side, both with a "kind":
#: their prefixes keep the fields' HTML ids (and the labels pointing at them) apart.
MAINTENANCE_PREFIX, CLOSE_PREFIX = "maintenance", "close"


def _fault(fault_id: int) -> InstrumentFault:
    return services.get_fault(db.session, current_manager(), fault_id)


def _detail_page(fault: InstrumentFault, *, answer: AnswerForm | None = None,
                 maintenance: MaintenanceForm | None = None, close: CloseForm | None = None,
                 status: int = 200):
    if answer is None:
        answer = AnswerForm(formdata=None, answer=fault.answer)
        restore_kept(answer)
    if maintenance is None:
        maintenance = MaintenanceForm(formdata=None, prefix=MAINTENANCE_PREFIX, kind="breakdown",
                                      reason=fault.instrument.status_reason or "")
        restore_kept(maintenance)
    if close is None:
        close = CloseForm(formdata=None, prefix=CLOSE_PREFIX, kind=fault.kind.value,
                          cause=fault.cause, fix=fault.fix)
        restore_kept(close)
    upcoming = closures.bookings_ahead(db.session, fault.instrument, now=utcnow()) \
        if fault.instrument.status != InstrumentStatus.AVAILABLE else []
    return render_template("faults/detail.html", fault=fault, answer_form=answer,
                           maintenance_form=maintenance, close_form=close,
                           upcoming=upcoming), status


@bp.get("/manage/faults/<int:fault_id>")
@login_required
def detail(fault_id: int):
    return _detail_page(_fault(fault_id))


@bp.post("/manage/faults/<int:fault_id>/answer")
@login_required
def answer(fault_id: int):
    fault = _fault(fault_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        return keep_refused(form, url_for(".detail", fault_id=fault_id)) \
            or _detail_page(fault, answer=form, status=FORM_REFUSED)
    try:
        with write_transaction(db.session):
            services.answer_fault(db.session, current_actor(), fault_id,
                                  answer=form.answer.data, now=utcnow())
    except ValidationError as error:
        show_errors(form, error, otherwise=form.answer)
        return keep_refused(form, url_for(".detail", fault_id=fault_id)) \
            or _detail_page(fault, answer=form, status=FORM_REFUSED)
    except Conflict as error:
        return refuse(error, url_for(".detail", fault_id=fault_id))
    flash(_("Your answer was sent."), "success")
    return redirect(url_for(".detail", fault_id=fault_id))


@bp.post("/manage/faults/<int:fault_id>/maintenance")
@login_required
def maintenance(fault_id: int):
    fault = _fault(fault_id)
    form = MaintenanceForm(prefix=MAINTENANCE_PREFIX)
    if not form.validate_on_submit():
        return keep_refused(form, url_for(".detail", fault_id=fault_id)) \
            or _detail_page(fault, maintenance=form, status=FORM_REFUSED)
    try:
        with write_transaction(db.session):
            now = utcnow()
            fault = services.start_maintenance(db.session, current_actor(), fault_id,
                                               kind=form.kind.data, reason=form.reason.data,
                                               now=now)
            hit = len(closures.bookings_ahead(db.session, fault.instrument, now=now))
            instrument_id = fault.instrument_id
    except ValidationError as error:
        show_errors(form, error, otherwise=form.reason)
        return keep_refused(form, url_for(".detail", fault_id=fault_id)) \
            or _detail_page(_fault(fault_id), maintenance=form, status=FORM_REFUSED)
    except (Conflict, PermissionDenied) as error:
        return refuse(error, url_for(".detail", fault_id=fault_id))
    if hit:
        flash(_("The instrument is under maintenance. Bookings still hold time on it: choose "
                "below which to cancel."), "warning")
        return redirect(url_for("admin.instrument_bookings", instrument_id=instrument_id))
    flash(_("The instrument is under maintenance; no booking holds time on it."), "success")
    return redirect(url_for(".detail", fault_id=fault_id))


@bp.post("/manage/faults/<int:fault_id>/close")
@login_required
def close(fault_id: int):
    fault = _fault(fault_id)
    form = CloseForm(prefix=CLOSE_PREFIX)
    if not form.validate_on_submit():
        return keep_refused(form, url_for(".detail", fault_id=fault_id)) \
            or _detail_page(fault, close=form, status=FORM_REFUSED)
    try:
        with write_transaction(db.session):
            services.close_fault(db.session, current_actor(), fault_id, kind=form.kind.data,
                                 cause=form.cause.data, fix=form.fix.data,
                                 back_in_service=form.back_in_service.data,
                                 down_until=_utc(form.down_until.data), now=utcnow())
    except ValidationError as error:
        show_errors(form, error, otherwise=form.fix)
        return keep_refused(form, url_for(".detail", fault_id=fault_id)) \
            or _detail_page(_fault(fault_id), close=form, status=FORM_REFUSED)
    except Conflict as error:
        return refuse(error, url_for(".detail", fault_id=fault_id))
    flash(_("The report was closed."), "success")
    return redirect(url_for(".detail", fault_id=fault_id))


def _managed_instrument(instrument_id: int) -> Instrument:
    actor = current_manager()
    instrument = db.session.get(Instrument, instrument_id)
    if instrument is None or not services.can_manage(actor, instrument):
        raise NotFound(_("No instrument with id %(id)d.", id=instrument_id))
    return instrument


@bp.route("/manage/instruments/<int:instrument_id>/log", methods=["GET", "POST"])
@login_required
def log(instrument_id: int):
    instrument = _managed_instrument(instrument_id)
    if request.method != "POST":
        form = LogEntryForm(formdata=None)
        restore_kept(form)
        return _log_page(instrument, form)
    form = LogEntryForm()
    if form.validate_on_submit():
        try:
            with write_transaction(db.session):
                services.log_entry(db.session, current_actor(), instrument,
                                   kind=form.kind.data, description=form.description.data,
                                   down_from=_utc(form.down_from.data),
                                   down_until=_utc(form.down_until.data),
                                   cause=form.cause.data, fix=form.fix.data, now=utcnow())
        except ValidationError as error:
            show_errors(form, error, otherwise=form.description)
        else:
            flash(_("The entry was added to the instrument's log."), "success")
            return redirect(url_for(".log", instrument_id=instrument_id))
    return keep_refused(form) or _log_page(instrument, form, FORM_REFUSED)


def _log_page(instrument: Instrument, form: LogEntryForm, status: int = 200):
    return render_template("faults/log.html", instrument=instrument, form=form,
                           entries=services.instrument_log(db.session, instrument)), status
