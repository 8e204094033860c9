"""A refused choice of channels or WeCom robot comes back after a redirect with what was chosen:
a reload or the language switch never loses it."""

from __future__ import annotations

import re

from sqlalchemy import select

from labbook.extensions import db
from labbook.notify.models import LabRobot, NotificationPreference
from tests.factories import create_lab, create_manager, create_user
from tests.refused_forms import Refusal, assert_kept_through_the_switch

LONG_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + "k" * 220


def checked(page: str, box: str) -> bool:
    return re.search(rf'<input checked [^>]*id="{box}"', page) is not None


def test_a_refused_robot_survives_reload_and_the_language_switch(login_as):
    lab = create_lab(code="NEM")
    client = login_as(create_manager(lab, locale="zh_CN"))
    page = "/manage/labs/NEM/wecom"
    assert_kept_through_the_switch(
        client, Refusal(page, page, {"webhook_url": LONG_URL, "faults": "y"},
                        [f'value="{LONG_URL}"'], "字段长度不能超过 254 个字符",
                        "Field cannot be longer than 254 characters."),
        lambda: db.session.scalars(select(LabRobot)).all())
    english = client.get(page).get_data(as_text=True)
    assert checked(english, "faults") and not checked(english, "orders")


def test_a_refused_choice_of_sms_is_kept_after_the_redirect(login_as):
    client = login_as(create_user(phone="13800000000", locale="zh_CN"))  # SMS is not set up
    refused = client.post("/profile/notifications", data={"sms_approvals": "y"})
    assert refused.status_code == 303 and refused.headers["Location"] == "/profile/notifications"
    for _ in range(2):  # and a reload
        page = client.get("/profile/notifications").get_data(as_text=True)
        assert "alert-danger" in page and checked(page, "sms_approvals")
        assert not checked(page, "sms_bookings")
    client.post("/language", data={"locale": "en", "next": "/profile/notifications"})
    english = client.get("/profile/notifications").get_data(as_text=True)
    assert '<html lang="en"' in english and "alert-danger" in english
    assert checked(english, "sms_approvals")
    assert db.session.scalars(select(NotificationPreference)).all() == []
