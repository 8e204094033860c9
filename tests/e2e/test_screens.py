"""Every screen on a phone (390×844) and a laptop (1366×768), in Chinese and in English.

- Statement, charge, report and training-record tables never break their cells into lines of
  a few characters: on a phone they scroll sideways in their own box with the first column held
  in view, and dates and buttons stay whole.
- The lab managers' sub-navigation is reachable on a phone: folded under one button that opens
  every link.
- The top bar stays one line at 1366 px for every demo role, in both languages.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from labbook.billing.models import Statement
from labbook.booking.models import Qualification
from labbook.core.time import utcnow
from labbook.demo import DEMO_USERS
from labbook.extensions import db
from tests.e2e.pages import _script, basics
from tests.factories import create_charge, create_statement, lab_time

ADMIN = "admin@jzit.example.cn"
MANAGER = "nem.manager@jzit.example.cn"  # the longest name of the demo roles
RESEARCHER = "chen@xincai.example.cn"
#: Fewer characters per line than this, on average, is a cell squeezed to a column of
#: syllables ("焦作新" / "材储能" / …).
MIN_CHARACTERS_PER_LINE = 4
CRAMPED_CELLS_JS = _script("cramped_cells.js")
#: The number of lines an element's visible text takes (words only for screen readers, in a
#: .visually-hidden box, are not lines one sees).
LINES_JS = """el => {
    const tops = new Set();
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let text = walker.nextNode(); text; text = walker.nextNode()) {
        if (!text.textContent.trim() || text.parentElement.closest('.visually-hidden')) continue;
        const range = document.createRange();
        range.selectNodeContents(text);
        for (const rect of range.getClientRects()) tops.add(Math.round(rect.top));
    }
    return tops.size;
}"""

#: The pages of wide tables: statements, charges, invoices, receivables, reports, the open-
#: sharing settlements, training records and sessions, the testing queue.
TABLE_PAGES = ["/statements", "/charges", "/billing/invoices", "/billing/receivables",
               "/reports/utilization", "/reports/revenue", "/reports/organizations",
               "/reports/settlements", "/dashboard/institute", "/manage/qualifications",
               "/training/", "/lab/orders", "/orders"]


@pytest.fixture
def billing_and_training(site):
    """An issued statement and unbilled charges with long descriptions; a training record."""
    if db.session.scalar(select(Statement.id).where(Statement.number == "LB-2025-900021")):
        return
    researcher = site.user(RESEARCHER)
    instrument = site.instrument("NEM-006")
    charges = [create_charge(organization=researcher.organization, lab=instrument.lab,
                             reason="样品前处理与仪器校准的附加费用（按实验室通知收取）",
                             occurred_at=lab_time(dt.date(2025, 10, 6 + day), 10))
               for day in range(3)]
    create_statement(charges[:2], number="LB-2025-900021", year=2025, sequence=900021)
    if not db.session.scalar(select(Qualification.id).where(
            Qualification.user_id == researcher.id,
            Qualification.instrument_id == instrument.id)):
        db.session.add(Qualification(user_id=researcher.id, instrument_id=instrument.id,
                                     granted_at=utcnow(),
                                     expires_at=utcnow() + dt.timedelta(days=200)))
        db.session.commit()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_wide_tables_keep_their_cells_whole(visit_in, viewport, language,
                                            billing_and_training):
    visit = visit_in(viewport, ADMIN, language)
    page = visit.page
    cramped = {}
    for path in TABLE_PAGES:
        visit.goto(path)
        overflow = basics(page)["overflow"]  # tables scroll in their own box, not the page
        assert overflow <= 1, f"{path} is {overflow}px wider than the screen"
        found = page.evaluate(CRAMPED_CELLS_JS, MIN_CHARACTERS_PER_LINE)
        if found:
            cramped[path] = found
    assert not cramped, f"cells squeezed to a few characters per line: {cramped}"

    visit.goto("/statements")
    if visit.is_phone:
        # The table scrolls sideways; its first column (the statement's number) stays put.
        box = page.locator(".lb-table-scroll").first
        first_cell = box.locator("tbody tr >> nth=0").locator("td >> nth=0")
        before = first_cell.bounding_box()
        scrolled = box.evaluate("el => { el.scrollLeft = el.scrollWidth; return el.scrollLeft }")
        assert scrolled > 0, "the statements table does not scroll on a phone"
        after = first_cell.bounding_box()
        assert before and after and abs(after["x"] - before["x"]) < 1, \
            "the first column scrolled out of view with the rest"
        visit.shot(f"statements-scrolled-{language}", check=False, full_page=False)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_training_records_keep_dates_and_buttons_whole(visit_in, viewport, language,
                                                       billing_and_training):
    visit = visit_in(viewport, MANAGER, language)
    page = visit.page
    visit.goto("/manage/qualifications")
    # A valid record with an expiry (the fixture's): date, status, "until …" and the button.
    row = page.locator("tbody tr", has=page.locator("td:nth-child(5) .small")).filter(
        has=page.locator("button.btn-outline-danger")).first
    for cell in ("td:nth-child(4)", "td:nth-child(5) .small", "button.btn-outline-danger"):
        lines = row.locator(cell).first.evaluate(LINES_JS)
        assert lines == 1, f"{cell} of a training record takes {lines} lines"
    visit.shot(f"training-records-{language}")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_managers_navigation_is_reachable(visit_in, viewport, language):
    visit = visit_in(viewport, ADMIN, language)
    page = visit.page
    visit.goto("/manage/approvals")
    links = page.locator("#management-nav .nav-link")
    count = links.count()
    assert count >= 12
    width = page.viewport_size["width"]
    if visit.is_phone:
        toggle = page.locator("button[aria-controls=management-nav]")
        assert links.first.is_hidden()  # folded: the page starts with its content
        toggle.click()
        page.wait_for_selector("#management-nav.show")
        assert toggle.get_attribute("aria-expanded") == "true"
        visit.shot(f"management-open-{language}", full_page=False)
    for index in range(count):
        box = links.nth(index).bounding_box()
        assert box and box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= width, \
            f"{links.nth(index).inner_text()} is off the screen"
    with page.expect_navigation():
        page.locator("#management-nav a[href$='/manage/qualifications']").click()
    assert page.url.endswith("/manage/qualifications")


def test_the_top_bar_is_one_line_at_1366_for_every_role(visit_in):
    tall = []
    for user in DEMO_USERS:
        for language in ("zh", "en"):
            visit = visit_in("desktop", user.email, language)
            page = visit.page
            # The links, buttons and name: all on one row (their tops within a line's height).
            spread = page.evaluate("""() => {
                const tops = Array.from(document.querySelectorAll(
                    '#main-nav .nav-link, #main-nav .btn, #main-nav .navbar-text'
                )).map((el) => el.getBoundingClientRect().top);
                return Math.max(...tops) - Math.min(...tops);
            }""")
            height = page.locator("nav.navbar").first.bounding_box()["height"]
            if spread > 20 or height > 60:
                visit.shot(f"top-bar-{language}", check=False, full_page=False)
                tall.append(f"{user.email} ({language}): {height}px high")
    assert not tall, tall
