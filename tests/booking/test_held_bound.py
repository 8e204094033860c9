"""Calendar reads are bounded on both sides: they seek the bookings whose held time ends after
the window starts and before the window's end plus the instrument's longest held time, so the
bookings made further ahead cost nothing. At the bound's edges no booking is missed: one
exactly as long as the rules allow, an overnight run, one longer than the rules allow now (made
before they changed, or imported), and on an instrument with channels."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, insert

from labbook.booking import rules, services
from labbook.booking.calendar import read_window, window_bookings
from labbook.booking.models import Booking, BookingState
from labbook.booking.services import BookingRefused
from labbook.catalogue.models import Instrument
from labbook.extensions import db
from tests.factories import (
    bearer,
    create_booking,
    create_instrument,
    create_lab,
    create_user,
    lab_time,
    next_weekday,
    reload,
)
from tests.sqlite_steps import counted_steps

DAY = next_weekday(1)
NOW = dt.datetime.now(dt.UTC)


def book(instrument, start, end, channels=1):
    return services.create_booking(db.session, create_user(), instrument_id=instrument.id,
                                   start=start, end=end, purpose="测试", channels=channels,
                                   now=dt.datetime.now(dt.UTC))


def refusal(instrument, start, end, channels=1) -> list[str]:
    with pytest.raises(BookingRefused) as refused:
        book(instrument, start, end, channels)
    return [p.code for p in refused.value.problems]


def insert_raw(instrument, start, end, **values) -> None:
    """A booking written without the rules (an import, a data fix), as one statement."""
    user = create_user()
    db.session.execute(insert(Booking), [{
        "instrument_id": instrument.id, "user_id": user.id,
        "organization_id": user.organization_id, "start_at": start, "end_at": end,
        "blocked_until": end, "state": BookingState.APPROVED, "purpose": "导入",
        **values}])
    db.session.commit()


def test_an_instrument_knows_the_longest_time_its_rules_let_a_booking_hold():
    instrument = create_instrument(max_minutes=240, buffer_minutes=30)
    assert reload(instrument).longest_held_minutes == 270
    instrument.max_minutes = 600
    db.session.commit()
    assert reload(instrument).longest_held_minutes == 630
    instrument.max_minutes = 60  # lowered: bookings made before may still be longer
    db.session.commit()
    assert reload(instrument).longest_held_minutes == 630


def test_a_booking_longer_than_any_before_raises_the_longest_held_time():
    instrument = create_instrument(max_minutes=240)
    insert_raw(instrument, lab_time(DAY, 8), lab_time(DAY + dt.timedelta(days=3), 8))
    assert reload(instrument).longest_held_minutes == 3 * 24 * 60
    after = DAY + dt.timedelta(days=4)
    create_booking(instrument=instrument, start_at=lab_time(after, 9), end_at=lab_time(after, 10))
    assert reload(instrument).longest_held_minutes == 3 * 24 * 60  # never lowered


def test_a_booking_as_long_as_the_rules_allow_is_seen_up_to_its_last_slot():
    instrument = create_instrument(slot_minutes=30, min_minutes=30, max_minutes=240,
                                   buffer_minutes=30, min_notice_minutes=0)
    book(instrument, lab_time(DAY, 9), lab_time(DAY, 13))  # held until 13:30
    assert refusal(instrument, lab_time(DAY, 13), lab_time(DAY, 14)) == ["overlap"]
    # A request that ends when the long one starts, and one that starts as its held time ends,
    # are free.
    assert book(instrument, lab_time(DAY, 8), lab_time(DAY, 8, 30)).id
    assert book(instrument, lab_time(DAY, 13, 30), lab_time(DAY, 14)).id


def test_a_long_booking_starting_just_before_the_window_ends_is_seen():
    instrument = create_instrument(slot_minutes=30, min_minutes=30, max_minutes=240,
                                   min_notice_minutes=0)
    book(instrument, lab_time(DAY, 10, 30), lab_time(DAY, 14, 30))
    assert refusal(instrument, lab_time(DAY, 9), lab_time(DAY, 11)) == ["overlap"]
    held = rules.held_time(db.session, instrument, lab_time(DAY, 9), lab_time(DAY, 11))
    assert [(start, until) for _id, start, until in held] == \
        [(lab_time(DAY, 10, 30), lab_time(DAY, 14, 30))]


def test_an_overnight_run_holds_the_next_morning():
    lab = create_lab(hours={day: [(dt.time(0, 0), dt.time(23, 59))] for day in range(7)})
    furnace = create_instrument(lab=lab, slot_minutes=60, min_minutes=60, max_minutes=24 * 60,
                                min_notice_minutes=0)
    book(furnace, lab_time(DAY, 18), lab_time(DAY + dt.timedelta(days=1), 8))
    next_morning = DAY + dt.timedelta(days=1)
    assert refusal(furnace, lab_time(next_morning, 7), lab_time(next_morning, 9)) == ["overlap"]


def test_a_booking_longer_than_the_rules_allow_now_is_still_seen(client):
    instrument = create_instrument(slot_minutes=30, min_minutes=30, max_minutes=240,
                                   min_notice_minutes=0)
    insert_raw(instrument, lab_time(DAY, 8), lab_time(DAY + dt.timedelta(days=2), 8))
    later = DAY + dt.timedelta(days=1)
    assert refusal(instrument, lab_time(later, 9), lab_time(later, 10)) == ["overlap"]
    response = client.get(f"/api/v1/instruments/{instrument.id}/availability", query_string={
        "start": lab_time(later, 0).isoformat(), "end": lab_time(later, 23).isoformat()},
        headers=bearer(create_user()))
    assert response.status_code == 200
    assert response.json["free"] == [] and len(response.json["busy"]) == 1


def test_on_an_instrument_with_channels_a_long_booking_keeps_its_channel():
    cycler = create_instrument(channels=4, slot_minutes=60, min_minutes=60,
                               max_minutes=7 * 24 * 60, min_notice_minutes=0)
    lab_open_all_week(cycler)
    long_run = book(cycler, lab_time(DAY, 8), lab_time(DAY + dt.timedelta(days=7), 8))
    assert long_run.channel_numbers == [1]
    last_day = DAY + dt.timedelta(days=6)
    assert book(cycler, lab_time(last_day, 9), lab_time(last_day, 10),
                channels=3).channel_numbers == [2, 3, 4]
    assert refusal(cycler, lab_time(last_day, 10), lab_time(last_day, 11), channels=4) == \
        ["overlap"]


def lab_open_all_week(instrument: Instrument) -> None:
    from labbook.catalogue.models import OpeningHours

    lab = instrument.lab
    lab.opening_hours = [OpeningHours(weekday=day, opens_at=dt.time(0, 0),
                                      closes_at=dt.time(23, 59)) for day in range(7)]
    db.session.commit()


def test_the_database_refuses_an_overlap_with_a_booking_longer_than_the_rules_allow():
    instrument = create_instrument(max_minutes=60)
    insert_raw(instrument, lab_time(DAY, 8), lab_time(DAY + dt.timedelta(days=2), 8))
    later = DAY + dt.timedelta(days=1)
    with pytest.raises(Exception, match=r"ex_bookings_no_overlap"):
        insert_raw(instrument, lab_time(later, 9), lab_time(later, 10))
    db.session.rollback()


class Statements:
    """The statements (and their parameters) sent to the database while it is entered."""

    def __enter__(self) -> list[tuple[str, object]]:
        self.sent: list[tuple[str, object]] = []
        event.listen(db.engine, "before_cursor_execute", self._record)
        return self.sent

    def _record(self, _connection, _cursor, statement, parameters, _context, _many) -> None:
        self.sent.append((statement, parameters))

    def __exit__(self, *_exc) -> None:
        event.remove(db.engine, "before_cursor_execute", self._record)


def query_plan(statement: str, parameters) -> str:
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
    else:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
    return "\n".join(str(row[-1]) for row in rows)


def test_the_overlap_check_seeks_a_bounded_range_of_the_index():
    instrument = create_instrument()
    with Statements() as sent:
        rules.held_time(db.session, instrument, lab_time(DAY, 9), lab_time(DAY, 10))
    [(statement, parameters)] = sent
    shown = query_plan(statement, parameters)
    if db.session.get_bind().dialect.name == "sqlite":
        assert "USING INDEX ix_bookings_instrument_state_blocked_until " \
               "(instrument_id=? AND state=? AND blocked_until>? AND blocked_until<?)" in shown
    else:
        # The exclusion constraint's GiST index, asked for the overlap of the held time with
        # the window, or the B-tree index between the two bounds.
        condition = next(line for line in shown.splitlines() if "Index Cond" in line)
        assert "&&" in condition or \
            ("blocked_until >" in condition and "blocked_until <" in condition), shown


def test_the_rules_read_bookings_and_closures_in_the_way_seeking_bounded_ranges():
    """A booking's check reads the bookings and the closures in its way in one statement, each
    part through its index: the bookings between the two bounds of held time, the closures by
    instrument and by lab."""
    instrument = create_instrument()
    user = create_user()
    request = rules.BookingRequest(instrument, user, user.organization, lab_time(DAY, 9),
                                   lab_time(DAY, 10))
    with Statements() as sent:
        rules.calendar_problems(db.session, request)
    [(statement, parameters)] = sent
    shown = query_plan(statement, parameters)
    if db.session.get_bind().dialect.name == "sqlite":
        assert "USING INDEX ix_bookings_instrument_state_blocked_until " \
               "(instrument_id=? AND state=? AND blocked_until>? AND blocked_until<?)" in shown
        assert "SCAN blackouts" not in shown, shown
    else:
        conditions = [line for line in shown.splitlines() if "Index Cond" in line]
        assert any("&&" in line or ("blocked_until >" in line and "blocked_until <" in line)
                   for line in conditions), shown
        assert "Seq Scan" not in shown, shown


def test_bookings_far_ahead_do_not_change_the_work_of_a_calendar_read():
    """SQLite's virtual machine steps are the work a statement does: a year of bookings that
    start after the window adds none (PostgreSQL: the plan above)."""
    if db.session.get_bind().dialect.name != "sqlite":
        pytest.skip("counts SQLite's virtual machine steps")
    instrument = create_instrument(max_minutes=240)
    start, end = lab_time(DAY, 8), lab_time(DAY + dt.timedelta(days=7), 8)
    create_booking(instrument=instrument, start_at=lab_time(DAY, 9), end_at=lab_time(DAY, 10))
    viewer = create_user()
    request = rules.BookingRequest(instrument, viewer, viewer.organization, lab_time(DAY, 9),
                                   lab_time(DAY, 10))

    def steps() -> int:
        return counted_steps(lambda: (rules.held_time(db.session, instrument, start, end),
                                      rules.calendar_problems(db.session, request),
                                      window_bookings(db.session, instrument, start, end),
                                      read_window(db.session, instrument, start, end),
                                      read_window(db.session, instrument, start, end,
                                                  viewer)))[1]

    def book_ahead(first_day: dt.date, days: int) -> None:
        user = create_user()
        db.session.execute(insert(Booking), [{
            "instrument_id": instrument.id, "user_id": user.id,
            "organization_id": user.organization_id,
            "start_at": lab_time(first_day + dt.timedelta(days=n // 8), 8 + n % 8),
            "end_at": lab_time(first_day + dt.timedelta(days=n // 8), 9 + n % 8),
            "blocked_until": lab_time(first_day + dt.timedelta(days=n // 8), 9 + n % 8),
            "state": BookingState.APPROVED, "purpose": "将来"} for n in range(8 * days)])
        db.session.commit()

    # The first booking after the window ends the index range; any number after it adds nothing.
    book_ahead(DAY + dt.timedelta(days=30), 1)
    before = steps()
    book_ahead(DAY + dt.timedelta(days=31), 300)
    assert steps() == before


def test_an_organizations_past_bookings_do_not_change_the_work_of_its_quota():
    """The weekly quota counts the hours an organization holds in a week: its bookings of
    earlier years add no work to that count, and one as long as any booking held reaching
    into the week still counts."""
    if db.session.get_bind().dialect.name != "sqlite":
        pytest.skip("counts SQLite's virtual machine steps")
    instrument = create_instrument(max_minutes=240)
    user = create_user()
    organization = user.organization
    week = rules.week_start(lab_time(DAY, 12), lab_time(DAY, 12).tzinfo)
    week_end = week + dt.timedelta(days=7)
    # Reaches 3 hours into the week: as long as the instrument's rules allow (4 hours).
    create_booking(instrument=instrument, user=user, start_at=week - dt.timedelta(hours=1),
                   end_at=week + dt.timedelta(hours=3))

    def held_and_steps() -> tuple[dt.timedelta, int]:
        return counted_steps(lambda: rules.hours_held(db.session, organization, week, week_end))

    def book_past(days: int) -> None:
        first = DAY - dt.timedelta(days=400)
        db.session.execute(insert(Booking), [{
            "instrument_id": instrument.id, "user_id": user.id,
            "organization_id": organization.id,
            "start_at": lab_time(first + dt.timedelta(days=n // 8), 8 + n % 8),
            "end_at": lab_time(first + dt.timedelta(days=n // 8), 9 + n % 8),
            "blocked_until": lab_time(first + dt.timedelta(days=n // 8), 9 + n % 8),
            "state": BookingState.COMPLETED, "purpose": "往年"} for n in range(8 * days)])
        db.session.commit()

    book_past(1)
    held, before = held_and_steps()
    assert held == dt.timedelta(hours=3)
    book_past(300)
    assert held_and_steps() == (dt.timedelta(hours=3), before)
