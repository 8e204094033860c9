"""Open-sharing statistics and owner settlements as JSON, under /api/v1: the same figures as
their pages and exports (``labbook.reports.sharing``, ``labbook.reports.settlements``).
Money is a string of yuan with two decimals, hours a string with two decimals beside the
exact seconds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import current_app, request
from flask_babel import gettext as _

from labbook.api import bp
from labbook.api.auth import api_user, token_required
from labbook.catalogue.models import Instrument
from labbook.core.errors import PermissionDenied
from labbook.core.time import to_lab_time, utcnow
from labbook.extensions import db
from labbook.http import int_arg
from labbook.owners import services as owners
from labbook.reports import periods, settlements, sharing
from labbook.reports.figures import hours, percent
from labbook.reports.settlements import OwnerTotals


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def figures_json(figures: sharing.SharingFigures) -> dict[str, Any]:
    rate = percent(figures.outside_seconds, figures.effective_seconds)
    return {
        "bookings": figures.bookings,
        "effective_seconds": figures.effective_seconds,
        "effective_hours": str(hours(figures.effective_seconds)),
        "outside_seconds": figures.outside_seconds,
        "outside_hours": str(hours(figures.outside_seconds)),
        "institute_seconds": figures.institute_seconds,
        "institute_hours": str(hours(figures.institute_seconds)),
        "sharing_rate_percent": str(rate) if rate is not None else None,
        "outside_users": figures.outside_users,
        "outside_organizations": figures.outside_organizations,
        "revenue": _money(figures.revenue), "outside_revenue": _money(figures.outside_revenue),
        "training_sessions": figures.training_sessions,
        "people_trained": figures.people_trained,
        "downtime_seconds": figures.downtime_seconds,
        "downtime_hours": str(hours(figures.downtime_seconds)),
    }


def _instrument_json(instrument: Instrument) -> dict[str, Any]:
    return {"id": instrument.id, "code": instrument.code, "name_zh": instrument.name_zh,
            "name_en": instrument.name_en, "value_cny": _money(instrument.value_cny),
            "owner": instrument.owner.code if instrument.owner else None}


@bp.get("/open-sharing")
@token_required
def open_sharing_statistics():
    actor = api_user()
    now = utcnow()
    year = int_arg("year", periods.lab_today(now).year, minimum=2000, maximum=2099)
    scope = periods.lab_scope(db.session, actor, request.args.get("lab") or None)
    threshold = sharing.large_value(current_app.config.get("LABBOOK_LARGE_INSTRUMENT_VALUE"))
    result = sharing.sharing_statistics(db.session, list(scope.labs), year,
                                        threshold=threshold, now=now)
    return {
        "year": year, "threshold": _money(result.threshold),
        "labs": [{"lab": lab.lab.code,
                  "instruments": [{**_instrument_json(instrument), **figures_json(figures)}
                                  for instrument, figures in lab.instruments],
                  "totals": figures_json(lab.totals)} for lab in result.labs],
        "totals": figures_json(result.totals),
    }


def _totals_json(totals: OwnerTotals) -> dict[str, str]:
    return {"time_revenue": _money(totals.time_revenue),
            "testing_revenue": _money(totals.testing_revenue),
            "revenue": _money(totals.revenue), "time_share": _money(totals.time_share),
            "testing_share": _money(totals.testing_share), "share": _money(totals.share)}


def _month():
    return periods.parse_month(request.args.get("month"), today=periods.lab_today(utcnow()))


@bp.get("/settlements")
@token_required
def settlements_overview_json():
    if not api_user().is_admin:
        raise PermissionDenied(_("Owner settlements are for admins and the owners' contact "
                                 "persons."))
    period = _month()
    totals, every_charge = settlements.owner_totals(db.session, period)
    attributed = OwnerTotals()
    for figures in totals.values():
        attributed.add(figures)
    return {"month": period.first.strftime("%Y-%m"),
            "owners": [{"code": owner.code, "name_zh": owner.name_zh, "name_en": owner.name_en,
                        **_totals_json(totals.get(owner.id, OwnerTotals()))}
                       for owner in owners.all_owners(db.session)],
            "not_attributed": _money(every_charge - attributed.revenue),
            "total_revenue": _money(every_charge)}


@bp.get("/owners/<code>/settlement")
@token_required
def owner_settlement(code: str):
    actor = api_user()
    owner = owners.get_owner(db.session, code)
    if not (actor.is_admin or owners.is_contact(db.session, actor, owner)):
        raise PermissionDenied(_("Owner settlements are for admins and the owners' contact "
                                 "persons."))
    result = settlements.settlement(db.session, owner, _month())
    return {
        "owner": owner.code, "month": result.period.first.strftime("%Y-%m"),
        "agreements": [{"effective_from": agreement.effective_from.isoformat(),
                        "time_share_percent": agreement.time_share_percent,
                        "testing_share_percent": agreement.testing_share_percent}
                       for agreement in result.agreements],
        "lines": [{"charge_id": line.charge_id,
                   "date": to_lab_time(line.occurred_at).date().isoformat(),
                   "instrument": line.instrument.code, "organization": line.organization,
                   "kind": line.kind.value, "part": line.part, "amount": _money(line.amount),
                   "percent": line.percent, "share": _money(line.share)}
                  for line in result.lines],
        "totals": _totals_json(result.totals),
    }
