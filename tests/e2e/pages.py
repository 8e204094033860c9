"""What the browser tests do and check on any page: sign in, the accessibility basics, dragging
over the week view, and finding text that was left untranslated."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

JS = Path(__file__).parent / "js"


def _script(name: str) -> str:
    """A function from tests/e2e/js/, without its leading comment (Playwright wants the bare
    function expression)."""
    lines = (JS / name).read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.startswith("//")).strip()


def submit(page: Page, selector: str) -> None:
    """Click what sends a form (or follows a link) and wait for the next page to load."""
    with page.expect_navigation():
        page.locator(selector).click()


def unfold_menu(page: Page) -> None:
    """On a phone the top bar is folded away behind its toggler: unfold it, and wait until it
    has finished sliding open (Bootstrap's ``collapsing`` gives way to ``show``). A click on a
    menu item while it still slides can land where the item no longer is, and the page it
    should open never comes. Nothing to do where the bar is not folded."""
    toggler = page.locator(".navbar-toggler").first
    if toggler.is_visible():
        toggler.click()
        page.locator("#main-nav.show").wait_for(state="visible")


def switch_language(page: Page) -> None:
    """The 中文/English switch, in the folded menu on a phone."""
    unfold_menu(page)
    submit(page, "form[action$='/language'] button")


# -- signing in ---------------------------------------------------------------------------------


def sign_in(page: Page, base_url: str, email: str, password: str) -> None:
    page.goto(base_url + "/login")
    page.fill("#email", email)
    page.fill("#password", password)
    submit(page, "form:has(#password) [type=submit]")
    assert "/login" not in page.url, f"sign-in as {email} failed: {page.inner_text('main')}"


# -- accessibility and usability basics ---------------------------------------------------------

_BASICS_JS = _script("basics.js")


def basics(page: Page) -> dict[str, Any]:
    return page.evaluate(_BASICS_JS)


def assert_basics(page: Page) -> None:
    """One h1; every form control labelled; every button and link named; unique ids; a title
    and a language; nothing wider than the screen."""
    found = basics(page)
    where = page.url
    assert len(found["h1"]) == 1, f"{where}: expected exactly one h1, found {found['h1']}"
    assert not found["unlabelled"], f"{where}: form controls without a label: " \
        f"{found['unlabelled']}"
    assert not found["nameless"], f"{where}: buttons or links without a name: " \
        f"{found['nameless']}"
    assert not found["duplicateIds"], f"{where}: duplicate ids {found['duplicateIds']}"
    assert found["lang"] in ("zh-CN", "en"), f"{where}: <html lang={found['lang']!r}>"
    assert found["title"].strip(), f"{where}: empty <title>"
    assert found["overflow"] <= 1, \
        f"{where}: the page is {found['overflow']}px wider than the screen"


# -- the week view ------------------------------------------------------------------------------


def drag_in_calendar(page: Page, date: str, start: str, end: str, slot_minutes: int) -> None:
    """Drag with the mouse over ``date`` from ``start`` to ``end`` (lab time, "HH:MM")."""
    hours, minutes = map(int, end.split(":"))
    last = hours * 60 + minutes - slot_minutes
    last_slot = f"{last // 60:02d}:{last % 60:02d}:00"
    column = page.locator(f"td.fc-timegrid-col[data-date='{date}']")
    first_lane = page.locator(f"td.fc-timegrid-slot-lane[data-time='{start}:00']")
    last_lane = page.locator(f"td.fc-timegrid-slot-lane[data-time='{last_slot}']")
    first_lane.scroll_into_view_if_needed()
    # The whole range must be on the screen: put its start near the top of the viewport.
    box = first_lane.bounding_box()
    assert box, "the calendar is not on the page"
    page.evaluate("y => window.scrollBy(0, y)", box["y"] - 80)
    top = first_lane.bounding_box()
    bottom = last_lane.bounding_box()
    box = column.bounding_box()
    assert top and bottom and box, "the calendar is not on the page"
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, top["y"] + top["height"] / 2)
    page.mouse.down()
    page.mouse.move(x, (top["y"] + bottom["y"]) / 2, steps=4)
    page.mouse.move(x, bottom["y"] + bottom["height"] / 2, steps=4)
    page.mouse.up()


# -- languages ----------------------------------------------------------------------------------

#: Chinese characters and CJK punctuation (full-width forms included).
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
                 r"\uff01-\uff60\uffe0-\uffe6]")

_TEXTS_JS = _script("texts.js")


#: Latin-script words a Chinese page may show beside its data: the product's name, units,
#: file formats and abbreviations that are the same in both languages.
LATIN_ALLOWED = re.compile(
    r"\b(labbook|UTC|CNY|CSV|XLSX|Excel|PDF|ICS|iCal|webcal|API|QR|URL|PO|ID|h|min|KB|MB|"
    r"Outlook|Apple|Google|Thunderbird|XRD|SEM|HPLC|GB/T|ics|e\.g|Esc)\b")
#: Addresses, links, codes and times: data in any language; and the placeholders a page's
#: script fills in (``{when}``).
LATIN_DATA = re.compile(
    r"\S+@\S+|(?:https?|webcal)://\S+|\b[A-Z]{2,}-[\w-]+|\b\d[\d:.,/-]*\w*|\{\w+\}")


def untranslated(page: Page, data: Iterable[str], language: str) -> list[str]:
    """Strings on the page that are not in ``language`` ("en" or "zh") once the data shown on
    it (names, purposes, models, addresses, …) is taken out, each with where it is."""
    other = "zh" if language == "en" else "en"
    texts = page.evaluate(_TEXTS_JS, other)
    whole = "\n".join(item["text"] for item in texts)
    known = sorted({d for d in data if len(d) > 1 and d in whole}, key=len, reverse=True)
    found = []
    for item in texts:
        rest = item["text"]
        for value in known:
            if value in rest:
                rest = rest.replace(value, " ")
        if language == "en":
            wrong = CJK.search(rest)
        else:
            rest = LATIN_DATA.sub(" ", LATIN_ALLOWED.sub(" ", rest))
            wrong = re.search(r"[A-Za-z]{2,}", rest)
        if wrong:
            found.append(f"{item['text']!r} at {item['where']}")
    return found


def set_language(page: Page, language: str) -> None:
    """Switch to ``language`` ("zh" or "en") with the top bar's switch, unless the page is in it
    already. A signed-in person's choice is kept on their account: a test that changes it
    changes it back (the ``visit_in`` fixture does)."""
    if page.locator("html").get_attribute("lang") == ("en" if language == "en" else "zh-CN"):
        return
    locale = "en" if language == "en" else "zh_CN"
    with page.expect_navigation():
        # On a phone the switch is inside the folded menu: sent as its form would be.
        page.locator(f"button[name=locale][value={locale}]").evaluate(
            "button => button.form.requestSubmit(button)")


def main_text(page: Page) -> str:
    """The visible text of the page's navigation, content and footer, whitespace normalized."""
    return re.sub(r"\s+", " ", page.locator("body").inner_text()).strip()
