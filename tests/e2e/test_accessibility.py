"""axe-core on every page: no serious or critical accessibility violation, in both languages.

The pages are every GET route of ``app.url_map`` that answers a web page, its URL parameters
filled in from the scene below (``Scene.parameters``: one value, or several, per parameter).
They are tried as each kind of person the product has, in this order: anonymous, a
researcher, the administrator of an enterprise, a lab's analyst, the contact person of an owner
unit, a lab manager and the institute's admin (who is also finance). Each page that answers
200 with HTML goes to the first of them who gets it — the least privileged, who sees it with
their own data and their own menus — and every person's walk checks the pages that fell to
them, plus the 404 and 403 pages. A route with a parameter the scene has no value for, and that
is not in ``NOT_PAGES`` (files, feeds, JSON), fails ``test_every_page_route_has_its_parameters``:
a new page cannot be forgotten.

axe-core (vendored in ``tests/e2e/vendor/axe-core``, injected into the page; no network) runs
the WCAG 2.0/2.1 A and AA rules and its best practices; any violation of impact ``serious`` or
``critical`` fails the test, listed with its rule, the element, what to fix and the pages.

Runtime: every page is checked at 1366×768 in Chinese and in English; at 390×844 (the phone) the
first page of each area (blueprint) of each person, in both languages. Checking every page at
both sizes took well over four minutes on two cores (a page takes 1–3 s to load and check on a
busy machine), and the phone differs from the desktop in a few shared pieces (the folded menu,
stacked and scrolling tables), which the first page of each area shows. Measured on a busy
two-core machine with ``-n 2``: 8½ minutes for the module (about 90 pages at desktop size in
each language, 40 on the phone), the folder's set-up of some 1½ minutes included.
``-k desktop`` or ``-k phone`` runs one size, ``-k "manager and en"`` one person in English.

``test_the_keyboard_focus_is_always_visible`` tabs through pages with the top bar, forms, tables
and the week view and fails on any focused element without a visible outline.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page
from sqlalchemy import select
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from labbook.accounts.models import Organization, PriceTier, Role, User
from labbook.billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceMedium,
    InvoiceState,
    InvoiceStatement,
    StatementState,
    Voucher,
)
from labbook.booking.models import Blackout, BookingState
from labbook.catalogue.models import Lab, Owner
from labbook.core.engine import write_transaction
from labbook.core.time import utcnow
from labbook.enterprises.models import OrganizationAdmin, Registration, RegistrationState
from labbook.extensions import db
from labbook.faults.models import FaultKind, FaultState, InstrumentFault
from labbook.orders import services as orders
from labbook.orders.models import Capability, LabStaff
from labbook.owners.models import OwnerContact
from labbook.training.models import SessionState, TrainingSession
from tests.e2e.conftest import BROWSER_TIMEZONE, VIEWPORTS, Site
from tests.e2e.pages import sign_in
from tests.factories import (
    PASSWORD,
    create_booking,
    create_charge,
    create_statement,
    create_user,
    lab_time,
    make_uscc,
    next_weekday,
    session_id,
)

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
#: The rules run: WCAG 2.0 and 2.1, levels A and AA, and axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
FAILING_IMPACTS = {"serious", "critical"}

#: Routes that answer a file, a feed or JSON, or only redirect: no page to check.
NOT_PAGES = {
    "mobile.instrument_label", "enterprises.registration_licence", "money.invoices_xlsx",
    "money.invoice_file", "money.receivables_xlsx", "money.redemption_pdf",
    "money.redemption_xlsx", "calendars.booking_ics", "calendars.feed", "healthz", "readyz",
    "booking.instrument_events", "orders.agreement_pdf", "orders.attachment_file",
    "orders.labels_pdf", "orders.report_pdf", "privacy.my_data_json", "privacy.my_data_zip",
    "reports.export", "sharing.statistics_export", "sharing.settlement_export",
    "catalogue.suggestions", "testing.download_report", "billing.statement_csv",
    "billing.statement_pdf", "billing.statement_xlsx", "manage.today_default",
}
#: Routes whose ``code`` names an owner unit, not a lab.
OWNER_CODE = {"admin.owner_unit", "sharing.settlement"}
REPORTS = ("utilization", "attendance", "revenue", "organizations", "turnaround", "usage")
#: Pages of error answers, checked once per person and language.
ERROR_PAGES = {"anonymous": ["/no-such-page"], "researcher": ["/admin/"]}

ROLES = ("anonymous", "researcher", "organization_admin", "analyst", "owner_contact", "manager",
         "admin")
LANGUAGES = {"zh": "zh_CN", "en": "en"}


@dataclass
class Scene:
    """The people, one object behind every URL parameter, and the pages each person's walk
    checks."""

    emails: dict[str, str]
    parameters: dict[str, list[Any]]
    pages: dict[str, list[str]] = field(default_factory=dict)


def _person(kind: str, organization: Organization, **values: Any) -> User:
    return create_user(email=f"axe.{kind}@example.cn", name=f"无障碍{kind}",
                       organization=organization, **values)


@pytest.fixture(scope="module")
def scene(site: Site, app: Flask) -> Iterator[Scene]:
    with app.app_context():
        built = _build_scene()
        started = time.monotonic()
        built.pages = _share_out_pages(app, built)
        print(f"\npages shared out in {time.monotonic() - started:.1f} s: "
              f"{ {role: len(paths) for role, paths in built.pages.items()} }")
        yield built
        db.session.remove()


def _build_scene() -> Scene:
    now = utcnow()
    lab = db.session.scalar(select(Lab).where(Lab.code == "NEM"))
    institute = db.session.scalar(select(Organization).where(
        Organization.name == "焦作市产业技术科学院"))
    enterprise = Organization(name="无障碍检查科技有限公司", uscc=make_uscc(9_100_001),
                              tier=PriceTier.EXTERNAL)
    db.session.add(enterprise)
    db.session.commit()
    people = {
        "researcher": _person("researcher", enterprise),
        "organization_admin": _person("organization_admin", enterprise),
        "analyst": _person("analyst", institute),
        "manager": _person("manager", institute, role=Role.LAB_MANAGER, managed_labs=[lab]),
        "owner_contact": _person("owner_contact", institute),
        "admin": _person("admin", institute, role=Role.ADMIN),
    }
    researcher = people["researcher"]
    enterprise.billing_contact = people["organization_admin"]
    owner = db.session.scalar(select(Owner).where(Owner.code == "HPU"))
    db.session.add_all([
        OrganizationAdmin(organization_id=enterprise.id,
                          user_id=people["organization_admin"].id),
        LabStaff(lab_id=lab.id, user_id=people["analyst"].id, capability=Capability.ANALYST),
        OwnerContact(owner_id=owner.id, user_id=people["owner_contact"].id),
    ])
    db.session.commit()

    instrument = next(i for i in lab.instruments if i.code == "NEM-001")
    day = next_weekday(2, weeks_ahead=3)
    booking = create_booking(instrument=instrument, user=researcher,
                             state=BookingState.PENDING, purpose="无障碍检查",
                             start_at=lab_time(day, 9), end_at=lab_time(day, 10))
    with write_transaction(db.session):
        order = orders.submit(db.session, researcher, orders.OrderInput(
            lines=[orders.LineInput(service_id=lab.services[0].id, samples=[
                orders.SampleInput(name="无障碍样品", quantity="一袋")])],
            terms_confirmed=True), now=now)
    charge = create_charge(organization=enterprise, lab=lab, reason="无障碍检查调整",
                           occurred_at=lab_time(dt.date(2025, 11, 3), 10))
    statement = create_statement([charge], number="LB-2025-910001", year=2025,
                                 sequence=910001, state=StatementState.ISSUED, issued_at=now)
    voucher = Voucher(organization_id=enterprise.id, number="KJQ-AXE-1", authority="科技局",
                      face_value=Decimal("500.00"), balance=Decimal("500.00"),
                      share_percent=50, lab_ids=[], kinds=[], valid_from=now.date(),
                      valid_to=now.date() + dt.timedelta(days=365), created_at=now)
    invoice = Invoice(organization_id=enterprise.id, kind=InvoiceKind.ORDINARY,
                      medium=InvoiceMedium.ELECTRONIC, state=InvoiceState.REQUESTED,
                      amount=statement.total, title=enterprise.name,
                      taxpayer_id=enterprise.uscc, requested_at=now)
    invoice.covers = [InvoiceStatement(statement_id=statement.id, amount=statement.total)]
    blackout = Blackout(lab=lab, start_at=lab_time(day + dt.timedelta(days=1), 8),
                        end_at=lab_time(day + dt.timedelta(days=1), 9), reason="无障碍检查维护",
                        created_by_id=people["manager"].id)
    fault = InstrumentFault(instrument=instrument, kind=FaultKind.PROBLEM, state=FaultState.OPEN,
                            reported_by_id=researcher.id, reported_at=now,
                            description="无障碍检查：样品台异响")
    registration = Registration(
        state=RegistrationState.PENDING, organization_name="无障碍新企业",
        uscc=make_uscc(9_100_002), address="焦作", contact_phone="0391-0000000",
        name="注册人", email="axe.registrant@example.cn", locale="zh_CN", password_hash="x",
        licence=b"\x89PNG\r\n\x1a\n", licence_type="image/png", reason="")
    training = TrainingSession(instrument=instrument, trainer=people["manager"],
                               starts_at=lab_time(day, 14), ends_at=lab_time(day, 16),
                               capacity=6, location="A101", state=SessionState.SCHEDULED)
    db.session.add_all([voucher, invoice, blackout, fault, registration, training])
    db.session.commit()
    parameters: dict[str, list[Any]] = {
        "instrument_id": [instrument.id], "booking_id": [booking.id],
        "order_id": [order.id], "statement_id": [statement.id],
        "organization_id": [enterprise.id], "user_id": [researcher.id],
        "service_id": [order.lines[0].service_id], "code": [lab.code],
        "owner_code": [owner.code], "blackout_id": [blackout.id], "fault_id": [fault.id],
        "registration_id": [registration.id], "invoice_id": [invoice.id],
        "voucher_id": [voucher.id], "session_id": [training.id], "name": list(REPORTS),
        # Links that no longer work: the pages that say so.
        "token": ["expired-or-unknown"], "secret": ["unknown-invitation"],
        "offer_token": ["unknown-offer"], "request_id": [0],
    }
    return Scene(emails={role: user.email for role, user in people.items()},
                 parameters=parameters)


def _paths(rule: Rule, parameters: dict[str, list[Any]]) -> list[str] | None:
    """Every URL of ``rule`` that the scene fills in; None when a parameter has no value."""
    paths = [rule.rule]
    for argument in sorted(rule.arguments):
        key = "owner_code" if argument == "code" and rule.endpoint in OWNER_CODE else argument
        if key not in parameters:
            return None
        placeholder = re.compile(rf"<(?:[^<>]*:)?{argument}>")
        paths = [placeholder.sub(str(value), path)
                 for path in paths for value in parameters[key]]
    return paths


def page_routes(app: Flask) -> list[Rule]:
    return sorted((rule for rule in app.url_map.iter_rules()
                   if "GET" in rule.methods and rule.endpoint not in NOT_PAGES
                   and rule.endpoint != "static" and not rule.rule.startswith("/api/")),
                  key=lambda rule: rule.rule)


def test_every_page_route_has_its_parameters(app: Flask) -> None:
    parameters = {name: [1] for name in (
        "instrument_id", "booking_id", "order_id", "statement_id", "organization_id",
        "user_id", "service_id", "code", "owner_code", "blackout_id", "fault_id",
        "registration_id", "invoice_id", "voucher_id", "session_id", "name", "token",
        "secret", "offer_token", "request_id")}
    missing = [rule.rule for rule in page_routes(app) if _paths(rule, parameters) is None]
    assert not missing, f"pages the accessibility check cannot reach: {missing} (give their " \
        "parameters a value in the scene, or list a route that is no page in NOT_PAGES)"


# -- running axe ------------------------------------------------------------------------------


def _wait_until_ready(page: Page) -> None:
    page.wait_for_load_state()
    if page.locator("#booking-calendar").count():
        page.wait_for_selector("#booking-calendar[aria-busy=false]")


def violations(page: Page) -> list[str]:
    """The serious and critical violations axe finds on the page: rule, impact, the element
    and what to fix, one line each."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """tags => axe.run(document, {runOnly: {type: 'tag', values: tags},
                                      resultTypes: ['violations']})""", AXE_TAGS)
    found = []
    for violation in result["violations"]:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        for node in violation["nodes"]:
            target = " ".join(map(str, node["target"]))
            fix = " ".join(node.get("failureSummary", "").split()[:40])
            found.append(f"{violation['id']} ({violation['impact']}) at {target}: {fix}")
    return found


def _share_out_pages(app: Flask, scene: Scene) -> dict[str, list[str]]:
    """Each page that someone gets (200, HTML), given to the first person in ``ROLES`` who
    gets it: the least privileged one, who sees it with their own data."""
    left = [path for rule in page_routes(app) for path in _paths(rule, scene.parameters) or []]
    shared: dict[str, list[str]] = {}
    for role in ROLES:
        client = app.test_client()
        if role in scene.emails:
            user = db.session.scalar(select(User).where(User.email == scene.emails[role]))
            with client.session_transaction() as session:
                session["_user_id"] = session_id(user)
                session["_fresh"] = True
        shared[role] = [path for path in left if _is_page(client.get(path))]
        left = [path for path in left if path not in shared[role]]
    return shared


def _is_page(response: TestResponse) -> bool:
    return response.status_code == 200 and response.mimetype == "text/html"


def _by_area(paths: list[str], app: Flask) -> list[str]:
    """The first path of each area (blueprint): the representative set."""
    adapter = app.url_map.bind("localhost")
    chosen: dict[str, str] = {}
    for path in paths:
        endpoint, _values = adapter.match(urlsplit(path).path, method="GET")
        chosen.setdefault(endpoint.partition(".")[0], path)
    return list(chosen.values())


@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("role", ROLES)
def test_no_serious_accessibility_violation(browser: Browser, site: Site, scene: Scene,
                                            app: Flask, role: str, viewport: str,
                                            language: str) -> None:
    started = time.monotonic()
    email = scene.emails.get(role)
    if email:
        with app.app_context():
            user = db.session.scalar(select(User).where(User.email == email))
            user.locale = LANGUAGES[language]
            db.session.commit()
    # bypass_csp: labbook's Content-Security-Policy rightly refuses the injected axe script.
    context = browser.new_context(base_url=site.url, locale="zh-CN", bypass_csp=True,
                                  timezone_id=BROWSER_TIMEZONE, **VIEWPORTS[viewport])
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        if email:
            sign_in(page, site.url, email, PASSWORD)
        elif language == "en":
            page.goto(site.url + "/")
            with page.expect_navigation():  # on a phone the switch is in the folded menu
                page.locator("form[action$='/language'] button").first.dispatch_event("click")
        pages = scene.pages[role]
        assert pages, f"{role} reaches no page of their own"
        if viewport == "phone":
            pages = _by_area(pages, app)
        # The same element of the layout fails on every page: each violation once, with the
        # pages it was found on.
        problems: dict[str, list[str]] = {}
        for path in pages + ERROR_PAGES.get(role, []):
            page.goto(site.url + path)
            _wait_until_ready(page)
            assert page.locator("html").get_attribute("lang") == (
                "en" if language == "en" else "zh-CN"), path
            for line in violations(page):
                problems.setdefault(line, []).append(path)
    finally:
        context.close()
    print(f"\n{role} {viewport} {language}: {len(pages)} pages in "
          f"{time.monotonic() - started:.1f} s")
    assert not problems, f"serious or critical accessibility violations ({role}, {viewport}, " \
        f"{language}):\n" + "\n".join(
            f"- {line}\n  on {len(paths)} pages: {' '.join(paths[:8])}"
            for line, paths in problems.items())


#: Pages with the top bar, forms, tables and the week view, where the focus ring is looked at.
FOCUS_PAGES = ("/", "/instruments?q=XRD", "/instruments/{instrument_id}/calendar",
               "/bookings/{booking_id}", "/orders/new")


def test_the_keyboard_focus_is_always_visible(browser: Browser, site: Site, scene: Scene,
                                              app: Flask) -> None:
    """Tab through each page: every element that takes the focus shows a solid outline at
    least 2 px wide (the house style's ring), on the top bar as in the page."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == scene.emails["researcher"]))
        user.locale = LANGUAGES["zh"]
        db.session.commit()
    context = browser.new_context(base_url=site.url, locale="zh-CN",
                                  timezone_id=BROWSER_TIMEZONE, **VIEWPORTS["desktop"])
    try:
        page = context.new_page()
        sign_in(page, site.url, scene.emails["researcher"], PASSWORD)
        values = {name: values[0] for name, values in scene.parameters.items()}
        invisible = []
        for path in FOCUS_PAGES:
            page.goto(site.url + path.format(**values))
            _wait_until_ready(page)
            for _step in range(40):
                page.keyboard.press("Tab")
                ring = page.evaluate("""() => {
                    const el = document.activeElement;
                    // A date field's calendar button is inside the field: Chromium rings it.
                    if (!el || el === document.body || !el.matches(':focus')) return null;
                    const style = getComputedStyle(el);
                    return {what: el.outerHTML.replace(/\\s+/g, ' ').slice(0, 120),
                            style: style.outlineStyle, width: parseFloat(style.outlineWidth)};
                }""")
                if ring and (ring["style"] in ("none", "hidden") or ring["width"] < 2):
                    invisible.append(f"{path}: {ring['what']} ({ring['style']} "
                                     f"{ring['width']}px)")
    finally:
        context.close()
    assert not invisible, "focused without a visible ring:\n" + "\n".join(invisible)
