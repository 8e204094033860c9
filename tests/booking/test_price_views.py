"""Money before commitment: the price of a time and what cancelling it costs, on the booking
form (the live check and without JavaScript), in the confirmation, on the booking's page, in
My bookings and on the approval cards."""

import datetime as dt
import html
import re
from decimal import Decimal

from labbook.accounts.models import PriceTier
from labbook.booking.models import BookingState
from tests.factories import (
    create_booking,
    create_instrument,
    create_manager,
    create_user,
    lab_time,
    next_weekday,
)

MONDAY = next_weekday(0)
#: A cancellation window longer than the week or two before MONDAY: every time is inside it.
LONG_WINDOW = 24 * 15


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()


def check(client, instrument, start, end):
    return client.post(f"/instruments/{instrument.id}/check",
                       json={"start": iso(start), "end": iso(end)})


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def form(day=MONDAY, start="10:00", end="11:00"):
    return {"date": day.isoformat(), "start_time": start, "end_time": end,
            "purpose": "XRD 物相分析", "project_ref": "", "repeat": "none"}


def test_the_check_tells_the_price_and_until_when_cancelling_is_free(login_as):
    client = login_as(create_user(locale="en"))  # an external organization: ¥100/h
    instrument = create_instrument()
    answer = check(client, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10, 30)).json

    assert answer["ok"] is True
    assert answer["estimate"] == {
        "tier": "external", "currency": "CNY", "hourly_rate": "100.00", "amount": "150.00",
        "basis": "booked", "billed_minutes": 90, "label": "¥150.00",
        "text": "Estimated price ¥150.00: External tier, ¥100.00/h, 90 min billed."}
    free_until = lab_time(MONDAY - dt.timedelta(days=1), 9)
    assert answer["cancellation_fee"] == {
        "amount": "0.00", "currency": "CNY", "free_until": free_until.isoformat(),
        "late_amount": "75.00", "in_window": False,
        "text": f"Cancelling is free until {MONDAY - dt.timedelta(days=1)} 09:00 (lab time); "
                "after that it costs ¥75.00."}


def test_the_check_warns_when_the_time_is_inside_the_cancellation_window(login_as):
    instrument = create_instrument(cancellation_window_hours=LONG_WINDOW)
    answer = check(login_as(create_user()), instrument, lab_time(MONDAY, 9),
                   lab_time(MONDAY, 10)).json
    assert answer["cancellation_fee"]["in_window"] is True
    assert answer["cancellation_fee"]["amount"] == "50.00"
    assert answer["cancellation_fee"]["text"] == \
        f"取消将收费 ¥50.00：距开始已不足 {LONG_WINDOW} 小时（取消时限内）。"
    assert answer["estimate"]["text"] == \
        "预计费用 ¥100.00：外部单位价格档，¥100.00/小时，计费 60 分钟。"


def test_a_refused_time_still_shows_its_price_without_javascript(login_as):
    instrument = create_instrument(cancellation_window_hours=LONG_WINDOW)
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10),
                   end_at=lab_time(MONDAY, 11))
    client = login_as(create_user(locale="en"))
    page = page_text(client.post(f"/instruments/{instrument.id}/book", data=form(),
                                 follow_redirects=True))

    result = re.search(r'<div id="check-result".*?</div>\s*</div>', page, re.S).group(0)
    assert "Estimated price ¥100.00: External tier, ¥100.00/h, 60 min billed." in result
    assert "Cancelling will cost ¥50.00" in result and "alert-warning" in result


def test_the_confirmation_names_the_price_and_the_cancellation_terms(login_as):
    instrument = create_instrument()
    client = login_as(create_user(locale="en"))
    page = page_text(client.post(f"/instruments/{instrument.id}/book", data=form(),
                                 follow_redirects=True))
    assert "Booked: Instrument" in page
    assert "Estimated price ¥100.00: External tier, ¥100.00/h, 60 min billed. Cancelling is " \
           f"free until {MONDAY - dt.timedelta(days=1)} 10:00 (lab time); after that it costs " \
           "¥50.00." in page


def test_the_booking_page_names_the_price_and_the_fee_before_cancelling(login_as):
    instrument = create_instrument(cancellation_window_hours=LONG_WINDOW)
    booking = create_booking(instrument=instrument, user=create_user(),
                             start_at=lab_time(MONDAY, 10), end_at=lab_time(MONDAY, 12))
    page = page_text(login_as(booking.user).get(f"/bookings/{booking.id}"))

    assert "预计费用 ¥200.00" in page
    assert 'data-confirm="确定取消此预约？取消将收费 ¥100.00：' in page


def test_my_bookings_show_each_price_and_ask_before_a_costly_cancel(login_as):
    user = create_user(locale="en")
    late = create_booking(instrument=create_instrument(cancellation_window_hours=LONG_WINDOW),
                          user=user, start_at=lab_time(MONDAY, 10))
    free = create_booking(instrument=create_instrument(rates={PriceTier.EXTERNAL: Decimal(0)}),
                          user=user, start_at=lab_time(MONDAY, 14))
    unpriced = create_booking(instrument=create_instrument(rates={}), user=user,
                              start_at=lab_time(MONDAY, 16))
    page = page_text(login_as(user).get("/bookings"))

    rows = {booking.id: re.search(rf'/bookings/{booking.id}".*?</tr>', page, re.S).group(0)
            for booking in (late, free, unpriced)}
    assert "¥100.00" in rows[late.id] and "External tier, ¥100.00/h" in rows[late.id]
    assert 'data-confirm="Cancel this booking? Cancelling will cost ¥50.00' in rows[late.id]
    assert "Free" in rows[free.id]
    assert 'data-confirm="Cancel this booking? Cancelling is free of charge."' in rows[free.id]
    assert "No price set" in rows[unpriced.id]


def test_approval_cards_show_the_requesters_price(login_as):
    instrument = create_instrument(requires_approval=True)
    booking = create_booking(instrument=instrument, state=BookingState.PENDING,
                             start_at=lab_time(MONDAY, 10), end_at=lab_time(MONDAY, 10, 30))
    manager = create_manager(instrument.lab, locale="en")
    page = page_text(login_as(manager).get("/manage/approvals"))
    card = re.search(rf'id="booking-{booking.id}-title".*?</article>', page, re.S).group(0)
    assert "Estimated price ¥50.00: External tier, ¥100.00/h, 30 min billed." in card
