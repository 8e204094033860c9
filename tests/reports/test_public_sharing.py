"""The public open-sharing page: no sign-in, each lab's instruments with their free time in the
coming week, the year's figures, the testing services with prices, in both languages."""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import insert

from labbook.booking.models import Blackout, Booking, BookingState
from labbook.catalogue.models import InstrumentStatus
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.reports import public
from tests.factories import (
    create_booking,
    create_instrument,
    create_lab,
    create_service,
    create_user,
)
from tests.sqlite_steps import counted_steps

EVERY_DAY = {day: [(dt.time(8), dt.time(18))] for day in range(7)}


@pytest.fixture(autouse=True)
def _fresh_figures():
    public.forget_figures()
    yield
    public.forget_figures()


def test_free_time_is_the_opening_hours_less_bookings_and_closures():
    lab = create_lab(code="PUB", hours=EVERY_DAY)
    free, busy, closed, broken = (create_instrument(lab=lab) for _ in range(4))
    broken.status = InstrumentStatus.MAINTENANCE
    db.session.commit()
    now = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 lab time
    create_booking(instrument=busy, start_at=now + dt.timedelta(hours=1),
                   end_at=now + dt.timedelta(hours=3))
    create_booking(instrument=busy, start_at=now + dt.timedelta(hours=4),
                   end_at=now + dt.timedelta(hours=5), state=BookingState.CANCELLED)
    db.session.add(Blackout(instrument=closed, start_at=now - dt.timedelta(days=1),
                            end_at=now + dt.timedelta(days=1), reason="维修"))
    db.session.commit()
    seconds = public.free_time(db.session, lab, [free, busy, closed, broken], now=now)
    # Seven days from Monday 10:00: 8 h the first day, 10 h on each of the next six, 2 h on
    # the seventh morning (08:00–10:00). The closure takes the rest of Monday and Tuesday
    # until 10:00.
    week = (8 + 6 * 10 + 2) * 3600
    assert seconds == {free.id: week, busy.id: week - 2 * 3600,
                       closed.id: week - (8 + 2) * 3600, broken.id: 0}


def test_the_page_is_public_and_speaks_both_languages(client):
    lab = create_lab(code="PUB", name_zh="公开实验室", name_en="Public Lab")
    instrument = create_instrument(lab=lab, name_zh="公开仪器", name_en="Public instrument",
                                   value_cny=Decimal("800000.00"))
    create_service(lab=lab, instruments=[instrument], name_zh="公开检测", name_en="Open test",
                   price_external=Decimal("321.00"))
    create_booking(instrument=instrument, start_at=utcnow() - dt.timedelta(days=1, hours=2),
                   end_at=utcnow() - dt.timedelta(days=1), state=BookingState.COMPLETED)
    page = client.get("/open-sharing", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "公开仪器" in text and "公开检测" in text and "¥321.00" in text
    assert 'name="viewport"' in text
    with client.session_transaction() as session:
        session["locale"] = "en"
    english = client.get("/open-sharing?lab=PUB").get_data(as_text=True)
    assert "Public instrument" in english and "How to send samples" in english
    assert client.get("/open-sharing?lab=NOPE").status_code == 404


def test_bookings_beyond_the_week_add_no_work_to_the_free_time():
    """The free time reads the bookings that hold time in the coming week only: a year of
    bookings further ahead adds no work (SQLite's virtual machine steps), and the longest
    booking the instrument allows, starting on the week's last evening, still counts."""
    if db.session.get_bind().dialect.name != "sqlite":
        pytest.skip("counts SQLite's virtual machine steps")
    lab = create_lab(code="PUB", hours=EVERY_DAY)
    instrument = create_instrument(lab=lab, max_minutes=24 * 60)
    now = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 lab time
    last_evening = now + dt.timedelta(days=6, hours=7)  # Sunday 17:00, an hour before closing
    create_booking(instrument=instrument, start_at=last_evening,
                   end_at=last_evening + dt.timedelta(hours=24))
    user = create_user()

    def free_and_steps() -> tuple[int, int]:
        return counted_steps(
            lambda: public.free_time(db.session, lab, [instrument], now=now)[instrument.id])

    def book_ahead(first: dt.datetime, days: int) -> None:
        db.session.execute(insert(Booking), [{
            "instrument_id": instrument.id, "user_id": user.id,
            "organization_id": user.organization_id,
            "start_at": first + dt.timedelta(days=n // 8, hours=n % 8),
            "end_at": first + dt.timedelta(days=n // 8, hours=n % 8 + 1),
            "blocked_until": first + dt.timedelta(days=n // 8, hours=n % 8 + 1),
            "state": BookingState.APPROVED, "purpose": "将来"} for n in range(8 * days)])
        db.session.commit()

    book_ahead(now + dt.timedelta(days=30), 1)
    free_and_steps()  # the lab's schedule is read once, then kept
    free, before = free_and_steps()
    week_of_opening = (8 + 6 * 10 + 0) * 3600  # Monday from 10:00, six more days to 18:00
    assert free == week_of_opening - 3600  # Sunday 17:00–18:00 is held
    book_ahead(now + dt.timedelta(days=31), 300)
    assert free_and_steps() == (free, before)
