"""The README's screenshots, taken from a running labbook with the shipped catalogue and the demo
data: the catalogue search, an instrument's booking calendar, the approval queue and a
statement. Written to docs/screenshots/.

Not part of the normal run (the pictures would change with every run): ``make screenshots``
sets LABBOOK_SCREENSHOTS=1 and runs only this file.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import select

from labbook.billing import services as billing
from labbook.billing.models import Statement
from labbook.booking.models import Blackout, BookingState
from labbook.booking.training import grant_qualification
from labbook.core.time import utcnow
from labbook.extensions import db
from tests.e2e.pages import drag_in_calendar, sign_in
from tests.e2e.test_booking_journey import next_monday, show_day
from tests.factories import create_booking, lab_time
from tests.live import ROOT

SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}

pytestmark = [
    pytest.mark.screenshots,
    pytest.mark.skipif(not os.environ.get("LABBOOK_SCREENSHOTS"),
                       reason="refreshes the README screenshots: run `make screenshots`"),
]


@pytest.fixture
def busy_week(site, today):
    """Next week on the X-ray diffractometer: other enterprises' bookings, the researcher's own,
    a request awaiting approval, a maintenance window; more requests in the approval queue."""
    chen, zhou, liu = (site.user(e) for e in ("chen@xincai.example.cn",
                                              "zhou@huaichuan.example.cn",
                                              "liu@jinggong.example.cn"))
    manager = site.user("nem.manager@jzit.example.cn")
    xrd = site.instrument("NEM-001")
    monday = next_monday(today) + dt.timedelta(days=7)  # a week no other test books
    scene = [
        (liu, 0, 9, 12, BookingState.APPROVED, "焊缝残余应力测定"),
        (zhou, 0, 14, 16, BookingState.APPROVED, "淀粉结晶度分析"),
        (chen, 1, 9, 11, BookingState.APPROVED, "正极材料 XRD 物相分析，6 个样品"),
        (liu, 1, 13, 17, BookingState.APPROVED, "涂层物相鉴定"),
        (chen, 2, 10, 12, BookingState.PENDING, "原位电池充放电 XRD"),
        (zhou, 3, 8, 10, BookingState.APPROVED, "食品添加剂晶型鉴定"),
        (liu, 4, 15, 18, BookingState.PENDING, "轴承钢残余奥氏体含量"),
    ]
    for user, weekday, start, end, state, purpose in scene:
        day = monday + dt.timedelta(days=weekday)
        create_booking(instrument=xrd, user=user, start_at=lab_time(day, start),
                       end_at=lab_time(day, end), state=state, purpose=purpose)
    for code, user, weekday, hour, purpose in [
            ("NEM-005", chen, 0, 14, "隔膜截面形貌观察"),
            ("NEM-006", zhou, 2, 9, "纳米颗粒形貌与能谱"),
            ("NEM-002", liu, 3, 15, "薄膜掠入射衍射")]:
        day = monday + dt.timedelta(days=weekday)
        create_booking(instrument=site.instrument(code), user=user, state=BookingState.PENDING,
                       start_at=lab_time(day, hour), end_at=lab_time(day, hour + 2),
                       purpose=purpose, project_ref="PO-2026-0" + str(hour))
    thursday = monday + dt.timedelta(days=3)
    db.session.add(Blackout(instrument=xrd, start_at=lab_time(thursday, 13),
                            end_at=lab_time(thursday, 17), reason="X 光管年度保养",
                            created_by_id=manager.id))
    grant_qualification(db.session, manager, chen, xrd, now=utcnow())
    db.session.commit()
    return {"instrument": xrd, "monday": monday}


def statement_of(site, organization_name: str) -> Statement:
    """Last month's statement of the organization (closing the month if nobody has)."""
    period = billing.previous_period(utcnow())
    billing.close_month(db.session, site.user("admin@jzit.example.cn"), period, now=utcnow())
    db.session.commit()
    return db.session.scalars(select(Statement).where(
        Statement.period == period,
        Statement.organization.has(name=organization_name))).one()


def test_readme_screenshots(browser, site, busy_week):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    instrument, monday = busy_week["instrument"], busy_week["monday"]
    statement = statement_of(site, "焦作新材储能科技有限公司")

    def context():
        return browser.new_context(base_url=site.url, viewport=VIEWPORT, locale="zh-CN",
                                   timezone_id="Asia/Shanghai")

    researcher = context()
    page = researcher.new_page()
    sign_in(page, site.url, "chen@xincai.example.cn", site.password)

    # The catalogue: 扫描电镜 finds the scanning electron microscopes.
    page.goto(site.url + "/instruments?q=%E6%89%AB%E6%8F%8F%E7%94%B5%E9%95%9C")
    page.screenshot(path=str(SCREENSHOTS / "catalogue-search.png"))

    # The booking calendar: a busy week, a time dragged over and checked.
    page.goto(site.url + f"/instruments/{instrument.id}/calendar")
    page.wait_for_selector("#booking-calendar[aria-busy=false]")
    show_day(page, monday, is_phone=False)
    page.wait_for_selector("#booking-calendar[aria-busy=false] .lb-booking")
    drag_in_calendar(page, (monday + dt.timedelta(days=2)).isoformat(), "14:00", "16:00",
                     instrument.slot_minutes)
    page.locator("#check-result .alert").wait_for()
    page.wait_for_timeout(600)  # the page's own smooth scroll to the check result
    page.evaluate("window.scrollTo(0, document.querySelector('.fc-header-toolbar')"
                  ".getBoundingClientRect().top + window.scrollY - 16)")
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENSHOTS / "booking-calendar.png"))
    researcher.close()

    # The approval queue of the New-Energy Materials lab.
    manager = context()
    page = manager.new_page()
    sign_in(page, site.url, "nem.manager@jzit.example.cn", site.password)
    page.goto(site.url + "/manage/approvals")
    page.screenshot(path=str(SCREENSHOTS / "approval-queue.png"))
    manager.close()

    # A statement, as an admin sees it before issuing it.
    admin = context()
    page = admin.new_page()
    sign_in(page, site.url, "admin@jzit.example.cn", site.password)
    page.goto(site.url + f"/statements/{statement.id}")
    page.screenshot(path=str(SCREENSHOTS / "statement.png"))
    admin.close()

    for name in ("catalogue-search", "booking-calendar", "approval-queue", "statement"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000, name
