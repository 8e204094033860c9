"""Report figures on the world of conftest.py, each computed by hand in the comments."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import event, literal, select

from labbook.core.db import UTCDateTime
from labbook.core.errors import ValidationError
from labbook.extensions import db
from labbook.holidays.services import add_working_days
from labbook.reports import figures, periods, tables
from labbook.reports.figures import Dimension
from labbook.reports.periods import Period, Scope
from labbook.reports.sql import working_days_between
from labbook.reports.tables import Ranking
from tests.factories import create_booking, create_instrument, create_lab, lab_time
from tests.reports.conftest import NOW, PERIOD

D = Decimal


@pytest.fixture(autouse=True)
def _english():
    with force_locale("en"):
        yield


def rows(report, width=None):
    """The table's rows keyed by their first cell, without the heading cells."""
    skip = width if width is not None else 1
    return {row[0]: row[skip:] for row in report.table.rows}


def lab_a(world) -> Scope:
    return Scope((world.lab_a,))


def test_opening_hours_count_a_weekend_by_its_own_hours(world):
    # Friday 10 h + Saturday 3 h + Sunday closed + Monday 10 h = 23 h, for A1 and A2 (A3 is
    # retired).
    per_key, in_all = figures.capacity(db.session, lab_a(world), PERIOD, Dimension.INSTRUMENT)
    assert per_key == {world.a1.id: 23 * 3600, world.a2.id: 23 * 3600}
    assert in_all == 46 * 3600


def test_utilization_by_lab(world):
    report = tables.utilization_report(db.session, lab_a(world), PERIOD, Dimension.LAB)
    # Booked: A1 3 h + 2 h (no-show), A2 5 h + 4 h (approved), A3 1 h = 15 h in 5 bookings.
    # Used: A1 09:10–11:40 = 2.5 h, A3 1 h. 15 / 46 = 32.6 %, 3.5 / 46 = 7.6 %.
    assert rows(report, 2) == {"LA": (5, D("15.00"), D("3.50"), D("46.00"), D("32.6"),
                                      D("7.6"))}
    assert report.table.total == ("Total", None, 5, D("15.00"), D("3.50"), D("46.00"),
                                  D("32.6"), D("7.6"))


def test_utilization_by_instrument_and_category(world):
    by_instrument = tables.utilization_report(db.session, lab_a(world), PERIOD,
                                                Dimension.INSTRUMENT)
    assert rows(by_instrument, 3) == {
        "LA-001": (2, D("5.00"), D("2.50"), D("23.00"), D("21.7"), D("10.9")),
        "LA-002": (2, D("9.00"), D("0.00"), D("23.00"), D("39.1"), D("0.0")),
        # Retired: its hours count, but it adds no opening hours.
        "LA-003": (1, D("1.00"), D("1.00"), D("0.00"), None, None),
    }
    by_category = tables.utilization_report(db.session, lab_a(world), PERIOD,
                                              Dimension.CATEGORY)
    assert rows(by_category) == {
        "Category X": (3, D("6.00"), D("3.50"), D("23.00"), D("26.1"), D("15.2")),
        "Category Y": (2, D("9.00"), D("0.00"), D("23.00"), D("39.1"), D("0.0")),
    }


def test_utilization_by_organization_is_a_share_of_all_opening_hours(world):
    report = tables.utilization_report(db.session, lab_a(world), PERIOD,
                                         Dimension.ORGANIZATION)
    # P: 3 h + 4 h, used 2.5 h; Q: 2 h + 1 h + 5 h, used 1 h; both against 46 h.
    assert rows(report, 2) == {
        "=QQ科技": (3, D("8.00"), D("1.00"), D("46.00"), D("17.4"), D("2.2")),
        "鹏程新材料有限公司": (2, D("7.00"), D("2.50"), D("46.00"), D("15.2"), D("5.4")),
    }


def test_utilization_by_month_splits_the_opening_hours():
    lab = create_lab(hours={**{day: [(dt.time(8), dt.time(18))] for day in range(5)},
                            5: [(dt.time(9), dt.time(12))]})
    instrument = create_instrument(lab=lab)
    # Thursday 27 and Friday 28 February: 20 h; Saturday 1 (3 h), Sunday 2, Monday 3 March: 13 h.
    create_booking(instrument=instrument, start_at=lab_time(dt.date(2025, 2, 28), 16),
                   end_at=lab_time(dt.date(2025, 3, 1), 10))  # overnight: counts in February
    create_booking(instrument=instrument, start_at=lab_time(dt.date(2025, 3, 3), 8),
                   end_at=lab_time(dt.date(2025, 3, 3), 18))
    report = tables.utilization_report(
        db.session, Scope((lab,)), Period(dt.date(2025, 2, 27), dt.date(2025, 3, 3)),
        Dimension.MONTH)
    assert rows(report) == {
        "2025-02": (1, D("18.00"), D("0.00"), D("20.00"), D("90.0"), D("0.0")),
        "2025-03": (1, D("10.00"), D("0.00"), D("13.00"), D("76.9"), D("0.0")),
    }
    assert report.table.total[1:] == (2, D("28.00"), D("0.00"), D("33.00"), D("84.8"),
                                      D("0.0"))


def test_no_show_and_late_cancellation_rates(world):
    report = tables.attendance_report(db.session, lab_a(world), PERIOD, Dimension.LAB,
                                        now=NOW)
    # Due: the 5 counted bookings and the late cancellation. 1 no-show, 1 late: 1/6 each.
    assert rows(report, 2) == {"LA": (6, 1, D("16.7"), 1, D("16.7"))}
    by_organization = tables.attendance_report(db.session, lab_a(world), PERIOD,
                                                 Dimension.ORGANIZATION, now=NOW)
    assert rows(by_organization, 2) == {
        "=QQ科技": (4, 1, D("25.0"), 1, D("25.0")),
        "鹏程新材料有限公司": (2, 0, D("0.0"), 0, D("0.0")),
    }


def test_bookings_not_yet_started_are_not_due(world):
    # On Saturday at noon only Friday's four bookings have started.
    report = tables.attendance_report(db.session, lab_a(world), PERIOD, Dimension.LAB,
                                        now=lab_time(dt.date(2025, 3, 8), 8))
    assert rows(report, 2) == {"LA": (3, 0, D("0.0"), 0, D("0.0"))}


def test_revenue_by_tier_and_source(world):
    report = tables.revenue_report(db.session, lab_a(world), PERIOD, Dimension.TIER)
    # Partner (P): usage 300, service 480, adjustment -30. External (Q): no-show 200, late
    # cancellation 50, usage 100. The charge of 11 March and lab B's are outside.
    assert rows(report) == {
        "Internal": (D("0.00"), D("0.00"), D("0.00"), D("0.00")),
        "Partner": (D("300.00"), D("480.00"), D("-30.00"), D("750.00")),
        "External": (D("350.00"), D("0.00"), D("0.00"), D("350.00")),
    }
    assert report.table.total[1:] == (D("650.00"), D("480.00"), D("-30.00"), D("1100.00"))


def test_revenue_by_instrument_puts_services_and_adjustments_apart(world):
    report = tables.revenue_report(db.session, lab_a(world), PERIOD, Dimension.INSTRUMENT)
    assert [row[3:] for row in report.table.rows] == [
        (D("500.00"), D("0.00"), D("0.00"), D("500.00")),  # LA-001
        (D("50.00"), D("0.00"), D("0.00"), D("50.00")),  # LA-002
        (D("100.00"), D("0.00"), D("0.00"), D("100.00")),  # LA-003
        (D("0.00"), D("480.00"), D("-30.00"), D("450.00")),  # no instrument
    ]
    assert report.table.rows[-1][1] == "No instrument (testing services, adjustments)"


def test_revenue_by_lab_for_both_labs(world):
    scope = Scope((world.lab_a, world.lab_b))
    report = tables.revenue_report(db.session, scope, PERIOD, Dimension.LAB)
    assert {row[0]: row[-1] for row in report.table.rows} == {"LA": D("1100.00"),
                                                              "LB": D("120.00")}


def test_revenue_reads_only_the_periods_charges_of_its_labs(world):
    """Through the (lab, time) index: with years of charges, a month's revenue must not read a
    lab's whole past."""
    statements = []

    def keep(_connection, _cursor, statement, parameters, _context, _many):
        if "FROM charges" in statement:
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        figures.revenue(db.session, lab_a(world), PERIOD, Dimension.TIER)
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    [(statement, parameters)] = statements
    connection = db.session.connection()
    if db.engine.dialect.name == "sqlite":
        plan = " ".join(row[-1] for row in connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement, parameters))
        assert "ix_charges_lab_id_occurred_at (lab_id=? AND occurred_at>? AND occurred_at<?)" \
            in plan, plan
    else:
        # A handful of rows is cheaper to scan: ask PostgreSQL what it would do with many.
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = " ".join(row[0] for row in connection.exec_driver_sql(
            "EXPLAIN " + statement, parameters))
        assert "ix_charges_lab_id_occurred_at" in plan, plan
        assert re.search(r"Index Cond: \(\(lab_id = .*occurred_at >= .*occurred_at < ", plan), \
            plan
    db.session.rollback()


def test_top_organizations_by_revenue_and_by_hours(world):
    reports = tables.organizations_reports(db.session, lab_a(world), PERIOD)
    by_revenue, by_hours = reports[Ranking.REVENUE], reports[Ranking.HOURS]
    assert [row[0] for row in by_revenue.table.rows] == ["鹏程新材料有限公司", "=QQ科技"]
    assert [row[0] for row in by_hours.table.rows] == ["=QQ科技", "鹏程新材料有限公司"]
    assert by_revenue.table.rows[0][1:] == ("Partner", 2, D("7.00"), D("2.50"), D("300.00"),
                                            D("480.00"), D("-30.00"), D("750.00"))
    top_one = tables.organizations_reports(db.session, lab_a(world), PERIOD, limit=1)
    assert len(top_one[Ranking.HOURS].table.rows) == 1
    # The total still covers every organization.
    assert top_one[Ranking.HOURS].table.total[2:4] == (5, D("15.00"))


def test_turnaround_against_the_promised_working_days(world):
    report = tables.turnaround_report(db.session, lab_a(world), PERIOD, Dimension.SERVICE)
    # Taken 5 (Mon 3 → Mon 10), 1 (Fri 7 → Mon 10, express: 3 promised), 6 (Fri 28 Feb →
    # Mon 10): average 4.0, longest 6; promised 5, 3, 5: average 4.3; 2 of 3 on time.
    assert rows(report, 3) == {"LA-S01": (3, 1, D("4.3"), D("4.0"), 6, 2, D("66.7"))}


def test_working_days_in_sql_agree_with_the_due_date_rule(app):
    start = dt.date(2025, 3, 1)
    lab_id = create_lab().id
    for offset in range(10):
        day = start + dt.timedelta(days=offset)
        for taken in range(0, 9):
            due = add_working_days(db.session, lab_id, day, taken)
            counted = db.session.scalar(select(working_days_between(
                literal(lab_time(day, 23, 59), UTCDateTime()),
                literal(lab_time(due, 0, 1), UTCDateTime()))))
            assert counted == taken, (day, due)


def test_usage_is_one_organizations_own(world):
    scope = Scope((world.lab_a, world.lab_b), world.org_p)
    report = tables.usage_report(db.session, scope, PERIOD, Dimension.INSTRUMENT)
    assert [row[:1] + row[3:] for row in report.table.rows] == [
        ("LA-001", 1, D("3.00"), D("2.50"), D("300.00"), D("0.00"), D("0.00"), D("300.00")),
        ("LA-002", 1, D("4.00"), D("0.00"), D("0.00"), D("0.00"), D("0.00"), D("0.00")),
        ("LB-001", 1, D("2.00"), D("2.00"), D("120.00"), D("0.00"), D("0.00"), D("120.00")),
        (None, 0, D("0.00"), D("0.00"), D("0.00"), D("480.00"), D("-30.00"), D("450.00")),
    ]
    assert report.table.total[3:] == (3, D("9.00"), D("4.50"), D("420.00"), D("480.00"),
                                      D("-30.00"), D("870.00"))


def test_periods_default_to_this_month_and_are_checked():
    today = dt.date(2026, 2, 14)
    assert periods.parse_period(None, None, today=today) == Period(dt.date(2026, 2, 1),
                                                                    dt.date(2026, 2, 28))
    assert periods.parse_period("2025-03-07", None, today=today) == Period(
        dt.date(2025, 3, 7), dt.date(2025, 3, 31))
    for first, last in [("2025-03-10", "2025-03-07"), ("yesterday", None),
                        ("2020-01-01", "2026-01-01")]:
        with pytest.raises(ValidationError):
            periods.parse_period(first, last, today=today)


def test_period_boundaries_are_lab_midnights():
    assert PERIOD.start_at == dt.datetime(2025, 3, 6, 16, tzinfo=dt.UTC)
    assert PERIOD.end_at == dt.datetime(2025, 3, 10, 16, tzinfo=dt.UTC)
    assert [m.key for m in Period(dt.date(2025, 12, 30), dt.date(2026, 1, 2)).months()] == \
        ["2025-12", "2026-01"]
