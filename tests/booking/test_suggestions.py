"""The slots ``suggestions.suggest`` offers, called as the services call it: the bounds of the
lengths an instrument takes, channels, who may be offered an instrument needing training, how
many other instruments are offered, and the end of the search's window."""

from __future__ import annotations

import datetime as dt

import pytest

from labbook.booking.models import Blackout
from labbook.booking.suggestions import OTHER_INSTRUMENT_LIMIT, SEARCH_DAYS, suggest
from labbook.booking.training import grant_qualification
from labbook.extensions import db
from tests.factories import (
    create_booking,
    create_category,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    lab_time,
)

MONDAY = dt.date(2027, 3, 1)
TUESDAY = MONDAY + dt.timedelta(days=1)
FRIDAY = MONDAY - dt.timedelta(days=3)
NOW = lab_time(FRIDAY, 12)

RULES = {"slot_minutes": 30, "min_minutes": 30, "max_minutes": 240, "min_notice_minutes": 120,
         "horizon_days": 30}


@pytest.fixture
def lab():
    return create_lab()  # Monday to Friday 08:00–18:00


@pytest.fixture
def category():
    return create_category()


@pytest.fixture
def instrument(lab, category):
    return create_instrument(lab=lab, category=category, code=f"{lab.code}-100", **RULES)


def offered(suggestions):
    return [(s.instrument.code, s.start, s.end) for s in suggestions]


def test_lengths_at_the_instrument_s_shortest_and_longest_are_offered(instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 8),
                   end_at=lab_time(MONDAY, 9))
    shortest = suggest(db.session, instrument, lab_time(MONDAY, 8), lab_time(MONDAY, 8, 30),
                       now=NOW)
    assert offered(shortest) == [
        (instrument.code, lab_time(MONDAY, 9), lab_time(MONDAY, 9, 30)),
        (instrument.code, lab_time(MONDAY, 9, 30), lab_time(MONDAY, 10)),
        (instrument.code, lab_time(MONDAY, 10), lab_time(MONDAY, 10, 30))]
    longest = suggest(db.session, instrument, lab_time(MONDAY, 8), lab_time(MONDAY, 12),
                      now=NOW)
    assert offered(longest)[0] == (instrument.code, lab_time(MONDAY, 9), lab_time(MONDAY, 13))
    assert suggest(db.session, instrument, lab_time(MONDAY, 8), lab_time(MONDAY, 12, 30),
                   now=NOW) == []


def test_without_nearest_the_slots_start_from_the_time_asked_for(instrument):
    # Monday 08:00 is free and as near to 10:00 as 12:00 is, but a taken time is answered with
    # the next slots.
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 9),
                   end_at=lab_time(MONDAY, 11))
    assert offered(suggest(db.session, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11),
                           now=NOW)) == [
        (instrument.code, lab_time(MONDAY, 11), lab_time(MONDAY, 12)),
        (instrument.code, lab_time(MONDAY, 11, 30), lab_time(MONDAY, 12, 30)),
        (instrument.code, lab_time(MONDAY, 12), lab_time(MONDAY, 13))]


def test_the_nearest_slots_on_other_instruments_too(lab, category, instrument):
    sibling = create_instrument(lab=lab, category=category, code=f"{lab.code}-200", **RULES)
    # After closing time: the nearest slot on each is the last one of the day.
    assert offered(suggest(db.session, instrument, lab_time(MONDAY, 17), lab_time(MONDAY, 19),
                           now=NOW, nearest=True)) == [
        (instrument.code, lab_time(MONDAY, 16), lab_time(MONDAY, 18)),
        (instrument.code, lab_time(TUESDAY, 8), lab_time(TUESDAY, 10)),
        (instrument.code, lab_time(TUESDAY, 8, 30), lab_time(TUESDAY, 10, 30)),
        (sibling.code, lab_time(MONDAY, 16), lab_time(MONDAY, 18))]


def test_channels_a_booking_leaves_free_are_offered(lab, category):
    two = create_instrument(lab=lab, category=category, code=f"{lab.code}-100", channels=2,
                            **RULES)
    one = create_instrument(lab=lab, category=category, code=f"{lab.code}-200", **RULES)
    other_two = create_instrument(lab=lab, category=category, code=f"{lab.code}-300",
                                  channels=2, **RULES)
    for instrument in (two, other_two):
        create_booking(instrument=instrument, start_at=lab_time(MONDAY, 9),
                       end_at=lab_time(MONDAY, 10), channel_mask=1)
    # One channel: channel 2 is free at 09:00.
    assert offered(suggest(db.session, two, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
                           now=NOW)) == [
        (two.code, lab_time(MONDAY, 9), lab_time(MONDAY, 10)),
        (two.code, lab_time(MONDAY, 9, 30), lab_time(MONDAY, 10, 30)),
        (two.code, lab_time(MONDAY, 10), lab_time(MONDAY, 11)),
        (one.code, lab_time(MONDAY, 9), lab_time(MONDAY, 10)),
        (other_two.code, lab_time(MONDAY, 9), lab_time(MONDAY, 10))]
    # Both channels: not before 10:00, and never on a one-channel instrument.
    assert offered(suggest(db.session, two, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
                           now=NOW, channels=2)) == [
        (two.code, lab_time(MONDAY, 10), lab_time(MONDAY, 11)),
        (two.code, lab_time(MONDAY, 10, 30), lab_time(MONDAY, 11, 30)),
        (two.code, lab_time(MONDAY, 11), lab_time(MONDAY, 12)),
        (other_two.code, lab_time(MONDAY, 10), lab_time(MONDAY, 11))]


def test_without_a_person_every_instrument_of_the_kind_in_service_is_offered(
        lab, category, instrument):
    trained = create_instrument(lab=lab, category=category, code=f"{lab.code}-200",
                                requires_qualification=True, **RULES)
    start, end = lab_time(MONDAY, 9), lab_time(MONDAY, 10)
    assert [code for code, _start, _end in offered(suggest(
        db.session, instrument, start, end, now=NOW, on_instrument=False))] == [trained.code]
    assert suggest(db.session, instrument, start, end, now=NOW, on_instrument=False,
                   user=create_user()) == []


def test_a_training_record_counts_if_it_lasts_until_the_last_slot_the_search_may_offer(
        lab, category, instrument):
    trained = create_instrument(lab=lab, category=category, code=f"{lab.code}-200",
                                requires_qualification=True, **RULES)
    researcher = create_user()
    start, end = lab_time(MONDAY, 9), lab_time(MONDAY, 10)
    last_end = start + dt.timedelta(days=SEARCH_DAYS) + (end - start)
    record = grant_qualification(db.session, create_manager(lab), researcher, trained, now=NOW,
                                 expires_at=last_end)
    db.session.commit()

    def offered_codes():
        return {code for code, _start, _end in offered(suggest(
            db.session, instrument, start, end, now=NOW, user=researcher))}

    assert trained.code in offered_codes()
    record.expires_at = last_end - dt.timedelta(minutes=1)
    db.session.commit()
    assert trained.code not in offered_codes()


def test_at_most_three_other_instruments_are_offered(lab, category, instrument):
    siblings = [create_instrument(lab=lab, category=category, code=f"{lab.code}-{n}00", **RULES)
                for n in range(2, 7)]
    assert [code for code, _start, _end in offered(suggest(
        db.session, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10), now=NOW,
        on_instrument=False))] == [sibling.code for sibling in siblings[:OTHER_INSTRUMENT_LIMIT]]


def test_instruments_further_down_the_list_are_searched_when_the_first_offer_nothing(
        lab, category, instrument):
    # Those that cannot take an hour are passed over; the fifth and sixth are read together.
    short = [create_instrument(lab=lab, category=category, code=f"{lab.code}-{n}00",
                               **{**RULES, "max_minutes": 30}) for n in range(2, 6)]
    able = [create_instrument(lab=lab, category=category, code=f"{lab.code}-{n}00", **RULES)
            for n in range(6, 8)]
    assert short and [code for code, _start, _end in offered(suggest(
        db.session, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10), now=NOW,
        on_instrument=False))] == [sibling.code for sibling in able]


def test_a_booking_at_the_end_of_the_search_s_window_is_kept_clear_of(instrument):
    start = lab_time(MONDAY, 9)
    window_end = start + dt.timedelta(days=SEARCH_DAYS)
    db.session.add(Blackout(instrument=instrument, start_at=start,
                            end_at=window_end - dt.timedelta(hours=1), reason="停电检修"))
    db.session.commit()
    create_booking(instrument=instrument, start_at=window_end - dt.timedelta(hours=1),
                   end_at=window_end + dt.timedelta(hours=1))
    # The last slot the search may offer ends an hour after its window: none is free.
    assert suggest(db.session, instrument, start, start + dt.timedelta(hours=1), now=NOW) == []


def test_a_free_time_asked_for_with_nearest_is_offered_once(instrument):
    assert offered(suggest(db.session, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11),
                           now=NOW, nearest=True)) == [
        (instrument.code, lab_time(MONDAY, 9, 30), lab_time(MONDAY, 10, 30)),
        (instrument.code, lab_time(MONDAY, 10), lab_time(MONDAY, 11)),
        (instrument.code, lab_time(MONDAY, 10, 30), lab_time(MONDAY, 11, 30))]


def test_before_opening_the_nearest_slots_are_not_the_day_before_s(instrument):
    # Tuesday 06:00 in the lab is Monday in UTC: the lab's day decides where the search starts.
    create_booking(instrument=instrument, start_at=lab_time(TUESDAY, 8),
                   end_at=lab_time(TUESDAY, 18))
    wednesday = TUESDAY + dt.timedelta(days=1)
    assert offered(suggest(db.session, instrument, lab_time(TUESDAY, 6), lab_time(TUESDAY, 7),
                           now=NOW, nearest=True)) == [
        (instrument.code, lab_time(wednesday, 8), lab_time(wednesday, 9)),
        (instrument.code, lab_time(wednesday, 8, 30), lab_time(wednesday, 9, 30)),
        (instrument.code, lab_time(wednesday, 9), lab_time(wednesday, 10))]


def test_the_nearest_slots_start_from_the_lab_s_midnight(category):
    night = create_lab(hours={day: [(dt.time(0), dt.time(2))] for day in range(5)})
    instrument = create_instrument(lab=night, category=category, code=f"{night.code}-100",
                                   **RULES)
    assert offered(suggest(db.session, instrument, lab_time(MONDAY, 0, 30),
                           lab_time(MONDAY, 2, 30), now=NOW, nearest=True)) == [
        (instrument.code, lab_time(MONDAY, 0), lab_time(MONDAY, 2)),
        (instrument.code, lab_time(TUESDAY, 0), lab_time(TUESDAY, 2)),
        (instrument.code, lab_time(TUESDAY + dt.timedelta(days=1), 0),
         lab_time(TUESDAY + dt.timedelta(days=1), 2))]


def test_on_channels_a_booking_just_after_the_window_keeps_its_buffer_clear(lab, category):
    instrument = create_instrument(lab=lab, category=category, code=f"{lab.code}-100",
                                   channels=2, **{**RULES, "buffer_minutes": 30})
    start = lab_time(MONDAY, 9)
    window_end = start + dt.timedelta(days=SEARCH_DAYS)
    db.session.add(Blackout(instrument=instrument, start_at=start, end_at=window_end,
                            reason="停电检修"))
    db.session.commit()
    # The last slot the search may offer (window_end to an hour later) would have its buffer
    # meet this booking of both channels.
    create_booking(instrument=instrument, start_at=window_end + dt.timedelta(minutes=70),
                   end_at=window_end + dt.timedelta(minutes=130), channel_mask=3)
    assert suggest(db.session, instrument, start, start + dt.timedelta(hours=1), now=NOW) == []


def test_the_nearest_slot_off_the_grid_is_the_next_one_when_it_is_nearer(lab, category,
                                                                        instrument):
    # 14:50 lies off the sibling's hourly grid, 50 minutes after the earliest time its notice
    # allows: 15:00 is nearer than 14:00, and is the one offered.
    sibling = create_instrument(lab=lab, category=category, code=f"{lab.code}-200",
                                **{**RULES, "slot_minutes": 60})
    now = lab_time(MONDAY, 12)
    offers = offered(suggest(db.session, instrument, lab_time(MONDAY, 14, 50),
                             lab_time(MONDAY, 15, 50), now=now, nearest=True))
    assert offers[-1] == (sibling.code, lab_time(MONDAY, 15), lab_time(MONDAY, 16))
    later = offered(suggest(db.session, instrument, lab_time(MONDAY, 16, 50),
                            lab_time(MONDAY, 17, 50), now=now, nearest=True))
    assert later[-1] == (sibling.code, lab_time(MONDAY, 17), lab_time(MONDAY, 18))
