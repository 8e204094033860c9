"""The emails as their recipients read them, to the byte."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask, g
from jinja2 import meta

from labbook.booking import services as booking_services
from labbook.extensions import db
from labbook.notify import rendering
from tests.factories import (
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_user,
    lab_time,
)
from tests.notify.conftest import NOW, outbox

PINNED = Path(__file__).parent / "pinned"
TEMPLATES = Path(__file__).parents[2] / "templates" / "emails"


@pytest.fixture
def requested(app, monkeypatch):
    """A booking request waiting for the approval of a manager reading Chinese and one reading
    English, with names and a purpose that HTML must escape."""
    monkeypatch.setitem(app.config, "LABBOOK_BASE_URL", "https://labbook.example.cn")
    lab = create_lab(code="NEM", name_en="New-Energy Materials Lab", name_zh="新能源材料实验室")
    create_manager(lab, name="王经理", email="wang@example.cn", locale="zh_CN")
    create_manager(lab, name="Li <Manager>", email="li@example.cn", locale="en")
    instrument = create_instrument(lab=lab, code="NEM-XRD", name_en="X-ray diffractometer",
                                   name_zh="X射线衍射仪", room="B203", requires_approval=True)
    researcher = create_user(name="Chen & Co", email="chen@example.cn", locale="en",
                             organization=create_organization(name="Acme <研究院> & Sons"))
    booking = booking_services.create_booking(
        db.session, researcher, instrument_id=instrument.id,
        start=lab_time(dt.date(2031, 3, 10), 10), end=lab_time(dt.date(2031, 3, 10), 11),
        purpose="XRD <phase> & texture", now=NOW)
    return booking, outbox(kind="booking_requested")


def _pinned(name: str, booking_id: int) -> str:
    text = (PINNED / name).read_text(encoding="utf-8")
    return text.replace("#BOOKING_ID", f"#{booking_id}")


def test_the_booking_request_email_reads_exactly_as_pinned_in_both_languages(requested):
    booking, messages = requested
    assert [(m.locale, m.subject) for m in messages] == [
        ("zh_CN", "待审批预约：X射线衍射仪，2031-03-10 10:00"),
        ("en", "Booking to approve: X-ray diffractometer, 2031-03-10 10:00")]
    for message in messages:
        name = f"booking_requested.{message.locale}"
        assert message.body_text == _pinned(f"{name}.txt", booking.id)
        assert message.body_html == _pinned(f"{name}.html", booking.id)


def test_no_email_template_needs_what_flasks_context_processors_give_pages(app: Flask):
    """Emails are rendered without the context processors (the signed-in user, the CSRF token,
    the menus' links): a name only they give would render as nothing, silently. ``g``,
    ``request`` and ``session`` stay: Flask makes them Jinja globals too."""
    env = app.jinja_env
    with app.test_request_context("/"):
        given = {name for processors in app.template_context_processors.values()
                 for processor in processors for name in processor()}
    given -= set(env.globals)
    used = {name for path in TEMPLATES.iterdir()
            for name in meta.find_undeclared_variables(env.parse(path.read_text("utf-8")))}
    assert given, "the context processors were not found"
    assert used & given == set()


def test_rendering_an_email_in_a_request_leaves_the_signed_in_user_unloaded(app: Flask):
    """An email depends on no request. (Flask's render_template, which rendered emails before,
    had Flask-Login load the user from the session or "remember me" cookie at the first email
    of a request that had not asked for it yet.)"""
    with app.test_request_context("/"):
        rendering.render("password_reset", lambda: "Subject", "en", {
            "user": create_user(), "is_optional": False, "reset_link": "https://x.test/r",
            "expires_at": NOW})
        assert "_login_user" not in g
