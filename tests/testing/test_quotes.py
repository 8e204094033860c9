"""Express and due dates of test requests, at the places where the counting turns."""

from __future__ import annotations

import datetime as dt

import pytest

from labbook.catalogue.models import TestingService
from labbook.core.time import LAB_TZ
from labbook.extensions import db
from labbook.holidays.services import add_working_days
from labbook.testing.models import ServiceRequest
from labbook.testing.services import (
    default_due_date,
    offers_express,
    turnaround_working_days,
)
from tests.factories import create_lab


def service(*, surcharge: int = 0, turnaround: int = 5) -> TestingService:
    return TestingService(express_surcharge_percent=surcharge, turnaround_days=turnaround)


@pytest.mark.parametrize(("percent", "offered"), [(0, False), (1, True), (50, True)])
def test_express_is_offered_from_a_surcharge_of_one_percent(percent, offered):
    assert offers_express(service(surcharge=percent)) is offered


@pytest.mark.parametrize(("days", "express", "working_days"), [
    (5, False, 5), (5, True, 3), (4, True, 2), (3, True, 2), (1, True, 1), (10, True, 5),
])
def test_express_halves_the_turnaround_rounding_up(days, express, working_days):
    assert turnaround_working_days(service(turnaround=days), express) == working_days


@pytest.mark.parametrize(("start", "days", "due"), [
    (dt.date(2026, 5, 1), 0, dt.date(2026, 5, 1)),   # Friday, no days
    (dt.date(2026, 5, 1), 1, dt.date(2026, 5, 4)),   # Friday + 1 → Monday
    (dt.date(2026, 5, 2), 1, dt.date(2026, 5, 4)),   # Saturday + 1 → Monday
    (dt.date(2026, 5, 3), 5, dt.date(2026, 5, 8)),   # Sunday + 5 → Friday
    (dt.date(2026, 5, 1), 5, dt.date(2026, 5, 8)),   # Friday + 5 → next Friday
])
def test_working_days_skip_the_weekend(start, days, due):
    assert add_working_days(db.session, create_lab().id, start, days) == due


@pytest.mark.parametrize(("express", "due"), [
    (False, dt.date(2026, 5, 8)),  # 5 working days from Friday 1 May (lab time)
    (True, dt.date(2026, 5, 6)),   # 3 working days
])
def test_the_due_date_counts_from_today_in_lab_time(express, due):
    # Accepted at 00:30 on Friday 1 May in the lab: still Thursday 30 April in UTC.
    now = dt.datetime(2026, 5, 1, 0, 30, tzinfo=LAB_TZ).astimezone(dt.UTC)
    offered = service(turnaround=5)
    offered.lab_id = create_lab().id
    request = ServiceRequest(service=offered, is_express=express)
    assert default_due_date(db.session, request, now=now) == due
