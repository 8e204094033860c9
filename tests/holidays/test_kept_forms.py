"""A refused day of the national calendar comes back after a redirect with what was typed, on
the page of the year the day belongs to: a reload or the language switch never loses it."""

from __future__ import annotations

from sqlalchemy import select

from labbook.extensions import db
from labbook.holidays.models import StatutoryDay
from tests.factories import create_admin
from tests.refused_forms import Refusal, assert_kept_through_the_switch


def _days():
    return db.session.scalars(select(StatutoryDay.day)).all()


def test_a_refused_day_survives_reload_and_the_language_switch(login_as):
    client = login_as(create_admin(locale="zh_CN"))
    assert_kept_through_the_switch(
        client, Refusal("/holidays/days", "/holidays/",
                        {"day": "2027-02-30", "kind": "holiday", "festival": "spring_festival",
                         "source": "国办发明电〔2026〕7号"},
                        ['value="2027-02-30"', "国办发明电〔2026〕7号",
                         '<option selected value="spring_festival">'],
                        "不是有效的日期值", "Not a valid date value"),
        _days)


def test_a_day_the_calendar_refuses_is_kept_on_its_years_page(login_as):
    client = login_as(create_admin(locale="zh_CN"))
    refused = client.post("/holidays/days", data={"day": "2027-02-17", "kind": "makeup_workday",
                                                  "festival": "other", "source": "某通知"})
    assert refused.status_code == 303 and refused.headers["Location"] == "/holidays/?year=2027"
    for _ in range(2):  # and a reload
        page = client.get("/holidays/?year=2027").get_data(as_text=True)
        assert "调休上班日应为周六或周日" in page and 'value="某通知"' in page
    assert "某通知" not in client.get("/holidays/?year=2026").get_data(as_text=True)
    assert _days() == []
