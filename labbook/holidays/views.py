"""Holiday pages: the national calendar (admins edit it, lab managers read it) and each lab's
choice to close on holidays and open on make-up days (its managers)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from labbook.accounts import services as accounts
from labbook.accounts.access import current_actor, require, require_manager
from labbook.catalogue import services as catalogue
from labbook.core.engine import write_transaction
from labbook.core.errors import DomainError, NotFound
from labbook.core.time import to_lab_time, utcnow
from labbook.extensions import db
from labbook.holidays import services as holidays
from labbook.holidays.forms import HolidayPolicyForm, StatutoryDayForm
from labbook.holidays.models import DayKind, Festival
from labbook.http import int_arg, read_day
from labbook.web import FORM_REFUSED, keep_refused, refuse, restore_kept, show_errors

bp = Blueprint("holidays", __name__, url_prefix="/holidays")
bp.before_request(require_manager)


def _page(day_form: StatutoryDayForm | None = None, status: int = 200, *,
          year: int | None = None):
    actor = current_actor()
    year = year or to_lab_time(utcnow()).year
    labs = accounts.managed_labs(db.session, actor)
    policies = [(lab, holidays.lab_policy(db.session, lab.id)) for lab in labs]
    policy_forms = {lab.id: HolidayPolicyForm(formdata=None, prefix=f"lab-{lab.id}",
                                              closes_on_holidays=policy.closes_on_holidays,
                                              opens_on_makeup_days=policy.opens_on_makeup_days)
                    for lab, policy in policies}
    return render_template(
        "holidays/index.html", year=year, days=holidays.statutory_days(db.session, year),
        years=sorted({*holidays.years_held(db.session), year, year + 1}),
        can_edit=holidays.can_edit_calendar(actor), day_form=day_form or StatutoryDayForm(),
        policies=policies, policy_forms=policy_forms,
        seeded_years=holidays.SEEDED_YEARS), status


def _calendar_editor():
    """The signed-in admin; 403 for a lab manager, who reads the calendar but does not edit it."""
    return require(holidays.can_edit_calendar(current_actor()))


@bp.get("/")
def index():
    day_form = StatutoryDayForm(formdata=None)
    return _page(day_form if restore_kept(day_form) else None,
                 year=int_arg("year", 0, minimum=2000, maximum=2099) or None)


@bp.post("/days")
def save_day():
    actor = _calendar_editor()
    form = StatutoryDayForm()
    if not form.validate_on_submit():
        return keep_refused(form, url_for(".index")) or _page(form, FORM_REFUSED)
    try:
        with write_transaction(db.session):
            _saved, is_new = holidays.set_day(
                db.session, actor, day=form.day.data, kind=DayKind(form.kind.data),
                festival=Festival(form.festival.data), source=form.source.data or "",
                now=utcnow())
    except DomainError as error:
        show_errors(form, error, otherwise=form.day)
        return keep_refused(form, url_for(".index", year=form.day.data.year)) \
            or _page(form, FORM_REFUSED, year=form.day.data.year)
    flash(_("%(day)s was added.", day=form.day.data.isoformat()) if is_new
          else _("%(day)s was changed.", day=form.day.data.isoformat()), "success")
    return redirect(url_for(".index", year=form.day.data.year))


@bp.post("/days/<day>/delete")
def delete_day(day: str):
    actor = _calendar_editor()
    on = read_day(day)
    back = url_for(".index", year=on.year if on else None)
    try:
        if on is None:
            raise NotFound(_("%(day)s is not in the national calendar.", day=day))
        with write_transaction(db.session):
            holidays.delete_day(db.session, actor, on, now=utcnow())
    except DomainError as error:
        return refuse(error, back)
    flash(_("%(day)s was taken out of the national calendar.", day=on.isoformat()), "success")
    return redirect(back)


@bp.post("/seed")
def seed():
    actor = _calendar_editor()
    try:
        with write_transaction(db.session):
            added = holidays.seed_calendar(db.session, actor, now=utcnow())
    except DomainError as error:
        return refuse(error, url_for(".index"))
    flash(_("%(n)d days were added to the national calendar.", n=added), "success")
    return redirect(url_for(".index"))


@bp.post("/labs/<code>/policy")
def save_policy(code: str):
    actor = current_actor()
    lab = catalogue.get_lab(db.session, code, managed_by=actor)
    # Two check boxes: an unticked one is simply absent, so there is nothing to refuse.
    form = HolidayPolicyForm(prefix=f"lab-{lab.id}")
    try:
        with write_transaction(db.session):
            holidays.set_lab_policy(db.session, actor, lab,
                                    closes_on_holidays=form.closes_on_holidays.data,
                                    opens_on_makeup_days=form.opens_on_makeup_days.data,
                                    now=utcnow())
    except DomainError as error:
        return refuse(error, url_for(".index"))
    flash(_("The holiday settings of %(lab)s were saved.", lab=lab.code), "success")
    return redirect(url_for(".index"))
