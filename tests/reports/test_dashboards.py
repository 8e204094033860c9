"""The managers' dashboard (today and tomorrow) and the admins' (the labs side by side)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from labbook.booking.models import BookingState
from labbook.catalogue.models import InstrumentStatus
from labbook.core.errors import PermissionDenied
from labbook.extensions import db
from labbook.orders.models import LineState
from labbook.reports import dashboards, periods
from tests.factories import create_booking, create_instrument, lab_time
from tests.orders.factories import create_order

D = Decimal
#: Wednesday 12 March 2025, 10:00 lab time: today the 12th, tomorrow the 13th.
NOW = lab_time(dt.date(2025, 3, 12), 10)
TODAY, TOMORROW = dt.date(2025, 3, 12), dt.date(2025, 3, 13)


def test_manager_dashboard_shows_today_tomorrow_and_what_needs_doing(world):
    a1, a2 = world.a1, world.a2
    today = create_booking(instrument=a1, start_at=lab_time(TODAY, 9),
                           end_at=lab_time(TODAY, 11))
    overnight = create_booking(instrument=a2, start_at=lab_time(TODAY, 17),
                               end_at=lab_time(TOMORROW, 9), state=BookingState.PENDING)
    tomorrow = create_booking(instrument=a1, start_at=lab_time(TOMORROW, 14),
                              end_at=lab_time(TOMORROW, 15))
    create_booking(instrument=a1, start_at=lab_time(TOMORROW, 8), end_at=lab_time(TOMORROW, 9),
                   state=BookingState.CANCELLED)
    create_booking(instrument=a1, start_at=lab_time(dt.date(2025, 3, 14), 8),
                   end_at=lab_time(dt.date(2025, 3, 14), 9))
    create_booking(instrument=world.b1, start_at=lab_time(TODAY, 9), end_at=lab_time(TODAY, 10))
    broken = create_instrument(lab=world.lab_a, status=InstrumentStatus.MAINTENANCE,
                               status_reason="更换X光管")
    create_instrument(lab=world.lab_b, status=InstrumentStatus.MAINTENANCE)
    late = create_order(world.service, world.researcher_p, line_state=LineState.IN_PROGRESS,
                        due_date=dt.date(2025, 3, 11))
    create_order(world.service, world.researcher_p, due_date=TODAY)
    create_order(world.service, world.researcher_p, line_state=LineState.COMPLETED,
                 due_date=dt.date(2025, 3, 11))

    board = dashboards.manager_dashboard(db.session, world.manager_a, now=NOW)
    assert [plan.day for plan in board.days] == [TODAY, TOMORROW]
    assert board.days[0].bookings == [today, overnight]
    assert board.days[1].bookings == [overnight, tomorrow]
    # The overnight request and the one on Sunday 9 March of conftest's world.
    assert board.pending_approvals == 2
    assert board.in_maintenance == [broken]
    assert board.overdue_lines == [late]


def test_the_dashboards_are_for_managers_and_admins(world):
    with pytest.raises(PermissionDenied):
        dashboards.manager_dashboard(db.session, world.researcher_p, now=NOW)
    with pytest.raises(PermissionDenied):
        dashboards.institute_dashboard(db.session, world.manager_a, now=NOW)


def test_institute_dashboard_compares_this_month_with_the_last(world):
    # This month is March 2025: conftest's bookings and charges. Last month: one February
    # booking of 10 h on A1 and nothing else.
    create_booking(instrument=world.a1, start_at=lab_time(dt.date(2025, 2, 3), 8),
                   end_at=lab_time(dt.date(2025, 2, 3), 18), state=BookingState.COMPLETED)
    board = dashboards.institute_dashboard(db.session, world.admin, now=NOW)
    assert board.this_month == periods.Period(dt.date(2025, 3, 1), dt.date(2025, 3, 31))
    assert board.last_month == periods.Period(dt.date(2025, 2, 1), dt.date(2025, 2, 28))
    lab_a = board.this[world.lab_a.id]
    # March: the 5 bookings of the period plus the completed ones of 6 and 11 March (2 h each).
    assert (lab_a.bookings, lab_a.booked_hours, lab_a.used_hours) == (7, D("19.00"), D("3.50"))
    # March 2025 has 21 weekdays (210 h) and 5 Saturdays (15 h): 225 h for each of 2
    # instruments. 19 / 450 = 4.2 %.
    assert lab_a.booked_utilization == D("4.2")
    assert lab_a.revenue == D("2099.00")
    february = board.last[world.lab_a.id]
    # February 2025: 20 weekdays and 4 Saturdays = 212 h × 2 instruments.
    assert (february.bookings, february.booked_hours, february.booked_utilization) == \
        (1, D("10.00"), D("2.4"))
    assert board.this[None].revenue == D("2219.00")
    assert board.pending == {world.lab_a.id: 1, None: 1}
