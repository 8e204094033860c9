"""Testing orders written straight to the database, for setting scenes in other areas' tests."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from labbook.accounts.models import User
from labbook.catalogue.models import TestingService
from labbook.extensions import db
from labbook.orders.models import (
    IntakeStatus,
    LineState,
    Order,
    OrderLine,
    OrderState,
    Remains,
    ReportLanguage,
    Sample,
)

_numbers = itertools.count(1)


def create_order(service: TestingService, requester: User, *, samples: int = 1,
                 line_state: LineState = LineState.RECEIVED,
                 due_date: dt.date | None = None, created_at: dt.datetime | None = None
                 ) -> OrderLine:
    """A one-line order of ``service`` by ``requester``, its line in ``line_state`` (samples
    received unless it still waits for them); returns the line."""
    now = created_at or dt.datetime.now(dt.UTC)
    n = next(_numbers)
    waiting = line_state in (LineState.WAITING, LineState.CANCELLED)
    order = Order(
        number=f"{service.lab.code}-WT-1999-{n:05d}", lab_id=service.lab_id,
        organization=requester.organization, requester=requester,
        state=OrderState.SUBMITTED if waiting else OrderState.RECEIVED,
        remains=Remains.DISPOSE, report_language=ReportLanguage.ZH_CN, notes="",
        contact_name=requester.name, contact_email=requester.email,
        tier=requester.organization.tier, quoted_total=Decimal("100.00") * samples,
        terms="条款", confirmed_at=now, created_at=now, updated_at=now,
        received_at=None if waiting else now)
    line = OrderLine(position=1, service=service, method=service.standard, state=line_state,
                     unit_price=Decimal("100.00"), express_surcharge_percent=0,
                     express_surcharge=Decimal("0.00"), total=Decimal("100.00") * samples,
                     due_date=due_date)
    line.samples = [Sample(position=i, name=f"样品{i}", quantity="1",
                           number=None if waiting else f"{service.lab.code}-1999-{n:04d}{i:02d}",
                           intake_status=IntakeStatus.PENDING if waiting
                           else IntakeStatus.ACCEPTED, received_at=None if waiting else now)
                    for i in range(1, samples + 1)]
    order.lines = [line]
    db.session.add(order)
    db.session.commit()
    return line
