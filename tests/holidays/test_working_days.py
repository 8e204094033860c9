"""Working days of a lab: weekends, the statutory holidays it closes on, the make-up days it
opens on; the national calendar as seeded and as admins edit it."""

from __future__ import annotations

import datetime as dt

import pytest
from chinese_calendar.constants import holidays as package_holidays
from chinese_calendar.constants import workdays as package_workdays
from sqlalchemy import select

from labbook.audit.models import AuditEvent
from labbook.core.engine import write_transaction
from labbook.core.errors import NotFound, PermissionDenied, ValidationError
from labbook.extensions import db
from labbook.holidays import services as holidays
from labbook.holidays.models import DayKind, Festival, StatutoryDay
from tests.factories import create_admin, create_lab, create_manager
from tests.holidays.conftest import NOW, follow

D = dt.date


def test_a_lab_without_a_policy_works_monday_to_friday_even_on_national_day(calendar):
    lab = create_lab()
    assert holidays.is_working_day(db.session, lab.id, D(2026, 10, 1))  # Thursday, holiday
    assert not holidays.is_working_day(db.session, lab.id, D(2026, 10, 10))  # make-up Saturday
    # Wednesday 30 September + 2 → Friday 2 October, straight through the holiday.
    assert holidays.add_working_days(db.session, lab.id, D(2026, 9, 30), 2) == D(2026, 10, 2)


def test_a_lab_that_follows_the_calendar_skips_the_golden_week_and_works_the_makeup_days(
        calendar):
    lab = create_lab()
    follow(lab)
    assert not holidays.is_working_day(db.session, lab.id, D(2026, 10, 1))
    assert not holidays.is_working_day(db.session, lab.id, D(2026, 10, 7))
    assert holidays.is_working_day(db.session, lab.id, D(2026, 10, 8))
    assert holidays.is_working_day(db.session, lab.id, D(2026, 10, 10))  # Saturday, 调休
    assert holidays.is_working_day(db.session, lab.id, D(2026, 9, 20))   # Sunday, 调休
    # Wednesday 30 September: 1 → Thursday 8 October, 2 → Friday 9, 3 → Saturday 10 (调休),
    # 4 → Monday 12.
    start = D(2026, 9, 30)
    assert [holidays.add_working_days(db.session, lab.id, start, n) for n in range(5)] == [
        start, D(2026, 10, 8), D(2026, 10, 9), D(2026, 10, 10), D(2026, 10, 12)]


def test_closing_on_holidays_and_opening_on_makeup_days_are_separate_choices(calendar):
    closes_only, opens_only = create_lab(), create_lab()
    follow(closes_only, closes=True, opens=False)
    follow(opens_only, closes=False, opens=True)
    assert not holidays.is_working_day(db.session, closes_only.id, D(2026, 10, 1))
    assert not holidays.is_working_day(db.session, closes_only.id, D(2026, 10, 10))
    assert holidays.is_working_day(db.session, opens_only.id, D(2026, 10, 1))
    assert holidays.is_working_day(db.session, opens_only.id, D(2026, 10, 10))


def test_the_spring_festival_and_new_year_2027_count_too(calendar):
    lab = create_lab()
    follow(lab)
    # Thursday 31 December 2026 + 1 → Monday 4 January 2027 (1 January is New Year's Day).
    assert holidays.add_working_days(db.session, lab.id, D(2026, 12, 31), 1) == D(2027, 1, 4)
    # Friday 13 February 2026 + 1 → Saturday 14 February, a make-up day before the festival;
    # + 2 → Tuesday 24 February, after nine days off.
    assert holidays.add_working_days(db.session, lab.id, D(2026, 2, 13), 1) == D(2026, 2, 14)
    assert holidays.add_working_days(db.session, lab.id, D(2026, 2, 13), 2) == D(2026, 2, 24)


def test_working_days_between_lists_the_labs_days(calendar):
    lab = create_lab()
    follow(lab)
    assert holidays.working_days_between(db.session, lab.id, D(2026, 9, 30), D(2026, 10, 12)) \
        == [D(2026, 9, 30), D(2026, 10, 8), D(2026, 10, 9), D(2026, 10, 10), D(2026, 10, 12)]


def test_counting_refuses_negative_days():
    with pytest.raises(ValueError):
        holidays.add_working_days(db.session, create_lab().id, D(2026, 1, 5), -1)


def test_the_2026_calendar_is_chinese_calendars_and_the_shipped_file_agrees_with_it():
    seeded = holidays.seed_days([2026])
    expected = {day: DayKind.HOLIDAY for day in package_holidays if day.year == 2026}
    expected.update({day: DayKind.MAKEUP_WORKDAY for day in package_workdays
                     if day.year == 2026})
    assert {day: kind for day, (kind, _festival, _source) in seeded.items()} == expected
    assert all(source.startswith("chinese-calendar") for _k, _f, source in seeded.values())
    shipped = {day: kind for day, (kind, _f, _s) in holidays.shipped_days().items()
               if day.year == 2026}
    assert shipped == expected
    assert seeded[D(2026, 10, 10)][:2] == (DayKind.MAKEUP_WORKDAY, Festival.NATIONAL_DAY)


def test_2027_comes_from_the_shipped_file_while_the_package_does_not_cover_it():
    if any(day.year == 2027 for day in package_holidays):
        pytest.fail("chinese-calendar now covers 2027: replace the shipped provisional days")
    seeded = holidays.seed_days([2027])
    assert seeded[D(2027, 2, 6)][:2] == (DayKind.HOLIDAY, Festival.SPRING_FESTIVAL)
    assert seeded[D(2027, 10, 1)][:2] == (DayKind.HOLIDAY, Festival.NATIONAL_DAY)
    assert "not yet published" in seeded[D(2027, 1, 1)][2]


def test_seeding_twice_adds_nothing_and_keeps_an_admins_correction():
    admin = create_admin()
    with write_transaction(db.session):
        first = holidays.seed_calendar(db.session, admin, now=NOW)
    with write_transaction(db.session):
        holidays.set_day(db.session, admin, day=D(2026, 10, 8), kind=DayKind.HOLIDAY,
                         festival=Festival.NATIONAL_DAY, now=NOW)
        holidays.delete_day(db.session, admin, D(2026, 10, 1), now=NOW)
    with write_transaction(db.session):
        again = holidays.seed_calendar(db.session, admin, now=NOW)
    assert first == len(holidays.seed_days()) and first > 40
    assert again == 1  # only the deleted day comes back
    assert db.session.scalar(select(StatutoryDay.kind).where(
        StatutoryDay.day == D(2026, 10, 8))) == DayKind.HOLIDAY


def test_only_admins_edit_the_calendar_and_every_change_is_audited():
    lab = create_lab()
    admin, manager = create_admin(), create_manager(lab)
    with pytest.raises(PermissionDenied), write_transaction(db.session):
        holidays.set_day(db.session, manager, day=D(2026, 12, 19),
                         kind=DayKind.MAKEUP_WORKDAY, festival=Festival.OTHER, now=NOW)
    with write_transaction(db.session):
        day, is_new = holidays.set_day(db.session, admin, day=D(2026, 12, 19),
                                       kind=DayKind.MAKEUP_WORKDAY, festival=Festival.OTHER,
                                       source="test", now=NOW)
    assert is_new and day.source == "test"
    with write_transaction(db.session):
        holidays.set_day(db.session, admin, day=D(2026, 12, 19), kind=DayKind.HOLIDAY,
                         festival=Festival.OTHER, now=NOW)
    with write_transaction(db.session):
        holidays.delete_day(db.session, admin, D(2026, 12, 19), now=NOW)
    events = db.session.execute(select(AuditEvent.action, AuditEvent.details).where(
        AuditEvent.object_type == "statutory_days").order_by(AuditEvent.id)).all()
    assert [action for action, _details in events] == ["create", "update", "delete"]
    assert events[1][1]["changes"]["kind"] == ["makeup_workday", "holiday"]


def test_a_makeup_day_on_a_weekday_and_an_unknown_day_are_refused():
    admin = create_admin()
    with pytest.raises(ValidationError) as refused, write_transaction(db.session):
        holidays.set_day(db.session, admin, day=D(2026, 12, 16), kind=DayKind.MAKEUP_WORKDAY,
                         festival=Festival.OTHER, now=NOW)
    assert refused.value.code == "makeup_day_on_weekday"
    with pytest.raises(NotFound), write_transaction(db.session):
        holidays.delete_day(db.session, admin, D(2026, 12, 16), now=NOW)
    assert db.session.scalar(select(StatutoryDay.id)) is None


def test_only_the_labs_managers_set_its_policy_and_it_is_audited():
    lab, other = create_lab(), create_lab()
    with pytest.raises(PermissionDenied), write_transaction(db.session):
        holidays.set_lab_policy(db.session, create_manager(other), lab, closes_on_holidays=True,
                                opens_on_makeup_days=True, now=NOW)
    with write_transaction(db.session):
        holidays.set_lab_policy(db.session, create_manager(lab), lab, closes_on_holidays=True,
                                opens_on_makeup_days=False, now=NOW)
    assert holidays.lab_policy(db.session, lab.id) == holidays.Policy(True, False)
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.object_type == "lab_holiday_policies"))
    assert event.details["changes"]["closes_on_holidays"] == [False, True]
