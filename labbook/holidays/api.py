"""Holidays API: the national calendar of holidays and make-up days, each lab's choice to follow
it, and the working days that result."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import request
from flask_babel import gettext as _

from labbook.api import bp
from labbook.api.auth import api_user, token_required
from labbook.catalogue import services as catalogue
from labbook.core.engine import write_transaction
from labbook.core.errors import Problem, ValidationError
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.holidays import services as holidays
from labbook.holidays.models import DayKind, Festival, StatutoryDay
from labbook.http import Fields, int_arg, json_body

#: The longest span of days one request lists.
MAX_LISTED_DAYS = 366


def day_json(day: StatutoryDay) -> dict[str, Any]:
    return {"day": day.day.isoformat(), "kind": day.kind.value, "festival": day.festival.value,
            "source": day.source}


def policy_json(lab_code: str, policy: holidays.Policy) -> dict[str, Any]:
    return {"lab": lab_code, "closes_on_holidays": policy.closes_on_holidays,
            "opens_on_makeup_days": policy.opens_on_makeup_days}


def _path_day(text: str) -> dt.date:
    fields = Fields({"day": text})
    day = fields.date("day")
    fields.done()
    assert day is not None
    return day


def _query_day(name: str) -> dt.date:
    fields = Fields({name: request.args.get(name)})
    day = fields.date(name)
    if day is None and not fields.problems:
        fields.problems.append(Problem("required", _("'%(name)s' is required.", name=name),
                                       field=name))
    fields.done()
    assert day is not None
    return day


def _enum_field(fields: Fields, name: str, enum_class: type, default: Any = None) -> Any:
    raw = fields.data.get(name)
    if raw is None and default is not None:
        return default
    try:
        return enum_class(raw)
    except ValueError:
        fields._fail("invalid", name, _("'%(name)s' must be one of: %(values)s.", name=name,
                                        values=", ".join(m.value for m in enum_class)))
        return None


@bp.get("/holidays")
def list_holidays():
    year = int_arg("year", 0, minimum=2000, maximum=2099) or None
    return {"items": [day_json(d) for d in holidays.statutory_days(db.session, year)]}


@bp.put("/holidays/<day>")
@token_required
def put_holiday(day: str):
    actor = api_user()
    on = _path_day(day)
    fields = Fields(json_body())
    kind = _enum_field(fields, "kind", DayKind)
    festival = _enum_field(fields, "festival", Festival, Festival.OTHER)
    source = fields.string("source", required=False, max_length=200) or ""
    fields.done()
    with write_transaction(db.session):
        saved, is_new = holidays.set_day(db.session, actor, day=on, kind=kind,
                                         festival=festival, source=source, now=utcnow())
    return day_json(saved), 201 if is_new else 200


@bp.delete("/holidays/<day>")
@token_required
def delete_holiday(day: str):
    actor = api_user()
    on = _path_day(day)
    with write_transaction(db.session):
        holidays.delete_day(db.session, actor, on, now=utcnow())
    return "", 204


@bp.post("/holidays/seed")
@token_required
def seed_holidays():
    actor = api_user()
    with write_transaction(db.session):
        added = holidays.seed_calendar(db.session, actor, now=utcnow())
    return {"added": added, "years": list(holidays.SEEDED_YEARS)}


@bp.get("/labs/<code>/holiday-policy")
def get_holiday_policy(code: str):
    lab = catalogue.get_lab(db.session, code)
    return policy_json(lab.code, holidays.lab_policy(db.session, lab.id))


@bp.put("/labs/<code>/holiday-policy")
@token_required
def put_holiday_policy(code: str):
    actor = api_user()
    lab = catalogue.get_lab(db.session, code)
    fields = Fields(json_body())
    closes = fields.boolean("closes_on_holidays")
    opens = fields.boolean("opens_on_makeup_days")
    fields.done()
    with write_transaction(db.session):
        holidays.set_lab_policy(db.session, actor, lab, closes_on_holidays=closes,
                                opens_on_makeup_days=opens, now=utcnow())
    return policy_json(lab.code, holidays.lab_policy(db.session, lab.id))


@bp.get("/labs/<code>/working-days")
def working_days(code: str):
    lab = catalogue.get_lab(db.session, code)
    start = _query_day("start")
    end = _query_day("end")
    if not start <= end <= start + dt.timedelta(days=MAX_LISTED_DAYS - 1):
        message = _("'end' must not be before 'start' and at most %(n)d days later.",
                    n=MAX_LISTED_DAYS - 1)
        raise ValidationError(message, code="invalid_interval",
                              problems=[Problem("invalid_interval", message, field="end")])
    return {"lab": lab.code, "start": start.isoformat(), "end": end.isoformat(),
            "working_days": [d.isoformat() for d in
                             holidays.working_days_between(db.session, lab.id, start, end)]}


@bp.get("/labs/<code>/working-days/after")
def working_days_after(code: str):
    lab = catalogue.get_lab(db.session, code)
    start = _query_day("start")
    days = int_arg("days", 0, minimum=0, maximum=holidays.MAX_WORKING_DAYS)
    return {"lab": lab.code, "start": start.isoformat(), "days": days,
            "date": holidays.add_working_days(db.session, lab.id, start, days).isoformat()}
