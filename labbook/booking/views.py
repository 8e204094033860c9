"""Booking pages for everyone: instrument calendar and booking form, lab day view, my bookings."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required
from flask_wtf.csrf import CSRFError

from labbook.accounts.access import current_actor, current_viewer
from labbook.audit.services import history as audit_history
from labbook.billing import estimates
from labbook.booking import (
    attendance,
    changes,
    dayview,
    discipline,
    listing,
    rules,
    waitlist,
)
from labbook.booking import services as booking_services
from labbook.booking.calendar import busy_entries, free_capacity
from labbook.booking.forms import (
    BookingForm,
    CancelForm,
    CancelSeriesForm,
    ChangeForm,
    DecideChangeForm,
    WaitlistForm,
)
from labbook.booking.refusals import training_of
from labbook.booking.suggestions import Suggestion
from labbook.catalogue import services as catalogue
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab
from labbook.core.engine import write_transaction
from labbook.core.errors import (
    Conflict,
    DomainError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    Problem,
    ValidationError,
)
from labbook.core.money import format_money
from labbook.core.time import is_plausible_date, parse_aware_datetime, utcnow
from labbook.extensions import db
from labbook.http import Fields, day_arg, json_body, page_arg, problem_response
from labbook.i18n import is_english, localized
from labbook.security import csrf_refused
from labbook.web import FORM_REFUSED, keep_refused, refuse, restore_kept, safe_next

bp = Blueprint("booking", __name__)

#: The longest window the events feed answers for (FullCalendar asks for one view at a time).
MAX_EVENT_DAYS = 62
#: How far ahead the calendar page lists busy times for browsers without JavaScript.
BUSY_LIST_DAYS = 14
JSON_ENDPOINTS = frozenset({"booking.instrument_events", "booking.check_booking"})


def _tz(instrument: Instrument) -> ZoneInfo:
    return ZoneInfo(instrument.lab.timezone)


def _json_problem(error: DomainError):
    return problem_response(error.status, error.message, code=error.code,
                            problems=error.problems, **error.extra())


@bp.errorhandler(CSRFError)
def csrf_failed(error: CSRFError):
    if request.endpoint in JSON_ENDPOINTS:
        return problem_response(400, _("The page has expired; reload it and try again."),
                                code="csrf_failed", detail=error.description)
    return csrf_refused(error)


# -- the instrument calendar and booking form -------------------------------------------------


def suggestion_view(suggestion: Suggestion, current: Instrument, *, purpose: str = "",
                    project_ref: str = "") -> dict[str, Any]:
    """A suggested slot in lab time, with a link that opens the booking form filled in."""
    tz = suggestion.tz
    start, end = suggestion.start.astimezone(tz), suggestion.end.astimezone(tz)
    values = {"date": start.date().isoformat(), "start_time": start.strftime("%H:%M"),
              "end_time": end.strftime("%H:%M"),
              "end_date": end.date().isoformat() if end.date() != start.date() else ""}
    prefill = {key: value for key, value in {**values, "purpose": purpose,
                                              "project_ref": project_ref}.items() if value}
    when = f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}" if not values["end_date"] \
        else f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"
    same = suggestion.instrument.id == current.id
    name = localized(suggestion.instrument, "name")
    return {**values, "instrument_id": suggestion.instrument.id, "instrument_name": name,
            "same_instrument": same, "start": start.isoformat(), "end": end.isoformat(),
            "label": when if same else f"{name} · {when}",
            "url": url_for("booking.instrument_calendar",
                           instrument_id=suggestion.instrument.id, **prefill)}


def _business_hours(lab: Lab) -> list[dict[str, Any]]:
    # FullCalendar numbers weekdays from Sunday (0); labbook from Monday (0).
    return [{"daysOfWeek": [(h.weekday + 1) % 7], "startTime": h.opens_at.strftime("%H:%M"),
             "endTime": h.closes_at.strftime("%H:%M")} for h in lab.opening_hours]


def _visible_hours(lab: Lab, full_day: bool) -> tuple[str, str]:
    if full_day or not lab.opening_hours:
        return "00:00", "24:00"
    first = min(h.opens_at for h in lab.opening_hours)
    last = max(h.closes_at for h in lab.opening_hours)
    end_hour = last.hour + (1 if (last.minute or last.second) else 0)
    return f"{first.hour:02d}:00", f"{max(end_hour, first.hour + 1):02d}:00"


def _lab_offset(tz: ZoneInfo, now: dt.datetime) -> str:
    offset = now.astimezone(tz).strftime("%z")
    return f"{offset[:3]}:{offset[3:]}"


def _entry_url(entry: dict[str, Any]) -> str | None:
    """The booking page behind a calendar entry, for those who may open it (their own, or as
    the lab's manager: the entries that show the purpose)."""
    if entry.get("kind") == "booking" and "purpose" in entry and "id" in entry:
        return url_for("booking.booking_detail", booking_id=entry["id"])
    return None


def _with_datetimes(entries: list[dict[str, Any]], tz: ZoneInfo) -> list[dict[str, Any]]:
    return [{**entry, "start_at": dt.datetime.fromisoformat(entry["start"]).astimezone(tz),
             "end_at": dt.datetime.fromisoformat(entry["end"]).astimezone(tz),
             "url": _entry_url(entry)} for entry in entries]


def _fit_channels_field(form: BookingForm | WaitlistForm, instrument: Instrument) -> None:
    """Ask how many channels only where the instrument has several, and at most as many."""
    if instrument.channels == 1:
        del form.channels
    else:
        form.channels.render_kw = {"min": 1, "max": instrument.channels}


def _calendar_page(instrument: Instrument, form: BookingForm, *, status: int = 200,
                   problems: list[Problem] | None = None,
                   suggestions: list[Suggestion] | None = None,
                   occurrences: list[dict[str, Any]] | None = None):
    viewer = current_viewer()
    lab = instrument.lab
    tz = _tz(instrument)
    now = utcnow()
    today = now.astimezone(tz).date()
    is_manager = viewer is not None and viewer.manages(lab)
    if not is_manager:
        del form.override
    _fit_channels_field(form, instrument)
    if viewer is None or not booking_services.may_book_for_others(viewer, instrument):
        del form.for_user
    # Date pickers offer the lab's days (Asia/Shanghai), whatever zone the browser is in.
    last_day = None if is_manager else today + dt.timedelta(days=instrument.horizon_days)
    for date_field in (form.date, form.end_date, form.until):
        date_field.render_kw = {**(date_field.render_kw or {}), "min": today.isoformat(),
                                **({"max": last_day.isoformat()} if last_day else {})}
    for problem in problems or []:
        # Problems about one field (a blank purpose) are shown at the field as well.
        if problem.field and problem.field in form and not form[problem.field].errors:
            form[problem.field].errors = [problem.message]
    list_start = dt.datetime.combine(today, dt.time(0), tz).astimezone(dt.UTC)
    busy = _with_datetimes(busy_entries(
        db.session, instrument, list_start, list_start + dt.timedelta(days=BUSY_LIST_DAYS),
        viewer), tz)
    capacity = [(s.astimezone(tz), e.astimezone(tz), free) for s, e, free in free_capacity(
        db.session, instrument, list_start, list_start + dt.timedelta(days=BUSY_LIST_DAYS))] \
        if instrument.channels > 1 else []
    shown_date = form.date.data if form.date.data and not form.date.errors else today
    slot_min, slot_max = _visible_hours(lab, full_day=is_manager)
    purpose = form.purpose.data or ""
    project_ref = form.project_ref.data or ""
    calendar_config = {
        "eventsUrl": url_for("booking.instrument_events", instrument_id=instrument.id),
        "checkUrl": url_for("booking.check_booking", instrument_id=instrument.id),
        "locale": "en" if is_english() else "zh-cn",
        "labOffset": _lab_offset(tz, now),
        "slotMinutes": instrument.slot_minutes,
        "minMinutes": instrument.min_minutes, "maxMinutes": instrument.max_minutes,
        "slotMinTime": slot_min, "slotMaxTime": slot_max,
        "businessHours": _business_hours(lab),
        "initialDate": shown_date.isoformat(),
        "selectable": viewer is not None and instrument.status == InstrumentStatus.AVAILABLE,
    }
    suspension = discipline.suspension_in_force(db.session, viewer.id, lab.id, now) \
        if viewer is not None and lab.no_show_limit is not None else None
    training = _way_to_training(instrument, viewer, problems or [], occurrences or [])
    price = _form_price(instrument, form, viewer, now)
    return render_template(
        "booking/instrument_calendar.html", instrument=instrument, lab=lab, form=form,
        suspension=suspension, price=price,
        is_manager=is_manager, busy=busy, busy_days=BUSY_LIST_DAYS, today=today,
        capacity=capacity,
        shown_date=shown_date, calendar_config=json.dumps(calendar_config),
        problems=problems or [], occurrences=occurrences or [],
        training=training,
        suggestions=[suggestion_view(s, instrument, purpose=purpose, project_ref=project_ref)
                     for s in suggestions or []],
        form_errors=[(field.label.text, error) for field in form for error in field.errors],
    ), status


def _way_to_training(instrument: Instrument, viewer, problems: list[Problem],
                     occurrences: list[dict[str, Any]]) -> dict[str, Any] | None:
    """How to get trained, when the booking, or any date of the series, was refused for want
    of training (``training_help``); else None."""
    not_qualified = next((p for p in problems if "training" in p.extra), None)
    if not_qualified is not None:
        return training_help(not_qualified.extra["training"], instrument)
    if viewer is not None and any("not_qualified" in o["codes"] for o in occurrences):
        return training_help(training_of(db.session, viewer, instrument), instrument)
    return None


def _form_price(instrument: Instrument, form: BookingForm, viewer,
                now: dt.datetime) -> estimates.BookingPrice | None:
    """The price of the time in the form, as the live check tells it, for browsers without
    JavaScript (after a refusal, or a form filled in from a link): that of the person booked
    for, whose organization pays. None where the form does not say a time, or says someone
    the viewer may not book for."""
    fields = (form.date, form.start_time, form.end_time, form.end_date)
    if viewer is None or any(f.errors for f in fields) \
            or not (form.date.data and form.start_time.data and form.end_time.data) \
            or not all(is_plausible_date(day) for day in (form.date.data, form.end_date.data)
                       if day):
        return None
    start, end = form.interval(_tz(instrument))
    if end <= start:
        return None
    try:
        user = booking_services.booked_for(db.session, viewer, instrument,
                                           form.for_user.data if form.for_user is not None
                                           else None)
    except DomainError:
        return None
    if user.organization is None:
        return None
    return estimates.slot_price(db.session, viewer, user.organization, instrument, start,
                                end, now=now)


@bp.get("/instruments/<int:instrument_id>/calendar")
def instrument_calendar(instrument_id: int):
    instrument = catalogue.get_instrument(db.session, instrument_id)
    prefill = {key: value for key, value in request.args.items()
               if key in ("date", "start_time", "end_time", "end_date", "purpose",
                          "project_ref")}
    form = BookingForm(formdata=None)
    if prefill:
        # Fills the form from a suggestion link; nothing is validated or booked yet.
        form = BookingForm(formdata=request.args, meta={"csrf": False})
    elif restore_kept(form):
        return _calendar_page(instrument, form, **_kept_refusal(instrument, form))
    return _calendar_page(instrument, form)


def _kept_refusal(instrument: Instrument, form: BookingForm) -> dict[str, Any]:
    """What the rules say now, in the page's language, of the booking that was refused with
    the input ``form`` was filled with again: asked of the rules only, nothing is booked."""
    viewer = current_viewer()
    if viewer is None or form.errors:
        return {}
    start, end = form.interval(_tz(instrument))
    override = bool(form.override.data) and viewer.manages_lab_id(instrument.lab_id)
    try:
        recurrence = form.recurrence()
        if recurrence is not None:
            return {"occurrences": _occurrence_views(booking_services.preview_series(
                db.session, viewer, instrument, start=start, end=end, recurrence=recurrence,
                override=override, now=utcnow(), channels=form.channels.data or 1),
                instrument)}
        user = booking_services.booked_for(db.session, viewer, instrument, form.for_user.data)
        preview = booking_services.preview_booking(
            db.session, viewer, instrument, start=start, end=end, override=override,
            now=utcnow(), channels=form.channels.data or 1, user=user)
    except DomainError as error:
        return {"problems": error.problems or [Problem(error.code, error.message)]}
    finally:
        db.session.rollback()
    return {"problems": [problem for problem in preview.problems
                         if not (override and problem.code in rules.SOFT_CODES)],
            "suggestions": preview.suggestions}


@bp.get("/instruments/<int:instrument_id>/events.json")
def instrument_events(instrument_id: int):
    try:
        instrument = catalogue.get_instrument(db.session, instrument_id)
        tz = _tz(instrument)
        start, end = _window(tz)
        viewer = current_viewer()
        entries = busy_entries(db.session, instrument, start, end, viewer)
    except DomainError as error:
        return _json_problem(error)
    for entry in entries:
        # Lab wall-clock time with its offset: the page shows these times as they are.
        entry["start"] = dt.datetime.fromisoformat(entry["start"]).astimezone(tz).isoformat()
        entry["end"] = dt.datetime.fromisoformat(entry["end"]).astimezone(tz).isoformat()
        url = _entry_url(entry)
        if url:
            entry["url"] = url
    return jsonify(entries)


def _window(tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """``start`` and ``end`` query parameters: ISO times with offset, or lab-local dates."""
    problems: list[Problem] = []
    values = {}
    for name in ("start", "end"):
        raw = (request.args.get(name) or "").strip()
        moment = None
        if not raw:
            problems.append(Problem("required", _("'%(name)s' is required.", name=name),
                                    field=name))
        else:
            moment = _parse_moment(raw, tz)
            if moment is None:
                problems.append(Problem("invalid_datetime", _(
                    "'%(name)s' must be a date like 2026-12-31 or an ISO 8601 time with "
                    "offset, e.g. 2026-12-01T09:00:00+08:00.", name=name), field=name))
        values[name] = moment
    start, end = values["start"], values["end"]
    if start and end and not start < end <= start + dt.timedelta(days=MAX_EVENT_DAYS):
        problems.append(Problem("invalid_interval", _(
            "'end' must be after 'start' and at most %(n)d days later.", n=MAX_EVENT_DAYS),
            field="end"))
    if problems:
        raise ValidationError(problems[0].message, code=problems[0].code, problems=problems)
    assert start is not None and end is not None
    return start, end


def _parse_moment(raw: str, tz: ZoneInfo) -> dt.datetime | None:
    if len(raw) > 64:
        return None
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            moment = dt.datetime.combine(day, dt.time(0), tz).astimezone(dt.UTC)
        else:
            moment = parse_aware_datetime(raw)
    except (ValueError, OverflowError):
        return None
    if not dt.datetime(2000, 1, 1, tzinfo=dt.UTC) <= moment <= dt.datetime(2100, 1, 1,
                                                                           tzinfo=dt.UTC):
        return None
    return moment


@bp.post("/instruments/<int:instrument_id>/check")
def check_booking(instrument_id: int):
    """Everything the rules say about a proposed time; creates nothing."""
    try:
        actor = current_viewer()
        if actor is None:
            raise NotAuthenticated(_("Please sign in to book."))
        instrument = catalogue.get_instrument(db.session, instrument_id)
        fields = Fields(json_body())
        start = fields.datetime("start")
        end = fields.datetime("end")
        override = fields.boolean("override")
        channels = fields.integer("channels", required=False) or 1
        for_user = fields.string("for_user", required=False, max_length=254)
        fields.done()
        assert start is not None and end is not None
        user = booking_services.booked_for(db.session, actor, instrument, for_user)
        preview = booking_services.preview_booking(db.session, actor, instrument, start=start,
                                                   end=end, override=override, now=utcnow(),
                                                   channels=channels, user=user)
        answer = {
            "ok": preview.is_possible,
            "problems": [_problem_json(p, instrument) for p in preview.problems],
            "suggestions": [suggestion_view(s, instrument) for s in preview.suggestions],
        }
        if end > start:
            answer |= estimates.slot_price(
                db.session, actor, booking_services.paying_organization(user, actor), instrument,
                start, end, now=utcnow()).check_json()
    except DomainError as error:
        return _json_problem(error)
    finally:
        db.session.rollback()
    return jsonify(answer)


def _problem_json(problem: Problem, instrument: Instrument) -> dict[str, Any]:
    """A rule problem for the page, its interval (if any) in lab time; a refusal for want of
    training with how to get it (``training_help``)."""
    data = {**problem.as_dict(), "soft": problem.code in rules.SOFT_CODES}
    for key in ("start", "end"):
        if key in data:
            data[key] = dt.datetime.fromisoformat(data[key]).astimezone(_tz(instrument)).isoformat()
    if "training" in data:
        data["training"] = training_help(data["training"], instrument)
    return data


def training_help(training: dict[str, Any], instrument: Instrument) -> dict[str, Any]:
    """The ``training`` of a ``not_qualified`` problem for a page: when the person asked, in
    lab time, or where the "Request training" button sends its form."""
    requested_at = training["requested_at"]
    return {**training,
            "requested_label": dt.datetime.fromisoformat(requested_at).astimezone(
                _tz(instrument)).strftime("%Y-%m-%d %H:%M") if requested_at else None,
            "request_url": url_for("training.request_for_instrument",
                                   instrument_id=training["instrument_id"])}


@bp.post("/instruments/<int:instrument_id>/book")
@login_required
def book(instrument_id: int):
    instrument = catalogue.get_instrument(db.session, instrument_id)
    actor = current_actor()
    form = BookingForm()
    calendar = url_for("booking.instrument_calendar", instrument_id=instrument.id)
    if not form.validate_on_submit():
        return keep_refused(form, calendar) or _calendar_page(instrument, form,
                                                              status=FORM_REFUSED)
    start, end = form.interval(_tz(instrument))
    override = bool(form.override.data)
    channels = form.channels.data or 1
    try:
        recurrence = form.recurrence()
        if recurrence is None:
            for_user_id = booking_services.booked_for(
                db.session, actor, instrument, form.for_user.data).id
            booking = booking_services.create_booking(
                db.session, actor, instrument_id=instrument.id, start=start, end=end,
                purpose=form.purpose.data, project_ref=form.project_ref.data or "",
                override=override, for_user_id=for_user_id, channels=channels, now=utcnow())
        else:
            result = booking_services.create_series(
                db.session, actor, instrument_id=instrument.id, start=start, end=end,
                purpose=form.purpose.data, project_ref=form.project_ref.data or "",
                recurrence=recurrence, skip_conflicts=bool(form.skip_conflicts.data),
                override=override, channels=channels, now=utcnow())
    except booking_services.BookingRefused as refused:
        # The calendar shows the refusal again from the rules: a single booking's problems, or
        # a series' refused dates (``_kept_refusal``).
        return keep_refused(form, calendar) or _calendar_page(
            instrument, form, status=FORM_REFUSED,
            problems=[] if refused.occurrences else refused.problems,
            suggestions=refused.suggestions,
            occurrences=_occurrence_views(refused.occurrences, instrument))
    except (ValidationError, PermissionDenied) as error:
        return _calendar_page(instrument, form, status=FORM_REFUSED,
                              problems=error.problems or [Problem(error.code, error.message)])
    if recurrence is None:
        _flash_booked(booking, actor)
        return redirect(url_for("booking.booking_detail", booking_id=booking.id))
    _flash_series(result, _tz(instrument))
    return redirect(url_for("booking.my_bookings"))


def _occurrence_views(occurrences: list[dict[str, Any]],
                      instrument: Instrument) -> list[dict[str, Any]]:
    tz = _tz(instrument)
    return [{"start_at": dt.datetime.fromisoformat(o["start"]).astimezone(tz),
             "end_at": dt.datetime.fromisoformat(o["end"]).astimezone(tz),
             "messages": [p["message"] for p in o["problems"]],
             "codes": [p["code"] for p in o["problems"]]} for o in occurrences]


def _flash_booked(booking, actor) -> None:
    when = _when(booking.start_at, booking.end_at, _tz(booking.instrument))
    name = localized(booking.instrument, "name")
    if booking.booked_by_id is not None:
        flash(_("Booked for %(name)s: %(instrument)s, %(when)s; they are told by email.",
                name=booking.user.name, instrument=name, when=when), "success")
    elif booking.state.value == "pending":
        flash(_("Your request for %(instrument)s, %(when)s, was sent to the lab's managers "
                "for approval.", instrument=name, when=when), "info")
    else:
        flash(_("Booked: %(instrument)s, %(when)s.", instrument=name, when=when), "success")
    price = estimates.booking_price(db.session, booking, actor, now=utcnow())
    flash(price.text, "warning" if price.cancellation and price.cancellation.in_window
          else "info")


def _flash_series(result: booking_services.SeriesResult, tz: ZoneInfo) -> None:
    created = len(result.created)
    pending = sum(1 for b in result.created if b.state.value == "pending")
    flash(ngettext("%(num)d booking made.", "%(num)d bookings made.", created), "success")
    if pending:
        flash(ngettext("%(num)d of them waits for approval by the lab's managers.",
                       "%(num)d of them wait for approval by the lab's managers.", pending),
              "info")
    if result.skipped:
        skipped = "; ".join(
            f"{_when(start, end, tz)} ({problems[0].message})" if problems
            else _when(start, end, tz) for start, end, problems in result.skipped)
        flash(ngettext("%(num)d date was skipped because it could not be booked: %(dates)s",
                       "%(num)d dates were skipped because they could not be booked: "
                       "%(dates)s", len(result.skipped), dates=skipped), "warning")


def _when(start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> str:
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    if local_start.date() == local_end.date():
        return f"{local_start:%Y-%m-%d %H:%M}–{local_end:%H:%M}"
    return f"{local_start:%Y-%m-%d %H:%M} – {local_end:%Y-%m-%d %H:%M}"


# -- the lab's day ------------------------------------------------------------------------------


@bp.get("/labs/<code>/day")
def lab_day(code: str):
    lab = catalogue.get_lab(db.session, code)
    today = utcnow().astimezone(ZoneInfo(lab.timezone)).date()
    day = day_arg("date", today)
    view = dayview.lab_day(db.session, lab, day, current_viewer())
    return render_template("booking/lab_day.html", view=view, lab=lab, day=day, today=today,
                           previous_day=day - dt.timedelta(days=1),
                           next_day=day + dt.timedelta(days=1))


# -- my bookings, one booking, cancelling -------------------------------------------------------


@bp.get("/bookings")
@login_required
def my_bookings():
    actor = current_actor()
    now = utcnow()
    upcoming = listing.upcoming_bookings(db.session, actor, now=now)
    past = listing.past_bookings(db.session, actor, now=now,
                                 page=page_arg(),
                                 per_page=current_app.config["UI_PER_PAGE"])
    return render_template("booking/my_bookings.html", upcoming=upcoming, past=past,
                           prices=estimates.booking_prices(db.session, upcoming, actor, now=now),
                           waiting=waitlist.my_entries(db.session, actor), now=now,
                           suspensions=discipline.my_suspensions(db.session, actor, now),
                           can_cancel=lambda b: booking_services.can_cancel(actor, b),
                           cancel_form=CancelForm(formdata=None,
                                                  next=request.full_path.rstrip("?")))


def _change_form(booking, tz: ZoneInfo) -> ChangeForm:
    start, end = booking.start_at.astimezone(tz), booking.end_at.astimezone(tz)
    return ChangeForm(formdata=None, prefix="change", date=start.date(), start_time=start.time(),
                      end_time=end.time(), end_date=end.date() if end.date() != start.date()
                      else None)


@bp.get("/bookings/<int:booking_id>")
@login_required
def booking_detail(booking_id: int):
    return _booking_page(booking_id)


def _booking_page(booking_id: int, *, change_form: ChangeForm | None = None,
                  problems: list[Problem] | None = None,
                  suggestions: list[Suggestion] | None = None):
    actor = current_actor()
    booking = booking_services.get_booking(db.session, actor, booking_id)
    now = utcnow()
    series = booking.series
    series_cancellable = []
    if series is not None and listing.can_cancel_series(actor, series, booking.instrument):
        series_cancellable = listing.cancellable_in_series(series, now=now)
    tz = _tz(booking.instrument)
    from_date = booking.start_at.astimezone(tz).date()
    series_terms = estimates.series_cancellation(db.session, series_cancellable, actor, now=now)
    return render_template(
        "booking/booking_detail.html", booking=booking, tz=tz,
        history=audit_history(db.session, booking),
        can_cancel=booking_services.can_cancel(actor, booking),
        is_manager=actor.manages(booking.instrument.lab),
        cancel_form=CancelForm(formdata=None),
        series=series, series_cancellable=series_cancellable,
        series_form=CancelSeriesForm(formdata=None, from_date=from_date),
        series_terms=series_terms,
        series_from_terms=series_terms.from_day(from_date),
        series_terms_by_day=json.dumps({
            day.isoformat(): _("Cancel the series from this day on? %(terms)s",
                               terms=series_terms.from_day(day).text)
            for day in series_terms.days}, ensure_ascii=False),
        window_hours=booking.instrument.cancellation_window_hours,
        price=estimates.booking_price(db.session, booking, actor, now=now),
        can_check_in=attendance.can_check_in(actor, booking, now=now),
        can_check_out=attendance.can_check_out(actor, booking),
        check_in_opens_at=attendance.check_in_opens_at(booking), now=now,
        check_in_early_minutes=attendance.CHECK_IN_EARLY_MINUTES,
        can_change=changes.can_change(actor, booking, now),
        change_form=change_form or _change_form(booking, tz),
        change_problems=problems or [],
        change_training=_way_to_training(booking.instrument, actor, problems or [], []),
        change_suggestions=[suggestion_view(s, booking.instrument) for s in suggestions or []],
        pending_change=changes.pending_change(db.session, booking),
        decide_form=DecideChangeForm(formdata=None, prefix="decision"))


@bp.post("/bookings/<int:booking_id>/change")
@login_required
def change_booking(booking_id: int):
    actor = current_actor()
    booking = booking_services.get_booking(db.session, actor, booking_id)
    form = ChangeForm(prefix="change")
    if not form.validate_on_submit():
        return _booking_page(booking_id, change_form=form)
    start, end = form.interval(_tz(booking.instrument))
    try:
        result = changes.change_booking(db.session, actor, booking_id, start=start, end=end,
                                        note=form.note.data or "",
                                        override=bool(form.override.data), now=utcnow())
    except booking_services.BookingRefused as refused:
        return _booking_page(booking_id, change_form=form, problems=refused.problems,
                             suggestions=refused.suggestions)
    except (ValidationError, PermissionDenied, Conflict) as error:
        return _booking_page(booking_id, change_form=form,
                             problems=error.problems or [Problem(error.code, error.message)])
    if result.is_pending:
        flash(_("Your change was sent to the lab's managers; the booking keeps its time until "
                "they decide."), "info")
    elif result.change.is_late:
        flash(_("The booking was changed. Time given back inside the %(n)d-hour cancellation "
                "window is charged like a late cancellation.",
                n=booking.instrument.cancellation_window_hours), "warning")
    else:
        flash(_("The booking was changed."), "success")
    return redirect(url_for("booking.booking_detail", booking_id=booking_id))


@bp.post("/booking-changes/<int:change_id>/<decision>")
@login_required
def decide_change(change_id: int, decision: str):
    actor = current_actor()
    if decision not in ("approve", "reject"):
        raise NotFound(_("No change with id %(id)d.", id=change_id))
    change = changes.get_change(db.session, actor, change_id)
    back = url_for("booking.booking_detail", booking_id=change.booking_id)
    form = DecideChangeForm(prefix="decision")
    if not form.validate_on_submit():
        for error in form.note.errors:
            flash(error, "danger")
        return redirect(back)
    try:
        changes.decide_change(db.session, actor, change_id, approve=decision == "approve",
                              note=form.note.data or "", now=utcnow())
    except (Conflict, ValidationError) as error:
        return refuse(error, back)
    flash(_("The change was applied.") if decision == "approve"
          else _("The change was turned down; the booking keeps its time."), "success")
    return redirect(back)


def _use_action(booking_id: int, change, message):
    """Check a booking in or out, then go back (to ``next`` if it is a local path)."""
    actor = current_actor()
    back = safe_next(request.form.get("next"),
                     url_for("booking.booking_detail", booking_id=booking_id))
    try:
        with write_transaction(db.session):
            booking = booking_services.get_booking(db.session, actor, booking_id)
            change(db.session, actor, booking, now=utcnow())
            text = message(booking.id, localized(booking.instrument, "name"))
    except Conflict as error:
        return refuse(error, back)
    flash(text, "success")
    return redirect(back)


@bp.post("/bookings/<int:booking_id>/check-in")
@login_required
def check_in(booking_id: int):
    return _use_action(booking_id, attendance.check_in, lambda number, name: _(
        "Booking #%(id)d is checked in: %(instrument)s is in use.", id=number,
        instrument=name))


@bp.post("/bookings/<int:booking_id>/check-out")
@login_required
def check_out(booking_id: int):
    return _use_action(booking_id, attendance.check_out, lambda number, name: _(
        "Booking #%(id)d is checked out: the use of %(instrument)s is over.", id=number,
        instrument=name))


@bp.post("/bookings/<int:booking_id>/cancel")
@login_required
def cancel_booking(booking_id: int):
    actor = current_actor()
    form = CancelForm()
    back = safe_next(form.next.data, url_for("booking.booking_detail", booking_id=booking_id))
    if not form.validate_on_submit():
        for error in form.note.errors:
            flash(error, "danger")
        return redirect(back)
    try:
        with write_transaction(db.session):
            booking = booking_services.get_booking(db.session, actor, booking_id)
            booking_services.cancel_booking(db.session, actor, booking, now=utcnow(),
                                            note=form.note.data or "")
            fee = estimates.late_cancellation_fee(db.session, [booking])
            hours = booking.instrument.cancellation_window_hours
    except (Conflict, ValidationError) as error:
        return refuse(error, back)
    if fee:
        flash(_("The booking was cancelled. It was inside the %(n)d-hour cancellation window, "
                "so the late-cancellation fee of %(fee)s is charged.", n=hours,
                fee=format_money(fee)), "warning")
    else:
        flash(_("The booking was cancelled."), "success")
    return redirect(back)


# -- the waiting list ---------------------------------------------------------------------------


def _waitlist_page(instrument: Instrument, form: WaitlistForm, *, status: int = 200,
                   problems: list[Problem] | None = None):
    _fit_channels_field(form, instrument)
    return render_template("booking/waitlist_join.html", instrument=instrument, form=form,
                           problems=problems or [],
                           offer_minutes=instrument.lab.waitlist_offer_minutes), status


@bp.route("/instruments/<int:instrument_id>/waitlist", methods=["GET", "POST"])
@login_required
def join_waitlist(instrument_id: int):
    instrument = catalogue.get_instrument(db.session, instrument_id)
    actor = current_actor()
    if request.method == "GET":
        prefill = {key: value for key, value in request.args.items()
                   if key in ("date", "start_time", "end_time", "end_date", "channels",
                              "purpose")}
        form = WaitlistForm(formdata=request.args if prefill else None, meta={"csrf": False})
        return _waitlist_page(instrument, form)
    form = WaitlistForm()
    if not form.validate_on_submit():
        return _waitlist_page(instrument, form, status=FORM_REFUSED)
    start, end = form.window(_tz(instrument))
    try:
        waitlist.join_waitlist(db.session, actor, instrument_id=instrument.id, start=start,
                               end=end, minutes=form.minutes.data, purpose=form.purpose.data,
                               channels=form.channels.data or 1, now=utcnow())
    except DomainError as error:
        if isinstance(error, NotAuthenticated):
            raise
        return _waitlist_page(instrument, form, status=FORM_REFUSED,
                              problems=error.problems or [Problem(error.code, error.message)])
    flash(_("You are on the waiting list. When the time is freed and you are first in line, "
            "you get an email with a link to claim it."), "success")
    return redirect(url_for("booking.my_bookings"))


@bp.post("/waitlist/<int:entry_id>/leave")
@login_required
def leave_waitlist(entry_id: int):
    back = url_for("booking.my_bookings")
    try:
        waitlist.leave_waitlist(db.session, current_actor(), entry_id, now=utcnow())
    except Conflict as error:
        return refuse(error, back)
    flash(_("You left the waiting list."), "success")
    return redirect(back)


@bp.route("/waitlist/claim/<offer_token>", methods=["GET", "POST"])
@login_required
def claim_offer(offer_token: str):
    actor = current_actor()
    entry = waitlist.entry_by_token(db.session, actor, offer_token)
    if request.method == "POST":
        try:
            booking = waitlist.claim_offer(db.session, actor, entry.id, now=utcnow())
        except booking_services.BookingRefused as refused:
            # The offer stays open: the page says why, with the way forward a booking form's
            # refusal offers (other slots, how to get trained).
            entry = waitlist.entry_by_token(db.session, actor, offer_token)
            return render_template(
                "booking/waitlist_claim.html", entry=entry, now=utcnow(),
                problems=refused.problems,
                training=_way_to_training(entry.instrument, actor, refused.problems, []),
                suggestions=[suggestion_view(s, entry.instrument, purpose=entry.purpose)
                             for s in refused.suggestions]), 409
        except (Conflict, ValidationError) as error:
            return refuse(error, url_for("booking.my_bookings"))
        _flash_booked(booking, actor)
        return redirect(url_for("booking.booking_detail", booking_id=booking.id))
    return render_template("booking/waitlist_claim.html", entry=entry, now=utcnow())


@bp.post("/series/<int:series_id>/cancel")
@login_required
def cancel_series(series_id: int):
    actor = current_actor()
    form = CancelSeriesForm()
    back = safe_next(form.next.data, url_for("booking.my_bookings"))
    listing.get_series(db.session, actor, series_id)
    if not form.validate_on_submit():
        for field in form:
            for error in field.errors:
                flash(f"{field.label.text}: {error}", "danger")
        return redirect(back)
    try:
        with write_transaction(db.session):
            series = listing.get_series(db.session, actor, series_id)
            cancelled = booking_services.cancel_series(
                db.session, actor, series, now=utcnow(), from_date=form.from_date.data,
                note=form.note.data or "")
            count = len(cancelled)
            late = sum(1 for b in cancelled if b.is_late_cancellation)
            fee = estimates.late_cancellation_fee(db.session, cancelled)
    except (Conflict, ValidationError) as error:
        return refuse(error, back)
    if count:
        flash(ngettext("%(num)d booking of the series was cancelled.",
                       "%(num)d bookings of the series were cancelled.", count), "success")
    else:
        flash(_("Nothing to cancel: no booking of the series is still to come from that day."),
              "info")
    if fee:
        flash(ngettext("%(num)d of them was inside the cancellation window: the "
                       "late-cancellation fee of %(fee)s is charged.",
                       "%(num)d of them were inside the cancellation window: late-cancellation "
                       "fees of %(fee)s in all are charged.", late, fee=format_money(fee)),
              "warning")
    return redirect(back)
