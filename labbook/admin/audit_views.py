"""The audit log viewer (admins only)."""

from __future__ import annotations

import datetime as dt

from flask import render_template, request, url_for
from wtforms import SelectChoice

from labbook.accounts.access import current_actor, require
from labbook.admin.blueprint import bp
from labbook.admin.forms import AuditFilterForm
from labbook.audit import services as audit
from labbook.audit.models import AuditEvent
from labbook.core.time import LAB_TZ
from labbook.extensions import db
from labbook.http import page_arg
from labbook.i18n import lazy_gettext as _l

#: What the log's objects are called, and the page that shows one (endpoint, id argument).
OBJECT_TYPES = {
    "bookings": (_l("Booking"), "booking.booking_detail", "booking_id"),
    "instruments": (_l("Instrument"), "admin.edit_instrument", "instrument_id"),
    "testing_services": (_l("Testing service"), "admin.edit_service", "service_id"),
    "service_requests": (_l("Test request"), "testing.request_detail", "request_id"),
    "organizations": (_l("Organization"), "admin.edit_organization", "organization_id"),
    "users": (_l("User"), "admin.edit_user", "user_id"),
    "qualifications": (_l("Training record"), None, None),
    "blackouts": (_l("Closure"), "manage.blackout_detail", "blackout_id"),
    "labs": (_l("Lab"), None, None),
    "categories": (_l("Category"), None, None),
    "rate_cards": (_l("Rate card"), None, None),
    "charges": (_l("Charge"), None, None),
    "statements": (_l("Statement"), None, None),
    "month_closes": (_l("Month close"), None, None),
    "api_tokens": (_l("API token"), None, None),
    "feed_tokens": (_l("Calendar feed"), None, None),
}

def _object_url(event: AuditEvent) -> str | None:
    _label, endpoint, argument = OBJECT_TYPES.get(event.object_type, (None, None, None))
    return url_for(endpoint, **{argument: event.object_id}) if endpoint else None


def _lab_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), LAB_TZ).astimezone(dt.UTC)


@bp.get("/audit")
def audit_log():
    require(audit.can_view_audit_log(current_actor()))
    form = AuditFilterForm(formdata=request.args)
    form.object_type.choices = [SelectChoice("", _l("Any"))] + [
        SelectChoice(key, label) for key, (label, _endpoint, _argument) in OBJECT_TYPES.items()]
    page = None
    if form.validate():
        criteria = audit.AuditFilter(
            person=form.person.data or "", object_type=form.object_type.data or None,
            object_id=form.object_id.data, action=form.action.data or None,
            since=_lab_midnight(form.date_from.data) if form.date_from.data else None,
            until=_lab_midnight(form.date_to.data + dt.timedelta(days=1))
            if form.date_to.data else None)
        page = audit.search_events(db.session, criteria, page=page_arg())
    return render_template("admin/audit.html", form=form, page=page, object_types=OBJECT_TYPES,
                           object_url=_object_url), \
        200 if page is not None else 400
