"""The instrument's phone page that its label's QR code opens: today's bookings, checking in
one's own current booking, booking, reporting a problem."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event

from labbook.booking.models import BookingState
from labbook.core.time import to_lab_time
from labbook.extensions import db
from tests.documents.reading import pdf_page_count, pdf_qr_payloads, pdf_text
from tests.factories import create_booking, create_instrument, create_manager, create_user, reload


def now_booking(instrument, user, *, starts_in_minutes=5, state=BookingState.APPROVED):
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) \
        + dt.timedelta(minutes=starts_in_minutes)
    return create_booking(instrument=instrument, user=user, start_at=start,
                          end_at=start + dt.timedelta(hours=1), state=state)


def test_a_booker_checks_in_by_the_qr_page(client, login_as):
    instrument = create_instrument(name_zh="扫描电镜", name_en="SEM")
    user = create_user()
    booking = now_booking(instrument, user)
    login_as(user)
    page = client.get(f"/m/instruments/{instrument.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "扫描电镜" in text and f"/m/instruments/{instrument.id}/check-in" in text
    assert f"/instruments/{instrument.id}/calendar" in text
    # "Report a problem" opens the fault report of this instrument, naming the booking.
    assert f"/instruments/{instrument.id}/report-problem?booking={booking.id}" in text
    assert client.get(f"/instruments/{instrument.id}/report-problem?booking={booking.id}") \
        .status_code == 200
    response = client.post(f"/m/instruments/{instrument.id}/check-in")
    assert response.status_code == 302
    assert reload(booking).state == BookingState.IN_USE
    assert f"/m/instruments/{instrument.id}/check-out" in \
        client.get(f"/m/instruments/{instrument.id}").get_data(as_text=True)
    client.post(f"/m/instruments/{instrument.id}/check-out")
    assert reload(booking).state == BookingState.COMPLETED


def test_a_booking_in_use_since_yesterday_shows_the_date_it_began(client, login_as):
    instrument, user = create_instrument(), create_user()
    began = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(days=1)
    create_booking(instrument=instrument, user=user, start_at=began,
                   end_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
                   state=BookingState.IN_USE)
    login_as(user)
    text = client.get(f"/m/instruments/{instrument.id}").get_data(as_text=True)
    assert f">{to_lab_time(began):%Y-%m-%d %H:%M}</time>–" in text
    assert f"/m/instruments/{instrument.id}/check-out" in text


def test_nobody_checks_in_someone_elses_booking(client, login_as):
    instrument = create_instrument()
    booking = now_booking(instrument, create_user())
    other = create_user()
    login_as(other)
    response = client.post(f"/m/instruments/{instrument.id}/check-in", follow_redirects=True)
    assert response.status_code == 200
    assert reload(booking).state == BookingState.APPROVED


def test_too_early_to_check_in_is_refused(client, login_as):
    instrument = create_instrument()
    user = create_user()
    booking = now_booking(instrument, user, starts_in_minutes=120)
    login_as(user)
    client.post(f"/m/instruments/{instrument.id}/check-in")
    assert reload(booking).state == BookingState.APPROVED


def test_a_visitor_sees_the_day_without_names_and_is_asked_to_sign_in(client):
    instrument = create_instrument()
    now_booking(instrument, create_user(name="张三"))
    text = client.get(f"/m/instruments/{instrument.id}").get_data(as_text=True)
    assert "张三" not in text
    assert "/login?next=" in text


def test_the_manager_sees_who_booked(client, login_as):
    instrument = create_instrument()
    now_booking(instrument, create_user(name="张三"))
    login_as(create_manager(instrument.lab))
    assert "张三" in client.get(f"/m/instruments/{instrument.id}").get_data(as_text=True)


def test_an_unknown_instrument_is_404(client):
    assert client.get("/m/instruments/999999").status_code == 404


def test_the_lab_manager_prints_the_a6_label_whose_qr_opens_the_phone_page(client, login_as):
    instrument = create_instrument(name_zh="扫描电镜", code="NEM-SEM-01")
    login_as(create_manager(instrument.lab))
    edit_page = client.get(f"/admin/instruments/{instrument.id}").get_data(as_text=True)
    assert f"/admin/instruments/{instrument.id}/label.pdf" in edit_page
    response = client.get(f"/admin/instruments/{instrument.id}/label.pdf")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert pdf_page_count(response.data) == 1
    assert "NEM-SEM-01" in pdf_text(response.data)
    [payload] = pdf_qr_payloads(response.data)
    assert payload.endswith(f"/m/instruments/{instrument.id}")
    phone_page = client.get(payload.split("://", 1)[1].split("/", 1)[1].join(["/", ""]))
    assert phone_page.status_code == 200


def test_only_the_labs_managers_print_its_labels(client, login_as):
    instrument = create_instrument()
    login_as(create_manager(create_instrument().lab))
    assert client.get(f"/admin/instruments/{instrument.id}/label.pdf").status_code == 404
    login_as(create_user())
    assert client.get(f"/admin/instruments/{instrument.id}/label.pdf").status_code == 403


def test_the_phone_page_and_its_buttons_read_no_closures(client, login_as):
    """The page shows the day's bookings and nothing of the lab's closures, so neither it nor
    its check-in reads them."""
    instrument = create_instrument()
    user = create_user()
    booking = now_booking(instrument, user)
    login_as(user)
    statements: list[str] = []

    def statement(_connection, _cursor, sql, *_args) -> None:
        statements.append(sql)

    event.listen(db.engine, "before_cursor_execute", statement)
    try:
        page = client.get(f"/m/instruments/{instrument.id}")
        client.post(f"/m/instruments/{instrument.id}/check-in")
    finally:
        event.remove(db.engine, "before_cursor_execute", statement)
    assert f"/m/instruments/{instrument.id}/check-in" in page.get_data(as_text=True)
    assert reload(booking).state == BookingState.IN_USE
    assert statements and not [sql for sql in statements if "blackouts" in sql]
