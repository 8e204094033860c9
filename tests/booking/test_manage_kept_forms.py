"""The lab managers' refused forms go back to the page that shows them (Post/Redirect/Get),
which shows what was typed and why it was refused — again on reload, and in the other language
after the language switch — and nothing is written (labbook.web: keep_refused, restore_kept)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from labbook.booking.models import Blackout, Booking, BookingState, Qualification
from labbook.catalogue.models import Lab
from labbook.core.time import LAB_TZ, utcnow
from labbook.extensions import db
from tests.booking.test_actual_use_views import correction, local
from tests.booking.test_manage_views import MONDAY, blackout_form
from tests.factories import (
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    lab_time,
)
from tests.refused_forms import Refusal, assert_kept_through_the_switch

MINUTE = dt.timedelta(minutes=1)


def _finished_day() -> dt.date:
    """A day whose 01:00–02:00 (lab time) is over: today, or yesterday before 03:00."""
    now = dt.datetime.now(LAB_TZ)
    return now.date() if now.hour >= 3 else now.date() - dt.timedelta(days=1)


def _day_page(day: dt.date, booking_id: int) -> str:
    date = "" if day == dt.datetime.now(LAB_TZ).date() else f"date={day.isoformat()}&"
    return f"/manage/labs/NEM/today?{date}correcting={booking_id}"


@pytest.fixture
def scene():
    """Two corrected bookings of a finished day, a booking a closure hits, a pending request
    and a training record in the lab NEM; its manager reads Chinese."""
    lab = create_lab(code="NEM")
    manager = create_manager(lab, locale="zh_CN")
    instrument = create_instrument(lab=lab, requires_qualification=True)
    researcher = create_user(email="zhao@example.cn")
    start = lab_time(_finished_day(), 1)
    finished = [create_booking(instrument=instrument, user=researcher, start_at=start,
                               end_at=start + 60 * MINUTE, state=BookingState.COMPLETED,
                               checked_in_at=start + 10 * MINUTE,
                               checked_out_at=start + 40 * MINUTE) for start in
                (start, start + 60 * MINUTE)]
    hit = create_booking(instrument=instrument, user=researcher)
    create_booking(instrument=instrument, user=researcher, state=BookingState.PENDING,
                   start_at=lab_time(MONDAY, 14), end_at=lab_time(MONDAY, 15))
    blackout = Blackout(lab=lab, start_at=hit.start_at, end_at=hit.end_at, reason="停电",
                        created_by_id=manager.id)
    db.session.add_all([blackout, Qualification(user=researcher, instrument=instrument,
                                                granted_at=utcnow())])
    db.session.commit()
    return {"manager": manager, "lab": lab,
            "instrument": instrument.id, "finished": finished, "hit": hit.id,
            "blackout": blackout.id}


def _rows() -> tuple:
    """What the managers' forms write, beyond the audit trail and the outbox."""
    return (db.session.scalar(select(func.count()).select_from(Blackout)),
            db.session.execute(select(Booking.id, Booking.state, Booking.checked_in_at)
                               .order_by(Booking.id)).all(),
            db.session.execute(select(Qualification.id, Qualification.revoked_at)).all(),
            db.session.execute(select(Lab.no_show_limit, Lab.no_show_window_days,
                                      Lab.contact_phone)).all())


#: Each form of the managers' pages, refused (all sent by the lab's manager).
REFUSED: dict[str, Callable[[dict], Refusal]] = {
    "decision": lambda s: Refusal(
        "/manage/approvals", "/manage/approvals", {"action": "reject", "note": "仪器本周已约满"},
        ["仪器本周已约满"], "请至少选择一个预约。", "Select at least one booking.", marked=0),
    "correction of actual times": lambda s: Refusal(
        f"/manage/bookings/{s['finished'][0].id}/actual-times",
        _day_page(_finished_day(), s["finished"][0].id),
        correction(s["finished"][0], s["finished"][0].start_at + 5 * MINUTE, reason=""),
        [f'value="{local(s["finished"][0].start_at + 5 * MINUTE)}"'],
        "请说明更正实际使用时间的原因。", "Say why the times are corrected."),
    "closure": lambda s: Refusal(
        "/manage/blackouts", "/manage/blackouts",
        blackout_form(f"instrument:{s['instrument']}", lab_time(MONDAY, 9), lab_time(MONDAY, 12),
                      reason=""), [f'value="{MONDAY.isoformat()}"'],
        "请说明停用原因，例如年度维护。", "Say why it closes, e.g. annual maintenance."),
    "cancellations for a closure": lambda s: Refusal(
        f"/manage/blackouts/{s['blackout']}/cancel-bookings",
        f"/manage/blackouts/{s['blackout']}", {"booking_ids": [s["hit"]], "notice": ""},
        [f'value="{s["hit"]}" id="cancel-{s["hit"]}" checked'],
        "请告知预约人取消的原因。", "Tell the people who booked why their booking is cancelled."),
    "training record": lambda s: Refusal(
        "/manage/qualifications", "/manage/qualifications",
        {"email": "wang@example.cn", "instrument_id": s["instrument"],
         "valid_until": "9999-12-31"}, ["wang@example.cn"],
        "请填写 2000 年至 2099 年之间的日期。", "Give a date between 2000 and 2099."),
    "revocation of training records": lambda s: Refusal(
        "/manage/qualifications/revoke", "/manage/qualifications", {}, [],
        "请至少选择一条培训记录。", "Select at least one training record.", marked=0),
    "no-show rules": lambda s: Refusal(
        "/manage/labs/NEM/discipline", "/manage/discipline?lab=NEM",
        {"NEM-no_show_limit": "17", "NEM-no_show_window_days": "", "NEM-suspension_days": "7",
         "NEM-waitlist_offer_minutes": "45"}, ['value="17"'],
        "请填写天数。", "Give a number of days."),
}


@pytest.mark.parametrize("refusal_of", REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_form_comes_back_on_its_page_in_either_language(refusal_of, scene, login_as):
    assert_kept_through_the_switch(login_as(scene["manager"]), refusal_of(scene), _rows)


def main(response) -> str:
    assert response.status_code == 200
    return response.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]


def test_only_the_refused_bookings_correction_is_shown_again(login_as, scene):
    client = login_as(scene["manager"])
    refused, other = scene["finished"]
    answer = client.post(f"/manage/bookings/{refused.id}/actual-times",
                         data=correction(refused, refused.start_at + 5 * MINUTE, reason=""))
    shown = main(client.get(answer.headers["Location"]))
    assert shown.count("<details open>") == 1 and shown.count("is-invalid") == 1
    assert f'id="b{refused.id}-reason"' in shown.split("<details open>", 1)[1].split(
        "</details>", 1)[0]
    # The address of another booking's correction has nothing kept for it.
    day_page = main(client.get(f"/manage/labs/NEM/today?correcting={other.id}"))
    assert "<details open>" not in day_page


def test_only_the_refused_labs_contact_is_shown_again_with_the_input(login_as, scene):
    other = create_lab(code="FOOD")
    manager = scene["manager"]
    manager.managed_labs.append(other)
    db.session.commit()
    client = login_as(manager)
    answer = client.post("/manage/labs/FOOD/contact", data={
        "contact-FOOD-contact_name": "李静", "contact-FOOD-contact_phone": "0391",
        "contact-FOOD-contact_email": "food@example.cn"})
    page = "/manage/discipline?lab=FOOD"
    assert answer.status_code == 303 and answer.headers["Location"] == page
    for locale in ("zh_CN", "en"):
        client.post("/language", data={"locale": locale, "next": page})
        shown = main(client.get(page))
        assert 'value="0391"' in shown and shown.count("is-invalid") == 1
        assert 'id="contact-FOOD-contact_phone"' in shown.split("is-invalid", 1)[1][:200]
    assert db.session.get(type(other), other.id).contact is None


def test_the_contact_comes_first_on_the_page_the_menu_calls_rules_and_contact(login_as,
                                                                               scene):
    client = login_as(scene["manager"])
    chinese = client.get("/manage/discipline").get_data(as_text=True)
    assert "<title>预约规则与联系人" in chinese and ">预约规则与联系人</a>" in chinese
    client.post("/language", data={"locale": "en", "next": "/manage/discipline"})
    english = main(client.get("/manage/discipline"))
    assert '<h1 class="h2">Booking rules & contact</h1>' in english
    assert english.index("Contact for bookings and training") < \
        english.index("No-shows and the waiting list") < english.index("Suspensions in force")
