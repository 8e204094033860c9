"""The outbox's other channels: a lab's WeCom group robot for the managers' queues, tested
against a webhook on loopback that speaks WeCom's protocol; SMS through a provider, off by
default; and people's choice of channels per kind of message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from labbook.booking.models import BookingState
from labbook.core.engine import write_transaction
from labbook.core.errors import PermissionDenied, ValidationError
from labbook.core.time import to_lab_time
from labbook.extensions import db
from labbook.faults import services as faults
from labbook.jobs import registry
from labbook.notify import channels, sender
from labbook.notify import services as notify
from labbook.notify.models import Channel, OutboxMessage, OutboxState, Topic
from tests.factories import (
    create_admin,
    create_booking,
    create_instrument,
    create_manager,
    create_user,
)
from tests.notify.conftest import NOW
from tests.orders.conftest import build_scene, submit
from tests.statements import Sent
from tests.wecomserver import INVALID_WEBHOOK, RATE_LIMITED, WecomServer


@pytest.fixture
def wecom() -> Iterator[WecomServer]:
    server = WecomServer().start()
    yield server
    server.stop()


def deliver_wecom(now: dt.datetime = NOW) -> sender.DeliveryReport:
    return sender.deliver(db.session, channels.WecomTransport(), now=now, channel=Channel.WECOM)


def with_robot(lab, webhook: str, queues=("approvals", "orders", "faults")):
    manager = create_manager(lab)
    with write_transaction(db.session):
        notify.set_lab_robot(db.session, manager, lab, webhook_url=webhook, queues=set(queues),
                             now=NOW)
    return manager


def pending_booking_requested(instrument):
    booking = create_booking(instrument=instrument, state=BookingState.PENDING,
                             purpose="拉伸试验")
    with write_transaction(db.session):
        notify.bookings_requested(db.session, [booking], now=NOW)
    return booking


def wecom_messages() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage)
                                   .where(OutboxMessage.channel == Channel.WECOM)
                                   .execution_options(populate_existing=True)))


def test_a_booking_to_approve_reaches_the_labs_wecom_group(wecom):
    instrument = create_instrument(name_zh="万能试验机")
    with_robot(instrument.lab, wecom.webhook("lab-key"))
    pending_booking_requested(instrument)
    [message] = wecom_messages()
    assert message.recipient == wecom.webhook("lab-key")
    report = deliver_wecom()
    assert report.sent == 1
    [received] = wecom.received
    assert received["key"] == "lab-key"
    assert received["body"]["msgtype"] == "markdown"
    content = received["body"]["markdown"]["content"]
    assert "万能试验机" in content and "拉伸试验" in content and "/manage/approvals" in content
    assert wecom_messages()[0].state == OutboxState.SENT
    # The managers' emails went as before, and the email run leaves the robot's message alone.
    assert db.session.scalar(select(OutboxMessage.channel).where(
        OutboxMessage.kind == "booking_requested", OutboxMessage.channel == Channel.EMAIL))


def test_the_rate_limit_is_retried_later(wecom):
    instrument = create_instrument()
    with_robot(instrument.lab, wecom.webhook())
    pending_booking_requested(instrument)
    wecom.answers.append(RATE_LIMITED)
    assert deliver_wecom().deferred == 1
    [message] = wecom_messages()
    assert message.state == OutboxState.QUEUED and "45009" in message.last_error
    assert deliver_wecom(NOW + dt.timedelta(seconds=1)).sent == 0  # not due yet
    assert deliver_wecom(NOW + 2 * sender.RETRY_BASE).sent == 1
    assert len(wecom.received) == 2


def test_an_invalid_webhook_fails_at_once(wecom):
    instrument = create_instrument()
    with_robot(instrument.lab, wecom.webhook())
    pending_booking_requested(instrument)
    wecom.answers.append(INVALID_WEBHOOK)
    assert deliver_wecom().failed == 1
    assert wecom_messages()[0].state == OutboxState.FAILED


def test_an_unreachable_robot_is_tried_again():
    gone = WecomServer().start()
    webhook = gone.webhook()
    gone.stop()
    instrument = create_instrument()
    with_robot(instrument.lab, webhook)
    pending_booking_requested(instrument)
    assert deliver_wecom().deferred == 1
    [message] = wecom_messages()
    assert message.state == OutboxState.QUEUED and "unreachable" in message.last_error


def test_a_booking_to_approve_reads_the_managers_and_the_robot_in_one_statement(wecom):
    """The lab's active managers are e-mailed and its robot posts; both come from one read,
    a lab without an active manager leaving it to the admins, its robot still posting."""
    instrument = create_instrument()
    first = with_robot(instrument.lab, wecom.webhook())
    second = create_manager(instrument.lab)
    create_manager(instrument.lab, is_active=False)
    db.session.commit()
    with Sent() as sent:
        pending_booking_requested(instrument)
    reads = [sql for sql in sent if "lab_managers" in sql or "lab_robots" in sql]
    assert len(reads) == 1, reads
    assert emailed("booking_requested") == sorted([first.email, second.email])
    assert [m.recipient for m in wecom_messages()] == [wecom.webhook()]

    other = create_instrument()
    with_robot(other.lab, wecom.webhook())
    for manager in other.lab.managers:
        manager.is_active = False
    admin = create_admin()
    db.session.commit()
    pending_booking_requested(other)
    assert admin.email in emailed("booking_requested")
    assert len(wecom_messages()) == 2


def test_the_robot_posts_a_booking_to_approve_as_the_lab_reads_it(wecom):
    """What the lab's group reads: the title, a line per booking (who, when, what for) and the
    link to the approvals page, queued to be sent at once; the e-mails are what is returned."""
    instrument = create_instrument()
    manager = with_robot(instrument.lab, wecom.webhook())
    booking = create_booking(instrument=instrument, state=BookingState.PENDING,
                             purpose="拉伸试验")
    with write_transaction(db.session):
        emails = notify.bookings_requested(db.session, [booking], now=NOW)
    assert [message.recipient for message in emails] == [manager.email]
    [posted] = wecom_messages()
    start, end = (to_lab_time(moment) for moment in (booking.start_at, booking.end_at))
    assert (posted.kind, posted.user_id, posted.locale, posted.body_html, posted.state,
            posted.attempts, posted.next_attempt_at, posted.created_at, posted.last_error) == (
        "booking_requested", None, "zh_CN", "", OutboxState.QUEUED, 0, NOW, NOW, "")
    # The manager reads Chinese, as the group does: the same title.
    assert posted.subject == emails[0].subject \
        == f"待审批预约：{instrument.name_zh}，{start:%Y-%m-%d %H:%M}"
    line, link = posted.body_text.split("\n")
    assert line == f"> {booking.user.name} · {start:%Y-%m-%d %H:%M}–{end:%H:%M} · 拉伸试验"
    assert link.startswith("[在 labbook 中打开](http") and link.endswith("/manage/approvals)")


def test_the_robot_lists_the_first_ten_bookings_of_a_longer_series(wecom):
    instrument = create_instrument()
    with_robot(instrument.lab, wecom.webhook())
    first = dt.datetime(2031, 3, 10, 1, 0, tzinfo=dt.UTC)
    bookings = [create_booking(instrument=instrument, state=BookingState.PENDING,
                               start_at=first + dt.timedelta(days=7 * n))
                for n in range(12)]
    with write_transaction(db.session):
        notify.bookings_requested(db.session, bookings, now=NOW)
    [posted] = wecom_messages()
    lines = posted.body_text.split("\n")
    assert len(lines) == 11 and lines[-1].startswith("[在 labbook 中打开]")
    assert lines[9].startswith(f"> {bookings[9].user.name} · 2031-05-12 ")


def test_a_lab_without_a_robot_has_none_and_its_staff_only_active_managers():
    instrument = create_instrument()
    active = create_manager(instrument.lab)
    create_manager(instrument.lab, is_active=False)
    db.session.commit()
    assert notify.lab_staff_and_robot(db.session, instrument.lab) == ([active], None)
    assert notify.lab_staff(db.session, instrument.lab) == [active]


def emailed(kind: str) -> list[str]:
    return sorted(db.session.scalars(select(OutboxMessage.recipient).where(
        OutboxMessage.channel == Channel.EMAIL, OutboxMessage.kind == kind)))


def test_a_robot_posts_only_the_queues_chosen(wecom):
    instrument = create_instrument()
    with_robot(instrument.lab, wecom.webhook(), queues=("orders",))
    pending_booking_requested(instrument)
    assert wecom_messages() == []


def test_the_outbox_job_delivers_email_and_the_robot(app, wecom, mail_dir):
    instrument = create_instrument()
    with_robot(instrument.lab, wecom.webhook())
    pending_booking_requested(instrument)
    assert registry.run_job(app, registry.JOBS["outbox"], now=NOW)
    assert len(wecom.received) == 1
    assert {m.state for m in db.session.scalars(
        select(OutboxMessage).execution_options(populate_existing=True))} == {OutboxState.SENT}


def test_only_a_labs_managers_set_its_robot_to_a_webhook_address():
    instrument = create_instrument()
    manager = create_manager(instrument.lab)
    with pytest.raises(ValidationError):
        notify.set_lab_robot(db.session, manager, instrument.lab,
                             webhook_url="http://example.com/hook", queues=set(), now=NOW)
    with pytest.raises(PermissionDenied):
        notify.set_lab_robot(db.session, create_manager(create_instrument().lab),
                             instrument.lab, webhook_url="https://qyapi.weixin.qq.com/x",
                             queues=set(), now=NOW)


# -- SMS ------------------------------------------------------------------------------------------


def test_sms_is_off_by_default_and_cannot_be_chosen():
    user = create_user(phone="13800000000")
    with pytest.raises(ValidationError):
        notify.set_channel_preferences(db.session, user, {(Topic.BOOKINGS, Channel.SMS)},
                                       now=NOW)


@pytest.fixture
def sms_dir(app: Flask, tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "sms"
    monkeypatch.setitem(app.config, "LABBOOK_SMS_PROVIDER", "directory")
    monkeypatch.setitem(app.config, "LABBOOK_SMS_DIR", str(directory))
    return directory


def test_a_person_who_chose_sms_gets_their_booking_decisions_by_sms(app, sms_dir):
    user = create_user(phone="13800000000")
    booking = create_booking(user=user, state=BookingState.APPROVED)
    manager = create_manager(booking.instrument.lab)
    with write_transaction(db.session):
        notify.set_channel_preferences(db.session, user, {(Topic.BOOKINGS, Channel.SMS)},
                                       now=NOW)
    with write_transaction(db.session):
        notify.booking_decided(db.session, booking, manager, now=NOW)
    [sms] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == Channel.SMS))
    assert sms.recipient == "13800000000"
    transport = channels.transports(app.config)[Channel.SMS]
    assert sender.deliver(db.session, transport, now=NOW, channel=Channel.SMS).sent == 1
    [written] = sms_dir.glob("*.sms")
    assert "13800000000" in written.read_text() and "【labbook】" in written.read_text()


def test_no_sms_without_the_choice_or_a_phone(app, sms_dir):
    chose_nothing = create_user(phone="13800000001")
    booking = create_booking(user=chose_nothing)
    with write_transaction(db.session):
        notify.booking_decided(db.session, booking, create_manager(booking.instrument.lab),
                               now=NOW)
    assert not db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.channel == Channel.SMS)).all()
    without_phone = create_user()
    with pytest.raises(ValidationError):
        notify.set_channel_preferences(db.session, without_phone,
                                       {(Topic.BOOKINGS, Channel.SMS)}, now=NOW)


def test_email_cannot_be_turned_off_by_a_channel_choice():
    with pytest.raises(ValidationError):
        notify.set_channel_preferences(db.session, create_user(),
                                       {(Topic.BOOKINGS, Channel.EMAIL)}, now=NOW)


def test_a_new_order_reaches_the_labs_wecom_group(app, client, wecom, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "LABBOOK_ORDER_FILES_DIR", str(tmp_path / "orders"))
    scene = build_scene()
    with_robot(scene.lab, wecom.webhook())
    order = submit(client, scene)
    assert deliver_wecom(dt.datetime.now(dt.UTC)).sent == 1
    content = wecom.received[0]["body"]["markdown"]["content"]
    assert order["number"] in content and "/lab/orders" in content


def test_a_problem_report_reaches_the_labs_wecom_group(wecom):
    instrument = create_instrument(code="NEM-XRD")
    with_robot(instrument.lab, wecom.webhook())
    with write_transaction(db.session):
        faults.report_problem(db.session, create_user(), instrument,
                              description="样品台卡住了", now=NOW)
    # Queued at the moment of the report, to go at once.
    [queued] = wecom_messages()
    assert (queued.created_at, queued.next_attempt_at) == (NOW, NOW)
    assert deliver_wecom().sent == 1
    content = wecom.received[0]["body"]["markdown"]["content"]
    assert "NEM-XRD" in content and "样品台卡住了" in content
