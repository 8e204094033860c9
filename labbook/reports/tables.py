"""The reports as tables: a row per lab, category, instrument, organization, month, price tier
or testing service, the figures of ``labbook.reports.figures`` in columns, and a total row.
``labbook.core.tables`` writes each as CSV and XLSX."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from labbook.accounts.labels import TIER_LABELS
from labbook.accounts.models import Organization, PriceTier
from labbook.catalogue.models import Category, Instrument, Lab, TestingService
from labbook.core.tables import Cell, Column, Kind, Table
from labbook.i18n import lazy_gettext as _l
from labbook.i18n import localized
from labbook.reports.figures import (
    Attendance,
    BookedTime,
    Dimension,
    Revenue,
    Turnaround,
    added_up,
    attendance,
    average,
    booked_time,
    capacity,
    hours,
    percent,
    revenue,
    turnaround,
)
from labbook.reports.periods import Period, Scope

# -- row headings ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Head:
    """A row's leading cells, its short name on a chart, and where it sorts."""

    cells: tuple[Cell, ...]
    label: str
    order: tuple[Any, ...]


def _column(key: str, label: Any, kind: Kind = Kind.TEXT) -> Column:
    return Column(key, str(label), kind)


def head_columns(by: Dimension) -> list[Column]:
    return {
        Dimension.LAB: [_column("lab_code", _l("Code")), _column("lab", _l("Lab"))],
        Dimension.CATEGORY: [_column("category", _l("Category"))],
        Dimension.INSTRUMENT: [_column("instrument_code", _l("Code")),
                               _column("instrument", _l("Instrument")),
                               _column("lab_code", _l("Lab"))],
        Dimension.ORGANIZATION: [_column("organization", _l("Organization")),
                                 _column("tier", _l("Price tier"))],
        Dimension.MONTH: [_column("month", _l("Month"))],
        Dimension.TIER: [_column("tier", _l("Price tier"))],
        Dimension.SERVICE: [_column("service_code", _l("Code")),
                            _column("service", _l("Testing service")),
                            _column("lab_code", _l("Lab"))],
    }[by]


#: Which leading cell holds a row's name (the one a missing key's explanation goes in).
NAME_CELL = {Dimension.LAB: 1, Dimension.INSTRUMENT: 1, Dimension.SERVICE: 1}


def _heads(session: Session, by: Dimension, keys: Iterable[Hashable]) -> dict[Hashable, Head]:
    wanted = [key for key in keys if key is not None]
    heads: dict[Hashable, Head] = {}
    if by == Dimension.LAB:
        for lab in session.scalars(select(Lab).where(Lab.id.in_(wanted))):
            heads[lab.id] = Head((lab.code, localized(lab, "name")), lab.code, (0, lab.code))
    elif by == Dimension.CATEGORY:
        for category in session.scalars(select(Category).where(Category.id.in_(wanted))):
            name = localized(category, "name")
            heads[category.id] = Head((name,), name, (0, category.key))
    elif by == Dimension.INSTRUMENT:
        for instrument in session.scalars(select(Instrument).where(Instrument.id.in_(wanted))
                                          .options(selectinload(Instrument.lab))):
            heads[instrument.id] = Head((instrument.code, localized(instrument, "name"),
                                         instrument.lab.code), instrument.code,
                                        (0, instrument.code))
    elif by == Dimension.SERVICE:
        for service in session.scalars(select(TestingService)
                                       .where(TestingService.id.in_(wanted))
                                       .options(selectinload(TestingService.lab))):
            heads[service.id] = Head((service.code, localized(service, "name"),
                                      service.lab.code), service.code, (0, service.code))
    elif by == Dimension.ORGANIZATION:
        for organization in session.scalars(select(Organization)
                                            .where(Organization.id.in_(wanted))):
            heads[organization.id] = Head(
                (organization.name, str(TIER_LABELS[organization.tier])), organization.name,
                (0, organization.name))
    elif by == Dimension.TIER:
        tiers = list(PriceTier)
        for tier in wanted:
            heads[tier] = Head((str(TIER_LABELS[tier]),), str(TIER_LABELS[tier]),
                               (0, tiers.index(tier)))
    else:
        for month in wanted:
            heads[month] = Head((month,), str(month), (0, month))
    if None in keys:
        heads[None] = _missing_head(by)
    return heads


def _missing_head(by: Dimension) -> Head:
    """The row of charges that have no value of ``by`` (an adjustment has no instrument)."""
    label = {Dimension.INSTRUMENT: _("No instrument (testing services, adjustments)"),
             Dimension.CATEGORY: _("No category (adjustments)"),
             Dimension.TIER: _("No price tier")}.get(by, _("Other"))
    cells: list[Cell] = [None] * len(head_columns(by))
    cells[NAME_CELL.get(by, 0)] = label
    return Head(tuple(cells), label, (1,))


def _total_head(by: Dimension, label: str) -> tuple[Cell, ...]:
    return (label, *[None] * (len(head_columns(by)) - 1))


def _known_keys(scope: Scope, period: Period, by: Dimension) -> list[Hashable]:
    """Rows a report shows even when empty: every lab in scope, every month of the period."""
    if by == Dimension.LAB:
        return list(scope.lab_ids)
    if by == Dimension.MONTH:
        return [month.key for month in period.months()]
    if by == Dimension.TIER:
        return list(PriceTier)
    return []



# -- reports --------------------------------------------------------------------------------------

@dataclasses.dataclass
class Report:
    """A table of figures with a short name per row for charts."""

    table: Table
    labels: list[str]


def _report(session: Session, by: Dimension, keys: Iterable[Hashable],
            columns: list[Column], cells: Callable[[Hashable], tuple[Cell, ...]],
            total: tuple[Cell, ...], total_label: str | None = None) -> Report:
    keys = set(keys)
    heads = _heads(session, by, keys)
    ordered = sorted(keys, key=lambda key: heads[key].order)
    table = Table([*head_columns(by), *columns],
                  [heads[key].cells + cells(key) for key in ordered],
                  _total_head(by, total_label or _("Total")) + total)
    return Report(table, [heads[key].label for key in ordered])


UTILIZATION_DIMENSIONS = (Dimension.LAB, Dimension.CATEGORY, Dimension.INSTRUMENT,
                          Dimension.ORGANIZATION, Dimension.MONTH)
ATTENDANCE_DIMENSIONS = UTILIZATION_DIMENSIONS
REVENUE_DIMENSIONS = (*UTILIZATION_DIMENSIONS, Dimension.TIER)
TURNAROUND_DIMENSIONS = (Dimension.LAB, Dimension.CATEGORY, Dimension.SERVICE, Dimension.MONTH)
USAGE_DIMENSIONS = (Dimension.INSTRUMENT, Dimension.MONTH, Dimension.LAB)


def _time_columns() -> list[Column]:
    return [_column("bookings", _l("Bookings"), Kind.COUNT),
            _column("booked_hours", _l("Booked hours"), Kind.HOURS),
            _column("used_hours", _l("Used hours"), Kind.HOURS)]


def _time_cells(time: BookedTime) -> tuple[Cell, ...]:
    return (time.bookings, hours(time.booked_seconds), hours(time.used_seconds))


def utilization_report(session: Session, scope: Scope, period: Period,
                       by: Dimension) -> Report:
    time = booked_time(session, scope, period, by)
    open_by_key, open_in_all = capacity(session, scope, period, by)

    def cells(booked: BookedTime, open_seconds: int) -> tuple[Cell, ...]:
        return (*_time_cells(booked), hours(open_seconds),
                percent(booked.booked_seconds, open_seconds),
                percent(booked.used_seconds, open_seconds))

    def row(key: Hashable) -> tuple[Cell, ...]:
        open_seconds = open_in_all if by == Dimension.ORGANIZATION else open_by_key.get(key, 0)
        return cells(time.get(key, BookedTime()), open_seconds)

    columns = [*_time_columns(), _column("open_hours", _l("Opening hours"), Kind.HOURS),
               _column("booked_utilization", _l("Booked utilization (%)"), Kind.PERCENT),
               _column("used_utilization", _l("Used utilization (%)"), Kind.PERCENT)]
    keys = {*time, *open_by_key, *_known_keys(scope, period, by)}
    return _report(session, by, keys, columns, row,
                   cells(added_up(time.values(), BookedTime), open_in_all))


def attendance_report(session: Session, scope: Scope, period: Period, by: Dimension, *,
                      now: dt.datetime) -> Report:
    counts = attendance(session, scope, period, by, now=now)

    def cells(value: Attendance) -> tuple[Cell, ...]:
        return (value.due, value.no_shows, percent(value.no_shows, value.due),
                value.late_cancellations, percent(value.late_cancellations, value.due))

    columns = [_column("due", _l("Due bookings"), Kind.COUNT),
               _column("no_shows", _l("No-shows"), Kind.COUNT),
               _column("no_show_rate", _l("No-show rate (%)"), Kind.PERCENT),
               _column("late_cancellations", _l("Late cancellations"), Kind.COUNT),
               _column("late_cancellation_rate", _l("Late-cancellation rate (%)"),
                       Kind.PERCENT)]
    return _report(session, by, {*counts, *_known_keys(scope, period, by)}, columns,
                   lambda key: cells(counts.get(key, Attendance())),
                   cells(added_up(counts.values(), Attendance)))


def _money_columns() -> list[Column]:
    return [_column("instrument_time", _l("Instrument time (¥)"), Kind.MONEY),
            _column("services", _l("Testing services (¥)"), Kind.MONEY),
            _column("adjustments", _l("Adjustments (¥)"), Kind.MONEY),
            _column("total", _l("Total (¥)"), Kind.MONEY)]


def _money_cells(value: Revenue) -> tuple[Cell, ...]:
    return (value.instrument_time, value.services, value.adjustments, value.total)


def revenue_report(session: Session, scope: Scope, period: Period, by: Dimension) -> Report:
    amounts = revenue(session, scope, period, by)
    return _report(session, by, {*amounts, *_known_keys(scope, period, by)}, _money_columns(),
                   lambda key: _money_cells(amounts.get(key, Revenue())),
                   _money_cells(added_up(amounts.values(), Revenue)))


class Ranking(enum.StrEnum):
    REVENUE = "revenue"
    HOURS = "hours"


def organizations_reports(session: Session, scope: Scope, period: Period, *,
                          limit: int | None = None) -> dict[Ranking, Report]:
    """Organizations ranked by revenue and by booked hours, highest first, from one query of
    each kind; the totals cover every organization, however many are listed."""
    time = booked_time(session, scope, period, Dimension.ORGANIZATION)
    amounts = revenue(session, scope, period, Dimension.ORGANIZATION)
    keys = {*time, *amounts}
    heads = _heads(session, Dimension.ORGANIZATION, keys)

    def cells(booked: BookedTime, money: Revenue) -> tuple[Cell, ...]:
        return _time_cells(booked) + _money_cells(money)

    def ranked(ranking: Ranking) -> Report:
        def rank(key: Hashable) -> tuple[Any, ...]:
            booked = time.get(key, BookedTime()).booked_seconds
            money = amounts.get(key, Revenue()).total
            first, second = (money, booked) if ranking == Ranking.REVENUE else (booked, money)
            return (-first, -second, heads[key].order)

        shown = sorted(keys, key=rank)[:limit]
        table = Table(
            [*head_columns(Dimension.ORGANIZATION), *_time_columns(), *_money_columns()],
            [heads[key].cells + cells(time.get(key, BookedTime()), amounts.get(key, Revenue()))
             for key in shown],
            _total_head(Dimension.ORGANIZATION, _("All organizations"))
            + cells(added_up(time.values(), BookedTime), added_up(amounts.values(), Revenue)))
        return Report(table, [heads[key].label for key in shown])

    return {ranking: ranked(ranking) for ranking in Ranking}


def turnaround_report(session: Session, scope: Scope, period: Period, by: Dimension) -> Report:
    figures = turnaround(session, scope, period, by)

    def cells(value: Turnaround) -> tuple[Cell, ...]:
        return (value.completed, value.express, average(value.promised_days, value.completed),
                average(value.taken_days, value.completed),
                value.longest if value.completed else None, value.on_time,
                percent(value.on_time, value.completed))

    columns = [_column("completed", _l("Completed requests"), Kind.COUNT),
               _column("express", _l("Express"), Kind.COUNT),
               _column("promised_days", _l("Promised (working days, average)"), Kind.DAYS),
               _column("taken_days", _l("Taken (working days, average)"), Kind.DAYS),
               _column("longest_days", _l("Longest (working days)"), Kind.COUNT),
               _column("on_time", _l("On time"), Kind.COUNT),
               _column("on_time_share", _l("On time (%)"), Kind.PERCENT)]
    return _report(session, by, {*figures, *_known_keys(scope, period, by)}, columns,
                   lambda key: cells(figures.get(key, Turnaround())),
                   cells(added_up(figures.values(), Turnaround)))


def usage_report(session: Session, scope: Scope, period: Period, by: Dimension) -> Report:
    """One organization's booked and used hours and what it was charged (``scope`` names it)."""
    time = booked_time(session, scope, period, by)
    amounts = revenue(session, scope, period, by)

    def cells(booked: BookedTime, money: Revenue) -> tuple[Cell, ...]:
        return _time_cells(booked) + _money_cells(money)

    return _report(session, by, {*time, *amounts, *_known_keys(scope, period, by)},
                   [*_time_columns(), *_money_columns()],
                   lambda key: cells(time.get(key, BookedTime()), amounts.get(key, Revenue())),
                   cells(added_up(time.values(), BookedTime), added_up(amounts.values(), Revenue)))

