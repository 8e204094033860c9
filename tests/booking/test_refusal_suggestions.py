"""A way forward from every refusal of the time: opening hours, notice and holidays come with
the nearest slots that keep them, as a taken time comes with the next free ones; and another
instrument is suggested only where the person may book it (trained, not suspended, in service)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event

from labbook.accounts.models import OrganizationStatus
from labbook.booking import changes, services
from labbook.booking.models import Blackout, BookingSuspension
from labbook.booking.suggestions import (
    OTHER_INSTRUMENT_LIMIT,
    SEARCH_DAYS,
    Candidate,
    Suggestion,
    suggest,
)
from labbook.booking.training import grant_qualification
from labbook.catalogue.models import InstrumentStatus
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

pytestmark = pytest.mark.usefixtures("english")

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


@pytest.fixture
def researcher():
    return create_user()


def refusal(user, instrument, start, end, now=NOW):
    with pytest.raises(services.BookingRefused) as refused:
        services.create_booking(db.session, user, instrument_id=instrument.id, start=start,
                                end=end, purpose="XRD", now=now)
    return refused.value


def slots(refused, instrument=None):
    return [(s.start, s.end) for s in refused.suggestions
            if instrument is None or s.instrument.id == instrument.id]


def codes(refused):
    return [p.code for p in refused.problems]


def test_outside_the_opening_hours_the_nearest_slots_inside_them(researcher, instrument):
    refused = refusal(researcher, instrument, lab_time(MONDAY, 17), lab_time(MONDAY, 19))
    assert codes(refused) == ["outside_hours"]
    assert slots(refused) == [(lab_time(MONDAY, 16), lab_time(MONDAY, 18)),
                              (lab_time(TUESDAY, 8), lab_time(TUESDAY, 10)),
                              (lab_time(TUESDAY, 8, 30), lab_time(TUESDAY, 10, 30))]


def test_before_the_lab_opens_the_first_slots_of_the_day(researcher, instrument):
    refused = refusal(researcher, instrument, lab_time(MONDAY, 6), lab_time(MONDAY, 7))
    assert slots(refused) == [(lab_time(MONDAY, 8), lab_time(MONDAY, 9)),
                              (lab_time(MONDAY, 8, 30), lab_time(MONDAY, 9, 30)),
                              (lab_time(MONDAY, 9), lab_time(MONDAY, 10))]


def test_too_soon_the_first_slots_after_the_notice(researcher, instrument):
    refused = refusal(researcher, instrument, lab_time(FRIDAY, 12, 30), lab_time(FRIDAY, 13, 30))
    assert codes(refused) == ["too_soon"]
    assert slots(refused) == [(lab_time(FRIDAY, 14), lab_time(FRIDAY, 15)),
                              (lab_time(FRIDAY, 14, 30), lab_time(FRIDAY, 15, 30)),
                              (lab_time(FRIDAY, 15), lab_time(FRIDAY, 16))]


def test_the_suggested_slots_are_free(researcher, instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 15),
                   end_at=lab_time(MONDAY, 18))
    refused = refusal(researcher, instrument, lab_time(MONDAY, 17), lab_time(MONDAY, 19))
    assert codes(refused) == ["overlap", "outside_hours"]
    # A taken time: the next free slots from the time asked for on.
    assert slots(refused)[0] == (lab_time(TUESDAY, 8), lab_time(TUESDAY, 10))
    refused = refusal(researcher, instrument, lab_time(MONDAY, 18), lab_time(MONDAY, 19))
    assert slots(refused) == [(lab_time(MONDAY, 14), lab_time(MONDAY, 15)),
                              (lab_time(TUESDAY, 8), lab_time(TUESDAY, 9)),
                              (lab_time(TUESDAY, 8, 30), lab_time(TUESDAY, 9, 30))]


def test_the_preview_suggests_the_same(researcher, instrument):
    refused = refusal(researcher, instrument, lab_time(MONDAY, 17), lab_time(MONDAY, 19))
    answer = services.preview_booking(db.session, researcher, instrument,
                                      start=lab_time(MONDAY, 17), end=lab_time(MONDAY, 19),
                                      override=False, now=NOW)
    assert answer.suggestions == refused.suggestions != []


def test_a_manager_who_overrides_the_hours_needs_no_suggestion(lab, instrument):
    answer = services.preview_booking(db.session, create_manager(lab), instrument,
                                      start=lab_time(MONDAY, 17), end=lab_time(MONDAY, 19),
                                      override=True, now=NOW)
    assert (answer.is_possible, answer.suggestions) == (True, [])


def test_nothing_is_suggested_where_no_time_would_help(researcher, instrument):
    researcher.organization.status = OrganizationStatus.SUSPENDED
    db.session.commit()
    refused = refusal(researcher, instrument, lab_time(MONDAY, 17), lab_time(MONDAY, 19))
    assert "org_suspended" in codes(refused)
    assert refused.suggestions == []


# -- other instruments: only those the person may book ------------------------------------------


@pytest.fixture
def siblings(lab, category):
    """Instruments of the same kind: one anyone may book, one that needs training, one in
    another lab, one under maintenance."""
    other_lab = create_lab()
    return {
        "open": create_instrument(lab=lab, category=category, code=f"{lab.code}-200", **RULES),
        "trained": create_instrument(lab=lab, category=category, code=f"{lab.code}-300",
                                     requires_qualification=True, **RULES),
        "elsewhere": create_instrument(lab=other_lab, category=category,
                                       code=f"{other_lab.code}-400", **RULES),
        "maintenance": create_instrument(lab=lab, category=category, code=f"{lab.code}-500",
                                         status=InstrumentStatus.MAINTENANCE, **RULES),
    }


def suggested(refused):
    return {s.instrument.code for s in refused.suggestions}


def taken(instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 9),
                   end_at=lab_time(MONDAY, 10))
    return lab_time(MONDAY, 9), lab_time(MONDAY, 10)


def test_an_instrument_needing_training_the_person_lacks_is_never_suggested(
        researcher, instrument, siblings):
    refused = refusal(researcher, instrument, *taken(instrument))
    assert codes(refused) == ["overlap"]
    assert suggested(refused) == {instrument.code, siblings["open"].code,
                                  siblings["elsewhere"].code}
    assert siblings["trained"].code not in suggested(refused)
    grant_qualification(db.session, create_manager(instrument.lab), researcher,
                        siblings["trained"], now=NOW)
    db.session.commit()
    refused = refusal(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))
    assert siblings["trained"].code in suggested(refused)


def test_a_refused_move_suggests_what_the_booking_s_person_may_book(researcher, instrument,
                                                                    siblings):
    """Moved by the lab's manager, who may book every instrument of the lab, a booking is still
    its person's: the instruments suggested are those they may book."""
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 14), end_at=lab_time(MONDAY, 15))
    start, end = taken(instrument)
    with pytest.raises(services.BookingRefused) as refused:
        changes.change_booking(db.session, create_manager(instrument.lab), booking.id,
                               start=start, end=end, now=NOW)
    assert codes(refused.value) == ["overlap"]
    assert suggested(refused.value) == {instrument.code, siblings["open"].code,
                                        siblings["elsewhere"].code}


def test_a_training_record_lapsing_before_the_slot_does_not_count(researcher, instrument,
                                                                  siblings):
    grant_qualification(db.session, create_manager(instrument.lab), researcher,
                        siblings["trained"], now=NOW, expires_at=lab_time(MONDAY, 12))
    db.session.commit()
    refused = refusal(researcher, instrument, *taken(instrument))
    assert siblings["trained"].code not in suggested(refused)


def test_no_instrument_of_a_lab_the_person_is_suspended_in(researcher, instrument, siblings):
    other_lab = siblings["elsewhere"].lab
    db.session.add(BookingSuspension(user_id=researcher.id, lab_id=other_lab.id,
                                     starts_at=NOW - dt.timedelta(days=1),
                                     ends_at=NOW + dt.timedelta(days=30), no_shows=3,
                                     window_days=30))
    db.session.commit()
    refused = refusal(researcher, instrument, *taken(instrument))
    assert suggested(refused) == {instrument.code, siblings["open"].code}


def test_not_trained_here_suggests_the_same_time_on_instruments_one_may_book(
        researcher, lab, category, siblings):
    needs_training = create_instrument(lab=lab, category=category, code=f"{lab.code}-600",
                                       requires_qualification=True, **RULES)
    refused = refusal(researcher, needs_training, lab_time(MONDAY, 9), lab_time(MONDAY, 10))
    assert codes(refused) == ["not_qualified"]
    assert suggested(refused) == {siblings["open"].code, siblings["elsewhere"].code}
    assert {(s.start, s.end) for s in refused.suggestions} == {
        (lab_time(MONDAY, 9), lab_time(MONDAY, 10))}


def test_under_maintenance_suggests_others_of_its_kind(researcher, siblings):
    refused = refusal(researcher, siblings["maintenance"], lab_time(MONDAY, 9),
                      lab_time(MONDAY, 10))
    assert codes(refused) == ["instrument_unavailable"]
    assert suggested(refused) == {siblings["open"].code, siblings["elsewhere"].code}


def test_a_manager_booking_on_behalf_gets_what_the_researcher_may_book(
        researcher, lab, instrument, siblings):
    start, end = taken(instrument)
    with pytest.raises(services.BookingRefused) as refused:
        services.create_booking(db.session, create_manager(lab), instrument_id=instrument.id,
                                start=start, end=end, purpose="XRD", now=NOW,
                                for_user_id=researcher.id)
    assert siblings["trained"].code not in suggested(refused.value)


# -- the exact answer: closures, the lab's day, the horizon, who may book what ------------------


def offered(refused):
    """Every suggestion of a refusal as (instrument code, start, end), in the order given."""
    return slots_of(refused.suggestions)


def close(*, start, end, lab=None, instrument=None):
    db.session.add(Blackout(lab=lab, instrument=instrument, start_at=start, end_at=end,
                            reason="停电检修"))
    db.session.commit()


def test_the_next_slots_go_round_the_closures_of_the_lab_and_of_each_instrument(
        researcher, lab, instrument, siblings):
    start, end = taken(instrument)
    close(lab=lab, start=lab_time(MONDAY, 9, 30), end=lab_time(MONDAY, 12))
    elsewhere = siblings["elsewhere"]
    close(instrument=elsewhere, start=lab_time(MONDAY, 8), end=lab_time(MONDAY, 11))
    refused = refusal(researcher, instrument, start, end)
    assert codes(refused) == ["blackout", "overlap"]
    assert offered(refused) == [
        (instrument.code, lab_time(MONDAY, 12), lab_time(MONDAY, 13)),
        (instrument.code, lab_time(MONDAY, 12, 30), lab_time(MONDAY, 13, 30)),
        (instrument.code, lab_time(MONDAY, 13), lab_time(MONDAY, 14)),
        (siblings["open"].code, lab_time(MONDAY, 12), lab_time(MONDAY, 13)),
        (elsewhere.code, lab_time(MONDAY, 11), lab_time(MONDAY, 12))]


def test_a_closure_of_the_next_days_moves_the_slots_past_it(researcher, lab, instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 16),
                   end_at=lab_time(MONDAY, 18))
    close(lab=lab, start=lab_time(TUESDAY, 0), end=lab_time(TUESDAY, 10))
    refused = refusal(researcher, instrument, lab_time(MONDAY, 16), lab_time(MONDAY, 18))
    assert offered(refused) == [
        (instrument.code, lab_time(TUESDAY, 10), lab_time(TUESDAY, 12)),
        (instrument.code, lab_time(TUESDAY, 10, 30), lab_time(TUESDAY, 12, 30)),
        (instrument.code, lab_time(TUESDAY, 11), lab_time(TUESDAY, 13))]


def test_the_slots_after_closing_time_are_the_next_lab_day_s_first(researcher, instrument):
    # The lab's day starts at 08:00 lab time, midnight UTC: the search must count in lab days.
    create_booking(instrument=instrument, start_at=lab_time(FRIDAY, 15),
                   end_at=lab_time(FRIDAY, 18))
    refused = refusal(researcher, instrument, lab_time(FRIDAY, 16, 30), lab_time(FRIDAY, 18))
    assert codes(refused) == ["overlap"]
    # Past the weekend, the lab being closed on Saturdays and Sundays.
    assert offered(refused) == [
        (instrument.code, lab_time(MONDAY, 8), lab_time(MONDAY, 9, 30)),
        (instrument.code, lab_time(MONDAY, 8, 30), lab_time(MONDAY, 10)),
        (instrument.code, lab_time(MONDAY, 9), lab_time(MONDAY, 10, 30))]


def test_no_slot_is_offered_past_an_instrument_s_horizon(researcher, lab, category):
    # Three days ahead of Friday noon: Monday noon is the latest start.
    near = create_instrument(lab=lab, category=category, code=f"{lab.code}-100",
                             **{**RULES, "horizon_days": 3})
    far = create_instrument(lab=lab, category=category, code=f"{lab.code}-200", **RULES)
    for instrument in (near, far):
        create_booking(instrument=instrument, start_at=lab_time(MONDAY, 8),
                       end_at=lab_time(MONDAY, 11, 30))
    refused = refusal(researcher, near, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    assert offered(refused) == [(near.code, lab_time(MONDAY, 11, 30), lab_time(MONDAY, 12, 30)),
                                (near.code, lab_time(MONDAY, 12), lab_time(MONDAY, 13)),
                                (far.code, lab_time(MONDAY, 11, 30), lab_time(MONDAY, 12, 30))]
    refused = refusal(researcher, far, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    assert offered(refused) == [(far.code, lab_time(MONDAY, 11, 30), lab_time(MONDAY, 12, 30)),
                                (far.code, lab_time(MONDAY, 12), lab_time(MONDAY, 13)),
                                (far.code, lab_time(MONDAY, 12, 30), lab_time(MONDAY, 13, 30)),
                                (near.code, lab_time(MONDAY, 11, 30), lab_time(MONDAY, 12, 30))]


def test_suspensions_not_in_force_and_revoked_training_do_not_count(researcher, lab,
                                                                      instrument, siblings):
    other_lab = siblings["elsewhere"].lab
    for starts, ends, lifted in ((NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=9), None),
                                 (NOW - dt.timedelta(days=9), NOW, None),
                                 (NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=9), NOW)):
        db.session.add(BookingSuspension(user_id=researcher.id, lab_id=other_lab.id,
                                         starts_at=starts, ends_at=ends, lifted_at=lifted,
                                         no_shows=3, window_days=30))
    record = grant_qualification(db.session, create_manager(lab), researcher,
                                 siblings["trained"], now=NOW)
    record.revoked_at = NOW
    db.session.commit()
    refused = refusal(researcher, instrument, *taken(instrument))
    assert suggested(refused) == {instrument.code, siblings["open"].code,
                                  siblings["elsewhere"].code}


def test_a_lab_s_manager_is_offered_its_instruments_without_a_training_record(
        lab, instrument, siblings):
    refused = refusal(create_manager(lab), instrument, *taken(instrument))
    assert [code for code, _start, _end in offered(refused)][3:] == [
        siblings["open"].code, siblings["trained"].code, siblings["elsewhere"].code]


def test_past_the_next_days_the_slots_keep_clear_of_every_booking_and_its_buffer(
        researcher, lab, category):
    # Three days and an hour after the time asked for (Thursday 10:00), and the buffer before
    # that, are where the search first stops looking (``suggestions.NEAR_DAYS``).
    instrument = create_instrument(lab=lab, category=category, code=f"{lab.code}-100",
                                   **{**RULES, "max_minutes": 600, "buffer_minutes": 30})
    thursday = MONDAY + dt.timedelta(days=3)
    wednesday = thursday - dt.timedelta(days=1)
    for start, end in ((lab_time(MONDAY, 8), lab_time(MONDAY, 18)),
                       (lab_time(TUESDAY, 8), lab_time(TUESDAY, 18)),
                       (lab_time(wednesday, 8), lab_time(wednesday, 16)),
                       (lab_time(thursday, 8), lab_time(thursday, 8, 30)),
                       (lab_time(thursday, 10), lab_time(thursday, 11))):
        create_booking(instrument=instrument, start_at=start, end_at=end)
    refused = refusal(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))
    # Not Thursday 09:00–10:00: its buffer meets the booking at 10:00.
    assert offered(refused) == [
        (instrument.code, lab_time(wednesday, 16, 30), lab_time(wednesday, 17, 30)),
        (instrument.code, lab_time(wednesday, 17), lab_time(wednesday, 18)),
        (instrument.code, lab_time(thursday, 11, 30), lab_time(thursday, 12, 30))]


# -- the slots ``suggest`` offers, called as the services call it: the bounds of the lengths an
# -- instrument takes, channels, who may be offered an instrument needing training, how many
# -- other instruments are offered, and the end of the search's window


def slots_of(suggestions):
    """Each slot ``suggest`` offers as (instrument code, start, end), in its order."""
    return [(s.instrument.code, s.start, s.end) for s in suggestions]


def test_lengths_at_the_instrument_s_shortest_and_longest_are_offered(instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 8),
                   end_at=lab_time(MONDAY, 9))
    shortest = suggest(db.session, instrument, lab_time(MONDAY, 8), lab_time(MONDAY, 8, 30),
                       now=NOW)
    assert slots_of(shortest) == [
        (instrument.code, lab_time(MONDAY, 9), lab_time(MONDAY, 9, 30)),
        (instrument.code, lab_time(MONDAY, 9, 30), lab_time(MONDAY, 10)),
        (instrument.code, lab_time(MONDAY, 10), lab_time(MONDAY, 10, 30))]
    longest = suggest(db.session, instrument, lab_time(MONDAY, 8), lab_time(MONDAY, 12),
                      now=NOW)
    assert slots_of(longest)[0] == (instrument.code, lab_time(MONDAY, 9), lab_time(MONDAY, 13))
    assert suggest(db.session, instrument, lab_time(MONDAY, 8), lab_time(MONDAY, 12, 30),
                   now=NOW) == []


def test_without_nearest_the_slots_start_from_the_time_asked_for(instrument):
    # Monday 08:00 is free and as near to 10:00 as 12:00 is, but a taken time is answered with
    # the next slots.
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 9),
                   end_at=lab_time(MONDAY, 11))
    assert slots_of(suggest(db.session, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11),
                           now=NOW)) == [
        (instrument.code, lab_time(MONDAY, 11), lab_time(MONDAY, 12)),
        (instrument.code, lab_time(MONDAY, 11, 30), lab_time(MONDAY, 12, 30)),
        (instrument.code, lab_time(MONDAY, 12), lab_time(MONDAY, 13))]


def test_the_nearest_slots_on_other_instruments_too(lab, category, instrument):
    sibling = create_instrument(lab=lab, category=category, code=f"{lab.code}-200", **RULES)
    # After closing time: the nearest slot on each is the last one of the day.
    assert slots_of(suggest(db.session, instrument, lab_time(MONDAY, 17), lab_time(MONDAY, 19),
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
    assert slots_of(suggest(db.session, two, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
                           now=NOW)) == [
        (two.code, lab_time(MONDAY, 9), lab_time(MONDAY, 10)),
        (two.code, lab_time(MONDAY, 9, 30), lab_time(MONDAY, 10, 30)),
        (two.code, lab_time(MONDAY, 10), lab_time(MONDAY, 11)),
        (one.code, lab_time(MONDAY, 9), lab_time(MONDAY, 10)),
        (other_two.code, lab_time(MONDAY, 9), lab_time(MONDAY, 10))]
    # Both channels: not before 10:00, and never on a one-channel instrument.
    assert slots_of(suggest(db.session, two, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
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
    assert [code for code, _start, _end in slots_of(suggest(
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
        return {code for code, _start, _end in slots_of(suggest(
            db.session, instrument, start, end, now=NOW, user=researcher))}

    assert trained.code in offered_codes()
    record.expires_at = last_end - dt.timedelta(minutes=1)
    db.session.commit()
    assert trained.code not in offered_codes()


def test_at_most_three_other_instruments_are_offered(lab, category, instrument):
    siblings = [create_instrument(lab=lab, category=category, code=f"{lab.code}-{n}00", **RULES)
                for n in range(2, 7)]
    assert [code for code, _start, _end in slots_of(suggest(
        db.session, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10), now=NOW,
        on_instrument=False))] == [sibling.code for sibling in siblings[:OTHER_INSTRUMENT_LIMIT]]


def test_instruments_further_down_the_list_are_searched_when_the_first_offer_nothing(
        lab, category, instrument):
    # Those that cannot take an hour are passed over; the fifth and sixth are read together.
    short = [create_instrument(lab=lab, category=category, code=f"{lab.code}-{n}00",
                               **{**RULES, "max_minutes": 30}) for n in range(2, 6)]
    able = [create_instrument(lab=lab, category=category, code=f"{lab.code}-{n}00", **RULES)
            for n in range(6, 8)]
    assert short and [code for code, _start, _end in slots_of(suggest(
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
    assert slots_of(suggest(db.session, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11),
                           now=NOW, nearest=True)) == [
        (instrument.code, lab_time(MONDAY, 9, 30), lab_time(MONDAY, 10, 30)),
        (instrument.code, lab_time(MONDAY, 10), lab_time(MONDAY, 11)),
        (instrument.code, lab_time(MONDAY, 10, 30), lab_time(MONDAY, 11, 30))]


def test_before_opening_the_nearest_slots_are_not_the_day_before_s(instrument):
    # Tuesday 06:00 in the lab is Monday in UTC: the lab's day decides where the search starts.
    create_booking(instrument=instrument, start_at=lab_time(TUESDAY, 8),
                   end_at=lab_time(TUESDAY, 18))
    wednesday = TUESDAY + dt.timedelta(days=1)
    assert slots_of(suggest(db.session, instrument, lab_time(TUESDAY, 6), lab_time(TUESDAY, 7),
                           now=NOW, nearest=True)) == [
        (instrument.code, lab_time(wednesday, 8), lab_time(wednesday, 9)),
        (instrument.code, lab_time(wednesday, 8, 30), lab_time(wednesday, 9, 30)),
        (instrument.code, lab_time(wednesday, 9), lab_time(wednesday, 10))]


def test_the_nearest_slots_start_from_the_lab_s_midnight(category):
    night = create_lab(hours={day: [(dt.time(0), dt.time(2))] for day in range(5)})
    instrument = create_instrument(lab=night, category=category, code=f"{night.code}-100",
                                   **RULES)
    assert slots_of(suggest(db.session, instrument, lab_time(MONDAY, 0, 30),
                           lab_time(MONDAY, 2, 30), now=NOW, nearest=True)) == [
        (instrument.code, lab_time(MONDAY, 0), lab_time(MONDAY, 2)),
        (instrument.code, lab_time(TUESDAY, 0), lab_time(TUESDAY, 2)),
        (instrument.code, lab_time(TUESDAY + dt.timedelta(days=1), 0),
         lab_time(TUESDAY + dt.timedelta(days=1), 2))]


@pytest.mark.parametrize("channels", [1, 2])
def test_a_booking_just_after_the_window_keeps_the_last_slot_s_buffer_clear(lab, category,
                                                                            channels):
    instrument = create_instrument(lab=lab, category=category, code=f"{lab.code}-100",
                                   channels=channels, **{**RULES, "buffer_minutes": 30})
    start = lab_time(MONDAY, 9)
    window_end = start + dt.timedelta(days=SEARCH_DAYS)
    db.session.add(Blackout(instrument=instrument, start_at=start, end_at=window_end,
                            reason="停电检修"))
    db.session.commit()
    # The last slot the search may offer (window_end to an hour later) would have its buffer
    # meet this booking of every channel, which starts after the last end it may have.
    create_booking(instrument=instrument, start_at=window_end + dt.timedelta(minutes=70),
                   end_at=window_end + dt.timedelta(minutes=130),
                   channel_mask=(1 << channels) - 1)
    assert suggest(db.session, instrument, start, start + dt.timedelta(hours=1), now=NOW) == []


def test_the_nearest_slot_off_the_grid_is_the_next_one_when_it_is_nearer(lab, category,
                                                                        instrument):
    # 14:50 lies off the sibling's hourly grid, 50 minutes after the earliest time its notice
    # allows: 15:00 is nearer than 14:00, and is the one offered.
    sibling = create_instrument(lab=lab, category=category, code=f"{lab.code}-200",
                                **{**RULES, "slot_minutes": 60})
    now = lab_time(MONDAY, 12)
    offers = slots_of(suggest(db.session, instrument, lab_time(MONDAY, 14, 50),
                             lab_time(MONDAY, 15, 50), now=now, nearest=True))
    assert offers[-1] == (sibling.code, lab_time(MONDAY, 15), lab_time(MONDAY, 16))
    later = slots_of(suggest(db.session, instrument, lab_time(MONDAY, 16, 50),
                            lab_time(MONDAY, 17, 50), now=now, nearest=True))
    assert later[-1] == (sibling.code, lab_time(MONDAY, 17), lab_time(MONDAY, 18))


def test_the_search_reads_the_siblings_and_their_busy_time_in_two_statements(lab, category,
                                                                             instrument):
    # Three slots here and one on each of three siblings, found in the next days: one
    # statement for the siblings (with whether the person may book each), one for the busy
    # time of the instrument and those three.
    siblings = [create_instrument(lab=lab, category=category, code=f"{lab.code}-{n}00",
                                  **RULES) for n in (2, 3, 4, 5)]
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 9),
                   end_at=lab_time(MONDAY, 10))
    researcher = create_user()
    start, end = lab_time(MONDAY, 9), lab_time(MONDAY, 10)
    suggest(db.session, instrument, start, end, now=NOW, user=researcher)  # the lab's schedule
    statements = []

    def statement(_connection, _cursor, sql, *_args) -> None:
        statements.append(sql)

    event.listen(db.engine, "before_cursor_execute", statement)
    try:
        offers = slots_of(suggest(db.session, instrument, start, end, now=NOW,
                                  user=researcher))
    finally:
        event.remove(db.engine, "before_cursor_execute", statement)
    assert [code for code, _start, _end in offers] == \
        [instrument.code] * 3 + [sibling.code for sibling in siblings[:3]]
    assert len(statements) == 2


def test_a_suggestion_is_a_slot_of_an_instrument_however_its_rules_were_read(lab, category,
                                                                             instrument):
    # The preview and the refusal read the instrument at different moments: the same slot of
    # it is the same suggestion, the same time on another instrument is not.
    sibling = create_instrument(lab=lab, category=category, code=f"{lab.code}-200", **RULES)
    start, end = lab_time(MONDAY, 9), lab_time(MONDAY, 10)
    here = Candidate.of(instrument)
    [offer] = [s for s in suggest(db.session, instrument, start, end, now=NOW)
               if s.instrument.id == instrument.id and s.start == start]
    assert offer == Suggestion(here._replace(longest_held_minutes=600), start, end, offer.tz)
    assert offer != Suggestion(Candidate.of(sibling), start, end, offer.tz)
    assert offer != Suggestion(here, start, end + dt.timedelta(minutes=30), offer.tz)
    assert offer != (instrument.id, start, end)
