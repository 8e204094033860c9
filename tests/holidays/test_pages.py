"""The holidays page: admins edit the national calendar, managers set their labs' policy."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from labbook.extensions import db
from labbook.holidays import services as holidays
from labbook.holidays.models import StatutoryDay
from tests.factories import create_admin, create_lab, create_manager


def test_an_admin_seeds_adds_and_removes_days(client, login_as):
    login_as(create_admin(locale="zh_CN"))
    page = client.get("/holidays/?year=2026")
    assert page.status_code == 200 and "2026 年全国节假日安排" in page.text
    assert client.post("/holidays/seed").status_code == 302
    page = client.get("/holidays/?year=2026")
    assert "国庆节" in page.text and "调休上班日" in page.text
    saved = client.post("/holidays/days", data={"day": "2027-02-20", "kind": "makeup_workday",
                                                "festival": "spring_festival", "source": ""})
    assert saved.status_code == 302
    day = db.session.scalar(select(StatutoryDay).where(StatutoryDay.day == dt.date(2027, 2, 20)))
    assert day.source.startswith("由 ")  # who entered it, in the admin's language
    refused = client.post("/holidays/days", data={"day": "2027-02-17", "kind": "makeup_workday",
                                                  "festival": "other"}, follow_redirects=True)
    assert refused.status_code == 200 and "调休上班日应为周六或周日" in refused.text
    assert refused.request.path == "/holidays/" and "2027 年全国节假日安排" in refused.text
    assert client.post("/holidays/days/2027-02-20/delete").status_code == 302
    assert db.session.scalar(select(StatutoryDay).where(
        StatutoryDay.day == dt.date(2027, 2, 20))) is None


def test_a_manager_reads_the_calendar_and_sets_only_their_labs_policy(client, login_as):
    lab, other = create_lab(), create_lab()
    login_as(create_manager(lab, locale="en"))
    page = client.get("/holidays/")
    assert page.status_code == 200 and "Closed on public holidays" in page.text
    assert "Add or change a day" not in page.text
    assert client.post("/holidays/seed").status_code == 403
    saved = client.post(f"/holidays/labs/{lab.code}/policy",
                        data={f"lab-{lab.id}-closes_on_holidays": "y"})
    assert saved.status_code == 302
    assert holidays.lab_policy(db.session, lab.id) == holidays.Policy(True, False)
    assert client.post(f"/holidays/labs/{other.code}/policy", data={}).status_code == 404
    assert holidays.lab_policy(db.session, other.id) == holidays.Policy()
