"""Report pages with their CSV and XLSX exports, and the managers' and admins' dashboards.

Lab reports are for lab managers (their labs) and admins (every lab); the usage report shows
anyone their own organization's use. Every table on a page exports to CSV and XLSX with the
same filters: ``from`` and ``to`` (lab dates), ``lab`` (a code) and ``by`` (what the rows are).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy.orm import Session

from labbook.accounts.access import current_actor
from labbook.accounts.models import User
from labbook.core.errors import ValidationError
from labbook.core.money import format_money
from labbook.core.tables import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, Kind, to_csv, to_xlsx
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.i18n import lazy_gettext as _l
from labbook.reports import dashboards, figures, periods, tables
from labbook.reports.charts import ChartSpec, Series, chart_data
from labbook.reports.figures import Dimension
from labbook.reports.periods import Period, Scope
from labbook.reports.tables import Ranking, Report

bp = Blueprint("reports", __name__)

#: Organizations shown in each ranking on the page; the exports hold them all.
TOP_ORGANIZATIONS = 10
#: Query parameters that choose what a report covers, kept when moving between reports.
FILTERS = ("from", "to", "lab")

Build = Callable[[Session, Scope, Period, str, dt.datetime, int | None], list[Report]]


@dataclasses.dataclass(frozen=True)
class Section:
    """One table of a report page, with what its chart draws."""

    title: Any
    chart: ChartSpec


@dataclasses.dataclass(frozen=True)
class Page:
    """A report page. ``build`` makes its tables for one choice of rows, ``by``; a page with
    several sections shows one table per choice (and ``by`` picks the table to export)."""

    name: str
    title: Any
    definition: Any
    choices: Sequence[str]
    sections: Sequence[Section]
    build: Build
    for_managers: bool = True

    @property
    def shows_every_choice(self) -> bool:
        return len(self.sections) > 1


def _by_dimension(build: Callable[..., Report]) -> Build:
    return lambda session, scope, period, by, _now, _limit: [
        build(session, scope, period, Dimension(by))]


def _rankings(session: Session, scope: Scope, period: Period, _by: str, _now: dt.datetime,
              limit: int | None) -> list[Report]:
    reports = tables.organizations_reports(session, scope, period, limit=limit)
    return [reports[ranking] for ranking in Ranking]


PAGES = {page.name: page for page in [
    Page("utilization", _l("Utilization"), _l(
        "Booked hours: the booked time of bookings that are approved, in use, completed or "
        "no-shows and start in the period (a booking counts wholly on the day it starts). "
        "Used hours: checked out minus checked in. Opening hours: the lab's weekly opening "
        "hours on every day of the period, once per instrument that is not retired; closures "
        "are not taken off. Utilization: booked or used hours ÷ opening hours; it can exceed "
        "100 % where bookings run through closed hours. An organization's utilization is its "
        "share of the opening hours of all instruments shown."),
        tables.UTILIZATION_DIMENSIONS,
        [Section(_l("Utilization"), ChartSpec(
            (Series("booked_hours"), Series("used_hours"),
             Series("booked_utilization", "line", 1), Series("used_utilization", "line", 1)),
            ("h", "%")))],
        _by_dimension(tables.utilization_report)),
    Page("attendance", _l("No-shows and late cancellations"), _l(
        "Due bookings: bookings that start in the period before now and had been approved "
        "(approved, in use, completed, no-show, or cancelled late). No-show rate and "
        "late-cancellation rate: no-shows and late cancellations ÷ due bookings."),
        tables.ATTENDANCE_DIMENSIONS,
        [Section(_l("No-shows and late cancellations"), ChartSpec(
            (Series("no_show_rate"), Series("late_cancellation_rate")), ("%",)))],
        lambda session, scope, period, by, now, _limit: [tables.attendance_report(
            session, scope, period, Dimension(by), now=now)]),
    Page("revenue", _l("Revenue"), _l(
        "Every charge that occurred in the period, on a statement yet or not: a booking's on "
        "its booked start, a testing service's on its completion, an adjustment when it was "
        "made. Instrument time: usage, no-show and late-cancellation charges. Testing "
        "services: service charges. Adjustments (corrections and credits) are shown apart."),
        tables.REVENUE_DIMENSIONS,
        [Section(_l("Revenue"), ChartSpec(
            (Series("instrument_time", stack="revenue"), Series("services", stack="revenue"),
             Series("adjustments", stack="revenue")), ("¥",)))],
        _by_dimension(tables.revenue_report)),
    Page("organizations", _l("Top organizations"), _l(
        "Organizations ranked by revenue (all charges, as in the revenue report) and by "
        "booked hours (as in the utilization report) in the period. The page shows the top "
        "ten of each; the files list every organization."),
        tuple(Ranking),
        [Section(_l("By revenue"), ChartSpec((Series("total"),), ("¥",), horizontal=True)),
         Section(_l("By booked hours"),
                 ChartSpec((Series("booked_hours"),), ("h",), horizontal=True))],
        _rankings),
    Page("turnaround", _l("Testing-service turnaround"), _l(
        "Requests completed in the period. Taken: working days (Monday to Friday) after the "
        "day the test was requested, up to and including the day it was completed. Promised: "
        "the service's turnaround days, halved and rounded up for express requests. On time: "
        "taken ≤ promised. Public holidays are not known to labbook and count as working "
        "days."),
        tables.TURNAROUND_DIMENSIONS,
        [Section(_l("Turnaround"), ChartSpec(
            (Series("promised_days"), Series("taken_days"), Series("on_time_share", "line", 1)),
            ("d", "%")))],
        _by_dimension(tables.turnaround_report)),
    Page("usage", _l("Our usage"), _l(
        "Your organization's bookings in the period (approved, in use, completed or "
        "no-show, by the day they start), their booked and used hours, and what was charged "
        "for them, for testing services and as adjustments."),
        tables.USAGE_DIMENSIONS,
        [Section(_l("Usage"), ChartSpec(
            (Series("booked_hours"), Series("used_hours"), Series("total", "line", 1)),
            ("h", "¥")))],
        _by_dimension(tables.usage_report), for_managers=False),
]}
REPORT_NAMES = ",".join(PAGES)
CHOICE_LABELS = {**figures.DIMENSION_LABELS, Ranking.REVENUE: _l("Revenue"),
                 Ranking.HOURS: _l("Booked hours")}


#: How the page writes each kind of number but money (``format_money``). Both languages labbook
#: speaks write numbers alike (1,234.5), and Python's format costs a fraction of Babel's on a
#: table of thousands of cells.
NUMBER_FORMATS = {Kind.COUNT: "{:,}", Kind.HOURS: "{:,.2f}", Kind.PERCENT: "{:.1f}",
                  Kind.DAYS: "{:.1f}"}


@bp.app_template_filter("figure")
def format_figure(value: Any, kind: Kind) -> str:
    """A table cell as the page shows it."""
    if value is None or kind == Kind.MONEY:
        return format_money(value)
    return NUMBER_FORMATS.get(kind, "{}").format(value)


def _scope(page: Page, actor: User, lab_code: str | None) -> Scope:
    """The labs (and, on the usage page, the organization) ``page`` covers for ``actor``."""
    scope_for = periods.lab_scope if page.for_managers else periods.usage_scope
    return scope_for(db.session, actor, lab_code)


def _period(now: dt.datetime) -> Period:
    return periods.parse_period(request.args.get("from"), request.args.get("to"),
                                today=periods.lab_today(now))


def _choice(page: Page) -> str:
    """The rows asked for with ``by``; the page's first choice when none is given."""
    wanted = request.args.get("by") or page.choices[0]
    if wanted not in page.choices:
        raise ValidationError(_("A report cannot show rows by '%(by)s'.", by=wanted),
                              code="invalid_parameter")
    return wanted


@bp.get("/reports")
@login_required
def index():
    name = "utilization" if periods.can_view_lab_reports(current_actor()) else "usage"
    return redirect(url_for(".report", name=name))


@bp.get(f"/reports/<any({REPORT_NAMES}):name>")
@login_required
def report(name: str):
    page = PAGES[name]
    actor = current_actor()
    scope = _scope(page, actor, request.args.get("lab") or None)
    now = utcnow()
    period = _period(now)
    # A page of several tables ranks the same rows several ways: it shows only the top ones.
    by = page.choices[0] if page.shows_every_choice else _choice(page)
    reports = page.build(db.session, scope, period, by, now,
                         TOP_ORGANIZATIONS if page.shows_every_choice else None)
    choices = page.choices if page.shows_every_choice else [by]
    tables = [{"section": section, "by": choice, "report": built,
               "chart": chart_data(built, section.chart)}
              for section, choice, built in zip(page.sections, choices, reports, strict=True)]
    return render_template(
        "reports/report.html", page=page, pages=_pages_for(actor), tables=tables,
        period=period, scope=scope, lab_code=request.args.get("lab", "").upper(),
        filters={key: request.args[key] for key in FILTERS if request.args.get(key)},
        labs=list(_scope(page, actor, None).labs), presets=_presets(periods.lab_today(now)),
        choice_labels=CHOICE_LABELS)


@bp.get(f"/reports/<any({REPORT_NAMES}):name>.<any(csv,xlsx):file_format>")
@login_required
def export(name: str, file_format: str):
    page = PAGES[name]
    scope = _scope(page, current_actor(), request.args.get("lab") or None)
    now = utcnow()
    period = _period(now)
    by = _choice(page)
    reports = page.build(db.session, scope, period, by, now, None)
    index = page.choices.index(by) if page.shows_every_choice else 0
    table, section = reports[index].table, page.sections[index]
    heading = [(_("Report"), f"{page.title} · {section.title}"),
               (_("Rows by"), str(CHOICE_LABELS[by])),
               (_("Period"), f"{period.first.isoformat()} – {period.last.isoformat()}"),
               (_("Labs"), ", ".join(lab.code for lab in scope.labs))]
    if scope.organization is not None:
        heading.append((_("Organization"), scope.organization.name))
    filename = f"labbook-{name}-{by}-{period.first.isoformat()}-{period.last.isoformat()}"
    if file_format == "csv":
        body, mimetype = to_csv(table, heading), CSV_MEDIA_TYPE
    else:
        body, mimetype = to_xlsx(table, str(page.title), heading), XLSX_MEDIA_TYPE
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}.{file_format}"'})


def _pages_for(actor: User) -> list[Page]:
    if periods.can_view_lab_reports(actor):
        return list(PAGES.values())
    return [page for page in PAGES.values() if not page.for_managers]


def _presets(today: dt.date) -> list[tuple[Any, Period]]:
    """Periods offered as one-click links above the filter form."""
    this_month = periods.month_period(today)
    last_month = periods.month_period(this_month.first - dt.timedelta(days=1))
    return [(_l("This month"), this_month), (_l("Last month"), last_month),
            (_l("This year"), Period(today.replace(month=1, day=1),
                                     today.replace(month=12, day=31))),
            (_l("Last year"), Period(dt.date(today.year - 1, 1, 1),
                                     dt.date(today.year - 1, 12, 31)))]


# -- dashboards ---------------------------------------------------------------------------------


@bp.get("/dashboard")
@login_required
def dashboard():
    """Today and tomorrow in the manager's labs (an admin's: all labs)."""
    board = dashboards.manager_dashboard(db.session, current_actor(), now=utcnow())
    return render_template("reports/dashboard.html", board=board)


@bp.get("/dashboard/institute")
@login_required
def institute_dashboard():
    """The labs side by side, this month against the last (admins)."""
    board = dashboards.institute_dashboard(db.session, current_actor(), now=utcnow())
    return render_template("reports/institute.html", board=board, metrics=METRICS, kinds=Kind,
                           change=_change)


#: Rows of the institute's dashboard: label, attribute of LabFigures, how it is shown.
METRICS = [(_l("Bookings"), "bookings", Kind.COUNT),
           (_l("Booked hours"), "booked_hours", Kind.HOURS),
           (_l("Used hours"), "used_hours", Kind.HOURS),
           (_l("Booked utilization (%)"), "booked_utilization", Kind.PERCENT),
           (_l("Used utilization (%)"), "used_utilization", Kind.PERCENT),
           (_l("Revenue"), "revenue", Kind.MONEY)]


def _change(this: int | Decimal | None, last: int | Decimal | None) -> Decimal | None:
    """This month against the last, in per cent; None where last month had nothing."""
    if this is None or not last:
        return None
    return figures.percent(Decimal(this) - Decimal(last), last)
