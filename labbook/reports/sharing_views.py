"""Pages of the owners and of open sharing: the annual open-sharing statistics (lab managers
and admins) with their XLSX self-assessment table, the owner settlements (admins, and each
owner's contact persons for their own), the contact persons' view of their instruments, and
the public open-sharing page (no sign-in)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from labbook.accounts.access import current_actor, require
from labbook.catalogue import services as catalogue
from labbook.catalogue.models import Lab, Owner
from labbook.core.tables import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, Table, to_csv, to_xlsx
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.http import int_arg
from labbook.i18n import localized
from labbook.owners import services as owners
from labbook.reports import periods, public, settlements, sharing, sharing_tables
from labbook.reports.periods import Period

bp = Blueprint("sharing", __name__)

FIRST_YEAR, LAST_YEAR = 2000, 2099


def large_value() -> Decimal:
    """The purchase value from which an instrument counts as large (the app's setting)."""
    return sharing.large_value(current_app.config.get("LABBOOK_LARGE_INSTRUMENT_VALUE"))


def _year(now: dt.datetime) -> int:
    return int_arg("year", periods.lab_today(now).year, minimum=FIRST_YEAR, maximum=LAST_YEAR)


def _month(now: dt.datetime) -> Period:
    """The month asked for as ``month=YYYY-MM``; by default the last one."""
    return periods.parse_month(request.args.get("month"), today=periods.lab_today(now))


def _download(table: Table, title: str, heading: list[tuple[str, str]], filename: str,
              file_format: str) -> Response:
    if file_format == "csv":
        body, mimetype = to_csv(table, heading), CSV_MEDIA_TYPE
    else:
        body, mimetype = to_xlsx(table, title, heading), XLSX_MEDIA_TYPE
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}.{file_format}"'})


# -- annual open-sharing statistics -----------------------------------------------------------


def _statistics(now: dt.datetime) -> sharing.SharingStatistics:
    scope = periods.lab_scope(db.session, current_actor(), request.args.get("lab") or None)
    return sharing.sharing_statistics(db.session, list(scope.labs), _year(now),
                                      threshold=large_value(), now=now)


@bp.get("/reports/open-sharing")
@login_required
def statistics():
    now = utcnow()
    result = _statistics(now)
    actor = current_actor()
    return render_template(
        "sharing/statistics.html", statistics=result,
        table=sharing_tables.sharing_table(result),
        labs=list(periods.lab_scope(db.session, actor).labs),
        lab_code=(request.args.get("lab") or "").upper(),
        years=range(periods.lab_today(now).year, FIRST_YEAR + 19, -1))


@bp.get("/reports/open-sharing.<any(csv,xlsx):file_format>")
@login_required
def statistics_export(file_format: str):
    now = utcnow()
    result = _statistics(now)
    labs = ", ".join(localized(lab.lab, "name") for lab in result.labs)
    heading = [
        (_("Table"), _("Annual self-assessment of the open sharing of large instruments")),
        (_("Year"), str(result.year)),
        (_("Institute"), _("Jiaozuo Institute of Industrial Technology")),
        (_("Labs"), labs),
        (_("Large instruments"), _("purchase value of at least %(value)s",
                                   value=f"¥{result.threshold:,.2f}")),
        (_("Effective working hours"), _("booked time of the bookings that took place "
                                         "(completed, in use, or approved and ended)")),
        (_("Sharing rate"), _("hours to outside organizations ÷ effective working hours")),
        (_("Made"), periods.lab_today(now).isoformat()),
    ]
    return _download(sharing_tables.sharing_table(result), _("Open sharing %(year)d",
                                                             year=result.year),
                     heading, f"labbook-open-sharing-{result.year}", file_format)


# -- owner settlements ------------------------------------------------------------------------


def _may_see_settlement(owner: Owner) -> bool:
    actor = current_actor()
    return actor.is_admin or owners.is_contact(db.session, actor, owner)


@bp.get("/reports/settlements")
@login_required
def settlements_overview():
    require(current_actor().is_admin)
    period = _month(utcnow())
    all_owners = owners.all_owners(db.session)
    totals, every_charge = settlements.owner_totals(db.session, period)
    return render_template(
        "sharing/settlements.html", period=period, owners=all_owners,
        table=sharing_tables.settlements_table(all_owners, totals, every_charge))


def _settlement(code: str) -> settlements.Settlement:
    owner = owners.get_owner(db.session, code)
    require(_may_see_settlement(owner))
    return settlements.settlement(db.session, owner, _month(utcnow()))


@bp.get("/reports/settlements/<code>")
@login_required
def settlement(code: str):
    result = _settlement(code)
    return render_template("sharing/settlement.html", settlement=result,
                           table=sharing_tables.settlement_table(result))


@bp.get("/reports/settlements/<code>.<any(csv,xlsx):file_format>")
@login_required
def settlement_export(code: str, file_format: str):
    result = _settlement(code)
    owner, period = result.owner, result.period
    heading = [(_("Owner settlement"), f"{owner.code} · {localized(owner, 'name')}"),
               (_("Month"), period.first.strftime("%Y-%m"))]
    for agreement in result.agreements:
        heading.append((_("Agreement from %(day)s", day=agreement.effective_from.isoformat()),
                        _("instrument time %(time)d %%, testing services %(testing)d %%",
                          time=agreement.time_share_percent,
                          testing=agreement.testing_share_percent)))
    return _download(sharing_tables.settlement_table(result), _("Settlement"), heading,
                     f"labbook-settlement-{owner.code}-{period.first:%Y-%m}", file_format)


# -- the owners' contact persons --------------------------------------------------------------


@bp.get("/owner")
@login_required
def owner_home():
    """An owner's contact person sees the use and revenue of its instruments in a year: per
    instrument, and per organization by name — never who booked or why."""
    actor = current_actor()
    mine = owners.owners_of(db.session, actor)
    require(bool(mine))
    code = request.args.get("owner") or mine[0].code
    owner = next((o for o in mine if o.code == code), None)
    require(owner is not None)
    now = utcnow()
    year = _year(now)
    period = sharing.year_period(year)
    instruments = owner.instruments
    figures = sharing.instrument_figures(db.session, instruments, period, now=now)
    use = sharing.use_by_organization(db.session, instruments, period, now=now)
    return render_template("sharing/owner.html", owner=owner, mine=mine, year=year,
                           instruments=instruments, figures=figures, use=use,
                           agreements=owners.agreements(db.session, owner),
                           years=range(periods.lab_today(now).year, FIRST_YEAR + 19, -1),
                           months=[dt.date(year, month, 1) for month in range(1, 13)
                                   if dt.date(year, month, 1) <= periods.lab_today(now)])


# -- the public open-sharing page -------------------------------------------------------------


@bp.get("/open-sharing")
def public_page():
    now = utcnow()
    labs = catalogue.all_labs(db.session)
    code = (request.args.get("lab") or "").strip().upper()
    lab: Lab = catalogue.get_lab(db.session, code) if code else labs[0]
    year = periods.lab_today(now).year
    figures = public.yearly_figures(db.session, year, large_value(), now=now)
    return render_template("sharing/public.html", labs=labs, lab=lab,
                           page=public.public_lab(db.session, lab, now=now), figures=figures,
                           threshold=large_value())
