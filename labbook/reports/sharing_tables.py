"""The open-sharing statistics and the owner settlements as tables (``labbook.core.tables``), so
that pages, CSV and XLSX show the same rows."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _

from labbook.billing.labels import KIND_LABELS
from labbook.catalogue.models import Owner
from labbook.core.tables import Cell, Column, Kind, Table
from labbook.core.time import to_lab_time
from labbook.i18n import lazy_gettext as _l
from labbook.i18n import localized
from labbook.reports.figures import hours, percent
from labbook.reports.settlements import TIME, OwnerTotals, Settlement
from labbook.reports.sharing import SharingFigures, SharingStatistics


def _column(key: str, label, kind: Kind = Kind.TEXT, width: int | None = None) -> Column:
    return Column(key, str(label), kind, width)


# -- open-sharing statistics --------------------------------------------------------------------


def sharing_columns() -> list[Column]:
    return [
        _column("number", _l("No."), Kind.COUNT, 6),
        _column("lab", _l("Lab"), width=8),
        _column("code", _l("Asset number"), width=12),
        _column("instrument", _l("Instrument"), width=28),
        _column("owner", _l("Owner unit"), width=24),
        _column("value", _l("Purchase value (¥)"), Kind.MONEY, 16),
        _column("effective_hours", _l("Effective working hours"), Kind.HOURS),
        _column("outside_hours", _l("Hours to outside organizations"), Kind.HOURS),
        _column("institute_hours", _l("Hours to the institute"), Kind.HOURS),
        _column("sharing_rate", _l("Sharing rate (%)"), Kind.PERCENT),
        _column("outside_users", _l("Outside users"), Kind.COUNT),
        _column("outside_organizations", _l("Outside organizations served"), Kind.COUNT),
        _column("revenue", _l("Service revenue (¥)"), Kind.MONEY, 16),
        _column("outside_revenue", _l("Of which from outside (¥)"), Kind.MONEY, 16),
        _column("training_sessions", _l("Training sessions"), Kind.COUNT),
        _column("people_trained", _l("People trained"), Kind.COUNT),
        _column("downtime_hours", _l("Downtime (hours)"), Kind.HOURS),
    ]


def _figures_cells(figures: SharingFigures) -> tuple[Cell, ...]:
    return (hours(figures.effective_seconds), hours(figures.outside_seconds),
            hours(figures.institute_seconds),
            percent(figures.outside_seconds, figures.effective_seconds),
            figures.outside_users, figures.outside_organizations, figures.revenue,
            figures.outside_revenue, figures.training_sessions, figures.people_trained,
            hours(figures.downtime_seconds))


def sharing_table(statistics: SharingStatistics) -> Table:
    """One row per instrument, each lab's instruments followed by the lab's total (a
    subtotal), and the total of every lab shown."""
    rows: list[tuple[Cell, ...]] = []
    subtotals = []
    number = 0
    for lab_figures in statistics.labs:
        lab = lab_figures.lab
        for instrument, figures in lab_figures.instruments:
            number += 1
            rows.append((number, lab.code, instrument.code, localized(instrument, "name"),
                         localized(instrument.owner, "name") if instrument.owner else "",
                         instrument.value_cny, *_figures_cells(figures)))
        subtotals.append(len(rows))
        value = sum((i.value_cny for i, _figures in lab_figures.instruments), start=0)
        rows.append((None, lab.code, None,
                     _("Total of %(lab)s (%(n)d instruments)", lab=localized(lab, "name"),
                       n=len(lab_figures.instruments)), None, value or None,
                     *_figures_cells(lab_figures.totals)))
    count = sum(len(lab.instruments) for lab in statistics.labs)
    value = sum((i.value_cny for lab in statistics.labs for i, _f in lab.instruments), start=0)
    total = (None, None, None, _("All labs shown (%(n)d instruments)", n=count), None,
             value or None, *_figures_cells(statistics.totals))
    return Table(sharing_columns(), rows, total, subtotals)


# -- owner settlements ------------------------------------------------------------------------


def settlement_table(result: Settlement) -> Table:
    columns = [
        _column("date", _l("Date"), width=12), _column("charge", _l("Charge"), Kind.COUNT),
        _column("code", _l("Asset number"), width=12),
        _column("instrument", _l("Instrument"), width=28),
        _column("organization", _l("Organization"), width=28),
        _column("kind", _l("Kind"), width=16), _column("part", _l("Revenue of"), width=16),
        _column("amount", _l("Revenue (¥)"), Kind.MONEY, 14),
        _column("percent", _l("Owner's share (%)"), Kind.PERCENT),
        _column("share", _l("Owner's share (¥)"), Kind.MONEY, 14),
    ]
    rows = [(to_lab_time(line.occurred_at).date(), line.charge_id, line.instrument.code,
             localized(line.instrument, "name"), line.organization,
             str(KIND_LABELS[line.kind]), part_label(line.part), line.amount, line.percent,
             line.share) for line in result.lines]
    totals = result.totals
    total = (_("Total"), None, None, None, None, None, None, totals.revenue, None,
             totals.share)
    return Table(columns, rows, total)


def part_label(part: str) -> str:
    return str(_l("Instrument time") if part == TIME else _l("Testing services"))


def settlements_table(owners: list[Owner], totals: Mapping[int, OwnerTotals],
                      every_charge) -> Table:
    """Every owner's revenue and share in the period, the revenue no owner's instrument
    earned, and the total, which is the revenue report's."""
    columns = [
        _column("code", _l("Code"), width=10), _column("owner", _l("Owner unit"), width=28),
        _column("time_revenue", _l("Instrument time (¥)"), Kind.MONEY, 16),
        _column("testing_revenue", _l("Testing services (¥)"), Kind.MONEY, 16),
        _column("revenue", _l("Revenue (¥)"), Kind.MONEY, 16),
        _column("time_share", _l("Share of instrument time (¥)"), Kind.MONEY, 16),
        _column("testing_share", _l("Share of testing services (¥)"), Kind.MONEY, 16),
        _column("share", _l("Owner's share (¥)"), Kind.MONEY, 16),
    ]
    rows: list[tuple[Cell, ...]] = []
    attributed = OwnerTotals()
    for owner in owners:
        figures = totals.get(owner.id, OwnerTotals())
        attributed.add(figures)
        rows.append((owner.code, localized(owner, "name"), figures.time_revenue,
                     figures.testing_revenue, figures.revenue, figures.time_share,
                     figures.testing_share, figures.share))
    rest = every_charge - attributed.revenue
    rows.append((None, _("Not attributed to an owner's instrument"), None, None, rest, None,
                 None, None))
    total = (_("Total"), None, attributed.time_revenue, attributed.testing_revenue,
             every_charge, attributed.time_share, attributed.testing_share, attributed.share)
    return Table(columns, rows, total)
