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
from labbook.booking.models import BookingSeries, BookingState, BookingSuspension
from labbook.booking.recurrence import Recurrence
from labbook.booking.training import grant_qualification
from labbook.core.engine import write_transaction
from labbook.core.errors import NotFound, PermissionDenied, ValidationError
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from tests.factories import (
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_user,
    lab_time,
)
from tests.statements import Sent

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


def test_each_date_of_a_series_is_recorded_as_made_and_its_managers_told(researcher):
    """Waiting for approval, each booking of the series is recorded as made in that state, and
    the lab's manager is e-mailed about them when the series is made."""
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    result = series(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
                    Recurrence("daily", count=2))
    made = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "bookings")
                              .order_by(AuditEvent.object_id)).all()
    assert [(e.object_id, e.action, e.to_state, e.actor_id, e.at) for e in made] == [
        (booking.id, "create", "pending", researcher.id, NOW) for booking in result.created]
    [message] = db.session.scalars(select(OutboxMessage)).all()
    assert (message.recipient, message.created_at) == (manager.email, NOW)


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


def test_a_series_books_the_dates_a_lapsing_training_record_covers_and_skips_the_rest(
        researcher):
    instrument = create_instrument(requires_qualification=True)
    grant_qualification(db.session, create_manager(instrument.lab), researcher, instrument,
                        now=NOW, expires_at=lab_time(MONDAY + DAY, 10))  # the second one's end
    db.session.commit()
    result = series(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
                    Recurrence("daily", count=4), skip_conflicts=True)
    assert [b.start_at for b in result.created] == [lab_time(MONDAY, 9),
                                                    lab_time(MONDAY + DAY, 9)]
    assert [(start, [p.code for p in problems]) for start, _end, problems in result.skipped] \
        == [(lab_time(MONDAY + days * DAY, 9), ["not_qualified"]) for days in (2, 3)]


def test_a_series_reads_the_overdue_setting_and_the_training_record_once(researcher):
    """What is the same for every date is read once; each date reads what is in its way."""
    instrument = create_instrument(requires_qualification=True)
    # Valid for a year: covering the last date covers every date before it.
    grant_qualification(db.session, create_manager(instrument.lab), researcher, instrument,
                        now=NOW, expires_at=NOW + 365 * DAY)
    db.session.commit()
    with Sent() as sent:
        result = series(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
                        Recurrence("daily", count=5))
    assert len(result.created) == 5
    for table in ("billing_profiles", "qualifications"):
        assert len([sql for sql in sent if f"FROM {table}" in sql]) == 1, table
    # The bookings and closures in the way: a read for each date, none to check the times.
    assert len([sql for sql in sent if "FROM blackouts" in sql]) == 5


def test_a_series_holds_the_channels_it_asks_for_on_every_date(researcher):
    instrument = create_instrument(channels=3)
    daily = Recurrence("daily", count=2)
    result = series(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10), daily,
                    channels=2)
    assert [len(b.channel_numbers) for b in result.created] == [2, 2]
    with pytest.raises(services.BookingRefused) as refused:
        series(researcher, instrument, lab_time(MONDAY, 11), lab_time(MONDAY, 12), daily,
               channels=4)
    assert ([p.code for p in refused.value.problems], refused.value.status) == \
        (["too_many_channels"], 422)


def test_dates_that_meet_take_turns_on_the_channels_buffer_included():
    """Runs of 23 h 45 min a day apart (a manager's, outside the opening hours): each ends 15
    minutes before the next begins, inside the 30-minute buffer, so the next takes the other
    channel; all of them ask for both channels, and every other date is refused."""
    instrument = create_instrument(channels=2, max_minutes=3000, buffer_minutes=30)
    manager = create_manager(instrument.lab)
    daily = Recurrence("daily", count=3)
    start, end = lab_time(MONDAY, 9), lab_time(MONDAY + DAY, 8, 45)
    result = series(manager, instrument, start, end, daily, override=True)
    assert [b.channel_numbers for b in result.created] == [[1], [2], [1]]
    later = 7 * DAY
    result = series(manager, instrument, start + later, end + later, daily, override=True,
                    channels=2, skip_conflicts=True)
    assert [b.start_at for b in result.created] == [start + later, start + later + 2 * DAY]
    assert [[p.code for p in problems] for _s, _e, problems in result.skipped] == [["overlap"]]


def test_a_preview_lists_the_dates_refused_as_booking_the_series_would_refuse_them(
        researcher):
    """Only the lab's managers override the soft rules (the opening hours, here), and only when
    they ask to; no one overrides the training."""
    instrument = create_instrument(requires_qualification=True)
    manager = create_manager(instrument.lab)

    def preview(actor, override: bool) -> list[list[str]]:
        return [sorted(p["code"] for p in occurrence["problems"])
                for occurrence in services.preview_series(
                    db.session, actor, instrument, start=lab_time(MONDAY, 17),
                    end=lab_time(MONDAY, 19), recurrence=Recurrence("daily", count=2),
                    override=override, now=NOW)]

    for override in (False, True):
        assert preview(researcher, override) == [["not_qualified", "outside_hours"]] * 2
    assert preview(manager, False) == [["outside_hours"]] * 2
    assert preview(manager, True) == []


def test_a_person_suspended_in_the_lab_books_no_date_of_a_series(researcher):
    lab = create_lab(no_show_limit=3)
    db.session.add(BookingSuspension(user_id=researcher.id, lab_id=lab.id,
                                     starts_at=NOW - DAY, ends_at=NOW + 30 * DAY, no_shows=3,
                                     window_days=30))
    db.session.commit()
    with pytest.raises(services.BookingRefused) as refused:
        series(researcher, create_instrument(lab=lab), lab_time(MONDAY, 9),
               lab_time(MONDAY, 10), Recurrence("daily", count=2))
    assert [p.code for p in refused.value.problems] == ["suspended"] * 2


def test_a_series_falls_on_its_weekdays_in_lab_time(researcher):
    """07:00 on Monday in the lab is 23:00 on Sunday UTC."""
    lab = create_lab(hours={day: [(dt.time(0), dt.time(23, 59))] for day in range(7)})
    early = create_instrument(lab=lab)
    result = series(researcher, early, lab_time(MONDAY, 7), lab_time(MONDAY, 8),
                    Recurrence("weekly", weekdays=(0, 2), count=2))
    assert [b.start_at for b in result.created] == \
        [lab_time(MONDAY, 7), lab_time(MONDAY + 2 * DAY, 7)]


@pytest.mark.parametrize("asks_training", [False, True])
def test_a_series_with_naive_times_is_refused_as_malformed(researcher, asks_training):
    instrument = create_instrument(requires_qualification=asks_training)
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
