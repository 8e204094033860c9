"""Which bookings a user's lists show: their own, a lab's for its managers, upcoming until the
moment a booking ends, and what a calendar tells each viewer about someone's booking."""

from __future__ import annotations

import datetime as dt

import pytest

from labbook.booking import listing
from labbook.booking.calendar import booking_entry, booking_visibility
from labbook.booking.models import BookingState
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

pytestmark = pytest.mark.usefixtures("english")


def listed(query):
    return set(db.session.scalars(query))


def test_a_user_lists_their_own_bookings_and_a_manager_every_one_of_the_lab(researcher):
    lab = create_lab()
    here, elsewhere = create_instrument(lab=lab), create_instrument()
    manager = create_manager(lab)
    mine = create_booking(instrument=here, user=researcher)
    mine_elsewhere = create_booking(instrument=elsewhere, user=researcher)
    colleagues = create_booking(instrument=here, start_at=lab_time(MONDAY, 12),
                                user=create_user(organization=researcher.organization))
    cancelled = create_booking(instrument=here, user=researcher, state=BookingState.CANCELLED,
                               start_at=lab_time(MONDAY, 14))
    assert listed(listing.visible_bookings(researcher)) == {mine, mine_elsewhere, cancelled}
    assert listed(listing.visible_bookings(researcher, lab=lab)) == {mine, cancelled}
    assert listed(listing.visible_bookings(manager, lab=lab)) == {mine, colleagues, cancelled}
    assert listed(listing.visible_bookings(manager)) == set()
    assert listed(listing.visible_bookings(manager, lab=lab, state=BookingState.CANCELLED)) \
        == {cancelled}


def test_lists_order_bookings_at_the_same_time_by_when_they_were_made(researcher):
    """Upcoming soonest first, past latest first; a cancelled booking and its replacement
    start together and show in the order they were made (upcoming) or the reverse (past)."""
    first, second = create_instrument(), create_instrument()
    later = create_booking(instrument=first, user=researcher, start_at=lab_time(MONDAY, 13),
                           end_at=lab_time(MONDAY, 14))
    one = create_booking(instrument=first, user=researcher, start_at=lab_time(MONDAY, 9))
    other = create_booking(instrument=second, user=researcher, start_at=lab_time(MONDAY, 9))
    assert listing.upcoming_bookings(db.session, researcher, now=lab_time(MONDAY, 8)) == \
        [one, other, later]
    past = listing.past_bookings(db.session, researcher, now=lab_time(MONDAY, 15), page=1,
                                 per_page=10)
    assert past.items == [later, other, one]


def test_a_booking_is_upcoming_until_the_moment_it_ends(researcher):
    instrument = create_instrument()
    running = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 9), end_at=lab_time(MONDAY, 10))
    later = create_booking(instrument=instrument, user=researcher,
                           start_at=lab_time(MONDAY, 11), end_at=lab_time(MONDAY, 12))
    withdrawn = create_booking(instrument=instrument, user=researcher,
                               start_at=lab_time(MONDAY, 13), end_at=lab_time(MONDAY, 14),
                               state=BookingState.CANCELLED)
    second_before_end = lab_time(MONDAY, 10) - dt.timedelta(seconds=1)
    assert listing.upcoming_bookings(db.session, researcher, now=second_before_end) == \
        [running, later]
    assert listing.upcoming_bookings(db.session, researcher, now=lab_time(MONDAY, 10)) == \
        [later]
    past = listing.past_bookings(db.session, researcher, now=lab_time(MONDAY, 10), page=1,
                                 per_page=1)
    assert (past.items, past.total) == ([withdrawn], 2)
    assert listing.past_bookings(db.session, researcher, now=lab_time(MONDAY, 10), page=2,
                                 per_page=1).items == [running]


# -- what a calendar shows of a booking ----------------------------------------------------------

@pytest.fixture
def booking():
    organization = create_organization(name="华东材料")
    booker = create_user(organization=organization, name="李雷")
    return create_booking(user=booker, purpose="XRD 物相分析", start_at=lab_time(MONDAY, 9),
                          end_at=lab_time(MONDAY, 10))


def test_who_sees_how_much_of_a_booking(booking):
    manager = create_manager(booking.instrument.lab)
    colleague = create_user(organization=booking.organization)
    stranger = create_user()
    lone = create_user(organization=None)
    assert [booking_visibility(viewer, booking)
            for viewer in (booking.user, manager, colleague, stranger, lone, None)] == \
        ["full", "full", "colleague", "anonymous", "anonymous", "anonymous"]
    assert booking_visibility(create_manager(create_lab()), booking) == "anonymous"


def test_the_calendar_entry_for_each_viewer(booking):
    times = {"kind": "booking", "start": lab_time(MONDAY, 9).isoformat(),
             "end": lab_time(MONDAY, 10).isoformat()}
    assert booking_entry(booking, None) == {**times, "title": "Booked"}
    assert booking_entry(booking, create_user(organization=booking.organization)) == {
        **times, "id": booking.id, "state": "approved", "user": "李雷",
        "title": "Booked by 李雷"}
    full = {**times, "id": booking.id, "state": "approved", "user": "李雷",
            "title": "李雷: XRD 物相分析", "purpose": "XRD 物相分析", "organization": "华东材料"}
    assert booking_entry(booking, booking.user) == {**full, "own": True}
    assert booking_entry(booking, create_manager(booking.instrument.lab)) == \
        {**full, "own": False}
