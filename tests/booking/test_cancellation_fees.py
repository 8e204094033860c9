"""Cancelling names its price: a late cancel's message names the fee charged, and cancelling a
series says beforehand what it costs in all and which of its bookings cost it (or until when it
is free), and afterwards what was charged. In Chinese and English."""

import datetime as dt
import html
import json
import math
import re

import pytest
from sqlalchemy import select

from labbook.billing.models import Charge
from labbook.booking.models import Booking, BookingState
from labbook.extensions import db
from tests.factories import (
    create_booking,
    create_instrument,
    create_user,
    lab_time,
    next_weekday,
    reload,
)

MONDAY = next_weekday(0)
#: A cancellation window longer than the week or two before MONDAY: every time is inside it.
LONG_WINDOW = 24 * 15
#: The longest window there is (30 days): a weekly series' second booking is inside it too.
LONGEST_WINDOW = 720


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def flashes(page: str) -> str:
    return " ".join(re.findall(r'<div class="alert alert-\w+[^"]*"[^>]*>(.*?)</div>', page, re.S))


def day(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(("locale", "words"), [
    ("en", "It was inside the {n}-hour cancellation window, so the late-cancellation fee of "
           "¥50.00 is charged."),
    ("zh_CN", "由于在开始前 {n} 小时内取消，按逾时取消收费 ¥50.00。")])
def test_a_late_cancel_names_the_fee_it_charges(login_as, locale, words):
    user = create_user(locale=locale)  # external: ¥100/h, half of it for a late cancel
    booking = create_booking(instrument=create_instrument(cancellation_window_hours=LONG_WINDOW),
                             user=user, start_at=lab_time(MONDAY, 10))
    page = page_text(login_as(user).post(f"/bookings/{booking.id}/cancel", data={},
                                         follow_redirects=True))
    assert words.format(n=LONG_WINDOW) in flashes(page)
    charge = db.session.scalar(select(Charge).where(Charge.booking_id == booking.id))
    assert charge is not None and charge.amount == 50


def test_a_free_cancel_says_nothing_of_a_fee(login_as):
    user = create_user(locale="en")
    booking = create_booking(user=user, start_at=lab_time(MONDAY, 10))
    page = page_text(login_as(user).post(f"/bookings/{booking.id}/cancel", data={},
                                         follow_redirects=True))
    assert "The booking was cancelled." in page and "fee" not in flashes(page)


def weekly_series(client, instrument, count=3) -> list[Booking]:
    client.post(f"/instruments/{instrument.id}/book", data={
        "date": MONDAY.isoformat(), "start_time": "10:00", "end_time": "11:00",
        "purpose": "每周 XRD", "project_ref": "", "repeat": "weekly", "count": str(count)})
    bookings = db.session.scalars(select(Booking).order_by(Booking.start_at)).all()
    assert len(bookings) == count
    return bookings


def window_around_the_first(start: dt.datetime) -> int:
    """A cancellation window that the first booking (at ``start``) is inside and the next,
    a week later, is not."""
    return math.ceil((start - dt.datetime.now(dt.UTC)) / dt.timedelta(hours=1)) + 24


def attribute(response, selector: str, name: str = "data-confirm") -> str:
    """The attribute ``name`` of the form whose tag matches ``selector``."""
    form = re.search(rf"<form [^>]*{selector}[^>]*>", response.get_data(as_text=True)).group(0)
    return html.unescape(re.search(rf'\s{name}="([^"]*)"', form).group(1))


def test_the_series_cancel_names_the_fees_and_the_bookings_that_incur_them(login_as):
    user = create_user(locale="en")
    client = login_as(user)
    instrument = create_instrument()
    first, second, third = weekly_series(client, instrument)
    instrument.cancellation_window_hours = window_around_the_first(first.start_at)
    db.session.commit()

    response = client.get(f"/bookings/{first.id}")
    page = page_text(response)
    terms = (f"Cancelling costs ¥50.00: 1 booking is inside the cancellation window "
             f"({day(first.start_at)}: ¥50.00). Cancelling the others is free of charge.")
    assert terms in re.search(r"data-series-cancellation-fee>(.*?)</p>", page).group(1)
    assert attribute(response, 'class="mb-3"') == \
        f"Cancel every booking of the series that is still to come? {terms}"
    assert attribute(response, 'id="series-from-form"') == \
        f"Cancel the series from this day on? {terms}"
    # From the second booking's day on, nothing costs anything until its own window opens.
    by_day = json.loads(attribute(response, 'id="series-from-form"', "data-confirm-by-day"))
    second_day = day(second.start_at)[:10]
    free_until = second.start_at - dt.timedelta(hours=instrument.cancellation_window_hours)
    assert by_day[second_day] == (
        f"Cancel the series from this day on? Cancelling is free until {day(free_until)} "
        f"(lab time); after that cancelling the booking of {day(second.start_at)} costs ¥50.00.")

    cancelled = page_text(client.post(f"/series/{first.series_id}/cancel", data={
        "next": f"/bookings/{first.id}"}, follow_redirects=True))
    assert "3 bookings of the series were cancelled." in cancelled
    assert "1 of them was inside the cancellation window: the late-cancellation fee of " \
           "¥50.00 is charged." in flashes(cancelled)
    assert [reload(b).state for b in (first, second, third)] == [BookingState.CANCELLED] * 3
    assert [c.amount for c in db.session.scalars(select(Charge))] == [50]


def test_the_series_cancel_in_chinese(login_as):
    user = create_user(locale="zh_CN")
    client = login_as(user)
    instrument = create_instrument(cancellation_window_hours=LONGEST_WINDOW)
    first, _second = weekly_series(client, instrument, count=2)
    page = page_text(client.get(f"/bookings/{first.id}"))
    assert "取消将收费 ¥100.00：其中 2 个预约处于取消时限内" in page
    assert f"{day(first.start_at)}：¥50.00" in page
    assert "取消该系列中所有尚未开始的预约？取消将收费 ¥100.00" in page
    cancelled = page_text(client.post(f"/series/{first.series_id}/cancel", data={},
                                      follow_redirects=True))
    assert "其中 2 个处于取消时限内，按逾时取消共收费 ¥100.00。" in cancelled


def test_a_series_cancelled_before_any_window_is_free(login_as):
    client = login_as(create_user(locale="en"))
    first, _second = weekly_series(client, create_instrument(cancellation_window_hours=24),
                                   count=2)
    page = page_text(client.get(f"/bookings/{first.id}"))
    free_until = day(first.start_at - dt.timedelta(hours=24))
    assert f"Cancelling is free until {free_until} (lab time); after that cancelling the " \
           f"booking of {day(first.start_at)} costs ¥50.00." in page
