"""Which language a person reads, and that choosing another never loses what they typed.

A first visit follows the browser's language; the 中文/English switch wins over it for the rest
of the visit. Each at 1366×768 and 390×844.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from labbook.booking.models import Booking
from labbook.core.engine import write_transaction
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from tests.e2e.conftest import ARTIFACTS, VIEWPORTS
from tests.e2e.pages import sign_in, submit, switch_language
from tests.live import ROOT, free_port

RESEARCHER = "chen@xincai.example.cn"
FORGETFUL = {("zh-CN", "desktop"): "zhou@huaichuan.example.cn",
             ("zh-CN", "phone"): "liu@jinggong.example.cn",
             ("en-US", "desktop"): "food.manager@jzit.example.cn",
             ("en-US", "phone"): "mfg.manager@jzit.example.cn"}


def html_lang(page) -> str | None:
    return page.locator("html").get_attribute("lang")


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


# -- links built for the address served ---------------------------------------------------------


@pytest.fixture(scope="module")
def flask_run(site, database_url) -> Iterator[str]:
    """``flask run --port N`` on a port of its own, as a developer starts it, without
    LABBOOK_BASE_URL; yields its address."""
    port = free_port()
    env = {name: value for name, value in os.environ.items()
           if name not in ("LABBOOK_BASE_URL", "FLASK_RUN_HOST", "FLASK_RUN_PORT")}
    env.update({"LABBOOK_DATABASE_URL": database_url, "LABBOOK_ENV": "development",
                "SECRET_KEY": "flask-run-test-secret-key-0123456789abcdef"})
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/api/v1/labs", timeout=2):
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, \
                    "flask run did not start"
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def newest_email(kind: str) -> OutboxMessage:
    db.session.rollback()
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                              .order_by(OutboxMessage.id.desc()).limit(1)).one()


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_links_point_at_the_port_flask_run_serves(browser, site, flask_run, viewport, locale):
    context = browser.new_context(base_url=flask_run, locale=locale, **VIEWPORTS[viewport])
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in(page, flask_run, RESEARCHER, site.password)
        page.goto(flask_run + "/calendars")
        submit(page, "form:has(input[name=kind][value=mine]) [type=submit]")
        port = flask_run.rsplit(":", 1)[1]
        assert page.input_value("#feed-url").startswith(f"{flask_run}/ical/")
        webcal = page.get_attribute("a[href^='webcal:']", "href")
        assert webcal.startswith(f"webcal://127.0.0.1:{port}/ical/")
        page.screenshot(path=str(ARTIFACTS / f"flask-run-feed-{locale}-{viewport}.png"))

        anonymous = context.browser.new_context(base_url=flask_run, locale=locale)
        try:
            form = anonymous.new_page()
            form.goto(flask_run + "/password/forgot")
            # Another person each time: reset emails to one address are rate limited.
            form.fill("#email", FORGETFUL[locale, viewport])
            submit(form, "form:has(#email) [type=submit]")
        finally:
            anonymous.close()
        email = newest_email("password_reset")
        assert f"{flask_run}/password/reset/" in email.body_text
        assert f'href="{flask_run}/password/reset/' in email.body_html
    finally:
        context.close()


# -- a refused form survives the language switch and Back ---------------------------------------


def wait_for_calendar(page) -> None:
    page.wait_for_selector("#booking-calendar[aria-busy=false]")


@pytest.fixture
def researchers_language(site) -> Iterator[None]:
    """The switch saves the signed-in researcher's language: the folder's other tests find
    them in Chinese again."""
    yield
    db.session.rollback()
    with write_transaction(db.session):
        site.user(RESEARCHER).locale = "zh_CN"


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.usefixtures("researchers_language")
def test_a_refused_booking_keeps_its_input_through_the_switch_and_back(
        open_visit, site, viewport, locale, today):
    visit = open_visit(viewport, RESEARCHER)
    page = visit.page
    if locale == "en":
        visit.goto("/")
        switch_language(page)
    calendar = f"/instruments/{site.instrument('NEM-007').id}/calendar"
    visit.goto(calendar)
    wait_for_calendar(page)
    saturday = today + dt.timedelta(days=(5 - today.weekday()) % 7 or 7)
    purpose = f"周六测样，语言切换 {viewport}"
    page.fill("#date", saturday.isoformat())
    page.fill("#start_time", "15:00")
    page.fill("#end_time", "16:00")
    page.fill("#purpose", purpose)
    submit(page, "#booking-form [type=submit]")
    wait_for_calendar(page)
    # Post/Redirect/Get: the refusal is shown on the calendar's own address.
    assert visit.path() == calendar
    first_lang = html_lang(page)
    assert page.locator("#error-summary [data-code]").count() > 0
    codes = page.locator("#error-summary [data-code]").evaluate_all(
        "items => items.map(item => item.dataset.code)")
    assert page.input_value("#purpose") == purpose
    visit.shot(f"refused-{locale}")

    switch_language(page)
    wait_for_calendar(page)
    assert visit.path() == calendar and html_lang(page) != first_lang
    assert page.input_value("#purpose") == purpose
    assert page.input_value("#date") == saturday.isoformat()
    assert page.locator("#error-summary [data-code]").evaluate_all(
        "items => items.map(item => item.dataset.code)") == codes
    assert page.locator("#error-summary h2").inner_text() == (
        "The booking could not be made." if html_lang(page) == "en" else "预约未成功。")
    visit.shot(f"refused-switched-from-{locale}")

    # Back: every page in the history is a GET, so the browser shows it again without asking
    # to send a form again (no ERR_CACHE_MISS).
    response = page.go_back()
    assert response is None or response.ok
    assert visit.path() == calendar
    page.wait_for_selector("#booking-form")
    assert not page.locator("text=ERR_CACHE_MISS").count()
    assert db.session.scalar(select(func.count()).select_from(Booking).where(
        Booking.purpose == purpose)) == 0


def test_the_405_page_is_translated(open_visit, viewport):
    for locale, words in (("zh-CN", "此地址只接受从页面提交的表单"),
                          ("en-US", "This address only takes a form sent from a page")):
        visit = open_visit(viewport, locale=locale)
        response = visit.page.goto(visit.url("/language"))
        assert response is not None and response.status == 405
        assert words in visit.page.inner_text("main")
        # The browser logs the 405 it was sent on purpose; nothing else may fail.
        assert all("405" in error for error in visit.console_errors)
        visit.console_errors.clear()
