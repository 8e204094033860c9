"""Lab managers' pages: approval queue, the lab's day of use, blackouts, qualifications.

Open to lab managers (for the labs they manage) and admins (every lab). Objects of a lab the
user does not manage answer 404, as if they did not exist.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, HiddenField, SelectChoice, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.validators import ValidationError as FieldError

from labbook.accounts import services as accounts
from labbook.accounts.access import current_actor, require_manager
from labbook.billing import estimates
from labbook.booking import (
    attendance,
    changes,
    closures,
    discipline,
    services,
    training,
    waitlist,
)
from labbook.booking.labels import STATE_LABELS
from labbook.booking.manage_forms import (
    BlackoutCancelForm,
    BlackoutForm,
    DecisionForm,
    GrantQualificationForm,
    LabBookingRulesForm,
    LabContactForm,
    LiftSuspensionForm,
    RevokeQualificationsForm,
)
from labbook.booking.models import Blackout, BookingState
from labbook.catalogue import services as catalogue
from labbook.catalogue.models import Instrument, Lab
from labbook.core.engine import write_transaction
from labbook.core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from labbook.core.ids import database_id
from labbook.core.time import LAB_TZ, is_plausible_date, to_lab_time, utcnow
from labbook.extensions import db
from labbook.http import day_arg, read_day
from labbook.i18n import lazy_gettext as _l
from labbook.i18n import localized
from labbook.notify import services as notify
from labbook.notify.channels import email_delivered
from labbook.web import FORM_REFUSED, keep_refused, refuse, restore_kept, safe_next, show_errors

bp = Blueprint("manage", __name__, url_prefix="/manage")
bp.before_request(require_manager)


# -- approvals --------------------------------------------------------------------------------


@bp.get("/approvals")
def approvals():
    form = DecisionForm(formdata=None)
    restore_kept(form)
    return _approvals_page(form)


def _approvals_page(form: DecisionForm, status: int = 200):
    actor = current_actor()
    lab_code = request.args.get("lab") or None
    entries = services.approval_overview(db.session, actor, lab_code)
    labs = accounts.managed_labs(db.session, actor)
    shown_lab_ids = [lab.id for lab in labs if not lab_code or lab.code == lab_code.upper()]
    pending_changes = changes.pending_changes(db.session, shown_lab_ids)
    return render_template("manage/approvals.html", entries=entries, form=form,
                           waiting=waitlist.lines_of_labs(db.session, shown_lab_ids),
                           prices=estimates.booking_prices(
                               db.session, [entry.booking for entry in entries], actor,
                               now=utcnow()),
                           pending_changes=pending_changes,
                           labs=accounts.managed_labs(db.session, actor), lab_code=lab_code,
                           selected=set(form.booking_ids.data or [])), status


@bp.post("/approvals")
def decide():
    actor = current_actor()
    form = DecisionForm()
    if not form.validate_on_submit():
        return keep_refused(form) or _approvals_page(form, FORM_REFUSED)
    approve = form.action.data == "approve"
    try:
        with write_transaction(db.session):
            decisions = services.decide_bookings(db.session, actor, form.booking_ids.data,
                                                 approve=approve, note=form.note.data or "",
                                                 now=utcnow())
    except ValidationError as error:
        show_errors(form, error, {"note": form.note})
        return keep_refused(form) or _approvals_page(form, FORM_REFUSED)
    for decision in decisions:
        flash(*_decision_message(decision, approve))
    return redirect(url_for(".approvals", lab=request.args.get("lab") or None))


def _decision_message(decision: services.Decision, approve: bool) -> tuple[str, str]:
    booking = decision.booking
    if booking is None:
        return _("Booking #%(id)d was not found in the labs you manage.",
                 id=decision.booking_id), "danger"
    details = {"id": booking.id, "instrument": localized(booking.instrument, "name"),
               "start": to_lab_time(booking.start_at).strftime("%Y-%m-%d %H:%M"),
               "name": booking.user.name}
    if decision.is_done:
        if approve:
            return _("Approved booking #%(id)d: %(instrument)s, %(start)s, %(name)s.",
                     **details), "success"
        return _("Rejected booking #%(id)d: %(instrument)s, %(start)s, %(name)s.",
                 **details), "success"
    if decision.was_already_decided:
        by = booking.cancelled_by if booking.state == BookingState.CANCELLED \
            else booking.decided_by
        return _("Booking #%(id)d had already been %(state)s by %(by)s; it was left as it is.",
                 id=booking.id, state=STATE_LABELS[booking.state],
                 by=by.name if by else _("the system")), "warning"
    return _("Booking #%(id)d: %(message)s", id=booking.id,
             message=" ".join(decision.error.messages) if decision.error else ""), "danger"


# -- the lab's day: check-in, check-out, corrections ----------------------------------------

#: What a datetime-local control sends (lab time, no offset); the first is what it is given.
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


def _plausible_moment(_form: FlaskForm, field: DateTimeLocalField) -> None:
    if field.data is not None and not is_plausible_date(field.data.date()):
        raise FieldError(_l("Give a date between 2000 and 2099."))


class ActualTimesForm(FlaskForm):
    """A manager's correction of a booking's actual times (lab time), with a reason.

    One per booking on the day page, told apart by a ``b<id>`` prefix. The page carries the
    CSRF token that CSRFProtect checks for every POST, so the form itself does not.
    """

    class Meta:
        csrf = False

    date = HiddenField()
    checked_in_at = DateTimeLocalField(
        _l("Checked in (lab time)"), format=LOCAL_FORMATS,
        validators=[InputRequired(message=_l("Give the time of the check-in.")),
                    _plausible_moment],
        invalid_value_message=_l("Enter a date and time like 2026-12-31 09:30."))
    checked_out_at = DateTimeLocalField(
        _l("Checked out (lab time)"), format=LOCAL_FORMATS,
        validators=[Optional(), _plausible_moment],
        invalid_value_message=_l("Enter a date and time like 2026-12-31 17:30."),
        description=_l("Leave empty while the booking is still in use."))
    reason = StringField(_l("Reason for the correction"), validators=[
        DataRequired(message=_l("Say why the times are corrected.")),
        Length(max=services.MAX_NOTE)])


def _form_prefix(booking_id: int) -> str:
    return f"b{booking_id}"


def _lab_today(lab: Lab) -> dt.date:
    return utcnow().astimezone(ZoneInfo(lab.timezone)).date()


def _local(moment: dt.datetime | None, tz: ZoneInfo) -> dt.datetime | None:
    """An aware moment as the naive lab time a datetime-local control shows."""
    return moment.astimezone(tz).replace(tzinfo=None) if moment else None


def _aware(value: dt.datetime | None, tz: ZoneInfo) -> dt.datetime | None:
    return value.replace(tzinfo=tz).astimezone(dt.UTC) if value else None


def _today_page(lab: Lab, day: dt.date, *, failed: tuple[int, ActualTimesForm] | None = None,
                status: int = 200):
    actor = current_actor()
    tz = ZoneInfo(lab.timezone)
    now = utcnow()
    rows = []
    for booking in attendance.bookings_of_day(db.session, lab, day):
        if failed is not None and failed[0] == booking.id:
            form = failed[1]
        else:
            form = ActualTimesForm(formdata=None, prefix=_form_prefix(booking.id),
                                   date=day.isoformat(),
                                   checked_in_at=_local(booking.checked_in_at, tz),
                                   checked_out_at=_local(booking.checked_out_at, tz))
        rows.append({
            "booking": booking, "form": form,
            "is_failed": failed is not None and failed[0] == booking.id,
            "can_check_in": attendance.can_check_in(actor, booking, now=now),
            "can_check_out": attendance.can_check_out(actor, booking),
            "can_correct": attendance.can_correct_actual_times(actor, booking),
            "can_mark_no_show": attendance.can_mark_no_show(actor, booking, now=now),
        })
    today = now.astimezone(tz).date()
    query = {"date": day.isoformat()} if day != today else {}
    return render_template(
        "manage/today.html", lab=lab, day=day, today=today, rows=rows,
        labs=accounts.managed_labs(db.session, actor),
        previous_day=day - dt.timedelta(days=1), next_day=day + dt.timedelta(days=1),
        here=url_for(".today", code=lab.code, **query),
        early_minutes=attendance.CHECK_IN_EARLY_MINUTES,
        grace_minutes=attendance.AUTO_CLOSE_GRACE_MINUTES), status


@bp.get("/today")
def today_default():
    labs = accounts.managed_labs(db.session, current_actor())
    if not labs:
        raise NotFound(_("There is no lab to show."))
    return redirect(url_for(".today", code=labs[0].code))


@bp.get("/labs/<code>/today")
def today(code: str):
    lab = catalogue.get_lab(db.session, code, managed_by=current_actor())
    return _today_page(lab, day_arg("date", _lab_today(lab)), failed=_kept_correction())


#: The query parameter of the day page that names the booking whose correction was refused:
#: the page holds one correction form per booking, and only that one is shown again.
CORRECTING = "correcting"


def _kept_correction() -> tuple[int, ActualTimesForm] | None:
    """The refused correction of a booking's actual times kept for this page, if any."""
    booking_id = request.args.get(CORRECTING, type=database_id)
    if booking_id is None:
        return None
    form = ActualTimesForm(formdata=None, prefix=_form_prefix(booking_id))
    return (booking_id, form) if restore_kept(form) else None


@bp.post("/bookings/<int:booking_id>/actual-times")
def correct_actual_times(booking_id: int):
    actor = current_actor()
    booking = services.get_managed_booking(db.session, actor, booking_id)
    lab = booking.instrument.lab
    tz = ZoneInfo(lab.timezone)
    form = ActualTimesForm(prefix=_form_prefix(booking_id))
    day = read_day(form.date.data) or booking.start_at.astimezone(tz).date()
    query = {"date": day.isoformat()} if day != _lab_today(lab) else {}
    back = url_for(".today", code=lab.code, **query)
    page = url_for(".today", code=lab.code, **query, **{CORRECTING: booking_id})
    if not form.validate_on_submit():
        return keep_refused(form, page) \
            or _today_page(lab, day, failed=(booking_id, form), status=FORM_REFUSED)
    try:
        with write_transaction(db.session):
            booking = services.get_managed_booking(db.session, actor, booking_id)
            attendance.correct_actual_times(
                db.session, actor, booking, checked_in_at=_aware(form.checked_in_at.data, tz),
                checked_out_at=_aware(form.checked_out_at.data, tz), reason=form.reason.data,
                now=utcnow())
    except ValidationError as error:
        show_errors(form, error, {"checked_in_at": form.checked_in_at,
                                   "checked_out_at": form.checked_out_at,
                                   "reason": form.reason})
        return keep_refused(form, page) \
            or _today_page(lab, day, failed=(booking_id, form), status=FORM_REFUSED)
    except Conflict as error:
        return refuse(error, back)
    flash(_("The actual times of booking #%(id)d were corrected.", id=booking_id), "success")
    return redirect(back)


@bp.post("/bookings/<int:booking_id>/no-show")
def mark_no_show(booking_id: int):
    actor = current_actor()
    booking = services.get_managed_booking(db.session, actor, booking_id)
    back = safe_next(request.form.get("next"),
                     url_for(".today", code=booking.instrument.lab.code))
    try:
        with write_transaction(db.session):
            booking = services.get_managed_booking(db.session, actor, booking_id)
            attendance.mark_no_show(db.session, actor, booking, now=utcnow())
    except Conflict as error:
        return refuse(error, back)
    flash(_("Booking #%(id)d is recorded as a no-show.", id=booking_id), "success")
    return redirect(back)


# -- blackouts --------------------------------------------------------------------------------


def _lab_group(lab: Lab) -> str:
    return f"{lab.code} · {localized(lab, 'name')}"


def _instruments_of(lab: Lab) -> list[Instrument]:
    return sorted(lab.instruments, key=lambda instrument: instrument.code)


def _scope_choices(labs: list[Lab]) -> list[SelectChoice]:
    """Options grouped by lab: the whole lab first, then each of its instruments."""
    choices = []
    for lab in labs:
        choices.append(SelectChoice(f"lab:{lab.id}", _("Whole lab (every instrument)"),
                                    optgroup=_lab_group(lab)))
        choices += [SelectChoice(f"instrument:{i.id}", f"{i.code} · {localized(i, 'name')}",
                                 optgroup=_lab_group(lab)) for i in _instruments_of(lab)]
    return choices


def _blackout_form(labs: list[Lab]) -> BlackoutForm:
    form = BlackoutForm()
    form.scope.choices = _scope_choices(labs)
    return form


def _blackouts_page(form: BlackoutForm, labs: list[Lab], status: int = 200):
    now = utcnow()
    blackouts = closures.managed_blackouts(db.session, current_actor(), now=now)
    return render_template("manage/blackouts.html", form=form, now=now,
                           upcoming=[b for b in blackouts if b.end_at > now],
                           recent=[b for b in blackouts if b.end_at <= now][::-1],
                           has_labs=bool(labs)), status


@bp.get("/blackouts")
def blackouts():
    labs = accounts.managed_labs(db.session, current_actor())
    form = _blackout_form(labs)
    restore_kept(form)
    return _blackouts_page(form, labs)


def _lab_moment(day: dt.date, time: dt.time) -> dt.datetime:
    """A lab-local date and time as an aware UTC moment."""
    return dt.datetime.combine(day, time, LAB_TZ).astimezone(dt.UTC)


@bp.post("/blackouts")
def create_blackout():
    actor = current_actor()
    labs = accounts.managed_labs(db.session, actor)
    form = _blackout_form(labs)
    if not form.validate_on_submit():
        return keep_refused(form) or _blackouts_page(form, labs, FORM_REFUSED)
    kind, _sep, target_id = form.scope.data.partition(":")
    start = _lab_moment(form.start_date.data, form.start_time.data)
    end = _lab_moment(form.end_date.data, form.end_time.data)
    try:
        with write_transaction(db.session):
            instrument = db.session.get(Instrument, int(target_id)) \
                if kind == "instrument" else None
            lab = db.session.get(Lab, int(target_id)) if kind == "lab" else None
            if instrument is None and lab is None:
                raise NotFound(_("No such lab or instrument."))
            blackout, hit = closures.create_blackout(
                db.session, actor, instrument=instrument, lab=lab, start=start, end=end,
                reason=form.reason.data, now=utcnow())
            blackout_id = blackout.id
    except (ValidationError, PermissionDenied, NotFound) as error:
        show_errors(form, error, {"reason": form.reason, "invalid_interval": form.end_time,
                                   "instrument_id": form.scope}, otherwise=form.scope)
        return keep_refused(form) or _blackouts_page(form, labs, FORM_REFUSED)
    flash(_("The closure was saved."), "success")
    if hit:
        flash(ngettext("It hits %(num)d booking: choose what to cancel below.",
                       "It hits %(num)d bookings: choose which to cancel below.", len(hit)),
              "warning")
    return redirect(url_for(".blackout_detail", blackout_id=blackout_id))


def _cancel_form(blackout: Blackout, *, formdata: bool) -> tuple[BlackoutCancelForm, list]:
    affected = closures.affected_bookings(db.session, blackout)
    cancellable = [b.id for b in affected if b.state != BookingState.IN_USE]
    form = BlackoutCancelForm() if formdata else BlackoutCancelForm(formdata=None,
                                                                    booking_ids=cancellable)
    form.booking_ids.choices = [SelectChoice(str(booking_id)) for booking_id in cancellable]
    return form, affected


def _blackout_page(blackout: Blackout, form: BlackoutCancelForm, affected: list,
                   status: int = 200):
    return render_template("manage/blackout_detail.html", blackout=blackout, form=form,
                           affected=affected, lab=closures.blackout_lab(blackout),
                           selected=set(form.booking_ids.data or []),
                           email_delivered=email_delivered(current_app.config)), status


@bp.get("/blackouts/<int:blackout_id>")
def blackout_detail(blackout_id: int):
    blackout = closures.get_blackout(db.session, current_actor(), blackout_id)
    form, affected = _cancel_form(blackout, formdata=False)
    restore_kept(form)
    return _blackout_page(blackout, form, affected)


@bp.post("/blackouts/<int:blackout_id>/cancel-bookings")
def blackout_cancel_bookings(blackout_id: int):
    actor = current_actor()
    blackout = closures.get_blackout(db.session, actor, blackout_id)
    form, affected = _cancel_form(blackout, formdata=True)
    page = url_for(".blackout_detail", blackout_id=blackout_id)
    if not form.validate_on_submit():
        return keep_refused(form, page) or _blackout_page(blackout, form, affected, FORM_REFUSED)
    try:
        with write_transaction(db.session):
            now = utcnow()
            blackout = closures.get_blackout(db.session, actor, blackout_id)
            cancelled = closures.cancel_for_blackout(db.session, actor, blackout,
                                                     form.booking_ids.data,
                                                     notice=form.notice.data, now=now)
            told = notify.cancellations_told(db.session, cancelled, now=now)
    except ValidationError as error:
        show_errors(form, error, {"notice": form.notice, "booking_ids": form.booking_ids})
        return keep_refused(form, page) or _blackout_page(
            blackout, form, closures.affected_bookings(db.session, blackout), FORM_REFUSED)
    flash(ngettext("%(num)d booking was cancelled.", "%(num)d bookings were cancelled.",
                   len(cancelled)), "success")
    if told:
        flash(notify.queued_emails_notice(told), "info")
    return redirect(page)


# -- qualifications ---------------------------------------------------------------------------


def _instrument_choices(labs: list[Lab]) -> list[SelectChoice]:
    return [SelectChoice(str(i.id), f"{i.code} · {localized(i, 'name')}"
                         + ("" if i.requires_qualification else " " + _("(no training needed)")),
                         optgroup=_lab_group(lab))
            for lab in labs for i in _instruments_of(lab)]


def _grant_form(labs: list[Lab], *, formdata: bool = True) -> GrantQualificationForm:
    form = GrantQualificationForm() if formdata else GrantQualificationForm(formdata=None)
    form.instrument_id.choices = _instrument_choices(labs)
    return form


def _qualifications_page(form: GrantQualificationForm, labs: list[Lab], status: int = 200, *,
                         revoke_form: RevokeQualificationsForm | None = None):
    now = utcnow()
    instrument_id = request.args.get("instrument", type=database_id)
    records = training.qualifications_for(db.session, current_actor(), now=now,
                                          instrument_id=instrument_id)
    revoke_form = revoke_form or RevokeQualificationsForm(formdata=None)
    return render_template("manage/qualifications.html", form=form, records=records, now=now,
                           labs=labs, instrument_id=instrument_id, revoke_form=revoke_form,
                           selected=set(revoke_form.qualification_ids.data or []),
                           one_day=dt.timedelta(days=1)), status


@bp.get("/qualifications")
def qualifications():
    labs = accounts.managed_labs(db.session, current_actor())
    grant_form = _grant_form(labs, formdata=False)
    revoke_form = RevokeQualificationsForm(formdata=None)
    restore_kept(grant_form)
    restore_kept(revoke_form)
    return _qualifications_page(grant_form, labs, revoke_form=revoke_form)


@bp.post("/qualifications")
def grant_qualification():
    actor = current_actor()
    labs = accounts.managed_labs(db.session, actor)
    form = _grant_form(labs)
    if not form.validate_on_submit():
        return keep_refused(form) or _qualifications_page(form, labs, FORM_REFUSED)
    expires_at = None
    if form.valid_until.data is not None:
        # Valid through the whole of that day in the lab.
        expires_at = _lab_moment(form.valid_until.data + dt.timedelta(days=1), dt.time(0))
    try:
        with write_transaction(db.session):
            instrument = catalogue.get_instrument(db.session, form.instrument_id.data)
            granted = training.grant_qualifications(
                db.session, actor, training.parse_emails(form.email.data), instrument,
                now=utcnow(), expires_at=expires_at)
            names = [qualification.user.name for qualification in granted]
            instrument_name = localized(instrument, "name")
    except (ValidationError, PermissionDenied, NotFound) as error:
        show_errors(form, error, {"email": form.email, "expires_at": form.valid_until},
                    otherwise=form.instrument_id)
        return keep_refused(form) or _qualifications_page(form, labs, FORM_REFUSED)
    if len(names) == 1:
        message = _("%(name)s may now use %(instrument)s.", name=names[0],
                    instrument=instrument_name)
    else:
        message = ngettext("%(num)d person may now use %(instrument)s: %(names)s.",
                           "%(num)d people may now use %(instrument)s: %(names)s.", len(names),
                           instrument=instrument_name, names=", ".join(names))
    flash(message, "success")
    return redirect(url_for(".qualifications", instrument=request.args.get("instrument")))


@bp.post("/qualifications/revoke")
def revoke_qualifications():
    actor = current_actor()
    form = RevokeQualificationsForm()
    if not form.validate_on_submit():
        labs = accounts.managed_labs(db.session, actor)
        page = url_for(".qualifications", instrument=request.args.get("instrument"))
        return keep_refused(form, page) or _qualifications_page(
            _grant_form(labs, formdata=False), labs, FORM_REFUSED, revoke_form=form)
    with write_transaction(db.session):
        revoked = training.revoke_qualifications(db.session, actor,
                                                 form.qualification_ids.data, now=utcnow())
    flash(ngettext("%(num)d training record was revoked.",
                   "%(num)d training records were revoked.", len(revoked)), "success")
    return redirect(url_for(".qualifications", instrument=request.args.get("instrument")))


@bp.post("/qualifications/<int:qualification_id>/revoke")
def revoke_qualification(qualification_id: int):
    # The CSRF token of this button's form is checked for every POST by CSRFProtect.
    actor = current_actor()
    with write_transaction(db.session):
        qualification = training.get_qualification(db.session, actor, qualification_id)
        training.revoke_qualification(db.session, actor, qualification, now=utcnow())
        message = _("The training record of %(name)s on %(instrument)s was revoked.",
                    name=qualification.user.name,
                    instrument=localized(qualification.instrument, "name"))
    flash(message, "success")
    return redirect(url_for(".qualifications", instrument=request.args.get("instrument")))


# -- booking rules and contact: no-show discipline, waiting-list offers, the contact person --


def _rules_form(lab: Lab, **kwargs) -> LabBookingRulesForm:
    return LabBookingRulesForm(prefix=lab.code, **kwargs)


def _contact_form(lab: Lab, **kwargs) -> LabContactForm:
    return LabContactForm(prefix=f"contact-{lab.code}", **kwargs)


def _discipline_page(labs: list[Lab], failed: tuple[str, LabBookingRulesForm] | None = None,
                     status: int = 200, failed_contact: tuple[str, LabContactForm] | None = None):
    forms = {lab.code: _rules_form(lab, formdata=None, obj=lab) for lab in labs}
    if failed is not None:
        forms[failed[0]] = failed[1]
    contact_forms = {lab.code: _contact_form(lab, formdata=None, obj=lab) for lab in labs}
    if failed_contact is not None:
        contact_forms[failed_contact[0]] = failed_contact[1]
    now = utcnow()
    return render_template(
        "manage/discipline.html", labs=labs, forms=forms, contact_forms=contact_forms,
        lift_form=LiftSuspensionForm(formdata=None), now=now,
        suspensions=discipline.suspensions_in_force(db.session, [lab.id for lab in labs],
                                                    now)), status


def _managed_lab(actor, code: str) -> tuple[list[Lab], Lab]:
    """The labs ``actor`` manages, and the one of ``code`` among them (a 404 otherwise)."""
    labs = accounts.managed_labs(db.session, actor)
    lab = next((lab for lab in labs if lab.code == code.upper()), None)
    if lab is None:
        raise NotFound(_("No lab %(code)s among the labs you manage.", code=code))
    return labs, lab


def _lab_forms_page(lab: Lab) -> str:
    """Where a lab's refused rules or contact are shown again: the page names the lab, since it
    holds the two forms of every lab the manager manages."""
    return url_for(".discipline_page", lab=lab.code)


@bp.get("/discipline")
def discipline_page():
    labs = accounts.managed_labs(db.session, current_actor())
    lab = next((lab for lab in labs if lab.code == request.args.get("lab")), None)
    if lab is None:
        return _discipline_page(labs)
    rules, contact = _rules_form(lab, formdata=None), _contact_form(lab, formdata=None)
    return _discipline_page(labs, (lab.code, rules) if restore_kept(rules) else None,
                            failed_contact=(lab.code, contact) if restore_kept(contact) else None)


@bp.post("/labs/<code>/discipline")
def update_discipline(code: str):
    actor = current_actor()
    labs, lab = _managed_lab(actor, code)
    form = _rules_form(lab)
    if not form.validate_on_submit():
        return keep_refused(form, _lab_forms_page(lab)) \
            or _discipline_page(labs, (lab.code, form), FORM_REFUSED)
    try:
        with write_transaction(db.session):
            discipline.update_settings(
                db.session, actor, lab, now=utcnow(), no_show_limit=form.no_show_limit.data,
                no_show_window_days=form.no_show_window_days.data,
                suspension_days=form.suspension_days.data,
                waitlist_offer_minutes=form.waitlist_offer_minutes.data)
    except ValidationError as error:
        show_errors(form, error)
        return keep_refused(form, _lab_forms_page(lab)) \
            or _discipline_page(labs, (lab.code, form), FORM_REFUSED)
    flash(_("The booking rules of %(lab)s were saved.", lab=localized(lab, "name")), "success")
    return redirect(url_for(".discipline_page"))


@bp.post("/labs/<code>/contact")
def update_contact(code: str):
    actor = current_actor()
    labs, lab = _managed_lab(actor, code)
    form = _contact_form(lab)
    if not form.validate_on_submit():
        return keep_refused(form, _lab_forms_page(lab)) \
            or _discipline_page(labs, status=FORM_REFUSED, failed_contact=(lab.code, form))
    try:
        with write_transaction(db.session):
            catalogue.update_lab_contact(
                db.session, actor, lab, name=form.contact_name.data or "",
                phone=form.contact_phone.data or "", email=form.contact_email.data or "",
                now=utcnow())
    except ValidationError as error:
        show_errors(form, error)
        return keep_refused(form, _lab_forms_page(lab)) \
            or _discipline_page(labs, status=FORM_REFUSED, failed_contact=(lab.code, form))
    flash(_("The contact person of %(lab)s was saved.", lab=localized(lab, "name")), "success")
    return redirect(url_for(".discipline_page"))


@bp.post("/suspensions/<int:suspension_id>/lift")
def lift_suspension(suspension_id: int):
    actor = current_actor()
    form = LiftSuspensionForm()
    back = url_for(".discipline_page")
    if not form.validate_on_submit():
        for error in form.note.errors:
            flash(error, "danger")
        return redirect(back)
    try:
        with write_transaction(db.session):
            suspension = discipline.lift_suspension(db.session, actor, suspension_id,
                                                    note=form.note.data or "", now=utcnow())
            name = suspension.user.name
    except Conflict as error:
        return refuse(error, back)
    flash(_("%(name)s may book again.", name=name), "success")
    return redirect(back)
