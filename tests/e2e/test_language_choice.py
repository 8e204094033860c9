"""Which language a person reads, and that choosing another never loses what they typed.

A first visit follows the browser's language; the 中文/English switch wins over it for the rest
of the visit. Each at 1366×768 and 390×844.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from tests.e2e.conftest import ARTIFACTS, VIEWPORTS
from tests.e2e.pages import sign_in, submit
from tests.live import ROOT, free_port

RESEARCHER = "chen@xincai.example.cn"
FORGETFUL = {("zh-CN", "desktop"): "zhou@huaichuan.example.cn",
             ("zh-CN", "phone"): "liu@jinggong.example.cn",
             ("en-US", "desktop"): "food.manager@jzit.example.cn",
             ("en-US", "phone"): "mfg.manager@jzit.example.cn"}


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
