"""The language switch turns every string of the journeys' pages into English, and back.

In English, a page may still show Chinese only where it shows data: names of organizations,
people, labs and instruments without an English name, purposes, sample descriptions and the like
(everything that comes from the database), and text marked ``lang="zh-CN"`` (the instruments'
Chinese specifications, the 中文 button). Any other Chinese is a string that was not translated;
the test lists them all, with where they are.

In Chinese, no page shows English beyond data and technical terms (a string whose Chinese
translation is missing shows its English source); back in Chinese after the switch, pages read
exactly as before.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re

import pytest
from sqlalchemy import Enum, String, Text, select

from labbook.booking.models import BookingState
from labbook.core.engine import write_transaction
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.orders import services as orders
from tests.e2e.pages import main_text, submit, untranslated
from tests.e2e.test_booking_journey import next_monday
from tests.factories import create_booking, create_charge, create_statement, lab_time

RESEARCHER = "chen@xincai.example.cn"
#: Stored codes (states, actions, locales): never shown as they are.
CODE = re.compile(r"[a-z_]+|[a-z]{2}_[A-Z]{2}")
ADMIN = "admin@jzit.example.cn"
#: Queries in Chinese that the search box offers as examples in both languages.
SEARCH_TERMS = {"扫描电镜", "液质", "岛津"}


def database_strings() -> set[str]:
    """Every text in the database that pages show as data: names, purposes, models, emails…
    (not codes such as states, which pages must translate)."""
    values: set[str] = set()
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns
                   if isinstance(c.type, String | Text) and not isinstance(c.type, Enum)]
        if not columns:
            continue
        for row in db.session.execute(select(*columns)):
            values.update(v.strip() for v in row if isinstance(v, str) and v.strip()
                          and not CODE.fullmatch(v))
    for value in list(values):  # multi-line texts are shown line by line
        values.update(line.strip() for line in value.splitlines() if line.strip())
    return values


@pytest.fixture
def scene(site, today):
    """A pending booking, a testing order and an issued statement of the researcher."""
    researcher = site.user(RESEARCHER)
    instrument = site.instrument("NEM-007")
    day = next_monday(today) + dt.timedelta(days=4)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(day, 15), end_at=lab_time(day, 16),
                             state=BookingState.PENDING, purpose="语言切换测试：截面形貌")
    with write_transaction(db.session):
        order = orders.submit(db.session, researcher, orders.OrderInput(
            lines=[orders.LineInput(service_id=site.service("NEM-S001").id, samples=[
                orders.SampleInput(name="三元正极粉末", quantity="两袋")])],
            terms_confirmed=True), now=utcnow())
    charge = create_charge(organization=researcher.organization, lab=instrument.lab,
                           reason="语言切换测试调整",
                           occurred_at=lab_time(dt.date(2025, 12, 2), 10))
    statement = create_statement([charge], number="LB-2025-900001", year=2025,
                                 sequence=900001)
    return {"booking": booking.id, "instrument": instrument.id, "order": order.id,
            "service": order.lines[0].service_id, "statement": statement.id}


def wait_until_ready(page) -> None:
    page.wait_for_load_state()
    if page.locator("#booking-calendar").count():
        page.wait_for_selector("#booking-calendar .fc-view")
        page.wait_for_selector("#booking-calendar[aria-busy=false]")


def switch_language(page) -> None:
    submit(page, "form[action$='/language'] button")
    wait_until_ready(page)


def test_every_string_of_the_journeys_follows_the_language_switch(open_visit, site, scene):
    journeys = {
        RESEARCHER: [
            "/", "/instruments?q=%E6%89%AB%E6%8F%8F%E7%94%B5%E9%95%9C",
            f"/instruments/{scene['instrument']}",
            f"/instruments/{scene['instrument']}/calendar",
            "/bookings", f"/bookings/{scene['booking']}", "/calendars",
            "/services?q=XRD", f"/services/{scene['service']}",
            "/orders", f"/orders/{scene['order']}", "/orders/new",
        ],
        ADMIN: [
            "/manage/approvals", "/lab/orders", "/statements",
            f"/statements/{scene['statement']}", "/bookings",
        ],
    }
    # What people type stays as typed: the search box's examples and the query echoed back.
    data = database_strings() | SEARCH_TERMS
    problems: list[str] = []
    for email, paths in journeys.items():
        visit = open_visit("desktop", email)
        page = visit.page
        chinese = {}
        for path in paths:
            visit.goto(path)
            wait_until_ready(page)
            chinese[path] = main_text(page)
            assert page.locator("html").get_attribute("lang") == "zh-CN"
            problems += [f"{path} (中文): {text}" for text in untranslated(page, data, "zh")]

        switch_language(page)  # on the last page; the choice is kept for the next ones
        for path in paths:
            visit.goto(path)
            wait_until_ready(page)
            assert page.locator("html").get_attribute("lang") == "en", path
            problems += [f"{path} (English): {text}" for text in untranslated(page, data, "en")]
            visit.shot("en" + path.split("?")[0].replace("/", "-").rstrip("-"), check=False)
        if email == RESEARCHER:  # what the calendar's script writes, in English too
            problems += [f"calendar check: {text}" for text in check_messages(visit, scene)]

        switch_language(page)
        # Back in Chinese: two of the pages read exactly as before (the first pass already
        # checked the Chinese of every page).
        for path in [paths[-1], paths[0]]:
            visit.goto(path)
            wait_until_ready(page)
            assert page.locator("html").get_attribute("lang") == "zh-CN", path
            after = main_text(page)
            if after != chinese[path]:
                diff = difflib.ndiff(chinese[path].split(), after.split())
                changed = [d for d in diff if d[:1] in "+-"]
                problems.append(f"{path}: differs after switching back: {changed[:20]}")
    assert not problems, "untranslated or changed strings:\n" + "\n".join(problems)


def check_messages(visit, scene) -> list[str]:
    """The rule problems the page shows for a refused time (a Saturday afternoon), in English."""
    page = visit.page
    visit.goto(f"/instruments/{scene['instrument']}/calendar")
    wait_until_ready(page)
    saturday = next_monday(dt.date.fromisoformat(
        page.locator("#date").get_attribute("min"))) + dt.timedelta(days=5)
    page.fill("#date", saturday.isoformat())
    page.fill("#start_time", "15:00")
    page.fill("#end_time", "16:00")
    page.locator("#end_time").dispatch_event("change")
    page.locator("#check-result [data-code]").first.wait_for()
    return untranslated(page, database_strings(), "en")
