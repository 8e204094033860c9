"""Annual open-sharing statistics computed by hand (year 2026, now 2026-12-05 09:00 lab time).

Lab SHR has big1 (¥600,000), big2 (¥500,000.00, exactly the threshold) and small
(¥499,999.99, not large). The institute is the internal-tier organization INST; EXT, EXT2 and
the partner-tier PART are outside.

big1's counted bookings: completed 2 h (EXT, user a), completed 3 h (INST), approved and ended
1.5 h (PART), in use now 4 h (EXT, user b), completed 1 h from 2026-01-01 00:00 (INST): 11.5 h,
of which 7.5 h outside, 4 h to the institute, sharing rate 65.2 %, outside users 3, outside
organizations 2. Not counted: a no-show, a cancellation, an approved booking still to come, a
pending one, one that starts 2025-12-31 23:00.
big2: completed 2 h (EXT, user a); a testing charge of EXT2 split between big2 and small.
Lab: 13.5 h, 9.5 h outside, 70.4 %, outside users 3 (a counted once), organizations 3.

Revenue: big1 100.00 (EXT) + 60.00 (INST) − 10.00 (EXT) = 150.00, 90.00 outside; big2 45.00
(half of EXT2's 90.00), all outside. Training: big1 a and b on 05-10, c on 06-01 (2 sessions, 3
people); big2 a on 07-01 (1, 1); lab 3 sessions, 3 people. Downtime: big1 a logged breakdown
02-01 08:00–12:00 and its closure 10:00–14:00: 6 h; big2 down since 07:00 today: 2 h.
"""

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from labbook.accounts.models import PriceTier
from labbook.billing.models import ChargeKind
from labbook.booking.models import Blackout, Booking, BookingState, Qualification
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.faults.models import FaultKind, FaultState, InstrumentFault
from labbook.reports import sharing
from labbook.reports.figures import hours
from tests.factories import (
    create_booking,
    create_charge,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_service,
    create_user,
    lab_time,
)
from tests.statements import Sums

D = Decimal
NOW = lab_time(dt.date(2026, 12, 5), 9)
HOUR = dt.timedelta(hours=1)


def day(month: int, date: int) -> dt.date:
    return dt.date(2026, month, date)


@pytest.fixture
def scene():
    lab = create_lab(code="SHR")
    big1 = create_instrument(lab=lab, value_cny=D("600000.00"))
    big2 = create_instrument(lab=lab, value_cny=D("500000.00"))
    small = create_instrument(lab=lab, value_cny=D("499999.99"))
    inst = create_organization(name="产业院", tier=PriceTier.INTERNAL)
    ext = create_organization(name="外部企业")
    ext2 = create_organization(name="外部企业二")
    part = create_organization(name="合作高校", tier=PriceTier.PARTNER)
    a, b = create_user(organization=ext), create_user(organization=ext)
    c = create_user(organization=part)
    insider = create_user(organization=inst)

    def book(instrument, user, start, length, state=BookingState.COMPLETED):
        return create_booking(instrument=instrument, user=user, start_at=start,
                              end_at=start + length * HOUR, state=state)

    counted = [
        book(big1, a, lab_time(day(3, 2), 9), 2),
        book(big1, insider, lab_time(day(3, 3), 9), 3),
        book(big1, c, lab_time(day(11, 30), 10), 1.5, BookingState.APPROVED),
        book(big1, b, lab_time(day(12, 5), 8), 4, BookingState.IN_USE),
        book(big1, insider, lab_time(day(1, 1), 0), 1),
        book(big2, a, lab_time(day(4, 1), 9), 2),
    ]
    book(big1, a, lab_time(day(4, 1), 9), 2, BookingState.NO_SHOW)
    book(big1, a, lab_time(day(4, 2), 9), 2, BookingState.CANCELLED)
    # Still to come, whenever the tests run (the pages count up to the real now).
    later = max(NOW, utcnow()) + dt.timedelta(days=3)
    book(big1, a, later, 2, BookingState.APPROVED)
    book(big1, a, lab_time(day(4, 3), 9), 2, BookingState.PENDING)
    book(big1, a, lab_time(dt.date(2025, 12, 31), 23), 2)
    book(small, a, lab_time(day(4, 1), 9), 5)

    create_charge(kind=ChargeKind.USAGE, instrument=big1, organization=ext, lab=lab,
                  amount=D("100.00"), occurred_at=lab_time(day(3, 2), 9))
    create_charge(kind=ChargeKind.USAGE, instrument=big1, organization=inst, lab=lab,
                  amount=D("60.00"), occurred_at=lab_time(day(3, 3), 9))
    create_charge(kind=ChargeKind.ADJUSTMENT, instrument=big1, organization=ext, lab=lab,
                  amount=D("-10.00"), occurred_at=lab_time(day(5, 1), 9))
    service = create_service(lab=lab, instruments=[big2, small])
    create_charge(kind=ChargeKind.SERVICE, service=service, organization=ext2, lab=lab,
                  amount=D("90.00"), occurred_at=lab_time(day(6, 1), 9))

    def grant(user, instrument, moment):
        db.session.add(Qualification(user=user, instrument=instrument, granted_at=moment))

    grant(a, big1, lab_time(day(5, 10), 10))
    grant(b, big1, lab_time(day(5, 10), 15))
    grant(c, big1, lab_time(day(6, 1), 10))
    grant(a, big2, lab_time(day(7, 1), 10))
    grant(b, big2, lab_time(dt.date(2025, 7, 1), 10))
    db.session.add_all([
        InstrumentFault(instrument=big1, kind=FaultKind.BREAKDOWN, state=FaultState.CLOSED,
                        description="x", down_from=lab_time(day(2, 1), 8),
                        down_until=lab_time(day(2, 1), 12)),
        Blackout(instrument=big1, start_at=lab_time(day(2, 1), 10),
                 end_at=lab_time(day(2, 1), 14), reason="维修"),
        Blackout(lab=lab, start_at=lab_time(day(3, 1), 10), end_at=lab_time(day(3, 1), 14),
                 reason="停电"),
        InstrumentFault(instrument=big2, kind=FaultKind.BREAKDOWN, state=FaultState.OPEN,
                        description="x", down_from=lab_time(day(12, 5), 7)),
    ])
    db.session.commit()
    return lab, big1, big2, small, counted


def test_a_years_figures_per_instrument_and_lab(scene):
    lab, big1, big2, _small, _counted = scene
    statistics = sharing.sharing_statistics(db.session, [lab], 2026, now=NOW)
    [lab_figures] = statistics.labs
    per_instrument = dict(lab_figures.instruments)
    assert list(per_instrument) == [big1, big2]
    one, two, total = per_instrument[big1], per_instrument[big2], lab_figures.totals
    assert (one.bookings, hours(one.effective_seconds), hours(one.outside_seconds),
            hours(one.institute_seconds)) == (5, D("11.50"), D("7.50"), D("4.00"))
    assert (one.outside_users, one.outside_organizations) == (3, 2)
    assert (one.revenue, one.outside_revenue) == (D("150.00"), D("90.00"))
    assert (one.training_sessions, one.people_trained) == (2, 3)
    assert hours(one.downtime_seconds) == D("6.00")
    assert (hours(two.effective_seconds), two.outside_users, two.outside_organizations,
            two.revenue, two.training_sessions, hours(two.downtime_seconds)) == (
        D("2.00"), 1, 2, D("45.00"), 1, D("2.00"))
    assert (hours(total.effective_seconds), hours(total.outside_seconds), total.outside_users,
            total.outside_organizations, total.revenue, total.outside_revenue,
            total.training_sessions, total.people_trained, hours(total.downtime_seconds)) == (
        D("13.50"), D("9.50"), 3, 3, D("195.00"), D("135.00"), 3, 3, D("8.00"))


def test_the_hours_are_the_sum_of_the_counted_bookings(scene):
    lab, *_instruments, counted = scene
    statistics = sharing.sharing_statistics(db.session, [lab], 2026, now=NOW)
    assert statistics.totals.effective_seconds == sum(
        int((b.end_at - b.start_at).total_seconds()) for b in counted)
    assert statistics.totals.bookings == len(counted)
    bookings = db.session.scalars(select(Booking).where(Booking.start_at >= lab_time(
        dt.date(2026, 1, 1), 0), Booking.start_at < lab_time(dt.date(2027, 1, 1), 0))).all()
    took_place = [b for b in bookings if b.instrument.value_cny >= D("500000")
                  and (b.state in (BookingState.COMPLETED, BookingState.IN_USE)
                       or (b.state == BookingState.APPROVED and b.end_at <= NOW))]
    assert sorted(b.id for b in took_place) == sorted(b.id for b in counted)


def test_the_page_s_sums_over_the_year_are_planned_each_time(scene, client, login_as):
    """PostgreSQL plans them for their own values every time (``core.engine``'s
    ``PLANNED_EACH_TIME``), as it does the lab reports' (tests/reports/test_planning.py)."""
    lab, *_instruments = scene
    login_as(create_manager(lab))
    with Sums() as sums:
        assert client.get("/reports/open-sharing?year=2026").status_code == 200
    assert len(sums) >= 3
    assert [statement for statement, planned in sums if not planned] == []


def test_the_threshold_is_configurable(scene):
    lab, big1, big2, small, _counted = scene
    statistics = sharing.sharing_statistics(db.session, [lab], 2026, now=NOW,
                                            threshold=D("100000.00"))
    assert [i for i, _f in statistics.labs[0].instruments] == [big1, big2, small]


def test_the_page_states_the_definitions_and_the_xlsx_has_a_row_per_instrument_and_lab(
        scene, client, login_as):
    lab, big1, big2, _small, _counted = scene
    login_as(create_manager(lab))
    page = client.get("/reports/open-sharing?year=2026").get_data(as_text=True)
    assert "Cancelled, rejected, expired" in page or "已取消" in page or "取消" in page
    assert big1.code in page and big2.code in page
    response = client.get("/reports/open-sharing.xlsx?year=2026")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    # The layout: No., lab, asset number, instrument, owner, value, effective hours, …
    big1_row = next(row for row in rows if row[2] == big1.code)
    assert (big1_row[0], big1_row[1], big1_row[6], big1_row[7], big1_row[9]) == (
        1, lab.code, 11.5, 7.5, 65.2)
    assert next(row for row in rows if row[2] == big2.code)[0] == 2
    lab_total = next(row for row in rows if row[0] is None and row[1] == lab.code)
    assert (lab_total[6], lab_total[7], lab_total[10], lab_total[11]) == (13.5, 9.5, 3, 3)


def test_someone_who_manages_nothing_gets_no_statistics(scene, client, login_as):
    login_as(create_user())
    assert client.get("/reports/open-sharing").status_code == 403


def test_the_statistics_as_json(scene, client):
    from tests.factories import bearer

    lab, big1, _big2, _small, _counted = scene
    body = client.get("/api/v1/open-sharing?year=2026", headers=bearer(create_manager(lab))
                      ).get_json()
    [lab_json] = body["labs"]
    first = lab_json["instruments"][0]
    assert (first["code"], first["effective_hours"], first["outside_hours"],
            first["sharing_rate_percent"], first["revenue"]) == (
        big1.code, "11.50", "7.50", "65.2", "150.00")
    assert lab_json["totals"]["outside_organizations"] == 3
    assert body["totals"]["effective_seconds"] == 13.5 * 3600
