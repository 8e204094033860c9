"""The dashboards: every lab side by side this month and last (admins), and today and tomorrow
in a manager's labs."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from labbook.accounts.models import User
from labbook.billing.models import Invoice, InvoiceState, Statement, StatementState
from labbook.booking.models import Booking, BookingState
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab
from labbook.core.errors import PermissionDenied
from labbook.orders.models import OPEN_LINE_STATES, Order, OrderLine
from labbook.reports.figures import (
    COUNTED_STATES,
    BookedTime,
    Dimension,
    Revenue,
    added_up,
    booked_time,
    capacity,
    hours,
    percent,
    revenue,
)
from labbook.reports.periods import (
    Period,
    Scope,
    lab_midnight,
    lab_scope,
    lab_today,
    month_period,
)

#: Bookings shown on a manager's dashboard: everything still planned or already happened.
DASHBOARD_STATES = (BookingState.PENDING, *COUNTED_STATES)


@dataclasses.dataclass(frozen=True)
class LabFigures:
    """One lab's (or all labs') month at a glance."""

    bookings: int
    booked_hours: Decimal
    used_hours: Decimal
    booked_utilization: Decimal | None
    used_utilization: Decimal | None
    revenue: Decimal


def lab_figures(session: Session, scope: Scope, period: Period) -> dict[int | None, LabFigures]:
    """Figures per lab of ``scope`` and, under the key None, for them all."""
    time = booked_time(session, scope, period, Dimension.LAB)
    open_by_lab, open_in_all = capacity(session, scope, period, Dimension.LAB)
    amounts = revenue(session, scope, period, Dimension.LAB)

    def figures(booked: BookedTime, open_seconds: int, money: Revenue) -> LabFigures:
        return LabFigures(booked.bookings, hours(booked.booked_seconds),
                          hours(booked.used_seconds),
                          percent(booked.booked_seconds, open_seconds),
                          percent(booked.used_seconds, open_seconds), money.total)

    result: dict[int | None, LabFigures] = {
        lab_id: figures(time.get(lab_id, BookedTime()), open_by_lab.get(lab_id, 0),
                        amounts.get(lab_id, Revenue())) for lab_id in scope.lab_ids}
    result[None] = figures(added_up(time.values(), BookedTime), open_in_all,
                           added_up(amounts.values(), Revenue))
    return result


def pending_approvals(session: Session, lab_ids: list[int]) -> dict[int, int]:
    """Bookings waiting for a decision, per lab."""
    rows = session.execute(
        select(Instrument.lab_id, func.count()).join(Booking.instrument)
        .where(Booking.state == BookingState.PENDING, Instrument.lab_id.in_(lab_ids))
        .group_by(Instrument.lab_id))
    return {lab_id: count for lab_id, count in rows}


@dataclasses.dataclass(frozen=True)
class FinanceWaiting:
    """What waits for finance (the admins): invoices asked for and statements not yet issued."""
    invoices_requested: int
    draft_statements: int


def finance_waiting(session: Session) -> FinanceWaiting:
    def count(model, condition) -> int:
        return session.scalar(select(func.count()).select_from(model).where(condition))
    return FinanceWaiting(count(Invoice, Invoice.state == InvoiceState.REQUESTED),
                          count(Statement, Statement.state == StatementState.DRAFT))


@dataclasses.dataclass(frozen=True)
class InstituteDashboard:
    labs: list[Lab]
    this_month: Period
    last_month: Period
    #: Figures per lab id, and for all labs under None.
    this: dict[int | None, LabFigures]
    last: dict[int | None, LabFigures]
    pending: dict[int | None, int]
    finance: FinanceWaiting


def institute_dashboard(session: Session, actor: User, *, now: dt.datetime
                        ) -> InstituteDashboard:
    """Every lab side by side, this calendar month (all of it, bookings to come included)
    against the last, the requests waiting for approval now, and what waits for finance."""
    if not actor.is_admin:
        raise PermissionDenied(_("The institute's dashboard is for administrators."))
    scope = lab_scope(session, actor)
    this_month = month_period(lab_today(now))
    last_month = month_period(this_month.first - dt.timedelta(days=1))
    pending: dict[int | None, int] = dict(pending_approvals(session, scope.lab_ids))
    pending[None] = sum(pending.values())
    return InstituteDashboard(list(scope.labs), this_month, last_month,
                              lab_figures(session, scope, this_month),
                              lab_figures(session, scope, last_month), pending,
                              finance_waiting(session))


@dataclasses.dataclass(frozen=True)
class DayPlan:
    day: dt.date
    bookings: list[Booking]


@dataclasses.dataclass(frozen=True)
class ManagerDashboard:
    labs: list[Lab]
    today: dt.date
    days: list[DayPlan]
    pending_approvals: int
    in_maintenance: list[Instrument]
    overdue_lines: list[OrderLine]


def manager_dashboard(session: Session, actor: User, *, now: dt.datetime) -> ManagerDashboard:
    """Today and tomorrow in the labs ``actor`` manages: bookings, requests waiting for
    approval, instruments under maintenance and testing requests past their due date."""
    scope = lab_scope(session, actor)
    lab_ids = scope.lab_ids
    today = lab_today(now)
    days = [today, today + dt.timedelta(days=1)]
    bookings = list(session.scalars(
        select(Booking).join(Booking.instrument)
        .where(Instrument.lab_id.in_(lab_ids), Booking.state.in_(DASHBOARD_STATES),
               Booking.end_at > lab_midnight(days[0]),
               Booking.start_at < lab_midnight(days[-1] + dt.timedelta(days=1)))
        .options(selectinload(Booking.instrument).selectinload(Instrument.lab),
                 selectinload(Booking.user), selectinload(Booking.organization))
        .order_by(Booking.start_at, Booking.id)))
    plans = [DayPlan(day, [booking for booking in bookings
                           if booking.start_at < lab_midnight(day + dt.timedelta(days=1))
                           and booking.end_at > lab_midnight(day)]) for day in days]
    in_maintenance = list(session.scalars(
        select(Instrument).where(Instrument.lab_id.in_(lab_ids),
                                 Instrument.status == InstrumentStatus.MAINTENANCE)
        .options(selectinload(Instrument.lab)).order_by(Instrument.code)))
    overdue = list(session.scalars(
        select(OrderLine).join(OrderLine.order)
        .where(Order.lab_id.in_(lab_ids), OrderLine.state.in_(OPEN_LINE_STATES),
               OrderLine.due_date < today)
        .options(selectinload(OrderLine.service),
                 selectinload(OrderLine.order).selectinload(Order.organization))
        .order_by(OrderLine.due_date, OrderLine.id)))
    return ManagerDashboard(list(scope.labs), today, plans,
                            sum(pending_approvals(session, lab_ids).values()), in_maintenance,
                            overdue)
