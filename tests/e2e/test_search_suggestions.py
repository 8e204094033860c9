"""Suggestions while typing in the catalogue search: by keyboard, announced to screen readers,
and a plain form without JavaScript."""

from __future__ import annotations

from tests.e2e.pages import submit


def test_suggestions_by_keyboard_and_for_screen_readers(open_visit):
    visit = open_visit("desktop")
    page = visit.goto("/")
    box = page.locator("#home-q")
    box.focus()
    page.keyboard.type("液质")
    listbox = page.locator("#" + box.get_attribute("aria-controls"))
    options = listbox.locator("[role=option]")
    options.first.wait_for()
    assert box.get_attribute("role") == "combobox"
    assert box.get_attribute("aria-expanded") == "true"
    assert options.count() >= 3 and "质谱联用仪" in options.first.inner_text()
    assert "条建议" in page.locator(".visually-hidden[role=status]").inner_text()

    page.keyboard.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == options.first.get_attribute("id")
    assert options.first.get_attribute("aria-selected") == "true"
    page.keyboard.press("Escape")
    assert box.get_attribute("aria-expanded") == "false"

    page.keyboard.press("ArrowDown")  # opens the list again
    page.keyboard.press("ArrowDown")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert visit.path().startswith("/instruments/")


def test_the_search_works_without_javascript(open_visit):
    visit = open_visit("desktop", javascript=False)
    page = visit.goto("/")
    page.fill("#home-q", "gb 5009.5")
    submit(page, "form[role=search] [type=submit]")
    assert visit.path().startswith("/search?q=")
    assert "蛋白质" in page.inner_text("main")
