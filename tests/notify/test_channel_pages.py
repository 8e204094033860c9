"""The pages where a person chooses channels and a lab's managers set its WeCom robot."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from labbook.extensions import db
from labbook.notify.models import Channel, LabRobot, NotificationPreference, Topic
from tests.factories import create_lab, create_manager, create_user, reload


@pytest.fixture
def sms_on(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "LABBOOK_SMS_PROVIDER", "directory")
    monkeypatch.setitem(app.config, "LABBOOK_SMS_DIR", str(tmp_path / "sms"))


def test_a_person_chooses_sms_for_their_bookings(client, login_as, sms_on):
    user = create_user(phone="13800000000")
    login_as(user)
    page = client.get("/profile/notifications").get_data(as_text=True)
    assert 'name="sms_bookings"' in page
    assert client.post("/profile/notifications", data={"sms_bookings": "y"}).status_code == 302
    assert [(row.topic, row.channel) for row in db.session.scalars(
        select(NotificationPreference))] == [(Topic.BOOKINGS, Channel.SMS)]
    client.post("/profile/notifications", data={})
    assert db.session.scalars(select(NotificationPreference)).all() == []


def test_without_sms_the_choice_is_refused_on_the_page(client, login_as):
    login_as(create_user(phone="13800000000"))
    response = client.post("/profile/notifications", data={"sms_bookings": "y"},
                           follow_redirects=True)
    assert response.status_code == 200 and response.request.path == "/profile/notifications"
    assert db.session.scalars(select(NotificationPreference)).all() == []


def test_a_manager_sets_and_removes_the_labs_robot(client, login_as):
    lab = create_lab(code="NEM")
    login_as(create_manager(lab))
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"
    response = client.post("/manage/labs/NEM/wecom", data={"webhook_url": url,
                                                           "approvals": "y"})
    assert response.status_code == 302
    robot = db.session.get(LabRobot, lab.id)
    assert robot.webhook_url == url and robot.posts_approvals and not robot.posts_faults
    refused = client.post("/manage/labs/NEM/wecom", data={"webhook_url": "ftp://x"},
                          follow_redirects=True)
    assert refused.status_code == 200 and 'value="ftp://x"' in refused.text
    assert reload(robot).webhook_url == url
    client.post("/manage/labs/NEM/wecom", data={"webhook_url": ""})
    db.session.rollback()
    assert db.session.get(LabRobot, lab.id) is None


def test_another_labs_manager_cannot_see_the_robot(client, login_as):
    create_lab(code="NEM")
    login_as(create_manager(create_lab()))
    assert client.get("/manage/labs/NEM/wecom").status_code == 404
