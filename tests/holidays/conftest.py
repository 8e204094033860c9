"""A lab and the 2026 national calendar as chinese-calendar publishes it."""

from __future__ import annotations

import datetime as dt

import pytest

from labbook.core.engine import write_transaction
from labbook.extensions import db
from labbook.holidays import services as holidays
from labbook.holidays.models import LabHolidayPolicy
from tests.factories import create_admin

NOW = dt.datetime(2026, 9, 1, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def calendar():
    """The national calendar of 2026 and 2027, seeded as ``labbook init`` seeds it."""
    with write_transaction(db.session):
        holidays.seed_calendar(db.session, create_admin(), now=NOW)


def follow(lab, *, closes: bool = True, opens: bool = True) -> None:
    db.session.add(LabHolidayPolicy(lab_id=lab.id, closes_on_holidays=closes,
                                    opens_on_makeup_days=opens))
    db.session.commit()
