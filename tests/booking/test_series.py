"""Recurring bookings through the services: all or nothing or the free dates only, each
occurrence kept clear of the one before (its buffer included), and cancelling what is left of a
series from a lab date on."""

from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from labbook.audit.models import AuditEvent
from labbook.billing.models import Charge
from labbook.booking import listing, services
from labbook.booking.models import BookingSeries, BookingState
from labbook.booking.recurrence import Recurrence
from labbook.core.engine import write_transaction
from labbook.core.errors import NotFound, PermissionDenied, ValidationError
from labbook.extensions import db
from tests.factories import (
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_user,
    lab_time,
)

MONDAY = dt.date(2027, 3, 1)
NOW = lab_time(MONDAY - dt.timedelta(days=3), 12)  # the Friday before, noon
DAY = dt.timedelta(days=1)


def series(user, instrument, start, end, recurrence, *, skip_conflicts=False, **kwargs):
    return services.create_series(db.session, user, instrument_id=instrument.id, start=start,
                                  end=end, purpose="循环测试", recurrence=recurrence,
                                  skip_conflicts=skip_conflicts, now=NOW, **kwargs)


def test_a_series_records_its_rule_and_books_every_date(researcher, instrument):
    fortnightly = Recurrence("weekly", interval=2, weekdays=(0, 2), count=4)
    result = series(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
                    fortnightly, project_ref="PO-9")
    made = result.series
    assert (made.instrument_id, made.user_id, made.frequency, made.interval, made.weekdays,
            made.count, made.until, made.created_at) == \
        (instrument.id, researcher.id, "weekly", 2, "0,2", 4, None, NOW)
    assert [(b.start_at, b.series_id, b.project_ref, b.state) for b in result.created] == [
        (lab_time(day, 9), made.id, "PO-9", BookingState.APPROVED)
        for day in (MONDAY, MONDAY + 2 * DAY, MONDAY + 14 * DAY, MONDAY + 16 * DAY)]
    assert result.skipped == []


def test_one_taken_date_refuses_the_whole_series_saying_which(researcher, instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY + DAY, 9),
                   end_at=lab_time(MONDAY + DAY, 10))
    with pytest.raises(services.BookingRefused) as refused:
        series(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
               Recurrence("daily", count=3))
    assert [p.code for p in refused.value.problems] == ["overlap"]
    [occurrence] = refused.value.extra()["occurrences"]
    assert (occurrence["start"], occurrence["end"]) == \
        (lab_time(MONDAY + DAY, 9).isoformat(), lab_time(MONDAY + DAY, 10).isoformat())
    assert [p["code"] for p in occurrence["problems"]] == ["overlap"]
    assert db.session.scalars(select(AuditEvent)).all() == []


def test_skipping_conflicts_books_the_free_dates_and_reports_the_others(researcher,
                                                                        instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY + DAY, 9),
                   end_at=lab_time(MONDAY + DAY, 10))
    result = series(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
                    Recurrence("daily", count=3), skip_conflicts=True)
    assert [b.start_at for b in result.created] == \
        [lab_time(MONDAY, 9), lab_time(MONDAY + 2 * DAY, 9)]
    [(start, end, problems)] = result.skipped
    assert (start, end, [p.code for p in problems]) == \
        (lab_time(MONDAY + DAY, 9), lab_time(MONDAY + DAY, 10), ["overlap"])


def test_skipping_conflicts_with_no_date_free_books_nothing(researcher, instrument):
    for day in (MONDAY, MONDAY + DAY):
        create_booking(instrument=instrument, start_at=lab_time(day, 9),
                       end_at=lab_time(day, 10))
    with pytest.raises(services.BookingRefused) as refused:
        series(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
               Recurrence("daily", count=2), skip_conflicts=True)
    assert len(refused.value.occurrences) == 2


def test_each_occurrence_keeps_clear_of_the_one_before_and_its_buffer(researcher):
    """Runs of 23½ hours with an hour's cleaning after each: the next day's 09:00 start falls
    in the cleaning of the run before, so every other day is free."""
    lab = create_lab(hours={day: [(dt.time(0), dt.time(23, 59))] for day in range(7)})
    chamber = create_instrument(lab=lab, slot_minutes=30, min_minutes=30, max_minutes=1440,
                                buffer_minutes=60)
    result = series(researcher, chamber, lab_time(MONDAY, 9), lab_time(MONDAY + DAY, 8, 30),
                    Recurrence("daily", count=3), skip_conflicts=True)
    assert [b.start_at for b in result.created] == \
        [lab_time(MONDAY, 9), lab_time(MONDAY + 2 * DAY, 9)]
    [(_start, _end, [problem])] = result.skipped
    assert (problem.code, problem.extra) == ("overlap", {
        "start": lab_time(MONDAY, 9).isoformat(),
        "end": lab_time(MONDAY + DAY, 9, 30).isoformat()})


@pytest.mark.parametrize(("texts", "field"), [({"purpose": " "}, "purpose"),
                                             ({"project_ref": "P" * 101}, "project_ref")])
def test_a_series_checks_what_the_user_typed(researcher, instrument, texts, field):
    with pytest.raises(ValidationError) as refused:
        services.create_series(db.session, researcher, instrument_id=instrument.id,
                               start=lab_time(MONDAY, 9), end=lab_time(MONDAY, 10),
                               recurrence=Recurrence("daily", count=2), skip_conflicts=False,
                               now=NOW, **{"purpose": "循环测试", **texts})
    assert [p.field for p in refused.value.problems] == [field]


def test_a_series_without_a_project_reference_has_none(researcher, instrument):
    result = series(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
                    Recurrence("daily", count=2))
    assert [b.project_ref for b in result.created] == ["", ""]


def test_a_series_checks_the_training_record_of_the_one_booking(researcher):
    instrument = create_instrument(requires_qualification=True)
    manager = create_manager(instrument.lab)
    daily = Recurrence("daily", count=2)
    with pytest.raises(services.BookingRefused) as refused:
        series(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10), daily)
    assert [p.code for p in refused.value.problems] == ["not_qualified"] * 2
    assert len(series(manager, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
                      daily).created) == 2


def test_a_series_falls_on_its_weekdays_in_lab_time(researcher):
    """07:00 on Monday in the lab is 23:00 on Sunday UTC."""
    lab = create_lab(hours={day: [(dt.time(0), dt.time(23, 59))] for day in range(7)})
    early = create_instrument(lab=lab)
    result = series(researcher, early, lab_time(MONDAY, 7), lab_time(MONDAY, 8),
                    Recurrence("weekly", weekdays=(0, 2), count=2))
    assert [b.start_at for b in result.created] == \
        [lab_time(MONDAY, 7), lab_time(MONDAY + 2 * DAY, 7)]


def test_a_series_with_naive_times_is_refused_as_malformed(researcher, instrument):
    naive = dt.datetime(2027, 3, 1, 9)  # noqa: DTZ001
    with pytest.raises(services.BookingRefused) as refused:
        series(researcher, instrument, naive, naive + dt.timedelta(hours=1),
               Recurrence("daily", count=2))
    assert ([p.code for p in refused.value.problems], refused.value.status) == \
        (["naive_datetime"], 422)


def test_a_manager_overrides_soft_rules_for_every_date_and_it_is_recorded(instrument):
    manager = create_manager(instrument.lab)
    result = series(manager, instrument, lab_time(MONDAY, 17), lab_time(MONDAY, 19),
                    Recurrence("daily", count=2), override=True)
    assert [b.is_override for b in result.created] == [True, True]
    assert [e.details for e in db.session.scalars(select(AuditEvent))] == \
        [{"overridden": ["outside_hours"]}] * 2


def test_only_the_labs_managers_override_a_series(researcher, instrument):
    with pytest.raises(PermissionDenied):
        series(researcher, instrument, lab_time(MONDAY, 17), lab_time(MONDAY, 19),
               Recurrence("daily", count=2), override=True)


# -- cancelling what is left of a series --------------------------------------------------------

@pytest.fixture
def daily(researcher, instrument):
    """A series of five daily bookings from Monday, made on the Friday before."""
    return series(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
                  Recurrence("daily", count=5)).series


def test_cancelling_a_series_from_a_lab_date_leaves_the_days_before(researcher):
    """Runs at 07:00 in the lab, which is 23:00 UTC the day before: from Wednesday on means
    from Wednesday's run, lab time."""
    lab = create_lab(hours={day: [(dt.time(0), dt.time(23, 59))] for day in range(7)})
    early = create_instrument(lab=lab)
    made = series(researcher, early, lab_time(MONDAY, 7), lab_time(MONDAY, 8),
                  Recurrence("daily", count=5)).series
    now = lab_time(MONDAY, 8)  # Monday's run has ended
    with write_transaction(db.session):
        cancelled = services.cancel_series(db.session, researcher, made, now=now,
                                           from_date=MONDAY + 2 * DAY, note="课题结束")
    assert [e.note for e in db.session.scalars(select(AuditEvent)
                                               .where(AuditEvent.action == "cancel"))] == \
        ["课题结束"] * 3
    assert [b.start_at for b in cancelled] == [lab_time(MONDAY + n * DAY, 7) for n in (2, 3, 4)]
    assert [b.state for b in sorted(made.bookings, key=lambda b: b.start_at)] == \
        [BookingState.APPROVED] * 2 + [BookingState.CANCELLED] * 3


def test_cancelling_a_whole_series_leaves_what_has_started_or_ended(researcher, daily):
    first, second, *_rest = sorted(daily.bookings, key=lambda b: b.start_at)
    with write_transaction(db.session):
        services.cancel_booking(db.session, researcher, second, now=NOW)
    now = first.start_at  # the first starts this very moment
    assert [b.start_at for b in listing.cancellable_in_series(daily, now=now)] == \
        [lab_time(MONDAY + n * DAY, 9) for n in (2, 3, 4)]
    with write_transaction(db.session):
        cancelled = services.cancel_series(db.session, researcher, daily, now=now)
    assert {e.note for e in db.session.scalars(select(AuditEvent)
                                               .where(AuditEvent.action == "cancel"))} == {""}
    assert [b.start_at for b in cancelled] == [lab_time(MONDAY + n * DAY, 9) for n in (2, 3, 4)]
    assert first.state == BookingState.APPROVED


def test_a_series_is_found_by_its_booker_and_the_labs_managers_only(researcher, instrument,
                                                                    daily):
    manager = create_manager(instrument.lab)
    assert listing.get_series(db.session, researcher, daily.id) == daily
    assert listing.get_series(db.session, manager, daily.id) == daily
    for actor, series_id in [(create_user(organization=researcher.organization), daily.id),
                             (create_manager(create_lab()), daily.id), (researcher, 9999)]:
        with pytest.raises(NotFound) as missing, force_locale("en"):
            listing.get_series(db.session, actor, series_id)
        assert missing.value.message == f"No booking series with id {series_id}."


def test_a_series_until_a_date_records_it(researcher, instrument):
    until = MONDAY + 2 * DAY
    result = series(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
                    Recurrence("daily", until=until))
    assert (result.series.until, result.series.count, len(result.created)) == (until, None, 3)


def test_a_series_that_loses_the_race_in_the_database_is_an_overlap(researcher, instrument,
                                                                     insert_fails):
    insert_fails("23P01")
    with pytest.raises(services.BookingRefused) as refused:
        series(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
               Recurrence("daily", count=2))
    assert [p.code for p in refused.value.problems] == ["overlap"]
    assert db.session.scalars(select(BookingSeries)).all() == []


def test_any_other_integrity_error_in_a_series_is_not_taken_for_an_overlap(
        researcher, instrument, insert_fails):
    insert_fails("23505")
    with pytest.raises(IntegrityError):
        series(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
               Recurrence("daily", count=2))


def test_a_series_counts_its_own_earlier_dates_against_the_weekly_quota(instrument):
    """Two hours on Mondays and Tuesdays against three a week: each Monday's run fits, each
    Tuesday's would make four, and the next Monday starts a new week."""
    member = create_user(organization=create_organization(weekly_quota_hours=3))
    weekly = Recurrence("weekly", weekdays=(0, 1), count=4)
    tuesdays = [lab_time(MONDAY + n * DAY, 9) for n in (1, 8)]
    with pytest.raises(services.BookingRefused) as refused:
        series(member, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 11), weekly)
    assert [(o["start"], [p["code"] for p in o["problems"]])
            for o in refused.value.occurrences] == \
        [(tuesday.isoformat(), ["quota_exceeded"]) for tuesday in tuesdays]
    result = series(member, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 11), weekly,
                    skip_conflicts=True)
    assert [b.start_at for b in result.created] == \
        [lab_time(MONDAY, 9), lab_time(MONDAY + 7 * DAY, 9)]
    assert [start for start, _end, _problems in result.skipped] == tuesdays


def test_cancelling_a_series_late_is_late_for_the_dates_inside_the_window(researcher):
    """A 24-hour window: cancelled on Monday at 10:00, Tuesday's 09:00 run is late, the rest
    are not; only it is charged."""
    instrument = create_instrument(cancellation_window_hours=24)
    made = series(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
                  Recurrence("daily", count=3)).series
    with write_transaction(db.session):
        services.cancel_series(db.session, researcher, made, now=lab_time(MONDAY, 10))
    assert [b.is_late_cancellation for b in sorted(made.bookings, key=lambda b: b.start_at)] \
        == [False, True, False]
    assert [c.booking_id for c in db.session.scalars(select(Charge))] == \
        [b.id for b in made.bookings if b.is_late_cancellation]
