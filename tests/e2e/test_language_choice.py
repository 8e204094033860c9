"""Which language a person reads, and that choosing another never loses what they typed.

A first visit follows the browser's language; the 中文/English switch wins over it for the rest
of the visit. Each at 1366×768 and 390×844.
"""

from __future__ import annotations

import pytest

from tests.e2e.pages import submit


def html_lang(page) -> str | None:
    return page.locator("html").get_attribute("lang")


def switch_language(page) -> None:
    # On a phone the top bar is folded away behind its toggler.
    toggler = page.locator(".navbar-toggler")
    if toggler.is_visible():
        toggler.click()
    submit(page, "form[action$='/language'] button")


@pytest.mark.parametrize(("browser_locale", "lang", "other"), [
    ("en-US", "en", "zh-CN"),
    ("zh-CN", "zh-CN", "en"),
    ("de-DE", "zh-CN", "en"),  # a language labbook does not speak: Chinese stays the default
])
def test_a_first_visit_comes_in_the_browsers_language_until_switched(
        open_visit, viewport, browser_locale, lang, other):
    visit = open_visit(viewport, locale=browser_locale)
    page = visit.goto("/instruments")
    assert html_lang(page) == lang
    visit.shot(f"first-visit-{browser_locale}")
    switch_language(page)
    assert visit.path() == "/instruments"
    assert html_lang(page) == other
    visit.goto("/login")  # the choice holds on the next pages, whatever the browser asks
    assert html_lang(page) == other
