"""Booking on someone's behalf: the lab's managers for anyone, colleagues where their
organization lets them. The one booked for is the booking's user, their organization pays and
they are told; the audit trail names both."""

import datetime as dt

import pytest
from sqlalchemy import select

from labbook.audit.models import AuditEvent
from labbook.booking import services
from labbook.booking.models import Booking, BookingState
from labbook.booking.training import grant_qualification
from labbook.core.errors import NotFound, PermissionDenied, ValidationError
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from tests.factories import (
    bearer,
    create_admin,
    create_instrument,
    create_manager,
    create_organization,
    create_user,
    lab_time,
    next_weekday,
    reload,
)
from tests.statements import Sent

MONDAY = next_weekday(0)
BEFORE = lab_time(MONDAY - dt.timedelta(days=3), 7)


def book(actor, instrument, for_user=None, hour=10):
    return services.create_booking(
        db.session, actor, instrument_id=instrument.id, start=lab_time(MONDAY, hour),
        end=lab_time(MONDAY, hour + 1), purpose="代约测试",
        for_user_id=for_user.id if for_user else None, now=BEFORE)


def test_a_manager_books_for_a_researcher_whose_organization_pays():
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    researcher = create_user()
    booking = book(manager, instrument, researcher)
    db.session.commit()
    booking = reload(booking)
    assert booking.user_id == researcher.id
    assert booking.organization_id == researcher.organization_id
    assert booking.booked_by_id == manager.id
    assert booking.state == BookingState.APPROVED
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "bookings", AuditEvent.object_id == booking.id)).one()
    assert event.actor_id == manager.id and event.details["on_behalf_of"] == researcher.id
    message = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "booked_for_you")).one()
    assert message.recipient == researcher.email
    assert manager.name in message.body_text
    assert message.next_attempt_at == BEFORE  # due at once: the outbox sends it on its next run


def test_the_rules_are_the_researchers():
    instrument = create_instrument(requires_qualification=True)
    manager = create_manager(instrument.lab)
    researcher = create_user()
    with pytest.raises(services.BookingRefused) as refused:
        book(manager, instrument, researcher)
    assert [p.code for p in refused.value.problems] == ["not_qualified"]


@pytest.mark.usefixtures("english")
def test_colleagues_book_for_each_other_only_where_their_organization_allows_it():
    instrument = create_instrument(requires_approval=True)
    organization = create_organization()
    booker, colleague = create_user(organization=organization), \
        create_user(organization=organization)
    with pytest.raises(PermissionDenied) as refused:
        book(booker, instrument, colleague)
    assert (refused.value.code, str(refused.value)) == (
        "on_behalf_not_allowed",
        f"You may not book for {colleague.name}: only the lab's managers, and colleagues whose "
        "organization allows it, book for others.")
    organization.colleagues_may_book_for_each_other = True
    db.session.commit()
    booking = book(booker, instrument, colleague)
    db.session.commit()
    assert reload(booking).user_id == colleague.id
    assert reload(booking).state == BookingState.PENDING
    stranger = create_user()
    with pytest.raises(PermissionDenied):
        book(booker, instrument, stranger, hour=13)


def test_a_booking_for_a_trained_researcher_is_priced_at_their_tier(client):
    """On someone's behalf the person is looked up first, and then the instrument and their
    organization are locked in one statement, as for one's own booking: their training record
    and their tier's rate card come with it."""
    instrument = create_instrument(requires_qualification=True)  # internal ¥60/h, external ¥100/h
    manager = create_manager(instrument.lab)  # an internal organization
    researcher = create_user()  # an external one
    grant_qualification(db.session, manager, researcher, instrument, now=BEFORE)
    db.session.commit()
    with Sent() as sent:
        response = client.post("/api/v1/bookings", headers=bearer(manager), json={
            "instrument_id": instrument.id, "start": lab_time(MONDAY, 10).isoformat(),
            "end": lab_time(MONDAY, 11).isoformat(), "purpose": "代约",
            "for_user_id": researcher.id})
    assert response.status_code == 201, response.json
    assert (response.json["estimate"]["tier"], response.json["estimate"]["amount"]) == \
        ("external", "100.00")
    [locking] = [sql for sql in sent if "FROM instruments" in sql]
    assert all(part in locking for part in ("JOIN organizations", "rate_cards",
                                            "qualifications")), locking
    assert not [sql for sql in sent if sql.startswith("SELECT organizations")], sent


def test_a_training_record_counts_until_it_lapses_whoever_books():
    """The record read with the locks is asked for the booking's end: one that lapses after it
    lets the booking be made, for oneself or by a manager for the trained person; one that
    lapses before does not."""
    instrument = create_instrument(requires_qualification=True)
    manager = create_manager(instrument.lab)
    researcher = create_user()
    grant_qualification(db.session, manager, researcher, instrument, now=BEFORE,
                        expires_at=lab_time(MONDAY, 12))
    db.session.commit()
    assert reload(book(researcher, instrument, hour=10)).user_id == researcher.id
    assert reload(book(manager, instrument, researcher, hour=11)).user_id == researcher.id
    for actor, for_user in ((researcher, None), (manager, researcher)):
        with pytest.raises(services.BookingRefused) as refused:
            book(actor, instrument, for_user, hour=12)
        assert [p.code for p in refused.value.problems] == ["not_qualified"]


def test_a_time_without_an_offset_for_someone_else_is_refused_as_such():
    """The training record is read with the locks for a time the rules can read; one without
    an offset is refused for what it is, whoever the booking is for."""
    instrument = create_instrument(requires_qualification=True)
    manager = create_manager(instrument.lab)
    researcher = create_user()
    with pytest.raises(services.BookingRefused) as refused:
        services.create_booking(
            db.session, manager, instrument_id=instrument.id,
            start=lab_time(MONDAY, 10).replace(tzinfo=None),
            end=lab_time(MONDAY, 11).replace(tzinfo=None), purpose="代约",
            for_user_id=researcher.id, now=BEFORE)
    assert ([p.code for p in refused.value.problems], refused.value.status) == \
        (["naive_datetime"], 422)
    assert db.session.scalar(select(Booking.id)) is None


def test_only_the_labs_managers_override_the_rules_for_someone_else():
    instrument = create_instrument()
    organization = create_organization(colleagues_may_book_for_each_other=True)
    booker, colleague = create_user(organization=organization), \
        create_user(organization=organization)
    with pytest.raises(PermissionDenied) as refused:
        services.create_booking(
            db.session, booker, instrument_id=instrument.id, start=lab_time(MONDAY, 19),
            end=lab_time(MONDAY, 20), purpose="夜间", for_user_id=colleague.id, override=True,
            now=BEFORE)
    assert refused.value.code == "override_not_allowed"
    assert db.session.scalar(select(Booking.id)) is None


@pytest.mark.usefixtures("english")
def test_booking_for_nobody_is_refused():
    instrument = create_instrument()
    manager = create_manager(instrument.lab)
    with pytest.raises(NotFound) as refused:
        services.create_booking(
            db.session, manager, instrument_id=instrument.id, start=lab_time(MONDAY, 10),
            end=lab_time(MONDAY, 11), purpose="x", for_user_id=999_999, now=BEFORE)
    assert str(refused.value) == "No user with id 999999."
    assert [(p.code, p.message, p.field) for p in refused.value.problems] == [
        ("not_found", "No user with id 999999.", "for_user_id")]
    assert db.session.scalar(select(Booking.id)) is None


@pytest.mark.usefixtures("english")
def test_booking_for_someone_without_an_organization_names_them():
    instrument = create_instrument()
    manager = create_manager(instrument.lab)
    nobody = create_user(organization=None, name="Zhao Wu")
    message = "Zhao Wu belongs to no organization, so there is nobody to bill."
    for attempt in (lambda: book(manager, instrument, nobody),
                    lambda: services.preview_booking(
                        db.session, manager, instrument, start=lab_time(MONDAY, 10),
                        end=lab_time(MONDAY, 11), override=False, now=BEFORE, user=nobody)):
        with pytest.raises(ValidationError) as refused:
            attempt()
        assert [(p.code, p.message) for p in refused.value.problems] == \
            [("no_organization", message)]
    # Someone who may not book for them is told so, and nothing of their organization.
    with pytest.raises(PermissionDenied) as denied:
        book(create_user(), instrument, nobody)
    assert denied.value.code == "on_behalf_not_allowed"
    assert db.session.scalar(select(Booking.id)) is None


def test_the_api_books_on_behalf(client):
    instrument = create_instrument()
    manager = create_manager(instrument.lab)
    researcher = create_user()
    response = client.post("/api/v1/bookings", headers=bearer(manager), json={
        "instrument_id": instrument.id, "start": lab_time(MONDAY, 10).isoformat(),
        "end": lab_time(MONDAY, 11).isoformat(), "purpose": "代约", "for_user_id": researcher.id})
    assert response.status_code == 201, response.json
    assert response.json["user"]["id"] == researcher.id
    assert response.json["booked_by"]["id"] == manager.id
    other = client.post("/api/v1/bookings", headers=bearer(create_user()), json={
        "instrument_id": instrument.id, "start": lab_time(MONDAY, 13).isoformat(),
        "end": lab_time(MONDAY, 14).isoformat(), "purpose": "代约", "for_user_id": researcher.id})
    assert other.status_code == 403 and other.json["code"] == "on_behalf_not_allowed"


def test_the_booking_form_books_on_behalf(login_as):
    instrument = create_instrument()
    manager = create_manager(instrument.lab)
    researcher = create_user()
    client = login_as(manager)
    page = client.get(f"/instruments/{instrument.id}/calendar")
    assert 'name="for_user"' in page.text
    response = client.post(f"/instruments/{instrument.id}/book", data={
        "date": MONDAY.isoformat(), "start_time": "10:00", "end_time": "11:00",
        "purpose": "代约", "for_user": researcher.email.upper()})
    assert response.status_code == 302, response.text
    booking = db.session.scalars(select(Booking)).one()
    assert booking.user_id == researcher.id and booking.booked_by_id == manager.id
    unknown = client.post(f"/instruments/{instrument.id}/book", data={
        "date": MONDAY.isoformat(), "start_time": "13:00", "end_time": "14:00",
        "purpose": "代约", "for_user": "nobody@example.cn"})
    assert unknown.status_code == 200 and "nobody@example.cn" in unknown.text


def test_researchers_see_no_book_for_field(login_as):
    instrument = create_instrument()
    client = login_as(create_user())
    assert 'name="for_user"' not in client.get(f"/instruments/{instrument.id}/calendar").text


def test_admins_let_colleagues_book_for_each_other(login_as):
    organization = create_organization()
    client = login_as(create_admin())
    page = client.get(f"/admin/organizations/{organization.id}")
    assert 'name="colleagues_may_book_for_each_other"' in page.text
    client.post(f"/admin/organizations/{organization.id}", data={
        "name": organization.name, "uscc": organization.uscc, "tier": organization.tier.value,
        "status": "active", "billing_contact_id": "",
        "colleagues_may_book_for_each_other": "y"})
    assert reload(organization).colleagues_may_book_for_each_other
