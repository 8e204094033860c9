"""Owner settlements computed by hand, line by line, and reconciled with the revenue report.

November 2026, lab time. Owner AAA has 70 % of instrument time and 40 % of testing until
15 November and 50 %/50 % from 16 November; BBB has 60 %/60 %. Instruments i1 and i2 are
AAA's, i3 BBB's, i4 nobody's.

| charge | on | amount | AAA line (share) | BBB line (share) | not attributed |
| --- | --- | --- | --- | --- | --- |
| usage 11-02 | i1 | 100.01 | 100.01 (70 % → 70.01) | | |
| no-show 11-20 | i2 | 33.33 | 33.33 (50 % → 16.665 → 16.67) | | |
| test 11-10 | i1 + i3 | 100.01 | 50.01 (40 % → 20.00) | 50.00 (60 % → 30.00) | |
| test 11-25 | i2 | 80.00 | 80.00 (50 % → 40.00) | | |
| adjustment 11-26 | i1 | −10.00 | −10.00 (50 % → −5.00) | | |
| adjustment 11-26 | — | −20.00 | | | −20.00 |
| usage 11-27 | i4 | 50.00 | | | 50.00 |
| usage 11-30 23:59 | i3 | 10.00 | | 10.00 (60 % → 6.00) | |

AAA: time 123.34, testing 130.01, share 81.68 + 60.00 = 141.68. BBB: time 10.00, testing
50.00, share 36.00. All charges: 343.35 = 253.35 + 60.00 + 30.00 not attributed.
"""

from decimal import Decimal

from labbook.billing.models import ChargeKind
from labbook.catalogue.models import Lab
from labbook.extensions import db
from labbook.reports import figures
from labbook.reports.figures import Dimension
from labbook.reports.periods import Scope, month_period
from labbook.reports.settlements import TESTING, TIME, owner_totals, settlement
from tests.owners.conftest import NOVEMBER

D = Decimal


def test_an_owners_settlement_line_by_line(month):
    result = settlement(db.session, month.owner_a, month_period(NOVEMBER))
    i1, i2 = month.instruments[:2]
    assert [(line.instrument.id, line.kind, line.part, line.amount, line.percent, line.share)
            for line in result.lines] == [
        (i1.id, ChargeKind.USAGE, TIME, D("100.01"), 70, D("70.01")),
        (i1.id, ChargeKind.SERVICE, TESTING, D("50.01"), 40, D("20.00")),
        (i2.id, ChargeKind.NO_SHOW, TIME, D("33.33"), 50, D("16.67")),
        (i2.id, ChargeKind.SERVICE, TESTING, D("80.00"), 50, D("40.00")),
        (i1.id, ChargeKind.ADJUSTMENT, TIME, D("-10.00"), 50, D("-5.00")),
    ]
    assert {line.organization for line in result.lines} == {"客户企业"}
    totals = result.totals
    assert (totals.time_revenue, totals.testing_revenue, totals.time_share,
            totals.testing_share, totals.share) == (D("123.34"), D("130.01"), D("81.68"),
                                                   D("60.00"), D("141.68"))
    assert [a.effective_from.isoformat() for a in result.agreements] == ["2026-01-01",
                                                                         "2026-11-16"]


def test_the_owners_totals_add_up_to_the_revenue_report(month):
    period = month_period(NOVEMBER)
    totals, every_charge = owner_totals(db.session, period)
    a, b = totals[month.owner_a.id], totals[month.owner_b.id]
    assert (a.revenue, a.share) == (D("253.35"), D("141.68"))
    assert (b.time_revenue, b.testing_revenue, b.share) == (D("10.00"), D("50.00"), D("36.00"))
    assert every_charge == D("343.35")
    # The settlement of each owner says the same as the overview.
    for owner in (month.owner_a, month.owner_b):
        assert settlement(db.session, owner, period).totals == totals[owner.id]
    # What the revenue report of every lab says for the month.
    scope = Scope(tuple(db.session.query(Lab).order_by(Lab.code)))
    report = figures.added_up(figures.revenue(db.session, scope, period,
                                              Dimension.LAB).values(), figures.Revenue)
    assert report.total == every_charge == a.revenue + b.revenue + D("30.00")


def test_an_order_lines_charge_is_divided_by_the_hours_booked_for_it(month):
    """December (lab time): an order line of the testing service that names i1 and i3 had
    3 h booked on i2 and 1 h on i3 (a cancelled booking on i1 does not count): its charge of
    100.01 is i2's 75.01 (7,500.75 fen rounded down, plus the fen left over: i2 has the lower
    id) and i3's 25.00, not an equal split between i1 and i3."""
    import datetime as dt

    from labbook.accounts.models import PriceTier
    from labbook.booking.models import BookingState
    from labbook.orders.models import Order, OrderLine, OrderState, Remains, ReportLanguage
    from labbook.reports.settlements import attributed_lines
    from tests.factories import create_booking, create_charge, create_user, lab_time

    i1, i2, i3, _i4 = month.instruments
    service = i1.services[0]
    moment = lab_time(dt.date(2026, 12, 3), 10)
    order = Order(number="SET-2026-0001", lab=i1.lab, organization=month.customer,
                  requester=create_user(organization=month.customer),
                  state=OrderState.COMPLETED, remains=Remains.DISPOSE,
                  report_language=ReportLanguage.ZH_CN, contact_name="联系人",
                  contact_email="c@example.cn", tier=PriceTier.EXTERNAL,
                  quoted_total=D("100.01"), terms="条款", confirmed_at=moment)
    line = OrderLine(order=order, position=1, service=service, method="GB/T 1",
                     unit_price=D("100.01"), express_surcharge=D("0.00"), total=D("100.01"))
    db.session.add_all([order, line])
    db.session.commit()
    analyst = create_user()
    for instrument, day, hours, state in ((i2, 1, 3, BookingState.COMPLETED),
                                          (i3, 1, 1, BookingState.COMPLETED),
                                          (i1, 2, 5, BookingState.CANCELLED)):
        create_booking(instrument=instrument, user=analyst, order_line_id=line.id,
                       start_at=lab_time(dt.date(2026, 12, day), 9),
                       end_at=lab_time(dt.date(2026, 12, day), 9 + hours), state=state)
    create_charge(kind=ChargeKind.SERVICE, service=service, order_line_id=line.id,
                  organization=month.customer, lab=i1.lab, amount=D("100.01"),
                  occurred_at=moment)
    december = month_period(dt.date(2026, 12, 1))
    lines = attributed_lines(december.start_at, december.end_at)
    parts = {row.instrument_id: row.amount for row in db.session.execute(
        lines.select().where(lines.c.kind == ChargeKind.SERVICE))}
    assert parts == {i2.id: 7501, i3.id: 2500}
    totals, every_charge = owner_totals(db.session, december)
    assert totals[month.owner_a.id].testing_revenue == D("75.01")
    assert totals[month.owner_b.id].testing_revenue == D("25.00")
    # With the fixture's usage charge of 999.00 on i3 at 1 December 00:00.
    assert every_charge == D("1099.01")
    assert totals[month.owner_b.id].time_revenue == D("999.00")
