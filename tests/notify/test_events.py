"""Which changes write which emails, to whom, in which language (the outbox rows)."""

from __future__ import annotations

import datetime as dt

import pytest

from labbook.booking import closures
from labbook.booking import services as booking_services
from labbook.booking.models import BookingState
from labbook.booking.recurrence import Recurrence
from labbook.core.engine import write_transaction
from labbook.extensions import db
from labbook.notify import services as notify
from tests.factories import (
    create_admin,
    create_booking,
    create_charge,
    create_instrument,
    create_lab,
    create_manager,
    create_statement,
    create_user,
    lab_time,
    reload,
)
from tests.notify.conftest import NOW, outbox

NEXT_MONDAY = dt.date(2031, 3, 10)


@pytest.fixture
def lab():
    return create_lab(code="NEM", name_en="New-Energy Materials Lab", name_zh="新能源材料实验室")


@pytest.fixture
def manager(lab):
    return create_manager(lab, name="Manager Wang", email="wang@example.cn", locale="zh_CN")


@pytest.fixture
def instrument(lab):
    return create_instrument(lab=lab, name_en="X-ray diffractometer", name_zh="X射线衍射仪",
                             requires_approval=True)


@pytest.fixture
def researcher():
    return create_user(name="Chen", email="chen@example.cn", locale="en")


def book(researcher, instrument, **kw):
    return booking_services.create_booking(
        db.session, researcher, instrument_id=instrument.id,
        start=lab_time(NEXT_MONDAY, 10), end=lab_time(NEXT_MONDAY, 11), purpose="XRD",
        now=NOW, **kw)


def test_a_booking_that_needs_approval_is_announced_to_the_labs_managers(
        manager, instrument, researcher, lab):
    other_manager = create_manager(lab, email="li@example.cn", locale="en")
    create_manager(lab, email="gone@example.cn", is_active=False)
    booking = book(researcher, instrument)
    assert booking.state == BookingState.PENDING
    messages = outbox()
    assert [(m.kind, m.recipient, m.locale) for m in messages] == [
        ("booking_requested", "wang@example.cn", "zh_CN"),
        ("booking_requested", other_manager.email, "en")]
    assert "X射线衍射仪" in messages[0].subject and "X-ray diffractometer" in messages[1].subject
    assert "Chen" in messages[1].body_text and "/manage/approvals?lab=NEM" in messages[1].body_text


def test_a_series_is_one_message_per_manager(manager, instrument, researcher):
    result = booking_services.create_series(
        db.session, researcher, instrument_id=instrument.id, start=lab_time(NEXT_MONDAY, 10),
        end=lab_time(NEXT_MONDAY, 11), purpose="XRD",
        recurrence=Recurrence(frequency="weekly", interval=1, count=3), skip_conflicts=False,
        now=NOW)
    assert len(result.created) == 3
    [message] = outbox()
    assert message.subject.startswith("3 ") and "X射线衍射仪" in message.subject
    assert all(f"#{b.id}" in message.body_text for b in result.created)


def test_a_booking_approved_at_once_writes_nothing(manager, lab, researcher):
    instrument = create_instrument(lab=lab, requires_approval=False)
    assert book(researcher, instrument).state == BookingState.APPROVED
    assert outbox() == []


def test_a_lab_without_managers_asks_the_admins(lab, instrument, researcher):
    admin = create_admin(email="admin@example.cn")
    book(researcher, instrument)
    assert [m.recipient for m in outbox()] == [admin.email]


def test_only_active_staff_are_asked_in_the_order_they_joined(lab, instrument, researcher):
    # A lab whose one manager has left asks the active admins, first joined first.
    create_manager(lab, email="left@example.cn", is_active=False)
    first = create_admin(email="first-admin@example.cn")
    create_admin(email="gone-admin@example.cn", is_active=False)
    second = create_admin(email="second-admin@example.cn")
    book(researcher, instrument)
    assert [m.recipient for m in outbox()] == [first.email, second.email]


def test_a_labs_active_managers_are_asked_and_not_the_admins(lab, instrument, researcher):
    create_admin(email="admin@example.cn")
    later = create_manager(lab, email="later@example.cn")
    create_manager(lab, email="left@example.cn", is_active=False)
    earlier = create_manager(lab, email="earlier@example.cn")
    book(researcher, instrument)
    assert [m.recipient for m in outbox()] == [later.email, earlier.email]


def test_decisions_go_to_the_booker_with_the_calendar_file(manager, instrument, researcher):
    approved = create_booking(instrument=instrument, user=researcher, state=BookingState.PENDING)
    rejected = create_booking(instrument=instrument, user=researcher, state=BookingState.PENDING,
                              start_at=approved.end_at,
                              end_at=approved.end_at + dt.timedelta(hours=1))
    with write_transaction(db.session):
        booking_services.approve_booking(db.session, manager, approved, now=NOW)
        booking_services.reject_booking(db.session, manager, rejected, now=NOW,
                                        note="The instrument is needed for calibration")
    first, second = outbox()
    assert (first.kind, first.recipient) == ("booking_approved", "chen@example.cn")
    assert first.attachments[0].filename == f"booking-{approved.id}.ics"
    assert b"STATUS:CONFIRMED" in first.attachments[0].content
    assert second.kind == "booking_rejected"
    assert "needed for calibration" in second.body_text
    assert b"STATUS:CANCELLED" in second.attachments[0].content


def test_cancelled_by_someone_else_is_told_cancelled_by_oneself_is_not(
        manager, instrument, researcher):
    own = create_booking(instrument=instrument, user=researcher)
    other = create_booking(instrument=instrument, user=researcher,
                           start_at=own.end_at, end_at=own.end_at + dt.timedelta(hours=1))
    with write_transaction(db.session):
        booking_services.cancel_booking(db.session, researcher, own, now=NOW)
        booking_services.cancel_booking(db.session, manager, other, now=NOW,
                                        note="Emergency maintenance")
    [message] = outbox()
    assert (message.kind, message.recipient) == ("booking_cancelled", "chen@example.cn")
    assert "Manager Wang" in message.body_text and "Emergency maintenance" in message.body_text
    assert b"STATUS:CANCELLED" in message.attachments[0].content


def test_a_closure_that_cancels_a_booking_says_why(manager, instrument, researcher):
    create_booking(instrument=instrument, user=researcher, start_at=lab_time(NEXT_MONDAY, 10),
                   end_at=lab_time(NEXT_MONDAY, 12))
    with write_transaction(db.session):
        blackout, hit = closures.create_blackout(
            db.session, manager, start=lab_time(NEXT_MONDAY, 8), end=lab_time(NEXT_MONDAY, 18),
            reason="Power maintenance", now=NOW, instrument=instrument)
        closures.cancel_for_blackout(db.session, manager, blackout, [b.id for b in hit],
                                     notice="Sorry, please book another day", now=NOW)
    [message] = outbox()
    assert message.kind == "booking_cancelled"
    assert "Power maintenance" in message.body_text
    assert "2031-03-10 08:00" in message.body_text
    assert "Sorry, please book another day" in message.body_text


def test_inactive_users_get_nothing(manager, instrument):
    gone = create_user(is_active=False)
    booking = create_booking(instrument=instrument, user=gone, state=BookingState.PENDING)
    with write_transaction(db.session):
        booking_services.approve_booking(db.session, manager, booking, now=NOW)
    assert outbox() == []


def test_statement_issued_goes_to_the_billing_contact(lab):
    contact = create_user(email="billing@example.cn")
    organization = contact.organization
    organization.billing_contact = contact
    db.session.commit()
    statement = create_statement([create_charge(organization=organization, lab=lab)])
    with write_transaction(db.session):
        notify.statement_issued(db.session, statement, now=NOW)
    [message] = outbox()
    assert (message.kind, message.recipient) == ("statement_issued", "billing@example.cn")
    assert statement.number in message.subject
    assert f"/statements/{statement.id}" in message.body_text and "¥100.00" in message.body_text


def test_no_statement_email_without_a_billing_contact(lab):
    statement = create_statement([create_charge(lab=lab)])
    with write_transaction(db.session):
        assert notify.statement_issued(db.session, statement, now=NOW) is None
    assert outbox() == []


def test_the_profile_turns_optional_emails_off_and_on(client, login_as, researcher):
    page = login_as(researcher).get("/profile")
    assert page.status_code == 200
    assert b'id="reminders"' in page.data and b'id="digests"' not in page.data
    response = client.post("/profile/email", data={"digests": "y"})
    assert response.status_code == 302
    user = reload(researcher)
    assert (user.is_reminder_email_enabled, user.is_digest_email_enabled) == (False, True)
    client.post("/profile/email", data={"reminders": "on", "digests": ""})
    user = reload(researcher)
    assert (user.is_reminder_email_enabled, user.is_digest_email_enabled) == (True, False)
    assert notify.wants(user, "booking_approved") and not notify.wants(user, "approval_digest")
    assert b'id="digests"' in login_as(create_manager(create_lab())).get("/profile").data
