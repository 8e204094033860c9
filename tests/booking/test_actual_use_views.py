"""Actual use in the browser and the API: check-in/out buttons, the managers' "today" page,
corrections. Bookings that must be running now are placed around the real current time."""

import datetime as dt
import re

import pytest
from sqlalchemy import select

from labbook.audit.models import AuditEvent
from labbook.booking.models import BookingState
from labbook.core.time import LAB_TZ
from labbook.extensions import db
from tests.booking.test_views import assert_well_formed
from tests.factories import (
    bearer,
    create_admin,
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    lab_time,
    next_weekday,
    reload,
)

MINUTE = dt.timedelta(minutes=1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def lab_today() -> dt.date:
    return dt.datetime.now(LAB_TZ).date()


def text(response) -> str:
    return response.get_data(as_text=True)


def local(moment: dt.datetime) -> str:
    """A moment as a datetime-local control sends it (lab time)."""
    return moment.astimezone(LAB_TZ).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def lab():
    return create_lab(code="NEM", name_en="New-Energy Materials Lab")


@pytest.fixture
def instrument(lab):
    return create_instrument(lab=lab, name_en="X-ray diffractometer")


@pytest.fixture
def researcher():
    return create_user(name="Researcher Zhao", locale="en")


@pytest.fixture
def manager(lab):
    return create_manager(lab, name="Manager Wang", locale="en")


@pytest.fixture
def running(instrument, researcher):
    """An approved booking whose time is now."""
    return create_booking(instrument=instrument, user=researcher, purpose="Phase analysis",
                          start_at=now() - 10 * MINUTE, end_at=now() + 50 * MINUTE)


@pytest.fixture
def later(instrument, researcher):
    """An approved booking next week: too early to check in."""
    return create_booking(instrument=instrument, user=researcher, purpose="Later",
                          start_at=lab_time(next_weekday(0), 10),
                          end_at=lab_time(next_weekday(0), 12))


# -- the booking page ---------------------------------------------------------------------------


def test_the_owner_checks_in_and_out_on_the_booking_page(login_as, researcher, running):
    client = login_as(researcher)
    page = text(client.get(f"/bookings/{running.id}"))
    assert_well_formed(page)
    assert f'action="/bookings/{running.id}/check-in"' in page
    assert f"/bookings/{running.id}/check-out" not in page

    response = client.post(f"/bookings/{running.id}/check-in")
    assert response.status_code == 302
    assert response.location.endswith(f"/bookings/{running.id}")
    booking = reload(running)
    assert booking.state == BookingState.IN_USE and booking.checked_in_at is not None
    page = text(client.get(response.location))
    assert f"Booking #{running.id} is checked in" in page
    assert "Checked in" in page
    assert booking.checked_in_at.astimezone(LAB_TZ).strftime("%Y-%m-%d %H:%M") in page
    assert f'action="/bookings/{running.id}/check-out"' in page
    assert f'action="/bookings/{running.id}/check-in"' not in page

    response = client.post(f"/bookings/{running.id}/check-out")
    assert response.status_code == 302
    booking = reload(running)
    assert booking.state == BookingState.COMPLETED
    assert booking.checked_out_at >= booking.checked_in_at
    page = text(client.get(response.location))
    assert "is checked out" in page and "Checked out" in page
    assert f"/bookings/{running.id}/check-out" not in page
    history = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert history == ["check_in", "check_out"]


def test_before_the_window_the_page_says_when_check_in_opens(login_as, researcher, later):
    page = text(login_as(researcher).get(f"/bookings/{later.id}"))
    assert "/check-in" not in page
    assert f"Check-in opens at {next_weekday(0):%Y-%m-%d} 09:45" in page


def test_checking_in_too_early_is_a_message_not_an_error(login_as, researcher, later):
    client = login_as(researcher)
    response = client.post(f"/bookings/{later.id}/check-in", follow_redirects=True)
    assert response.status_code == 200
    assert "Too early to check in" in text(response)
    assert reload(later).state == BookingState.APPROVED


def test_checking_out_twice_is_a_message(login_as, researcher, running):
    client = login_as(researcher)
    client.post(f"/bookings/{running.id}/check-in")
    client.post(f"/bookings/{running.id}/check-out")
    response = client.post(f"/bookings/{running.id}/check-out", follow_redirects=True)
    assert "already checked out" in text(response)


def test_the_labs_manager_sees_the_buttons_others_get_404(login_as, running, manager):
    assert "/check-in" in text(login_as(manager).get(f"/bookings/{running.id}"))
    for stranger in (create_user(), create_manager(create_lab())):
        client = login_as(stranger)
        assert client.post(f"/bookings/{running.id}/check-in").status_code == 404
        assert client.post(f"/bookings/{running.id}/check-out").status_code == 404
    assert reload(running).state == BookingState.APPROVED


def test_check_in_needs_sign_in(client, running):
    response = client.post(f"/bookings/{running.id}/check-in")
    assert response.status_code == 302 and "/login" in response.location


def test_check_in_goes_back_only_to_local_pages(login_as, researcher, running):
    response = login_as(researcher).post(f"/bookings/{running.id}/check-in",
                                         data={"next": "https://evil.example/"})
    assert response.location.endswith(f"/bookings/{running.id}")


def test_actual_times_and_corrections_appear_in_the_history(login_as, researcher, instrument):
    start = lab_time(lab_today() - dt.timedelta(days=1), 10)
    booking = create_booking(instrument=instrument, user=researcher, start_at=start,
                             end_at=start + dt.timedelta(hours=2),
                             state=BookingState.COMPLETED, checked_in_at=start,
                             checked_out_at=start + dt.timedelta(hours=2))
    db.session.add(AuditEvent(actor_id=None, object_type="bookings", object_id=booking.id,
                              action="auto_close", from_state="in_use", to_state="completed",
                              at=now()))
    db.session.commit()
    page = text(login_as(researcher).get(f"/bookings/{booking.id}"))
    assert f"{start.astimezone(LAB_TZ):%Y-%m-%d} 12:00" in page
    assert "Checked out automatically at the booked end" in page


# -- the API --------------------------------------------------------------------------------------


def test_api_check_in_and_out(client, researcher, running):
    headers = bearer(researcher)
    fresh = client.get(f"/api/v1/bookings/{running.id}", headers=headers).json
    assert fresh["checked_in_at"] is None and fresh["checked_out_at"] is None

    response = client.post(f"/api/v1/bookings/{running.id}/check-in", headers=headers)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "in_use"
    checked_in = dt.datetime.fromisoformat(response.json["checked_in_at"])
    assert abs(checked_in - now()) < dt.timedelta(minutes=1)

    response = client.post(f"/api/v1/bookings/{running.id}/check-out", headers=headers)
    assert response.status_code == 200
    assert response.json["state"] == "completed"
    assert dt.datetime.fromisoformat(response.json["checked_out_at"]) >= checked_in


def test_api_refusals_are_problems_with_codes(client, researcher, later, running):
    headers = bearer(researcher)
    response = client.post(f"/api/v1/bookings/{later.id}/check-in", headers=headers)
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "too_early_to_check_in"

    response = client.post(f"/api/v1/bookings/{running.id}/check-out", headers=headers)
    assert response.status_code == 409 and response.json["code"] == "not_checked_in"

    assert client.post(f"/api/v1/bookings/{running.id}/check-in").status_code == 401
    stranger = bearer(create_user())
    for action in ("check-in", "check-out"):
        response = client.post(f"/api/v1/bookings/{running.id}/{action}", headers=stranger)
        assert response.status_code == 404
    assert reload(running).state == BookingState.APPROVED


def test_api_a_manager_checks_someone_in(client, running, manager):
    response = client.post(f"/api/v1/bookings/{running.id}/check-in", headers=bearer(manager))
    assert response.status_code == 200 and response.json["state"] == "in_use"


def test_openapi_documents_check_in_and_out(client):
    document = client.get("/api/v1/openapi.json").json
    for path in ("/bookings/{booking_id}/check-in", "/bookings/{booking_id}/check-out"):
        operation = document["paths"][path]["post"]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Booking"}
    properties = document["components"]["schemas"]["Booking"]["properties"]
    assert properties["checked_in_at"]["type"] == ["string", "null"]
    assert properties["checked_out_at"]["format"] == "date-time"


# -- the managers' "today" page -------------------------------------------------------------


def today_path(code="NEM", **query):
    path = f"/manage/labs/{code}/today"
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return path


def test_today_needs_sign_in(client, lab):
    for path in ("/manage/today", today_path()):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_researchers_get_403(login_as, researcher, lab, running):
    client = login_as(researcher)
    assert client.get(today_path()).status_code == 403
    assert client.get("/manage/today").status_code == 403
    response = client.post(f"/manage/bookings/{running.id}/actual-times", data={})
    assert response.status_code == 403


def test_managers_of_another_lab_get_404(login_as, lab, running):
    client = login_as(create_manager(create_lab(code="FOOD"), locale="en"))
    assert client.get(today_path()).status_code == 404
    assert client.get(today_path("NOPE")).status_code == 404
    running.state = BookingState.COMPLETED
    running.checked_in_at = running.start_at
    running.checked_out_at = running.end_at
    db.session.commit()
    response = client.post(f"/manage/bookings/{running.id}/actual-times", data={
        f"b{running.id}-checked_in_at": local(running.start_at),
        f"b{running.id}-reason": "x"})
    assert response.status_code == 404
    assert client.post("/manage/bookings/999999/actual-times").status_code == 404


def test_today_default_opens_the_first_managed_lab(login_as, manager):
    response = login_as(manager).get("/manage/today")
    assert response.status_code == 302
    assert response.headers["Location"] == "/manage/labs/NEM/today"
    admin = create_admin()
    create_lab(code="AAA")
    response = login_as(admin).get("/manage/today")
    assert response.headers["Location"] == "/manage/labs/AAA/today"


def test_the_nav_links_managers_to_today(login_as, manager, researcher):
    page = text(login_as(manager).get("/bookings"))
    assert 'href="/manage/today"' in page and ">Today<" in page
    assert 'href="/manage/today"' not in text(login_as(researcher).get("/bookings"))


def test_today_lists_the_days_bookings_by_start_with_their_state(login_as, lab, instrument,
                                                                 manager, researcher):
    today = lab_today()
    other = create_instrument(lab=lab, name_en="Glovebox")

    def make(instrument, hour, state, purpose, day=today, **extra):
        return create_booking(instrument=instrument, user=researcher, state=state,
                              purpose=purpose, start_at=lab_time(day, hour),
                              end_at=lab_time(day, hour) + dt.timedelta(hours=1), **extra)

    done = make(instrument, 8, BookingState.COMPLETED, "done",
                checked_in_at=lab_time(today, 8, 5), checked_out_at=lab_time(today, 8, 50))
    waiting = make(other, 14, BookingState.PENDING, "waiting")
    using = make(instrument, 11, BookingState.IN_USE, "using",
                 checked_in_at=lab_time(today, 10, 58))
    make(instrument, 15, BookingState.CANCELLED, "gone")
    tomorrow = make(instrument, 9, BookingState.APPROVED, "tomorrow",
                    day=today + dt.timedelta(days=1))
    make(create_instrument(), 9, BookingState.APPROVED, "elsewhere")

    page = text(login_as(manager).get(today_path()))

    assert_well_formed(page)
    assert "<h1" in page and "Today · New-Energy Materials Lab" in page
    rows = [f'id="booking-{b.id}"' for b in (done, using, waiting)]
    assert all(row in page for row in rows)
    assert [page.index(row) for row in rows] == sorted(page.index(row) for row in rows)
    assert f'id="booking-{tomorrow.id}"' not in page
    assert page.count('<tr id="booking-') == 3
    assert "Glovebox" in page and "Researcher Zhao" in page
    assert researcher.organization.name in page
    assert f"{today:%Y-%m-%d} 08:05" in page and f"{today:%Y-%m-%d} 08:50" in page
    assert f"{today:%Y-%m-%d} 10:58" in page
    assert "In use" in page and "Completed" in page and "Awaiting approval" in page
    # Corrections for the bookings in use or completed; check-out for the one in use.
    assert f'action="/manage/bookings/{done.id}/actual-times"' in page
    assert f'action="/manage/bookings/{using.id}/actual-times"' in page
    assert f'action="/manage/bookings/{waiting.id}/actual-times"' not in page
    assert f'action="/bookings/{using.id}/check-out"' in page
    assert f'value="{today:%Y-%m-%d}T08:05"' in page  # the form shows the current times


def test_today_checks_people_in_and_comes_back(login_as, manager, running):
    client = login_as(manager)
    page = text(client.get(today_path()))
    assert f'action="/bookings/{running.id}/check-in"' in page
    assert 'name="next" value="/manage/labs/NEM/today"' in page

    response = client.post(f"/bookings/{running.id}/check-in",
                           data={"next": "/manage/labs/NEM/today"})
    assert response.location == "/manage/labs/NEM/today"
    assert reload(running).state == BookingState.IN_USE
    page = text(client.get(response.location))
    assert f'action="/bookings/{running.id}/check-out"' in page

    client.post(f"/bookings/{running.id}/check-out", data={"next": "/manage/labs/NEM/today"})
    assert reload(running).state == BookingState.COMPLETED


def test_today_shows_other_days_and_refuses_bad_dates(login_as, manager, instrument):
    day = lab_today() - dt.timedelta(days=3)
    booking = create_booking(instrument=instrument, start_at=lab_time(day, 9),
                             end_at=lab_time(day, 10), purpose="old")
    client = login_as(manager)
    page = text(client.get(today_path(date=day.isoformat())))
    assert f'id="booking-{booking.id}"' in page and day.isoformat() in page
    assert f'id="booking-{booking.id}"' not in text(client.get(today_path()))
    for bad in ("yesterday", "2026-02-30", "1999-01-01"):
        assert client.get(today_path(date=bad)).status_code == 422


def test_the_today_page_is_chinese_by_default(login_as, lab, running):
    page = text(login_as(create_manager(lab)).get(today_path()))
    assert "今天" in page and "签到上机" in page and "实际使用时间" in page


# -- corrections through the today page -----------------------------------------------------------


@pytest.fixture
def finished(instrument, researcher):
    """A booking of today that ended in the past (01:00–02:00 lab time, or yesterday's if it
    is not 03:00 yet), checked in and out."""
    day = lab_today() if dt.datetime.now(LAB_TZ).hour >= 3 else lab_today() - dt.timedelta(1)
    start = lab_time(day, 1)
    return create_booking(instrument=instrument, user=researcher, start_at=start,
                          end_at=start + dt.timedelta(hours=1), state=BookingState.COMPLETED,
                          checked_in_at=start + 10 * MINUTE,
                          checked_out_at=start + 40 * MINUTE)


def correction(booking, checked_in_at, checked_out_at=None, reason="Logbook says so"):
    prefix = f"b{booking.id}"
    day = booking.start_at.astimezone(LAB_TZ).date()
    return {f"{prefix}-date": day.isoformat(), f"{prefix}-checked_in_at": local(checked_in_at),
            f"{prefix}-checked_out_at": local(checked_out_at) if checked_out_at else "",
            f"{prefix}-reason": reason}


def test_a_manager_corrects_actual_times(login_as, manager, finished):
    client = login_as(manager)
    start = finished.start_at
    response = client.post(f"/manage/bookings/{finished.id}/actual-times",
                           data=correction(finished, start, start + 55 * MINUTE))
    assert response.status_code == 302
    assert response.location.startswith("/manage/labs/NEM/today")
    booking = reload(finished)
    assert (booking.checked_in_at, booking.checked_out_at) == (start, start + 55 * MINUTE)
    assert booking.state == BookingState.COMPLETED
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "correct_actual_times")).one()
    assert event.actor_id == manager.id and event.note == "Logbook says so"
    assert event.details["old"]["checked_out_at"] == (start + 40 * MINUTE).isoformat()
    page = text(client.get(response.location))
    assert f"The actual times of booking #{finished.id} were corrected" in page
    history = text(client.get(f"/bookings/{finished.id}"))
    assert "Actual times corrected" in history and "Logbook says so" in history


def test_a_correction_without_a_reason_is_refused_on_the_page(login_as, manager, finished):
    start = finished.start_at
    response = login_as(manager).post(f"/manage/bookings/{finished.id}/actual-times",
                                      data=correction(finished, start, start + 55 * MINUTE,
                                                      reason="  "),
                                      follow_redirects=True)
    assert response.status_code == 200  # the refused form on its page: labbook.web.keep_refused
    page = text(response)
    assert_well_formed(page)
    assert "Say why the times are corrected." in page
    assert "<details open>" in page
    assert reload(finished).checked_out_at == start + 40 * MINUTE


def test_a_check_out_before_the_check_in_is_refused_on_the_page(login_as, manager, finished):
    start = finished.start_at
    response = login_as(manager).post(f"/manage/bookings/{finished.id}/actual-times",
                                      data=correction(finished, start + 30 * MINUTE,
                                                      start + 20 * MINUTE),
                                      follow_redirects=True)
    assert response.status_code == 200  # the refused form on its page: labbook.web.keep_refused
    assert "The check-out must be after the check-in." in text(response)
    # What was typed stays in the form.
    assert f'value="{local(start + 30 * MINUTE)}"' in text(response)
    assert reload(finished).checked_in_at == start + 10 * MINUTE


def test_a_malformed_time_is_refused_on_the_page(login_as, manager, finished):
    data = correction(finished, finished.start_at)
    data[f"b{finished.id}-checked_in_at"] = "soon"
    response = login_as(manager).post(f"/manage/bookings/{finished.id}/actual-times",
                                      data=data, follow_redirects=True)
    assert response.status_code == 200  # the refused form on its page: labbook.web.keep_refused
    assert "Enter a date and time like" in text(response)


def test_correcting_an_approved_booking_is_a_message(login_as, manager, later):
    data = correction(later, later.start_at, later.end_at)
    response = login_as(manager).post(f"/manage/bookings/{later.id}/actual-times", data=data,
                                      follow_redirects=True)
    assert response.status_code == 200
    assert "has actual times to correct" in text(response)
    assert reload(later).checked_in_at is None


def test_the_today_forms_carry_working_csrf_tokens(app, monkeypatch, login_as, manager,
                                                   running, finished):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    client = login_as(manager)
    day = finished.start_at.astimezone(LAB_TZ).date()
    page = text(client.get(today_path(date=day.isoformat())))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    start = finished.start_at
    data = correction(finished, start, start + 55 * MINUTE)

    assert client.post(f"/manage/bookings/{finished.id}/actual-times",
                       data=data).status_code == 400
    response = client.post(f"/manage/bookings/{finished.id}/actual-times",
                           data={**data, "csrf_token": token})
    assert response.status_code == 302
    assert reload(finished).checked_out_at == start + 55 * MINUTE

    assert client.post(f"/bookings/{running.id}/check-in").status_code == 400
    response = client.post(f"/bookings/{running.id}/check-in", data={"csrf_token": token})
    assert response.status_code == 302 and reload(running).state == BookingState.IN_USE
