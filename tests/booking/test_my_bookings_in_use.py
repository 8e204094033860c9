"""My bookings: a booking still in use after its booked end is a current one, listed with the
upcoming bookings until it is checked out, not under "Past and cancelled"."""

from __future__ import annotations

import datetime as dt

from labbook.booking import listing
from labbook.booking.models import BookingState
from labbook.core.time import utcnow
from labbook.extensions import db
from tests.factories import create_booking, create_instrument

SECTIONS = {"zh_CN": ("当前及即将开始", "历史与已取消"),
            "en": ("Current and upcoming", "Past and cancelled")}


def test_a_booking_in_use_past_its_end_is_current_until_checked_out(client, login_as,
                                                                     researcher):
    now = utcnow()
    instrument = create_instrument()
    overrunning = create_booking(instrument=instrument, user=researcher,
                                 state=BookingState.IN_USE, purpose="超时仍在使用",
                                 start_at=now - dt.timedelta(hours=3),
                                 end_at=now - dt.timedelta(hours=1),
                                 checked_in_at=now - dt.timedelta(hours=3))
    finished = create_booking(instrument=instrument, user=researcher,
                              state=BookingState.COMPLETED, purpose="已经用完",
                              start_at=now - dt.timedelta(hours=8),
                              end_at=now - dt.timedelta(hours=7))
    browser = login_as(researcher)
    for locale, (current, past) in SECTIONS.items():
        researcher.locale = locale
        db.session.commit()
        page = browser.get("/bookings").get_data(as_text=True)
        upcoming_part, _, past_part = page.partition(f">{past}</h2>")
        assert f">{current}</h2>" in upcoming_part
        assert f"/bookings/{overrunning.id}\"" in upcoming_part
        assert f"/bookings/{overrunning.id}\"" not in past_part
        assert f"/bookings/{finished.id}\"" in past_part

    checked_out = listing.past_bookings(db.session, researcher, now=now, page=1, per_page=10)
    assert overrunning not in checked_out.items
    overrunning.state = BookingState.COMPLETED
    db.session.commit()
    assert listing.upcoming_bookings(db.session, researcher, now=now) == []
    assert overrunning in listing.past_bookings(db.session, researcher, now=now, page=1,
                                                per_page=10).items
