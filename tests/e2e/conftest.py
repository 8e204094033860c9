"""Browser fixtures: the app served by gunicorn, Debian's Chromium driven by Playwright.

The e2e tests share one set of data for the whole folder — the shipped catalogue and the demo
organizations and users — loaded once into the test database, which a live server
(``tests.live.live_server``) serves on a loopback port. Each test adds the bookings, requests or
charges it needs on top, at times and on instruments no other test uses, and the folder's data is
deleted when its last test is done.

Every page a test opens records its console errors and every request to a host other than the
app's own (Chromium resolves no other host name, so none can leave the machine); the test fails
at the end when there were any. Screenshots, and the server's log, go to
``test-artifacts/e2e/``.

The tests are skipped, with the reason, only when /usr/bin/chromium is missing (``make browser``
installs it).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    sync_playwright,
)
from sqlalchemy import select

from labbook import links
from labbook.accounts.models import User
from labbook.catalogue.loader import load_catalogue
from labbook.catalogue.models import Instrument, TestingService
from labbook.core.time import to_lab_time, utcnow
from labbook.demo import DEMO_PASSWORD, ReportFiles, load_demo
from labbook.extensions import db, limiter
from tests.conftest import _delete_all_rows
from tests.e2e import pages
from tests.live import ROOT, live_server

CHROMIUM = Path("/usr/bin/chromium")
#: Keeps Chromium from calling Google's hosts (updates, sync, field trials, …): the tests must
#: never leave 127.0.0.1, and may run where nothing else is reachable.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-default-apps", "--disable-extensions", "--metrics-recording-only",
                 "--no-default-browser-check", "--disable-features=Translate,MediaRouter",
                 # Nothing but the loopback address resolves: even a request the tests did not
                 # foresee cannot leave the machine.
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
#: A browser far from the lab: every time on the pages must still be lab time (UTC+8).
BROWSER_TIMEZONE = "Europe/Berlin"

VIEWPORTS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1366, "height": 768}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
              "device_scale_factor": 1},
}


@pytest.hookimpl(tryfirst=True)  # before -m selects by these marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)


# -- the site: data and a live server -----------------------------------------------------------


@dataclass
class Site:
    """The running app and the facts about its data the tests need."""

    url: str
    password: str = DEMO_PASSWORD

    def user(self, email: str) -> User:
        user = db.session.scalar(select(User).where(User.email == email))
        assert user is not None, email
        return user

    def instrument(self, code: str) -> Instrument:
        instrument = db.session.scalar(select(Instrument).where(Instrument.code == code))
        assert instrument is not None, code
        return instrument

    def service(self, code: str) -> TestingService:
        service = db.session.scalar(select(TestingService).where(TestingService.code == code))
        assert service is not None, code
        return service


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed: the browser tests need Debian's Chromium "
                    "(run `make browser`, which runs `apt-get install -y chromium "
                    "fonts-noto-cjk`)")


@pytest.fixture(scope="package")
def site(app: Flask, database_url: str, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    _require_chromium()
    orders = tmp_path_factory.mktemp("orders")  # the demo's issued report, served from here
    with app.app_context():
        _delete_all_rows()
        load_catalogue(db.session, to_lab_time(utcnow()).date())
        load_demo(db.session, utcnow(), ReportFiles(orders, links.base_url()))
        db.session.remove()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "server.log").unlink(missing_ok=True)
    env = {"LABBOOK_REPORT_DIR": str(tmp_path_factory.mktemp("reports")),
           "LABBOOK_ORDER_FILES_DIR": str(orders)}
    try:
        with live_server(database_url, workers=2, extra_env=env,
                         log_file=ARTIFACTS / "server.log") as url:
            yield Site(url=url)
    finally:
        with app.app_context():
            _delete_all_rows()
            limiter.reset()


@pytest.fixture(autouse=True)
def _app_context(app: Flask) -> Iterator[None]:
    """Replaces the suite's per-test clean-up: the folder's tests share their data."""
    with app.app_context():
        yield
        db.session.remove()


# -- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser(site: Site) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Visit:
    """One person's browser (a context and its page) in one viewport."""

    site: Site
    context: BrowserContext
    page: Page
    viewport: str
    folder: Path
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)
    _counter: list[int] = field(default_factory=lambda: [0])

    @property
    def is_phone(self) -> bool:
        return self.viewport == "phone"

    def url(self, path: str) -> str:
        return self.site.url + path

    def goto(self, path: str) -> Page:
        response = self.page.goto(self.url(path))
        assert response is not None and response.ok, (path, response and response.status)
        return self.page

    def path(self) -> str:
        parts = urlsplit(self.page.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def sign_in(self, email: str) -> None:
        pages.sign_in(self.page, self.site.url, email, self.site.password)

    def check(self) -> None:
        """The accessibility and usability basics of the page as it is now."""
        pages.assert_basics(self.page)

    def shot(self, name: str, *, check: bool = True, full_page: bool = True) -> Path:
        """Check the page, then save a screenshot of it as a test artifact."""
        if check:
            self.check()
        if full_page:  # sticky calendar headings would otherwise be drawn mid-page
            self.page.evaluate("window.scrollTo(0, 0)")
        self._counter[0] += 1
        path = self.folder / f"{self._counter[0]:02d}-{name}-{self.viewport}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        self.shots.append(path)
        return path


def _artifact_folder(node: pytest.Item) -> Path:
    name = re.sub(r"[^\w.-]+", "-", node.name).strip("-")
    folder = ARTIFACTS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def open_visit(browser: Browser, site: Site, request: pytest.FixtureRequest
               ) -> Iterator[Callable[..., Visit]]:
    """``open_visit(viewport="desktop", email=None, locale="zh-CN", javascript=True)``: a new
    browser context, signed in as ``email`` when given. Fails the test at the end on console
    errors or requests to other hosts."""
    visits: list[Visit] = []
    folder = _artifact_folder(request.node)
    counter = [0]  # screenshots of all the test's visits, numbered in the order they were taken
    own_origin = site.url

    def open_one(viewport: str = "desktop", email: str | None = None,
                 locale: str = "zh-CN", javascript: bool = True) -> Visit:
        context = browser.new_context(
            base_url=site.url, locale=locale, timezone_id=BROWSER_TIMEZONE,
            accept_downloads=True, java_script_enabled=javascript, **VIEWPORTS[viewport])
        context.set_default_timeout(10_000)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=own_origin)
        page = context.new_page()
        visit = Visit(site=site, context=context, page=page, viewport=viewport, folder=folder,
                      _counter=counter)

        def on_request(request: Request) -> None:
            # Recorded, not intercepted: routing requests would switch off the browser's cache.
            url = request.url
            if urlsplit(url).scheme in ("http", "https", "ws", "wss") \
                    and not url.startswith(own_origin + "/") and url != own_origin:
                visit.foreign_requests.append(url)

        context.on("request", on_request)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                location = message.location or {}
                visit.console_errors.append(
                    f"{message.text} ({location.get('url', '')}) on {page.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: visit.console_errors.append(
            f"uncaught {error} on {page.url}"))
        visits.append(visit)
        if email:
            visit.sign_in(email)
        return visit

    yield open_one

    problems = []
    for visit in visits:
        problems += [f"[{visit.viewport}] console error: {e}" for e in visit.console_errors]
        problems += [f"[{visit.viewport}] request to another host: {u}"
                     for u in visit.foreign_requests]
        visit.context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def visit_in(open_visit) -> Iterator[Callable[..., Visit]]:
    """``visit_in(viewport, email, language)``: signed in, in that language; the language the
    accounts had (Chinese) is given back at the end."""
    switched: list[Visit] = []

    def open_in(viewport: str, email: str, language: str) -> Visit:
        visit = open_visit(viewport, email)
        pages.set_language(visit.page, language)
        if language != "zh":
            switched.append(visit)
        return visit

    yield open_in
    for visit in switched:
        visit.goto("/")
        pages.set_language(visit.page, "zh")


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def today() -> dt.date:
    return to_lab_time(utcnow()).date()
