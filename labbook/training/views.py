"""Training pages: ask for training, join a session; the lab's managers arrange sessions,
enrol people, record attendance and exams."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, url_for
from flask import request as http_request
from flask_babel import gettext as _
from flask_login import login_required

from labbook.accounts import services as accounts
from labbook.accounts.access import current_actor
from labbook.catalogue import services as catalogue
from labbook.catalogue.models import Instrument
from labbook.core.engine import write_transaction
from labbook.core.errors import DomainError
from labbook.core.time import LAB_TZ, to_lab_time, utcnow
from labbook.extensions import db
from labbook.i18n import localized
from labbook.training import services as training
from labbook.training.forms import DeclineForm, EnrolForm, SessionForm, TrainingRequestForm
from labbook.web import FORM_REFUSED, keep_refused, refuse, restore_kept, safe_next, show_errors

bp = Blueprint("training", __name__, url_prefix="/training")
bp.before_request(login_required(lambda: None))


def _instrument_choices(instruments: list[Instrument]) -> list[tuple[int, str]]:
    return [(i.id, f"{i.code} · {localized(i, 'name')}") for i in instruments]


def _request_form() -> TrainingRequestForm:
    form = TrainingRequestForm()
    form.instrument_id.choices = _instrument_choices(training.trainable_instruments(db.session))
    return form


def _session_form(labs) -> SessionForm:
    # Prefixed: its fields' HTML ids (instrument_id, the CSRF token) would otherwise be those
    # of the request form on the same page.
    form = SessionForm(prefix="session")
    form.instrument_id.choices = _instrument_choices(
        [i for lab in labs for i in sorted(lab.instruments, key=lambda i: i.code)])
    return form


def _index_page(request_form: TrainingRequestForm | None = None,
                session_form: SessionForm | None = None, status: int = 200):
    actor = current_actor()
    now = utcnow()
    labs = accounts.managed_labs(db.session, actor)
    if request_form is None:
        request_form = _request_form()
        restore_kept(request_form)
    if session_form is None:
        session_form = _session_form(labs)
        restore_kept(session_form)
    return render_template(
        "training/index.html", now=now, request_form=request_form,
        session_form=session_form, manages=bool(labs),
        own_requests=training.own_requests(db.session, actor),
        own_enrolments=training.own_enrolments(db.session, actor),
        sessions=training.upcoming_sessions(db.session, now=now),
        to_arrange=training.open_requests(db.session, actor),
        decline_form=DeclineForm(formdata=None)), status


@bp.get("/")
def index():
    return _index_page()


@bp.post("/requests")
def create_request():
    actor = current_actor()
    form = _request_form()
    if not form.validate_on_submit():
        return keep_refused(form, url_for(".index")) \
            or _index_page(request_form=form, status=FORM_REFUSED)
    try:
        with write_transaction(db.session):
            instrument = catalogue.get_instrument(db.session, form.instrument_id.data)
            training.request_training(db.session, actor, instrument, note=form.note.data or "",
                                      now=utcnow())
    except DomainError as error:
        show_errors(form, error, otherwise=form.instrument_id)
        return keep_refused(form, url_for(".index")) \
            or _index_page(request_form=form, status=FORM_REFUSED)
    flash(_("Your request was sent to the lab's managers."), "success")
    return redirect(url_for(".index"))


@bp.post("/instruments/<int:instrument_id>/request")
def request_for_instrument(instrument_id: int):
    """"Request training" right where a booking was refused for want of it: asks the lab's
    managers and goes back to the page it was pressed on (``next``)."""
    actor = current_actor()
    back = safe_next(http_request.form.get("next"), url_for(".index"))
    now = utcnow()
    try:
        with write_transaction(db.session):
            instrument = catalogue.get_instrument(db.session, instrument_id)
            asked = training.request_training(db.session, actor, instrument, now=now)
            name, asked_at = localized(instrument, "name"), asked.created_at
    except DomainError as error:
        return refuse(error, back)
    if asked_at < now:
        flash(_("You asked for training on %(instrument)s on %(when)s already; the lab's "
                "managers have your request.", instrument=name,
                when=to_lab_time(asked_at).strftime("%Y-%m-%d %H:%M")), "info")
    else:
        flash(_("Your request for training on %(instrument)s was sent to the lab's managers.",
                instrument=name), "success")
    return redirect(back)


@bp.post("/requests/<int:request_id>/withdraw")
def withdraw_request(request_id: int):
    actor = current_actor()
    try:
        with write_transaction(db.session):
            request = training.get_request(db.session, actor, request_id)
            training.withdraw_request(db.session, actor, request, now=utcnow())
    except DomainError as error:
        return refuse(error, url_for(".index"))
    flash(_("The request was withdrawn."), "success")
    return redirect(url_for(".index"))


@bp.post("/requests/<int:request_id>/decline")
def decline_request(request_id: int):
    actor = current_actor()
    form = DeclineForm()
    try:
        if not form.validate_on_submit():
            raise DomainError(" ".join(str(error) for error in form.note.errors))
        with write_transaction(db.session):
            request = training.get_request(db.session, actor, request_id)
            training.decline_request(db.session, actor, request, note=form.note.data,
                                     now=utcnow())
    except DomainError as error:
        return refuse(error, url_for(".index"))
    flash(_("The request was declined; its author is told why."), "success")
    return redirect(url_for(".index"))


@bp.post("/sessions")
def create_session():
    actor = current_actor()
    labs = accounts.managed_labs(db.session, actor)
    form = _session_form(labs)
    if not form.validate_on_submit():
        return keep_refused(form, url_for(".index")) \
            or _index_page(session_form=form, status=FORM_REFUSED)
    starts_at = dt.datetime.combine(form.date.data, form.start_time.data, LAB_TZ)
    ends_at = dt.datetime.combine(form.date.data, form.end_time.data, LAB_TZ)
    try:
        with write_transaction(db.session):
            instrument = catalogue.get_instrument(db.session, form.instrument_id.data)
            created = training.schedule_session(
                db.session, actor, instrument, starts_at=starts_at.astimezone(dt.UTC),
                ends_at=ends_at.astimezone(dt.UTC), trainer_email=form.trainer_email.data,
                capacity=form.capacity.data, location=form.location.data or "",
                valid_days=form.valid_days.data, now=utcnow())
            session_id = created.id
    except DomainError as error:
        show_errors(form, error, {"starts_at": form.start_time, "ends_at": form.end_time},
                    otherwise=form.instrument_id)
        return keep_refused(form, url_for(".index")) \
            or _index_page(session_form=form, status=FORM_REFUSED)
    flash(_("The session was scheduled; those waiting for training on it are told."),
          "success")
    return redirect(url_for(".session_detail", session_id=session_id))


def _session_page(session_id: int, enrol_form: EnrolForm | None = None, status: int = 200):
    actor = current_actor()
    training_session = training.get_session(db.session, session_id)
    own = next((e for e in training_session.enrolments if e.user_id == actor.id), None)
    if enrol_form is None:
        enrol_form = EnrolForm(formdata=None)
        restore_kept(enrol_form)
    return render_template(
        "training/session.html", training_session=training_session, now=utcnow(),
        manages=training.can_manage(actor, training_session.instrument), own=own,
        enrol_form=enrol_form), status


@bp.get("/sessions/<int:session_id>")
def session_detail(session_id: int):
    return _session_page(session_id)


@bp.post("/sessions/<int:session_id>/join")
def join_session(session_id: int):
    actor = current_actor()
    back = url_for(".session_detail", session_id=session_id)
    try:
        with write_transaction(db.session):
            training.enrol(db.session, actor, training.get_session(db.session, session_id),
                           now=utcnow())
    except DomainError as error:
        return refuse(error, back)
    flash(_("You have a place in the session."), "success")
    return redirect(back)


@bp.post("/sessions/<int:session_id>/enrol")
def enrol_someone(session_id: int):
    actor = current_actor()
    training.get_session(db.session, session_id)  # no such session: 404, not a kept form
    form = EnrolForm()
    if not form.validate_on_submit():
        return keep_refused(form, url_for(".session_detail", session_id=session_id)) \
            or _session_page(session_id, form, FORM_REFUSED)
    try:
        with write_transaction(db.session):
            user = training.user_by_email(db.session, form.user_email.data, "user_email")
            training.enrol(db.session, actor, training.get_session(db.session, session_id),
                           user=user, now=utcnow())
    except DomainError as error:
        show_errors(form, error, otherwise=form.user_email)
        return keep_refused(form, url_for(".session_detail", session_id=session_id)) \
            or _session_page(session_id, form, FORM_REFUSED)
    flash(_("%(email)s is enrolled.", email=form.user_email.data), "success")
    return redirect(url_for(".session_detail", session_id=session_id))


def _enrolment_action(enrolment_id: int, change, message: str, **kwargs):
    actor = current_actor()
    try:
        with write_transaction(db.session):
            enrolment = training.get_enrolment(db.session, actor, enrolment_id)
            back = url_for(".session_detail", session_id=enrolment.session_id)
            change(db.session, actor, enrolment, now=utcnow(), **kwargs)
    except DomainError as error:
        return refuse(error, url_for(".index"))
    flash(message, "success")
    return redirect(back)


@bp.post("/enrolments/<int:enrolment_id>/cancel")
def cancel_enrolment(enrolment_id: int):
    return _enrolment_action(enrolment_id, training.cancel_enrolment,
                             _("The place was given back."))


@bp.post("/enrolments/<int:enrolment_id>/attended")
def mark_attended(enrolment_id: int):
    return _enrolment_action(enrolment_id, training.record_attendance,
                             _("Attendance recorded."), attended=True)


@bp.post("/enrolments/<int:enrolment_id>/absent")
def mark_absent(enrolment_id: int):
    return _enrolment_action(enrolment_id, training.record_attendance,
                             _("Attendance recorded."), attended=False)


@bp.post("/enrolments/<int:enrolment_id>/passed")
def exam_passed(enrolment_id: int):
    return _enrolment_action(enrolment_id, training.record_exam,
                             _("Exam passed: the training record is granted."), passed=True)


@bp.post("/enrolments/<int:enrolment_id>/failed")
def exam_failed(enrolment_id: int):
    return _enrolment_action(enrolment_id, training.record_exam,
                             _("Exam not passed: recorded."), passed=False)
