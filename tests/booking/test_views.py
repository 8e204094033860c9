"""The booking pages: instrument calendar and form, events feed, check, day view, my bookings."""

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from labbook.audit.models import AuditEvent
from labbook.booking.models import Blackout, Booking, BookingState
from labbook.config import PROJECT_ROOT
from labbook.extensions import db
from tests.factories import (
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_user,
    lab_time,
    next_weekday,
    reload,
)

MONDAY = next_weekday(0)
TUESDAY = MONDAY + dt.timedelta(days=1)
SATURDAY = MONDAY + dt.timedelta(days=5)


def form(day=MONDAY, start="10:00", end="11:00", **extra):
    data = {"date": day.isoformat(), "start_time": start, "end_time": end,
            "purpose": "正极材料 XRD 物相分析", "project_ref": "", "repeat": "none"}
    data.update(extra)
    return data


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()


def text(response) -> str:
    return response.get_data(as_text=True)


def assert_well_formed(page: str) -> None:
    """One h1, a label for every visible form control, unique ids, no inline script."""
    assert page.count("<h1") == 1
    for control in re.findall(r"<(?:input|select|textarea)\b[^>]*>", page):
        if re.search(r'type="(hidden|submit)"', control):
            continue
        control_id = re.search(r'\sid="([^"]+)"', control)
        assert control_id, control
        assert f'for="{control_id.group(1)}"' in page, control
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert not re.search(r"\son[a-z]+=", page)


def booking_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Booking))


@pytest.fixture
def researcher():
    return create_user()


@pytest.fixture
def instrument():
    return create_instrument()


@pytest.fixture
def stranger():
    """A researcher of another organization."""
    return create_user(name="外单位用户")


# -- booking through the form -----------------------------------------------------------------


def test_booking_through_the_form_is_approved(login_as, researcher, instrument):
    client = login_as(researcher)
    response = client.post(f"/instruments/{instrument.id}/book",
                           data=form(project_ref="PO-2026-77"))
    booking = db.session.scalars(select(Booking)).one()
    assert response.status_code == 302
    assert response.location.endswith(f"/bookings/{booking.id}")
    assert booking.state == BookingState.APPROVED
    assert (booking.start_at, booking.end_at) == (lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    assert booking.project_ref == "PO-2026-77"
    assert booking.user_id == researcher.id
    page = text(client.get(response.location))
    assert "预约成功" in page and f"{MONDAY.isoformat()} 10:00" in page
    assert "正极材料 XRD 物相分析" in page and "PO-2026-77" in page


def test_booking_an_instrument_that_needs_approval_is_pending(login_as, researcher):
    instrument = create_instrument(requires_approval=True)
    client = login_as(researcher)
    response = client.post(f"/instruments/{instrument.id}/book", data=form(), follow_redirects=True)
    assert response.status_code == 200
    assert db.session.scalars(select(Booking)).one().state == BookingState.PENDING
    assert "审批" in text(response)


def test_booking_in_english(login_as, instrument):
    client = login_as(create_user(locale="en"))
    response = client.post(f"/instruments/{instrument.id}/book", data=form(),
                           follow_redirects=True)
    assert "Booked: Instrument" in text(response)


def test_a_refusal_shows_every_problem_and_suggestions(login_as, researcher, instrument,
                                                       stranger):
    create_booking(instrument=instrument, user=stranger, start_at=lab_time(MONDAY, 10),
                   end_at=lab_time(MONDAY, 11), purpose="别人的秘密课题")
    client = login_as(researcher)
    response = client.post(f"/instruments/{instrument.id}/book",
                           data=form(start="10:00", end="11:15"), follow_redirects=True)
    # Post/Redirect/Get: the calendar says why, with what was typed (see web.keep_refused).
    assert [r.status_code for r in response.history] == [303]
    assert response.request.path == f"/instruments/{instrument.id}/calendar"
    assert response.status_code == 200
    page = text(response)
    assert_well_formed(page)
    assert 'data-code="overlap"' in page and 'data-code="not_aligned"' in page
    assert f"{MONDAY.isoformat()} 10:00 – {MONDAY.isoformat()} 11:00" in page  # the clash
    assert "别人的秘密课题" not in page
    # Suggested free slots prefill the form (the purpose is kept).
    links = re.findall(r'<a class="btn[^"]*js-suggestion" href="([^"]+)"', page)
    assert links
    assert "start_time=11:00" in links[0] and "%E6%AD%A3%E6%9E%81" in links[0]
    assert booking_count() == 1
    # The form keeps what was typed.
    assert 'value="10:00"' in page and "正极材料 XRD 物相分析" in page


def test_a_suggestion_link_fills_in_the_form(login_as, researcher, instrument):
    client = login_as(researcher)
    page = text(client.get(f"/instruments/{instrument.id}/calendar", query_string={
        "date": TUESDAY.isoformat(), "start_time": "13:00", "end_time": "14:30",
        "purpose": "拉伸试验"}))
    assert re.search(rf'id="date"[^>]* type="date" value="{TUESDAY.isoformat()}"', page)
    assert 'value="13:00"' in page and 'value="14:30"' in page and "拉伸试验" in page
    assert re.search(r'<input checked[^>]*name="repeat"[^>]*value="none"', page)
    assert "is-invalid" not in page
    # The filled-in form can be sent: it carries its CSRF token like any other.
    form = page[page.index('id="booking-form"'):]
    assert re.search(r'<input type="hidden" name="csrf_token" value="[^"]+">', form)
    assert booking_count() == 0


def test_date_pickers_offer_the_lab_s_days(login_as, researcher, instrument):
    """The browser may be in any time zone: the pickers start at today in Asia/Shanghai and end
    at the booking horizon."""
    page = text(login_as(researcher).get(f"/instruments/{instrument.id}/calendar"))
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    last = today + dt.timedelta(days=instrument.horizon_days)
    for name in ("date", "end_date", "until"):
        assert re.search(rf'id="{name}" max="{last.isoformat()}" min="{today.isoformat()}"',
                         page), name
    manager = create_manager(instrument.lab)
    page = text(login_as(manager).get(f"/instruments/{instrument.id}/calendar"))
    assert re.search(rf'id="date" min="{today.isoformat()}" name="date"', page)  # no horizon


@pytest.mark.parametrize("change", [
    {"purpose": ""},
    {"purpose": "   "},
    {"purpose": "x" * 501},
    {"date": "2026-13-45"},
    {"date": "0001-01-01"},
    {"date": ""},
    {"start_time": "25:00"},
    {"end_time": "noon"},
    {"end_date": "tomorrow"},
    {"project_ref": "P" * 101},
    {"repeat": "hourly"},
    {"repeat": "weekly"},  # neither a count nor a last day
    {"repeat": "weekly", "count": "3", "until": "2099-01-01"},
    {"repeat": "weekly", "count": "0"},
    {"repeat": "weekly", "count": "many"},
    {"repeat": "daily", "count": "2", "weekdays": "1"},
    {"repeat": "weekly", "count": "2", "weekdays": "9"},
])
def test_bad_form_input_is_explained_never_a_500(login_as, researcher, instrument, change):
    client = login_as(researcher)
    response = client.post(f"/instruments/{instrument.id}/book", data=form(**change),
                           follow_redirects=True)
    assert response.status_code == 200
    page = text(response)
    assert 'id="error-summary"' in page
    assert booking_count() == 0


def test_end_before_start_is_refused_as_invalid(login_as, researcher, instrument):
    client = login_as(researcher)
    response = client.post(f"/instruments/{instrument.id}/book",
                           data=form(start="11:00", end="10:00"), follow_redirects=True)
    assert response.status_code == 200
    assert 'data-code="invalid_interval"' in text(response)


def test_only_managers_see_and_may_use_the_override(login_as, researcher, instrument):
    client = login_as(researcher)
    assert 'name="override"' not in text(client.get(f"/instruments/{instrument.id}/calendar"))
    response = client.post(f"/instruments/{instrument.id}/book",
                           data=form(start="19:00", end="20:00", override="y"))
    assert response.status_code == 200
    assert 'id="error-summary"' in text(response)
    assert booking_count() == 0

    manager = create_manager(instrument.lab)
    client = login_as(manager)
    page = text(client.get(f"/instruments/{instrument.id}/calendar"))
    assert 'name="override"' in page
    assert_well_formed(page)
    response = client.post(f"/instruments/{instrument.id}/book",
                           data=form(start="19:00", end="20:00", override="y"))
    assert response.status_code == 302
    booking = db.session.scalars(select(Booking)).one()
    assert booking.is_override and booking.start_at == lab_time(MONDAY, 19)


def test_an_overnight_booking_uses_the_end_date(login_as, researcher):
    instrument = create_instrument(max_minutes=60 * 24 * 3)
    client = login_as(researcher)
    response = client.post(f"/instruments/{instrument.id}/book", data=form(
        start="16:00", end="09:00", end_date=TUESDAY.isoformat()))
    assert response.status_code == 302
    booking = db.session.scalars(select(Booking)).one()
    assert (booking.start_at, booking.end_at) == (lab_time(MONDAY, 16), lab_time(TUESDAY, 9))


# -- the calendar page ------------------------------------------------------------------------


def test_calendar_page_for_a_signed_in_user(login_as, researcher, instrument):
    page = text(login_as(researcher).get(f"/instruments/{instrument.id}/calendar"))
    assert 'id="booking-form"' in page
    assert '<meta name="csrf-token"' in page
    assert "vendor/fullcalendar/index.global.min.js" in page
    config = json.loads(re.search(r'data-config="([^"]+)"', page).group(1)
                        .replace("&#34;", '"'))
    assert config["labOffset"] == "+08:00"
    assert config["slotMinutes"] == 30
    assert config["selectable"] is True
    assert config["locale"] == "zh-cn"
    assert {"daysOfWeek": [1], "startTime": "08:00", "endTime": "18:00"} \
        in config["businessHours"]
    assert (config["slotMinTime"], config["slotMaxTime"]) == ("08:00", "18:00")
    assert_well_formed(page)


def test_anonymous_visitors_see_the_calendar_read_only(client, instrument, stranger):
    create_booking(instrument=instrument, user=stranger, start_at=lab_time(MONDAY, 10),
                   purpose="保密课题")
    response = client.get(f"/instruments/{instrument.id}/calendar")
    assert response.status_code == 200
    page = text(response)
    assert_well_formed(page)
    assert 'id="booking-form"' not in page
    assert "/login?next=" in page
    assert '&#34;selectable&#34;: false' in page
    assert "保密课题" not in page and "已预约" in page

    refused = client.post(f"/instruments/{instrument.id}/book", data=form())
    assert refused.status_code == 302 and "/login" in refused.location
    checked = client.post(f"/instruments/{instrument.id}/check",
                          json={"start": iso(lab_time(MONDAY, 9)),
                                "end": iso(lab_time(MONDAY, 10))})
    assert checked.status_code == 401 and checked.mimetype == "application/problem+json"
    assert booking_count() == 1


def test_unknown_instrument_is_404(client):
    assert client.get("/instruments/999999/calendar").status_code == 404
    assert client.get("/instruments/999999/events.json",
                      query_string={"start": "2026-12-01", "end": "2026-12-08"}).status_code == 404


def test_instrument_page_links_to_its_calendar(client, instrument):
    page = text(client.get(f"/instruments/{instrument.id}"))
    assert f'href="/instruments/{instrument.id}/calendar"' in page


# -- the events feed --------------------------------------------------------------------------


def events(client, instrument, start=MONDAY, end=MONDAY + dt.timedelta(days=7)):
    response = client.get(f"/instruments/{instrument.id}/events.json",
                          query_string={"start": iso(lab_time(start, 0)),
                                        "end": iso(lab_time(end, 0))})
    assert response.status_code == 200, response.json
    return response.json


def test_events_show_other_organizations_only_as_booked(login_as, researcher, instrument,
                                                        stranger):
    theirs = create_booking(instrument=instrument, user=stranger, start_at=lab_time(MONDAY, 10),
                            purpose="保密课题")
    mine = create_booking(instrument=instrument, user=researcher, start_at=lab_time(MONDAY, 14),
                          end_at=lab_time(MONDAY, 15, 30), purpose="我的测试")
    db.session.add(Blackout(instrument_id=instrument.id, start_at=lab_time(TUESDAY, 8),
                            end_at=lab_time(TUESDAY, 12), reason="年度保养"))
    db.session.commit()
    entries = events(login_as(researcher), instrument)
    other, own = [e for e in entries if e["kind"] == "booking"]
    assert other == {"kind": "booking", "title": "已预约",
                     "start": f"{MONDAY.isoformat()}T10:00:00+08:00",
                     "end": f"{MONDAY.isoformat()}T11:00:00+08:00"}
    assert "保密课题" not in json.dumps(entries, ensure_ascii=False)
    assert stranger.name not in json.dumps(entries, ensure_ascii=False)
    assert own["purpose"] == "我的测试" and own["own"] is True
    assert own["id"] == mine.id and own["url"] == f"/bookings/{mine.id}"
    assert own["start"] == f"{MONDAY.isoformat()}T14:00:00+08:00"
    assert own["end"] == f"{MONDAY.isoformat()}T15:30:00+08:00"
    blackout = next(e for e in entries if e["kind"] == "blackout")
    assert blackout["title"] == "年度保养"
    assert blackout["start"] == f"{TUESDAY.isoformat()}T08:00:00+08:00"
    assert theirs.id not in [e.get("id") for e in entries]


def test_events_in_english_and_for_anonymous_visitors(client, login_as, instrument, stranger):
    create_booking(instrument=instrument, user=stranger, start_at=lab_time(MONDAY, 10))
    assert [e["title"] for e in events(client, instrument)] == ["已预约"]
    english = login_as(create_user(locale="en"))
    assert [e["title"] for e in events(english, instrument)] == ["Booked"]


def test_events_accept_lab_dates(client, instrument, researcher):
    create_booking(instrument=instrument, user=researcher, start_at=lab_time(MONDAY, 8))
    response = client.get(f"/instruments/{instrument.id}/events.json",
                          query_string={"start": MONDAY.isoformat(),
                                        "end": TUESDAY.isoformat()})
    assert len(response.json) == 1


@pytest.mark.parametrize(("query", "code"), [
    ({}, "required"),
    ({"start": "2026-12-01"}, "required"),
    ({"start": "yesterday", "end": "2026-12-08"}, "invalid_datetime"),
    ({"start": "2026-12-01T00:00:00", "end": "2026-12-08T00:00:00"}, "invalid_datetime"),
    ({"start": "2026-12-08", "end": "2026-12-01"}, "invalid_interval"),
    ({"start": "2026-01-01", "end": "2026-06-01"}, "invalid_interval"),
    ({"start": "0001-01-01", "end": "0001-01-02"}, "invalid_datetime"),
    ({"start": "9" * 100, "end": "2026-12-01"}, "invalid_datetime"),
])
def test_bad_event_windows_are_a_clear_422(client, instrument, query, code):
    response = client.get(f"/instruments/{instrument.id}/events.json", query_string=query)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code
    assert response.json["problems"][0]["message"]


# -- checking a time before booking -----------------------------------------------------------


def check(client, instrument, start, end, **extra):
    return client.post(f"/instruments/{instrument.id}/check",
                       json={"start": iso(start), "end": iso(end), **extra})


def test_check_says_ok_for_a_free_time(login_as, researcher, instrument):
    response = check(login_as(researcher), instrument, lab_time(MONDAY, 9),
                     lab_time(MONDAY, 10))
    assert response.status_code == 200
    assert {key: response.json[key] for key in ("ok", "problems", "suggestions")} == \
        {"ok": True, "problems": [], "suggestions": []}
    assert response.json["estimate"]["amount"] == "100.00"
    assert booking_count() == 0


def test_check_lists_every_problem_with_suggestions(login_as, researcher, instrument,
                                                    stranger):
    create_booking(instrument=instrument, user=stranger, start_at=lab_time(MONDAY, 10),
                   end_at=lab_time(MONDAY, 11))
    response = check(login_as(researcher), instrument, lab_time(MONDAY, 10, 15),
                     lab_time(MONDAY, 11, 15))
    assert response.status_code == 200
    answer = response.json
    assert answer["ok"] is False
    codes = [p["code"] for p in answer["problems"]]
    assert codes[0] == "overlap" and "not_aligned" in codes
    overlap = answer["problems"][0]
    assert overlap["message"].startswith("该仪器在")
    assert overlap["start"] == f"{MONDAY.isoformat()}T10:00:00+08:00"
    assert overlap["soft"] is False
    assert next(p for p in answer["problems"] if p["code"] == "not_aligned")["soft"] is True
    first = answer["suggestions"][0]
    assert first["same_instrument"] is True
    assert (first["date"], first["start_time"], first["end_time"]) == (
        MONDAY.isoformat(), "11:00", "12:00")
    assert booking_count() == 1


def test_check_with_override_for_a_manager(login_as, instrument):
    manager = create_manager(instrument.lab)
    client = login_as(manager)
    late = check(client, instrument, lab_time(MONDAY, 19), lab_time(MONDAY, 20))
    assert late.json["ok"] is False
    assert [p["code"] for p in late.json["problems"]] == ["outside_hours"]
    overridden = check(client, instrument, lab_time(MONDAY, 19), lab_time(MONDAY, 20),
                       override=True)
    assert overridden.json["ok"] is True
    # A researcher's override is ignored.
    researcher_check = check(login_as(create_user()), instrument, lab_time(MONDAY, 19),
                             lab_time(MONDAY, 20), override=True)
    assert researcher_check.json["ok"] is False


@pytest.mark.parametrize(("body", "code"), [
    ({"start": "2026-12-07T10:00:00", "end": "2026-12-07T11:00:00"}, "naive_datetime"),
    ({"start": "soon"}, "invalid_datetime"),
    ({}, "required"),
])
def test_check_refuses_malformed_requests(login_as, researcher, instrument, body, code):
    response = login_as(researcher).post(f"/instruments/{instrument.id}/check", json=body)
    assert response.status_code == 422
    assert response.json["code"] == code


def test_check_needs_a_json_body(login_as, researcher, instrument):
    response = login_as(researcher).post(f"/instruments/{instrument.id}/check",
                                         data="start=now")
    assert response.status_code == 422
    assert response.json["code"] == "invalid_body"


# -- the lab's day ----------------------------------------------------------------------------


def test_lab_day_shows_every_instrument_side_by_side(login_as, researcher, stranger):
    lab = create_lab(code="NEM")
    first = create_instrument(lab=lab, name_zh="X射线衍射仪")
    second = create_instrument(lab=lab, name_zh="扫描电子显微镜")
    create_booking(instrument=first, user=stranger, start_at=lab_time(MONDAY, 10),
                   end_at=lab_time(MONDAY, 11, 30), purpose="保密课题")
    create_booking(instrument=second, user=researcher, start_at=lab_time(MONDAY, 14),
                   purpose="我的测试")
    response = login_as(researcher).get("/labs/nem/day",
                                        query_string={"date": MONDAY.isoformat()})
    assert response.status_code == 200
    page = text(response)
    assert_well_formed(page)
    assert "X射线衍射仪" in page and "扫描电子显微镜" in page
    assert re.search(r"10:00–11:30\s+已预约", page)
    assert "保密课题" not in page and stranger.name not in page
    assert "我的测试" in page
    hours = re.findall(r'<th scope="col" class="lb-day-hour">(\d\d:\d\d)</th>', page)
    assert hours == [f"{h:02d}:00" for h in range(8, 18)]
    previous_day = (MONDAY - dt.timedelta(days=1)).isoformat()
    assert f"/labs/NEM/day?date={previous_day}" in page
    assert f"/labs/NEM/day?date={TUESDAY.isoformat()}" in page
    assert "part-busy" in page and "part-own" in page and "part-free" in page


def test_lab_day_defaults_to_today_and_knows_closed_days(client):
    lab = create_lab(code="MFG")
    create_instrument(lab=lab)
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    assert today.isoformat() in text(client.get("/labs/MFG/day"))
    closed = text(client.get("/labs/MFG/day", query_string={"date": SATURDAY.isoformat()}))
    assert "lb-day-hour" not in closed and "alert-info" in closed


def test_lab_day_bad_input(client):
    create_lab(code="FOOD")
    assert client.get("/labs/FOOD/day", query_string={"date": "2026-02-30"}).status_code == 422
    assert client.get("/labs/FOOD/day", query_string={"date": "0001-01-01"}).status_code == 422
    assert client.get("/labs/NOPE/day").status_code == 404


def test_home_links_each_lab_to_its_day(client):
    create_lab(code="NEM")
    assert 'href="/labs/NEM/day"' in text(client.get("/"))


# -- my bookings, one booking -----------------------------------------------------------------


def test_my_bookings_lists_upcoming_and_past(login_as, researcher, instrument):
    last_week = MONDAY - dt.timedelta(days=14)
    later = create_booking(instrument=instrument, user=researcher,
                           start_at=lab_time(TUESDAY, 9), purpose="后一个")
    sooner = create_booking(instrument=instrument, user=researcher,
                            start_at=lab_time(MONDAY, 9), purpose="先一个")
    done = create_booking(instrument=instrument, user=researcher,
                          start_at=lab_time(last_week, 9), state=BookingState.COMPLETED,
                          purpose="已完成的")
    cancelled = create_booking(instrument=instrument, user=researcher,
                               start_at=lab_time(MONDAY, 15), state=BookingState.CANCELLED,
                               purpose="取消了的")
    create_booking(instrument=instrument, purpose="别人的")
    page = text(login_as(researcher).get("/bookings"))
    assert_well_formed(page)
    upcoming, past = page.split('id="past-title"')
    assert upcoming.index("先一个") < upcoming.index("后一个")
    assert "已完成的" not in upcoming and "取消了的" not in upcoming
    assert past.index("取消了的") < past.index("已完成的")  # newest first
    assert "别人的" not in page
    assert f"/bookings/{sooner.id}/cancel" in upcoming
    assert f"/bookings/{later.id}/cancel" in upcoming
    assert f"/bookings/{done.id}/cancel" not in page
    assert f'href="/bookings/{cancelled.id}"' in past


def test_my_bookings_paginates_the_past(app, login_as, researcher, instrument):
    per_page = app.config["UI_PER_PAGE"]
    start = lab_time(MONDAY - dt.timedelta(days=60), 9)
    for n in range(per_page + 2):
        create_booking(instrument=instrument, user=researcher,
                       start_at=start + dt.timedelta(hours=n), state=BookingState.COMPLETED)
    client = login_as(researcher)
    assert text(client.get("/bookings")).count("/bookings/") >= per_page
    second = text(client.get("/bookings", query_string={"page": 2}))
    assert len(re.findall(r'href="/bookings/\d+"', second)) == 2
    assert client.get("/bookings", query_string={"page": "x"}).status_code == 422


def test_my_bookings_needs_sign_in(client):
    response = client.get("/bookings")
    assert response.status_code == 302 and "/login" in response.location


def test_booking_detail_shows_the_history(login_as, researcher, instrument):
    client = login_as(researcher)
    client.post(f"/instruments/{instrument.id}/book", data=form(project_ref="PO-1"))
    booking = db.session.scalars(select(Booking)).one()
    page = text(client.get(f"/bookings/{booking.id}"))
    assert_well_formed(page)
    assert f"{MONDAY.isoformat()} 10:00" in page and "PO-1" in page
    assert researcher.organization.name in page
    history = page.split("</h2>", 1)[1]
    assert researcher.name in history
    assert f"/bookings/{booking.id}/cancel" in page


def test_booking_detail_is_404_for_another_organization(login_as, researcher, instrument,
                                                        stranger):
    booking = create_booking(instrument=instrument, user=researcher)
    assert login_as(stranger).get(f"/bookings/{booking.id}").status_code == 404
    assert login_as(stranger).get("/bookings/999999").status_code == 404
    assert login_as(stranger).post(f"/bookings/{booking.id}/cancel").status_code == 404
    assert reload(booking).state == BookingState.APPROVED


def test_the_labs_manager_may_open_any_booking_of_the_lab(login_as, researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher, purpose="客户课题")
    manager = create_manager(instrument.lab)
    assert "客户课题" in text(login_as(manager).get(f"/bookings/{booking.id}"))
    other_manager = create_manager(create_lab())
    assert login_as(other_manager).get(f"/bookings/{booking.id}").status_code == 404


# -- cancelling -------------------------------------------------------------------------------


def test_cancelling_my_own_booking(login_as, researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher)
    client = login_as(researcher)
    response = client.post(f"/bookings/{booking.id}/cancel", data={"note": "样品未到"})
    assert response.status_code == 302
    assert response.location.endswith(f"/bookings/{booking.id}")
    booking = reload(booking)
    assert booking.state == BookingState.CANCELLED and not booking.is_late_cancellation
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "cancel")).one()
    assert (event.actor_id, event.note) == (researcher.id, "样品未到")
    page = text(client.get(response.location))
    assert "样品未到" in page and f"/bookings/{booking.id}/cancel" not in page


def test_cancelling_from_my_bookings_returns_there(login_as, researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher)
    response = login_as(researcher).post(f"/bookings/{booking.id}/cancel",
                                         data={"next": "/bookings"})
    assert response.location.endswith("/bookings")
    outside = login_as(researcher).post(f"/bookings/{booking.id}/cancel",
                                        data={"next": "https://evil.example/"})
    assert "evil" not in outside.location


def test_a_late_cancellation_is_flagged(login_as, researcher, instrument):
    soon = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=3)
    booking = create_booking(instrument=instrument, user=researcher, start_at=soon)
    response = login_as(researcher).post(f"/bookings/{booking.id}/cancel",
                                         follow_redirects=True)
    assert reload(booking).is_late_cancellation
    assert "alert-warning" in text(response)


def test_cancelling_twice_is_a_message_not_an_error(login_as, researcher, instrument):
    booking = create_booking(instrument=instrument, user=researcher,
                             state=BookingState.CANCELLED)
    response = login_as(researcher).post(f"/bookings/{booking.id}/cancel",
                                         follow_redirects=True)
    assert response.status_code == 200 and "alert-danger" in text(response)


# -- series -----------------------------------------------------------------------------------


def series_form(**extra):
    return form(repeat="weekly", **extra)


def test_a_weekly_series_through_the_form(login_as, researcher, instrument):
    client = login_as(researcher)
    response = client.post(f"/instruments/{instrument.id}/book",
                           data=series_form(count="3", weekdays=["0", "2"]))
    assert response.status_code == 302 and response.location.endswith("/bookings")
    bookings = db.session.scalars(select(Booking).order_by(Booking.start_at)).all()
    assert [b.start_at for b in bookings] == [
        lab_time(MONDAY, 10), lab_time(MONDAY + dt.timedelta(days=2), 10),
        lab_time(MONDAY + dt.timedelta(days=7), 10)]
    assert len({b.series_id for b in bookings}) == 1
    assert "3 个预约" in text(client.get("/bookings"))


def test_a_series_skips_taken_dates_when_asked(login_as, researcher, instrument, stranger):
    taken = MONDAY + dt.timedelta(days=7)
    create_booking(instrument=instrument, user=stranger, start_at=lab_time(taken, 10))
    client = login_as(researcher)
    refused = client.post(f"/instruments/{instrument.id}/book", data=series_form(count="3"),
                          follow_redirects=True)
    assert refused.status_code == 200
    assert 'id="error-summary"' in text(refused)
    assert f"{taken.isoformat()} 10:00" in text(refused)
    assert booking_count() == 1

    response = client.post(f"/instruments/{instrument.id}/book",
                           data=series_form(count="3", skip_conflicts="y"))
    assert response.status_code == 302
    mine = db.session.scalars(select(Booking).where(Booking.user_id == researcher.id)
                              .order_by(Booking.start_at)).all()
    assert [b.start_at for b in mine] == [lab_time(MONDAY, 10),
                                          lab_time(MONDAY + dt.timedelta(days=14), 10)]
    page = text(client.get("/bookings"))
    assert "2 个预约" in page and f"{taken.isoformat()} 10:00" in page


def test_a_series_until_a_date(login_as, researcher, instrument):
    client = login_as(researcher)
    response = client.post(f"/instruments/{instrument.id}/book", data=form(
        repeat="daily", until=(MONDAY + dt.timedelta(days=4)).isoformat()))
    assert response.status_code == 302
    assert booking_count() == 5


def test_cancelling_a_series_from_a_date(login_as, researcher, instrument):
    client = login_as(researcher)
    client.post(f"/instruments/{instrument.id}/book", data=series_form(count="4"))
    bookings = db.session.scalars(select(Booking).order_by(Booking.start_at)).all()
    series_id = bookings[0].series_id
    detail = text(client.get(f"/bookings/{bookings[0].id}"))
    assert_well_formed(detail)
    assert f"/series/{series_id}/cancel" in detail
    from_date = bookings[2].start_at.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    response = client.post(f"/series/{series_id}/cancel",
                           data={"from_date": from_date.isoformat(),
                                 "next": f"/bookings/{bookings[0].id}"})
    assert response.status_code == 302
    assert response.location.endswith(f"/bookings/{bookings[0].id}")
    assert [reload(b).state for b in bookings] == [
        BookingState.APPROVED, BookingState.APPROVED, BookingState.CANCELLED,
        BookingState.CANCELLED]

    client.post(f"/series/{series_id}/cancel", data={})
    assert [reload(b).state for b in bookings[:2]] == [BookingState.CANCELLED] * 2


def test_nobody_else_cancels_a_series(login_as, researcher, instrument, stranger):
    client = login_as(researcher)
    client.post(f"/instruments/{instrument.id}/book", data=series_form(count="2"))
    booking = db.session.scalars(select(Booking)).first()
    response = login_as(stranger).post(f"/series/{booking.series_id}/cancel", data={})
    assert response.status_code == 404
    assert reload(booking).state == BookingState.APPROVED
    assert login_as(stranger).post("/series/999999/cancel", data={}).status_code == 404


def test_a_manager_books_for_the_lab_without_approval(login_as):
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab, organization=create_organization())
    response = login_as(manager).post(f"/instruments/{instrument.id}/book", data=form())
    assert response.status_code == 302
    assert db.session.scalars(select(Booking)).one().state == BookingState.APPROVED


# -- lab time in the browser ------------------------------------------------------------------

LABTIME_CHECK = """
const LabTime = require(process.argv[1]);
const wall = new Date(LabTime.wallFromIso('2026-12-07T10:30:00+08:00') + 'Z');
const parts = LabTime.wallParts(wall);
const now = LabTime.labNow('+08:00', Date.UTC(2026, 11, 6, 20, 0));
console.log(JSON.stringify({
  parts: parts,
  iso: LabTime.isoFromWall(wall, '+08:00'),
  fromParts: LabTime.isoFromParts('2026-12-07', '23:30', '+08:00'),
  nowParts: LabTime.wallParts(now),
  offset: LabTime.offsetMinutes('-05:30'),
  roundTrip: new Date(LabTime.isoFromWall(wall, '+08:00')).toISOString()
}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
@pytest.mark.parametrize("browser_zone", ["Asia/Shanghai", "America/New_York", "Europe/Berlin",
                                          "Pacific/Kiritimati", "UTC"])
def test_the_calendar_shows_lab_time_in_any_browser_zone(browser_zone):
    """The page's time helpers give Asia/Shanghai wall-clock times whatever the browser's zone."""
    script = Path(PROJECT_ROOT, "static", "js", "labtime.js")
    result = subprocess.run(["node", "-e", LABTIME_CHECK, str(script)], capture_output=True,
                            text=True, check=True, env={"TZ": browser_zone}, timeout=30)
    answer = json.loads(result.stdout)
    assert answer["parts"] == {"date": "2026-12-07", "time": "10:30"}
    assert answer["iso"] == "2026-12-07T10:30:00+08:00"
    assert answer["fromParts"] == "2026-12-07T23:30:00+08:00"
    # 20:00 UTC on 6 December is 04:00 on 7 December in the lab.
    assert answer["nowParts"] == {"date": "2026-12-07", "time": "04:00"}
    assert answer["offset"] == -330
    assert answer["roundTrip"] == "2026-12-07T02:30:00.000Z"


# -- CSRF, as in production -------------------------------------------------------------------


@pytest.fixture
def csrf_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def test_the_pages_carry_working_csrf_tokens(csrf_on, login_as, researcher, instrument):
    client = login_as(researcher)
    page = text(client.get(f"/instruments/{instrument.id}/calendar"))
    meta_token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    body = {"start": iso(lab_time(MONDAY, 9)), "end": iso(lab_time(MONDAY, 10))}

    forged = client.post(f"/instruments/{instrument.id}/check", json=body)
    assert forged.status_code == 400 and forged.json["code"] == "csrf_failed"
    checked = client.post(f"/instruments/{instrument.id}/check", json=body,
                          headers={"X-CSRFToken": meta_token})
    assert checked.status_code == 200 and checked.json["ok"] is True

    assert client.post(f"/instruments/{instrument.id}/book",
                       data=series_form(count="2")).status_code == 400
    booking_form = page[page.index('id="booking-form"'):]
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', booking_form).group(1)
    booked = client.post(f"/instruments/{instrument.id}/book",
                         data={**series_form(count="2"), "csrf_token": form_token})
    assert booked.status_code == 302

    booking = db.session.scalars(select(Booking).order_by(Booking.start_at)).first()
    detail = text(client.get(f"/bookings/{booking.id}"))
    series_token = re.search(r'name="csrf_token" value="([^"]+)"', detail).group(1)
    cancelled = client.post(f"/series/{booking.series_id}/cancel",
                            data={"csrf_token": series_token})
    assert cancelled.status_code == 302
    assert reload(booking).state == BookingState.CANCELLED
