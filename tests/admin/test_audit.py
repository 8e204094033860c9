"""The audit log viewer: filters, order, pages, states and details."""

import datetime as dt

import pytest

from labbook.audit.services import record
from labbook.extensions import db
from tests.admin.conftest import text
from tests.factories import (
    LAB_TZ,
    create_admin,
    create_booking,
    create_charge,
    create_lab,
    create_statement,
)


def at(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=LAB_TZ).astimezone(dt.UTC)


@pytest.fixture
def events(admin, manager, instrument, researcher):
    record(db.session, manager, instrument, "status", at=at(2), from_state="available",
           to_state="maintenance", note="Tube replacement")
    record(db.session, manager, instrument, "update", at=at(3),
           changes={"max_minutes": ["480", "240"]})
    record(db.session, admin, researcher.organization, "update", at=at(4),
           changes={"tier": ["external", "partner"]})
    record(db.session, None, researcher, "deactivate", at=at(5, 0), from_state="active",
           to_state="inactive")
    db.session.commit()


def rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return body.split("<tr>")[1:]


def test_newest_first_with_states_and_details(login_as, admin, events, instrument):
    page = text(login_as(admin).get("/admin/audit"))
    found = rows(page)
    assert len(found) == 4
    assert "the system" in found[0]  # the newest: a job, not a person
    assert "Tube replacement" in found[3] and "Available → Under maintenance" in found[3]
    assert "Longest booking (minutes): 480 → 240" in found[2]
    assert f'href="/admin/instruments/{instrument.id}"' in found[2]
    assert "Price tier: External → Partner" in found[1]
    assert "active → deactivated" in found[0]


@pytest.mark.parametrize(("query", "expected"), [
    ({"person": "manager wang"}, 2),
    ({"person": "nobody"}, 0),
    ({"object_type": "instruments"}, 2),
    ({"object_type": "organizations"}, 1),
    ({"action": "update"}, 2),
    ({"date_from": "2026-11-03", "date_to": "2026-11-04"}, 2),
    ({"date_from": "2026-11-05"}, 1),  # midnight of the 5th, lab time, is on the 5th
    ({"date_to": "2026-11-04"}, 3),
    ({"date_from": "2000-01-01", "date_to": "2099-12-31"}, 4),  # every date a form accepts
])
def test_filters(login_as, admin, events, query, expected):
    assert len(rows(text(login_as(admin).get("/admin/audit", query_string=query)))) == expected


def test_one_objects_history(login_as, admin, events, instrument):
    page = text(login_as(admin).get("/admin/audit", query_string={
        "object_type": "instruments", "object_id": instrument.id}))
    assert len(rows(page)) == 2


def test_bad_filters_are_explained(login_as, admin, events):
    response = login_as(admin).get("/admin/audit", query_string={
        "date_from": "yesterday", "object_id": "99999999999"})
    assert response.status_code == 400
    page = text(response)
    assert "Enter a date like 2026-12-31." in page and "Enter an id" in page


def test_pages_of_fifty(login_as, admin, instrument):
    for n in range(55):
        record(db.session, admin, instrument, "update", at=at(1) + dt.timedelta(minutes=n))
    db.session.commit()
    client = login_as(admin)
    assert len(rows(text(client.get("/admin/audit")))) == 50
    second = text(client.get("/admin/audit", query_string={"page": 2}))
    assert len(rows(second)) == 5
    assert "2026-11-01 10:00:00" in second  # the oldest come last


def test_the_chinese_log_reads_in_chinese_and_in_lab_time(login_as, instrument, researcher):
    reader = create_admin(name="管理员", locale="zh_CN")
    organization, lab = researcher.organization, create_lab(code="FOOD")
    statement = create_statement([create_charge(organization=organization, lab=lab)])
    booking = create_booking(instrument=instrument, user=researcher)
    checked_in = dt.datetime(2026, 11, 2, 1, 58, 7, 123456, tzinfo=dt.UTC)
    record(db.session, reader, statement, "issue", at=at(3), from_state="draft",
           to_state="issued", total="100.00")
    record(db.session, reader, statement, "adjust", at=at(4), amount="-12.50",
           organization_id=organization.id, lab_id=lab.id, statement_id=statement.id)
    record(db.session, researcher, booking, "check_in", at=checked_in, from_state="approved",
           to_state="in_use", checked_in_at=checked_in.isoformat())
    record(db.session, reader, booking, "correct_actual_times", at=at(5), note="忘记签到",
           old={"checked_in_at": checked_in.isoformat(), "checked_out_at": None},
           new={"checked_in_at": at(2, 9).isoformat(), "checked_out_at": None})
    db.session.commit()

    page = text(login_as(reader).get("/admin/audit"))
    found = rows(page)
    assert "草稿 → 已出具" in found[2] and "合计: ¥100.00" in found[2]
    assert "Henan Battery Co." in found[1] and "FOOD" in found[1]
    assert statement.number in found[1] and "金额: -¥12.50" in found[1]
    assert "已批准 → 使用中" in found[3] and "签到" in found[3]
    assert "2026-11-02 09:58:07" in found[3]  # 01:58:07 UTC, shown in lab time
    assert "2026-11-02 09:58:07 → 2026-11-02 09:00:00" in found[0]
    for raw in ("draft → issued", "approved", "in_use", "organization_id", "statement_id",
                "checked_in_at", "123456", "+00:00", "T01:58"):
        assert raw not in page, raw
