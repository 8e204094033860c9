"""A small, fully known world for the report figures.

Lab A is open Monday to Friday 08:00–18:00 and Saturday 09:00–12:00; the period is Friday
2025-03-07 to Monday 2025-03-10, so each instrument of lab A is open 10 + 3 + 0 + 10 = 23 hours
in it. A1 and A2 count; A3 is retired. Lab B (one instrument, B1) is someone else's.
Organizations: P (partner tier) and Q (external tier). The test modules compute every figure by
hand from the bookings, charges and requests below.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from labbook.accounts.models import Organization, PriceTier, User
from labbook.billing.models import ChargeKind
from labbook.booking.models import BookingState
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab, TestingService
from labbook.extensions import db
from labbook.orders.models import LineState, OrderLine
from labbook.reports.periods import Period
from tests.factories import (
    create_admin,
    create_booking,
    create_category,
    create_charge,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_service,
    create_user,
    lab_time,
)
from tests.orders.factories import create_order

FRI, SAT, SUN, MON = (dt.date(2025, 3, 7), dt.date(2025, 3, 8), dt.date(2025, 3, 9),
                      dt.date(2025, 3, 10))
PERIOD = Period(FRI, MON)
#: Some time after the period: every booking in it is due.
NOW = lab_time(dt.date(2025, 4, 1), 12)
WEEKDAY = [(dt.time(8), dt.time(18))]


@dataclasses.dataclass
class World:
    lab_a: Lab
    lab_b: Lab
    a1: Instrument
    a2: Instrument
    a3: Instrument
    b1: Instrument
    service: TestingService
    org_p: Organization
    org_q: Organization
    researcher_p: User
    researcher_q: User
    manager_a: User
    manager_b: User
    admin: User


def _request(service: TestingService, user: User, created: dt.datetime,
             completed: dt.datetime | None, *, express: bool = False,
             state: LineState = LineState.COMPLETED) -> OrderLine:
    """A one-sample order of ``service`` submitted at ``created``, its line in ``state``."""
    line = create_order(service, user, line_state=state, created_at=created)
    line.is_express = express
    line.completed_at = completed
    db.session.commit()
    return line


@pytest.fixture
def world() -> World:
    lab_a = create_lab(code="LA", name_zh="甲实验室", name_en="Lab A",
                       hours={**{day: WEEKDAY for day in range(5)},
                              5: [(dt.time(9), dt.time(12))]})
    lab_b = create_lab(code="LB", name_zh="乙实验室", name_en="Lab B")
    x = create_category(key="x", name_zh="甲类", name_en="Category X")
    y = create_category(key="y", name_zh="乙类", name_en="Category Y")
    a1 = create_instrument(lab=lab_a, category=x, code="LA-001")
    a2 = create_instrument(lab=lab_a, category=y, code="LA-002")
    a3 = create_instrument(lab=lab_a, category=x, code="LA-003", status=InstrumentStatus.RETIRED)
    b1 = create_instrument(lab=lab_b, category=x, code="LB-001")
    service = create_service(lab=lab_a, instruments=[a1], code="LA-S01", turnaround_days=5)
    org_p = create_organization(name="鹏程新材料有限公司", tier=PriceTier.PARTNER)
    org_q = create_organization(name="=QQ科技", tier=PriceTier.EXTERNAL)
    researcher_p = create_user(organization=org_p)
    researcher_q = create_user(organization=org_q)
    world = World(lab_a, lab_b, a1, a2, a3, b1, service, org_p, org_q, researcher_p,
                  researcher_q, create_manager(lab_a), create_manager(lab_b), create_admin())

    def book(instrument, user, day, start, end, state, **extra):
        return create_booking(instrument=instrument, user=user, start_at=lab_time(day, *start),
                              end_at=lab_time(day, *end), state=state, **extra)

    p, q = researcher_p, researcher_q
    book(a1, p, FRI, (9,), (12,), BookingState.COMPLETED,
         checked_in_at=lab_time(FRI, 9, 10), checked_out_at=lab_time(FRI, 11, 40))
    book(a1, q, SAT, (9,), (11,), BookingState.NO_SHOW)
    book(a2, p, MON, (13,), (17,), BookingState.APPROVED)
    book(a3, q, FRI, (14,), (15,), BookingState.COMPLETED,
         checked_in_at=lab_time(FRI, 14), checked_out_at=lab_time(FRI, 15))
    book(a2, q, FRI, (12,), (17,), BookingState.APPROVED)
    # Not booked time: a late cancellation (due, though), an early one, a refusal.
    book(a2, q, MON, (8,), (9,), BookingState.CANCELLED, is_late_cancellation=True)
    book(a1, p, MON, (10,), (11,), BookingState.CANCELLED)
    book(a2, p, FRI, (10,), (11,), BookingState.REJECTED)
    book(a1, q, SUN, (10,), (11,), BookingState.PENDING)
    # Outside the period, and in the other lab.
    book(a1, p, dt.date(2025, 3, 6), (10,), (12,), BookingState.COMPLETED)
    book(a1, p, dt.date(2025, 3, 11), (0,), (2,), BookingState.COMPLETED)
    book(b1, p, FRI, (10,), (12,), BookingState.COMPLETED,
         checked_in_at=lab_time(FRI, 10), checked_out_at=lab_time(FRI, 12))

    def charge(kind, org, lab, amount, day, hour, **extra):
        return create_charge(kind=kind, organization=org, lab=lab, amount=Decimal(amount),
                             occurred_at=lab_time(day, hour), **extra)

    charge(ChargeKind.USAGE, org_p, lab_a, "300.00", FRI, 9, instrument=a1)
    charge(ChargeKind.NO_SHOW, org_q, lab_a, "200.00", SAT, 9, instrument=a1)
    charge(ChargeKind.LATE_CANCELLATION, org_q, lab_a, "50.00", MON, 8, instrument=a2)
    charge(ChargeKind.USAGE, org_q, lab_a, "100.00", FRI, 14, instrument=a3)
    charge(ChargeKind.SERVICE, org_p, lab_a, "480.00", MON, 15, service=service)
    charge(ChargeKind.ADJUSTMENT, org_p, lab_a, "-30.00", MON, 16)
    charge(ChargeKind.USAGE, org_p, lab_a, "999.00", dt.date(2025, 3, 11), 0, instrument=a1)
    charge(ChargeKind.USAGE, org_p, lab_b, "120.00", FRI, 10, instrument=b1)

    # Requested on a Monday just after midnight lab time (still Sunday in UTC): 5 working
    # days to the next Monday. Express (3 promised), 1 working day. Six working days: late.
    _request(service, p, lab_time(dt.date(2025, 3, 3), 0, 30), lab_time(MON, 16))
    _request(service, q, lab_time(FRI, 17), lab_time(MON, 9), express=True)
    _request(service, p, lab_time(dt.date(2025, 2, 28), 11), lab_time(MON, 11))
    _request(service, p, lab_time(FRI, 9), lab_time(dt.date(2025, 3, 11), 9))
    _request(service, p, lab_time(FRI, 9), None, state=LineState.IN_PROGRESS)
    return world
