"""A researcher finds an instrument and books it on the week view; a manager approves it.

(a) sign in, search the catalogue, open an instrument, drag over free time, see a rule problem
    explained next to the form, book a valid slot, find it in "my bookings", download its .ics,
    subscribe to a feed and copy its link;
(b) the lab's manager approves the request from the queue, and the researcher sees it approved.
Both on a desktop and on a phone-sized screen.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.request

import pytest
from sqlalchemy import select

from labbook.booking.models import Booking, BookingState, Qualification
from labbook.booking.training import grant_qualification
from labbook.core.time import utcnow
from labbook.extensions import db
from tests.e2e.pages import drag_in_calendar, sign_in, submit, unfold_menu

RESEARCHER = "chen@xincai.example.cn"
MANAGER = "nem.manager@jzit.example.cn"
INSTRUMENT = "NEM-007"  # 台式扫描电子显微镜: approval and training required, 30-minute grid
#: A valid slot per viewport (weekday of next week, lab time), so the two runs never collide.
SLOTS = {"desktop": (1, "09:00", "11:00"), "phone": (2, "14:00", "16:00")}


def next_monday(today: dt.date) -> dt.date:
    return today + dt.timedelta(days=7 - today.weekday())


@pytest.fixture
def trained_researcher(site):
    """The researcher has been trained on the instrument (a manager recorded it)."""
    user, instrument = site.user(RESEARCHER), site.instrument(INSTRUMENT)
    exists = db.session.scalar(select(Qualification.id).where(
        Qualification.user_id == user.id, Qualification.instrument_id == instrument.id))
    if exists is None:
        grant_qualification(db.session, site.user(MANAGER), user, instrument, now=utcnow())
        db.session.commit()
    return user


def test_researcher_books_on_the_week_view_and_manager_approves(open_visit, viewport, site,
                                                                today, trained_researcher):
    instrument = site.instrument(INSTRUMENT)
    monday = next_monday(today)
    weekday, start, end = SLOTS[viewport]
    day = monday + dt.timedelta(days=weekday)
    saturday = monday + dt.timedelta(days=5)

    researcher = open_visit(viewport)
    page = researcher.page

    # Sign in.
    researcher.goto("/login")
    researcher.shot("sign-in")
    sign_in(page, site.url, RESEARCHER, site.password)
    assert page.locator(".alert-success").count() == 1  # "welcome"

    # Search the catalogue from the home page.
    researcher.goto("/")
    page.fill("#home-q", "扫描电镜")
    page.locator("form[role=search] [type=submit]").click()
    page.wait_for_url(re.compile(r"/search\?q="))
    results = page.locator("section").first.locator("li.list-group-item")
    assert results.count() >= 4  # every scanning electron microscope, from the alias
    researcher.shot("search-results")

    # Open the instrument, then its calendar.
    page.get_by_role("link", name=instrument.name_zh, exact=True).click()
    page.wait_for_url(f"**/instruments/{instrument.id}")
    researcher.shot("instrument")
    page.locator(f"a[href$='/instruments/{instrument.id}/calendar']").first.click()
    page.wait_for_url(f"**/instruments/{instrument.id}/calendar")
    page.wait_for_selector("#booking-calendar[aria-busy=false] .fc-timegrid-col[data-date]")
    assert page.locator("#date").get_attribute("min") == today.isoformat()  # lab time
    researcher.shot("calendar")

    # Drag over Saturday afternoon, when the lab is closed: the problem is explained inline.
    show_day(page, saturday, researcher.is_phone)
    drag_in_calendar(page, saturday.isoformat(), "13:00", "15:00", instrument.slot_minutes)
    assert page.input_value("#date") == saturday.isoformat()
    assert page.input_value("#start_time") == "13:00"
    assert page.input_value("#end_time") == "15:00"
    problem = page.locator("#check-result [data-code=outside_hours]")
    problem.wait_for()
    assert page.locator("#check-result .alert-danger").is_visible()
    researcher.shot("rule-problem")

    # Sending the form anyway: refused, the page explains why, nothing booked.
    page.fill("#purpose", "场发射形貌观察，正极材料 6 个样品")
    submit(page, "#booking-form [type=submit]")
    summary = page.locator("#error-summary")
    assert summary.is_visible()
    page.wait_for_function("document.activeElement && document.activeElement.id === "
                           "'error-summary'")  # read first by keyboard and screen-reader users
    assert summary.locator("[data-code=outside_hours]").count() == 1
    assert page.input_value("#purpose") == "场发射形貌观察，正极材料 6 个样品"
    researcher.shot("refused")

    # A valid slot: drag over free time on a weekday, then book.
    show_day(page, day, researcher.is_phone)
    drag_in_calendar(page, day.isoformat(), start, end, instrument.slot_minutes)
    page.locator("#check-result .alert-success").wait_for()
    assert page.locator("#error-summary").is_hidden()  # it was about the refused time
    assert page.input_value("#date") == day.isoformat()
    assert (page.input_value("#start_time"), page.input_value("#end_time")) == (start, end)
    page.fill("#project_ref", "PO-2026-118")
    researcher.shot("valid-slot")
    page.locator("#booking-form [type=submit]").click()
    page.wait_for_url(re.compile(r"/bookings/\d+$"))
    booking_id = int(page.url.rsplit("/", 1)[1])
    # Sent to the managers for approval, and what it will cost.
    assert page.locator(".alert-info").count() == 2
    assert page.locator("[data-cancellation-fee]").count() == 1
    researcher.shot("booked")

    db.session.rollback()  # see what the server wrote
    booking = db.session.get(Booking, booking_id)
    assert booking.state == BookingState.PENDING
    assert booking.instrument_id == instrument.id
    assert booking.start_at == dt.datetime.fromisoformat(f"{day}T{start}:00+08:00")

    # It is in "my bookings", awaiting approval.
    unfold_menu(page)
    submit(page, "#main-nav a[href$='/bookings']")
    row = page.locator(f"tr:has(a[href$='/bookings/{booking_id}'])")
    assert row.count() == 1
    assert f"{day.isoformat()} {start}" in row.inner_text()
    researcher.shot("my-bookings")

    # Its .ics download, and the feed link (once is enough: the desktop run).
    if not researcher.is_phone:
        download_ics_and_copy_feed_link(researcher, booking_id, day, site.url)

    # (b) The lab's manager approves it from the queue.
    manager = open_visit(viewport, MANAGER)
    manager.goto("/manage/approvals")
    card = manager.page.locator(f"article:has(#select-{booking_id})")
    assert card.count() == 1
    manager.shot("approval-queue")
    card.locator("textarea[name=note]").fill("请提前 10 分钟到 A303 签到。")
    with manager.page.expect_navigation():
        card.locator("button[name=action][value=approve]").click()
    assert manager.page.locator(f"#select-{booking_id}").count() == 0
    assert manager.page.locator(".alert-success").count() >= 1
    manager.shot("approved")

    # The researcher sees it approved.
    researcher.goto(f"/bookings/{booking_id}")
    assert page.locator("h1 + .badge.bg-success").count() == 1
    assert "请提前 10 分钟到 A303 签到。" in page.inner_text("main")
    researcher.shot("researcher-sees-approved")
    researcher.goto("/bookings")
    assert page.locator(f"tr:has(a[href$='/bookings/{booking_id}']) .badge.bg-success").count() \
        == 1


def download_ics_and_copy_feed_link(researcher, booking_id: int, day: dt.date,
                                    base_url: str) -> None:
    page = researcher.page
    submit(page, f"tr:has(a[href$='/bookings/{booking_id}']) a[href$='/bookings/{booking_id}']")
    with page.expect_download() as download:
        page.locator(f"a[href$='/bookings/{booking_id}.ics']").click()
    ics = download.value.path().read_text(encoding="utf-8")
    assert download.value.suggested_filename.endswith(".ics")
    assert "BEGIN:VEVENT" in ics and "STATUS:TENTATIVE" in ics
    uid = re.search(r"^UID:(.+)$", ics, re.M).group(1).strip()
    start = re.search(r"^DTSTART:(\d{8}T\d{6}Z)$", ics, re.M).group(1)
    assert start[:8] == f"{day:%Y%m%d}"  # the morning in Beijing is still that day in UTC

    # Subscribe to "my bookings" on the calendars page and copy the link.
    researcher.goto("/calendars")
    researcher.shot("feeds")
    submit(page, "form:has(input[name=kind][value=mine]) [type=submit]")
    link = page.input_value("#feed-url")
    assert re.fullmatch(re.escape(base_url) + r"/ical/[\w-]+\.ics", link), link
    page.locator("[data-copy-target=feed-url]").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == link
    researcher.shot("feed-link")
    with urllib.request.urlopen(link, timeout=10) as response:
        assert uid in response.read().decode()


def show_day(page, day: dt.date, is_phone: bool) -> None:
    """Bring ``day`` into view in the calendar, as a user would: "next" until it is there."""
    for _ in range(30):
        if page.locator(f"td.fc-timegrid-col[data-date='{day.isoformat()}']").count():
            return
        shown = page.locator("td.fc-timegrid-col[data-date]").first.get_attribute("data-date")
        button = ".fc-next-button" if shown < day.isoformat() else ".fc-prev-button"
        page.locator(button).click()
    raise AssertionError(f"{day} is not reachable in the calendar")
