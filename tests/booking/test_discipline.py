"""No-show discipline: N no-shows within D days suspend a person's own booking in the lab for a
while (rule `suspended`); the lab's managers still book for them and can lift it."""

import datetime as dt

import pytest
from sqlalchemy import select

from labbook.audit.models import AuditEvent
from labbook.booking import attendance, discipline, services
from labbook.booking.models import BookingState, BookingSuspension
from labbook.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from labbook.core.time import LAB_TZ
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from tests.factories import (
    bearer,
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    lab_time,
    next_weekday,
    reload,
)

MONDAY = next_weekday(0)
#: The lab's today: suspensions the pages show are in force now.
TODAY = dt.datetime.now(LAB_TZ).date()


@pytest.fixture
def lab():
    return create_lab(no_show_limit=2, no_show_window_days=30, suspension_days=14)


@pytest.fixture
def instrument(lab):
    return create_instrument(lab=lab)


def no_show(instrument, user, day, manager=None):
    """A booking of ``user`` on ``day`` (10:00–11:00) recorded as a no-show at 11:00."""
    booking = create_booking(instrument=instrument, user=user, start_at=lab_time(day, 10))
    at = lab_time(day, 11)
    if manager is None:
        attendance.mark_no_shows(db.session, now=at)
    else:
        attendance.mark_no_show(db.session, manager, booking, now=at)
    db.session.commit()
    assert reload(booking).state == BookingState.NO_SHOW
    return at


def book(actor, instrument, now, for_user=None):
    return services.create_booking(
        db.session, actor, instrument_id=instrument.id, start=lab_time(MONDAY, 14),
        end=lab_time(MONDAY, 15), purpose="测试", now=now,
        for_user_id=for_user.id if for_user else None)


def test_the_limit_suspends_own_booking_in_the_lab(lab, instrument):
    researcher = create_user(locale="en")
    first_day = MONDAY - dt.timedelta(days=21)
    no_show(instrument, researcher, first_day)
    assert db.session.scalar(select(BookingSuspension.id)) is None
    at = no_show(instrument, researcher, first_day + dt.timedelta(days=7),
                 manager=create_manager(lab))
    suspension = db.session.scalars(select(BookingSuspension)).one()
    assert suspension.user_id == researcher.id and suspension.lab_id == lab.id
    assert suspension.ends_at == at + dt.timedelta(days=14) and suspension.no_shows == 2
    assert db.session.scalar(select(OutboxMessage.recipient).where(
        OutboxMessage.kind == "booking_suspended")) == researcher.email
    assert db.session.scalar(select(AuditEvent.action).where(
        AuditEvent.object_type == "booking_suspensions")) == "suspend"

    with pytest.raises(services.BookingRefused) as refused:
        book(researcher, instrument, at + dt.timedelta(hours=1))
    assert [p.code for p in refused.value.problems] == ["suspended"]
    # Other labs are not affected, and a manager of the lab still books for the person.
    elsewhere = create_instrument()
    services.create_booking(db.session, researcher, instrument_id=elsewhere.id,
                            start=lab_time(MONDAY, 14), end=lab_time(MONDAY, 15),
                            purpose="测试", now=at + dt.timedelta(hours=1))
    manager = create_manager(lab)
    booking = book(manager, instrument, at + dt.timedelta(hours=1), for_user=researcher)
    db.session.commit()
    assert reload(booking).user_id == researcher.id


def test_no_shows_older_than_the_window_do_not_count(instrument):
    researcher = create_user()
    no_show(instrument, researcher, MONDAY - dt.timedelta(days=60))
    no_show(instrument, researcher, MONDAY - dt.timedelta(days=7))
    assert db.session.scalar(select(BookingSuspension.id)) is None


def test_the_suspension_ends_on_its_own(lab, instrument):
    researcher = create_user()
    no_show(instrument, researcher, MONDAY - dt.timedelta(days=28))
    at = no_show(instrument, researcher, MONDAY - dt.timedelta(days=21))
    after = at + dt.timedelta(days=14)
    booking = book(researcher, instrument, after)
    assert booking.user_id == researcher.id


def test_managers_lift_it(lab, instrument):
    researcher = create_user()
    no_show(instrument, researcher, MONDAY - dt.timedelta(days=14))
    at = no_show(instrument, researcher, MONDAY - dt.timedelta(days=7))
    suspension = db.session.scalars(select(BookingSuspension)).one()
    with pytest.raises(NotFound):
        discipline.lift_suspension(db.session, create_user(), suspension.id, note="", now=at)
    with pytest.raises(PermissionDenied):
        discipline.lift_suspension(db.session, researcher, suspension.id, note="", now=at)
    db.session.rollback()
    manager = create_manager(lab)
    discipline.lift_suspension(db.session, manager, suspension.id, note="已沟通", now=at)
    db.session.commit()
    assert reload(suspension).lifted_by_id == manager.id
    with pytest.raises(Conflict):
        discipline.lift_suspension(db.session, manager, suspension.id, note="", now=at)
    db.session.rollback()
    book(researcher, instrument, at + dt.timedelta(hours=1))


def test_no_limit_no_discipline():
    instrument = create_instrument()
    researcher = create_user()
    for weeks in (3, 2, 1):
        no_show(instrument, researcher, MONDAY - dt.timedelta(days=7 * weeks))
    assert db.session.scalar(select(BookingSuspension.id)) is None


def test_settings_are_checked(lab):
    manager = create_manager(lab)
    with pytest.raises(ValidationError):
        discipline.update_settings(db.session, manager, lab, now=dt.datetime.now(dt.UTC),
                                   no_show_limit=0, no_show_window_days=30, suspension_days=7,
                                   waitlist_offer_minutes=30)
    db.session.rollback()
    with pytest.raises(PermissionDenied):
        discipline.update_settings(db.session, create_manager(create_lab()), lab,
                                   now=dt.datetime.now(dt.UTC), no_show_limit=3,
                                   no_show_window_days=30, suspension_days=7,
                                   waitlist_offer_minutes=30)


# -- pages and API ------------------------------------------------------------------------------


def test_the_managers_page_sets_the_rules_and_lifts(login_as, lab, instrument):
    researcher = create_user()
    no_show(instrument, researcher, TODAY - dt.timedelta(days=10))
    no_show(instrument, researcher, TODAY - dt.timedelta(days=3))
    suspension = db.session.scalars(select(BookingSuspension)).one()
    manager = create_manager(lab)
    client = login_as(manager)
    page = client.get("/manage/discipline")
    assert page.status_code == 200 and researcher.name in page.text
    response = client.post(f"/manage/labs/{lab.code}/discipline", data={
        f"{lab.code}-no_show_limit": "3", f"{lab.code}-no_show_window_days": "60",
        f"{lab.code}-suspension_days": "7", f"{lab.code}-waitlist_offer_minutes": "45"})
    assert response.status_code == 302
    lab = reload(lab)
    assert (lab.no_show_limit, lab.no_show_window_days, lab.suspension_days,
            lab.waitlist_offer_minutes) == (3, 60, 7, 45)
    refused = client.post(f"/manage/labs/{lab.code}/discipline", data={
        f"{lab.code}-no_show_window_days": "0", f"{lab.code}-suspension_days": "7",
        f"{lab.code}-waitlist_offer_minutes": "45"}, follow_redirects=True)
    assert refused.status_code == 200 and reload(lab).no_show_window_days == 60
    client.post(f"/manage/suspensions/{suspension.id}/lift", data={"note": "已沟通"})
    assert reload(suspension).lifted_at is not None


def test_the_person_sees_why_and_until_when(login_as, lab, instrument):
    researcher = create_user(locale="en")
    no_show(instrument, researcher, TODAY - dt.timedelta(days=10))
    no_show(instrument, researcher, TODAY - dt.timedelta(days=3))
    client = login_as(researcher)
    assert "2 no-shows within 30 days" in client.get("/bookings").text
    assert "2 no-shows within 30 days" in client.get(
        f"/instruments/{instrument.id}/calendar").text


def test_the_api_lists_and_lifts(client, lab, instrument):
    researcher = create_user()
    no_show(instrument, researcher, TODAY - dt.timedelta(days=10))
    no_show(instrument, researcher, TODAY - dt.timedelta(days=3))
    manager = create_manager(lab)
    mine = client.get("/api/v1/suspensions", headers=bearer(researcher)).json
    assert [item["user"]["id"] for item in mine["items"]] == [researcher.id]
    suspension_id = mine["items"][0]["id"]
    assert client.post(f"/api/v1/suspensions/{suspension_id}/lift",
                       headers=bearer(researcher)).status_code == 403
    lifted = client.post(f"/api/v1/suspensions/{suspension_id}/lift", headers=bearer(manager),
                         json={"note": "解除"})
    assert lifted.status_code == 200 and lifted.json["lifted_at"]
    assert client.get("/api/v1/suspensions", headers=bearer(manager)).json["items"] == []


def test_in_a_lab_with_a_limit_the_other_rules_are_still_said(instrument):
    """A lab with no-show discipline checks suspensions after the other rules: a booking that
    breaks one of those is refused for it, suspended or not."""
    researcher = create_user()
    late = lab_time(MONDAY, 14, 30)  # after the booking's start: in the past
    with pytest.raises(services.BookingRefused) as refused:
        book(researcher, instrument, late)
    assert [p.code for p in refused.value.problems] == ["in_past"]
