"""The lab managers' pages: approval queue, closures, training records."""

import datetime as dt
import re

import pytest
from sqlalchemy import select

from labbook.audit.models import AuditEvent
from labbook.booking import waitlist
from labbook.booking.models import Blackout, BookingState, Qualification, WaitlistState
from labbook.core.time import to_lab_time, utcnow
from labbook.extensions import db
from tests.factories import (
    create_admin,
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_user,
    lab_time,
    next_weekday,
    reload,
)
from tests.statements import Sent

MONDAY = next_weekday(0)


@pytest.fixture
def lab():
    return create_lab(code="NEM", name_en="New-Energy Materials Lab")


@pytest.fixture
def other_lab():
    return create_lab(code="FOOD", name_en="Green Food Lab")


@pytest.fixture
def instrument(lab):
    return create_instrument(lab=lab, name_en="X-ray diffractometer", requires_approval=True,
                             requires_qualification=True)


@pytest.fixture
def manager(lab):
    return create_manager(lab, name="Manager Wang", locale="en")


@pytest.fixture
def other_manager(other_lab):
    return create_manager(other_lab, name="Manager Li", locale="en")


@pytest.fixture
def researcher():
    organization = create_organization(name="Henan Battery Co.", weekly_quota_hours=10)
    return create_user(name="Researcher Zhao", organization=organization, locale="en")


def pending(instrument, user, day=MONDAY, hour=10, created_at=None, **kwargs):
    """A pending request, two hours long unless told otherwise."""
    kwargs.setdefault("purpose", "Phase analysis")
    kwargs.setdefault("start_at", lab_time(day, hour))
    kwargs.setdefault("end_at", kwargs["start_at"] + dt.timedelta(hours=2))
    return create_booking(instrument=instrument, user=user, state=BookingState.PENDING,
                          created_at=created_at or utcnow(), **kwargs)


def page(response):
    return response.get_data(as_text=True)


# -- access -----------------------------------------------------------------------------------

MANAGER_PAGES = ["/manage/approvals", "/manage/blackouts", "/manage/qualifications"]


@pytest.mark.parametrize("path", MANAGER_PAGES)
def test_anonymous_users_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", MANAGER_PAGES)
def test_researchers_get_403(client, login_as, researcher, path):
    assert login_as(researcher).get(path).status_code == 403


def test_researchers_cannot_post_decisions(client, login_as, researcher, instrument):
    booking = pending(instrument, create_user())
    response = login_as(researcher).post("/manage/approvals", data={
        "action": "approve", "booking_ids": [booking.id]})
    assert response.status_code == 403
    assert reload(booking).state == BookingState.PENDING


# -- approval queue ---------------------------------------------------------------------------


def test_queue_lists_pending_bookings_oldest_request_first(client, login_as, manager,
                                                           instrument, researcher):
    now = utcnow()
    newer = pending(instrument, researcher, hour=8, created_at=now - dt.timedelta(hours=1),
                    purpose="Newer request", project_ref="PO-2")
    older = pending(instrument, researcher, hour=13, created_at=now - dt.timedelta(days=1),
                    purpose="Older request", project_ref="PO-1")
    create_booking(instrument=instrument, user=researcher, purpose="Already approved",
                   start_at=lab_time(MONDAY, 15), end_at=lab_time(MONDAY, 16))

    text = page(login_as(manager).get("/manage/approvals"))

    assert text.index("Older request") < text.index("Newer request")
    assert "Already approved" not in text
    assert "PO-1" in text and "PO-2" in text
    assert "Researcher Zhao" in text and "Henan Battery Co." in text
    assert "External" in text  # the price tier
    assert f"{MONDAY:%Y-%m-%d} 13:00 – 15:00" in text  # lab time
    assert "Not qualified" in text
    # 2 + 2 + 1 hours held that week of a quota of 10
    assert "5.0 h held of 10 h" in text
    assert f'value="{older.id}"' in text and f'value="{newer.id}"' in text


def test_queue_shows_valid_training_and_no_quota(client, login_as, manager, instrument):
    user = create_user(organization=create_organization(weekly_quota_hours=None))
    db.session.add(Qualification(user=user, instrument=instrument, granted_at=utcnow()))
    db.session.commit()
    pending(instrument, user)

    text = page(login_as(manager).get("/manage/approvals"))

    assert "Qualified" in text and "Not qualified" not in text
    assert "2.0 h held; no quota" in text


def test_queue_can_be_filtered_by_lab(client, login_as, lab, other_lab, researcher):
    admin = create_admin(locale="en")
    pending(create_instrument(lab=lab), researcher, purpose="In NEM")
    pending(create_instrument(lab=other_lab), researcher, purpose="In FOOD")

    everything = page(login_as(admin).get("/manage/approvals"))
    assert "In NEM" in everything and "In FOOD" in everything
    only_food = page(client.get("/manage/approvals?lab=FOOD"))
    assert "In FOOD" in only_food and "In NEM" not in only_food


def test_empty_queue_says_so(client, login_as, manager):
    assert "Nothing waits for a decision" in page(login_as(manager).get("/manage/approvals"))


def test_queue_page_is_chinese_by_default(client, login_as, lab, instrument, researcher):
    pending(instrument, researcher)
    text = page(login_as(create_manager(lab)).get("/manage/approvals"))
    assert "批准" in text and "驳回" in text


def test_managers_of_another_lab_see_nothing_and_cannot_decide(client, login_as, instrument,
                                                               researcher, other_manager):
    booking = pending(instrument, researcher, purpose="Secret project")
    client = login_as(other_manager)
    assert "Secret project" not in page(client.get("/manage/approvals"))

    for action, note in (("approve", ""), ("reject", "no")):
        response = client.post("/manage/approvals", data={
            "action": action, "booking_ids": [booking.id], "note": note},
            follow_redirects=True)
        assert response.status_code == 200
        assert f"Booking #{booking.id} was not found in the labs you manage" in page(response)
        assert reload(booking).state == BookingState.PENDING


def test_approve_one(client, login_as, manager, instrument, researcher):
    booking = pending(instrument, researcher)

    response = login_as(manager).post("/manage/approvals", data={
        "action": "approve", "booking_ids": [booking.id], "note": "See you on Monday"})

    assert response.status_code == 302
    assert response.headers["Location"] == "/manage/approvals"
    booking = reload(booking)
    assert booking.state == BookingState.APPROVED
    assert booking.decided_by_id == manager.id
    assert booking.decision_note == "See you on Monday"
    assert f"Approved booking #{booking.id}" in page(client.get("/manage/approvals"))


def test_reject_needs_a_note(client, login_as, manager, instrument, researcher):
    booking = pending(instrument, researcher)
    client = login_as(manager)

    response = client.post("/manage/approvals", data={
        "action": "reject", "booking_ids": [booking.id], "note": "  "}, follow_redirects=True)

    assert response.status_code == 200  # the refused form on its page: labbook.web.keep_refused
    assert "This field is required." in page(response)
    assert "Nothing was decided" in page(response)
    assert reload(booking).state == BookingState.PENDING

    client.post("/manage/approvals", data={"action": "reject", "booking_ids": [booking.id],
                                           "note": "The instrument is fully booked for XRD"})
    booking = reload(booking)
    assert booking.state == BookingState.REJECTED
    assert booking.decision_note == "The instrument is fully booked for XRD"


def test_bad_decision_input_is_a_form_error(client, login_as, manager, instrument, researcher):
    booking = pending(instrument, researcher)
    client = login_as(manager)
    nothing_selected = client.post("/manage/approvals", data={"action": "approve"},
                                   follow_redirects=True)
    assert nothing_selected.status_code == 200
    assert "Select at least one booking." in page(nothing_selected)
    bad = client.post("/manage/approvals", data={"action": "delete",
                                                 "booking_ids": ["x"]},
                  follow_redirects=True)
    assert bad.status_code == 200
    assert "Nothing was decided" in page(bad)
    assert reload(booking).state == BookingState.PENDING


def test_bulk_approve_goes_on_past_a_booking_decided_meanwhile(client, login_as, lab, manager,
                                                               instrument, researcher):
    first = pending(instrument, researcher, hour=8)
    second = pending(instrument, researcher, hour=13)
    colleague = create_manager(lab, name="Manager Sun")
    decided = pending(instrument, researcher, hour=15, decided_by=colleague,
                      decided_at=utcnow(), decision_note="too late")
    decided.state = BookingState.REJECTED
    db.session.commit()

    response = login_as(manager).post("/manage/approvals", data={
        "action": "approve", "booking_ids": [first.id, decided.id, second.id]},
        follow_redirects=True)

    assert response.status_code == 200
    text = page(response)
    assert f"Approved booking #{first.id}" in text
    assert f"Approved booking #{second.id}" in text
    assert f"Booking #{decided.id} had already been rejected by Manager Sun" in text
    assert reload(first).state == BookingState.APPROVED
    assert reload(second).state == BookingState.APPROVED
    decided = reload(decided)
    assert decided.state == BookingState.REJECTED
    assert decided.decided_by_id == colleague.id


def test_bulk_reject_needs_a_note_and_changes_nothing(client, login_as, manager, instrument,
                                                      researcher):
    bookings = [pending(instrument, researcher, hour=h) for h in (8, 13)]
    response = login_as(manager).post("/manage/approvals", data={
        "action": "reject", "booking_ids": [b.id for b in bookings]}, follow_redirects=True)
    assert response.status_code == 200  # the refused form on its page: labbook.web.keep_refused
    text = page(response)
    # The selection survives, so the manager only has to add the note.
    assert all(re.search(rf'value="{b.id}" id="select-{b.id}" form="bulk-decision" checked',
                         text) for b in bookings)
    assert all(reload(b).state == BookingState.PENDING for b in bookings)


# -- closures ---------------------------------------------------------------------------------


def local(moment):
    lab_moment = to_lab_time(moment)
    return lab_moment.strftime("%Y-%m-%d"), lab_moment.strftime("%H:%M")


def blackout_form(scope, start, end, reason="Annual maintenance"):
    start_date, start_time = local(start)
    end_date, end_time = local(end)
    return {"scope": scope, "start_date": start_date, "start_time": start_time,
            "end_date": end_date, "end_time": end_time, "reason": reason}


def test_blackout_lists_the_bookings_it_hits_and_cancels_the_chosen_ones(
        client, login_as, lab, manager, instrument, researcher):
    soon = utcnow().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=3)
    hit_by_closure = create_booking(instrument=instrument, user=researcher, start_at=soon,
                                    end_at=soon + dt.timedelta(hours=1), purpose="Hit one")
    own = create_booking(instrument=create_instrument(lab=lab), user=manager,
                         start_at=soon + dt.timedelta(hours=1),
                         end_at=soon + dt.timedelta(hours=2), purpose="Own booking")
    kept = pending(instrument, researcher, created_at=utcnow(), purpose="Kept one",
                   start_at=soon + dt.timedelta(hours=2), end_at=soon + dt.timedelta(hours=3))
    outside = create_booking(instrument=instrument, user=researcher,
                             start_at=soon + dt.timedelta(days=2),
                             end_at=soon + dt.timedelta(days=2, hours=1), purpose="Outside")
    client = login_as(manager)

    response = client.post("/manage/blackouts", data=blackout_form(
        f"lab:{lab.id}", soon - dt.timedelta(hours=1), soon + dt.timedelta(hours=6)))

    assert response.status_code == 302
    blackout = db.session.scalars(select(Blackout)).one()
    assert (blackout.lab_id, blackout.instrument_id) == (lab.id, None)
    assert blackout.start_at == soon - dt.timedelta(hours=1)
    assert blackout.end_at == soon + dt.timedelta(hours=6)
    assert blackout.created_by_id == manager.id
    assert response.headers["Location"] == f"/manage/blackouts/{blackout.id}"

    text = page(client.get(response.headers["Location"]))
    for booking in (hit_by_closure, own, kept):
        assert re.search(rf'value="{booking.id}" id="cancel-{booking.id}" checked', text)
    assert "Outside" not in text
    assert "It hits 3 bookings" in text
    # no SMTP server is set in the tests: the page says so, rather than that mail is sent
    assert "email delivery is not set up yet, so the emails will be sent once" in text

    response = client.post(f"/manage/blackouts/{blackout.id}/cancel-bookings", data={
        "booking_ids": [hit_by_closure.id, own.id],
        "notice": "The lab is closed for maintenance; please book another day."})

    assert response.status_code == 302
    for booking in (hit_by_closure, own):
        booking = reload(booking)
        assert booking.state == BookingState.CANCELLED
        assert booking.is_late_cancellation is False
        assert booking.cancelled_by_id == manager.id
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.object_type == "bookings", AuditEvent.object_id == booking.id,
            AuditEvent.action == "cancel")).one()
        assert event.note == "The lab is closed for maintenance; please book another day."
        assert event.details["late"] is False
    assert reload(kept).state == BookingState.PENDING
    assert reload(outside).state == BookingState.APPROVED
    text = page(client.get(f"/manage/blackouts/{blackout.id}"))
    assert "2 bookings were cancelled." in text
    # the manager's own booking needs no email: one was queued, for the researcher
    assert "1 email telling the person who booked was queued; email delivery is not set up " \
           "yet, so it will be sent once an administrator enables it." in text
    assert f'id="cancel-{kept.id}"' in text
    assert f'id="cancel-{hit_by_closure.id}"' not in text  # no longer holds the slot


def test_cancelling_needs_a_notice(client, login_as, lab, manager, instrument, researcher):
    booking = create_booking(instrument=instrument, user=researcher)
    blackout = Blackout(lab=lab, start_at=booking.start_at, end_at=booking.end_at,
                        reason="Power cut", created_by_id=manager.id)
    db.session.add(blackout)
    db.session.commit()

    response = login_as(manager).post(f"/manage/blackouts/{blackout.id}/cancel-bookings",
                                      data={"booking_ids": [booking.id], "notice": ""},
                                      follow_redirects=True)

    assert response.status_code == 200  # the refused form on its page: labbook.web.keep_refused
    assert "Tell the people who booked why" in page(response)
    assert reload(booking).state == BookingState.APPROVED


def test_instrument_blackout_and_the_list(client, login_as, manager, instrument):
    start = lab_time(MONDAY, 9)
    response = login_as(manager).post("/manage/blackouts", data=blackout_form(
        f"instrument:{instrument.id}", start, start + dt.timedelta(hours=3),
        reason="Detector replacement"))
    assert response.status_code == 302
    blackout = db.session.scalars(select(Blackout)).one()
    assert (blackout.instrument_id, blackout.lab_id) == (instrument.id, None)

    text = page(client.get(response.headers["Location"]))
    assert "No booking holds time in this closure." in text
    listing = page(client.get("/manage/blackouts"))
    assert "Detector replacement" in listing
    assert f"{MONDAY:%Y-%m-%d} 09:00 – 12:00" in listing


@pytest.mark.parametrize(("change", "message"), [
    ({"end_time": "08:00"}, "The end must be after the start."),
    ({"reason": ""}, "Say why it closes"),
    ({"start_date": "31.12.2026"}, "Enter a date like 2026-12-31."),
    ({"scope": "lab:OTHER"}, "Not a valid choice"),
])
def test_bad_blackout_input_is_a_form_error(client, login_as, manager, lab, other_lab, change,
                                            message):
    data = blackout_form(f"lab:{lab.id}", lab_time(MONDAY, 9), lab_time(MONDAY, 12))
    if change.get("scope") == "lab:OTHER":
        change = {"scope": f"lab:{other_lab.id}"}
    data.update(change)

    response = login_as(manager).post("/manage/blackouts", data=data, follow_redirects=True)

    assert response.status_code == 200  # the refused form on its page: labbook.web.keep_refused
    assert message in page(response)
    assert db.session.scalars(select(Blackout)).first() is None


def test_closures_of_another_lab_are_not_found(client, login_as, other_lab, other_manager,
                                               instrument, manager, researcher):
    booking = create_booking(instrument=instrument, user=researcher)
    blackout = Blackout(instrument=instrument, start_at=booking.start_at,
                        end_at=booking.end_at, reason="Calibration", created_by_id=manager.id)
    db.session.add(blackout)
    db.session.commit()
    client = login_as(other_manager)

    assert client.get(f"/manage/blackouts/{blackout.id}").status_code == 404
    assert "Calibration" not in page(client.get("/manage/blackouts"))
    response = client.post(f"/manage/blackouts/{blackout.id}/cancel-bookings",
                           data={"booking_ids": [booking.id], "notice": "closed"})
    assert response.status_code == 404
    assert reload(booking).state == BookingState.APPROVED
    # Nor can they close an instrument of a lab they do not manage.
    response = client.post("/manage/blackouts", data=blackout_form(
        f"instrument:{instrument.id}", lab_time(MONDAY, 9), lab_time(MONDAY, 12)),
        follow_redirects=True)
    assert response.status_code == 200  # the refused form on its page: labbook.web.keep_refused
    assert db.session.scalars(select(Blackout)).one().id == blackout.id


# -- training records -------------------------------------------------------------------------


def test_grant_and_revoke_a_qualification(client, login_as, manager, instrument, researcher):
    client = login_as(manager)
    valid_until = MONDAY + dt.timedelta(days=30)

    response = client.post("/manage/qualifications", data={
        "email": f"  {researcher.email.upper()} ", "instrument_id": instrument.id,
        "valid_until": valid_until.isoformat()})

    assert response.status_code == 302
    qualification = db.session.scalars(select(Qualification)).one()
    assert qualification.user_id == researcher.id
    assert qualification.instrument_id == instrument.id
    assert qualification.granted_by_id == manager.id
    # valid through the whole of that day, lab time
    assert qualification.expires_at == lab_time(valid_until + dt.timedelta(days=1), 0)
    text = page(client.get("/manage/qualifications"))
    assert "Researcher Zhao may now use X-ray diffractometer." in text
    assert "Valid" in text and researcher.email in text
    assert f"through {valid_until:%Y-%m-%d}" in text

    response = client.post(f"/manage/qualifications/{qualification.id}/revoke")

    assert response.status_code == 302
    assert reload(qualification).revoked_at is not None
    assert qualification.revoked_by_id == manager.id
    text = page(client.get("/manage/qualifications"))
    assert "Revoked" in text  # recently revoked records stay listed


def test_qualification_without_expiry_and_filter(client, login_as, lab, manager, instrument,
                                                 researcher):
    other_instrument = create_instrument(lab=lab, name_en="Glove box")
    client = login_as(manager)
    client.post("/manage/qualifications", data={"email": researcher.email,
                                                "instrument_id": instrument.id})
    someone = create_user(name="Researcher Qian")
    client.post("/manage/qualifications", data={"email": someone.email,
                                                "instrument_id": other_instrument.id})
    assert db.session.scalars(select(Qualification.expires_at)).all() == [None, None]
    client.get("/manage/qualifications")  # shows (and so clears) the messages

    text = page(client.get(f"/manage/qualifications?instrument={other_instrument.id}"))
    assert "Researcher Qian" in text and "Researcher Zhao" not in text


def test_unknown_email_is_a_form_error(client, login_as, manager, instrument):
    response = login_as(manager).post("/manage/qualifications", data={
        "email": "nobody@example.cn", "instrument_id": instrument.id}, follow_redirects=True)
    assert response.status_code == 200  # the refused form on its page: labbook.web.keep_refused
    assert "Nobody has an account with the email nobody@example.cn." in page(response)
    assert db.session.scalars(select(Qualification)).first() is None


def test_expiry_in_the_past_is_a_form_error(client, login_as, manager, instrument, researcher):
    response = login_as(manager).post("/manage/qualifications", data={
        "email": researcher.email, "instrument_id": instrument.id, "valid_until": "2020-01-01"},
        follow_redirects=True)
    assert response.status_code == 200  # the refused form on its page: labbook.web.keep_refused
    assert "The expiry must be in the future." in page(response)


def test_managers_of_another_lab_cannot_grant_or_revoke(client, login_as, manager,
                                                        other_manager, instrument, researcher):
    qualification = Qualification(user=researcher, instrument=instrument,
                                  granted_by_id=manager.id, granted_at=utcnow())
    db.session.add(qualification)
    db.session.commit()
    client = login_as(other_manager)

    assert researcher.email not in page(client.get("/manage/qualifications"))
    response = client.post(f"/manage/qualifications/{qualification.id}/revoke")
    assert response.status_code == 404
    assert reload(qualification).revoked_at is None
    response = client.post("/manage/qualifications", data={
        "email": researcher.email, "instrument_id": instrument.id}, follow_redirects=True)
    assert response.status_code == 200  # the refused form on its page: labbook.web.keep_refused
    assert db.session.scalars(select(Qualification)).one().id == qualification.id


# -- the waiting lists ------------------------------------------------------------------------


def test_the_approvals_page_shows_the_waiting_lists_of_the_labs_managed(
        client, login_as, lab, other_lab, manager, researcher):
    """Each instrument's line in its order (by code, then by when each joined), the offer where
    one is open; another lab's line is not shown, nor one filtered out by lab, nor an entry
    that left the line."""
    later_code = create_instrument(lab=lab, code="NEM-B")
    first_code = create_instrument(lab=lab, code="NEM-A")
    now = utcnow()
    monday = lab_time(MONDAY, 10)
    hour = dt.timedelta(hours=1)

    def wait(user, instrument, start, end, joined=now):
        create_booking(instrument=instrument, start_at=start, end_at=end)
        return waitlist.join_waitlist(db.session, user, instrument_id=instrument.id,
                                      start=start, end=end, minutes=None, purpose="XRD",
                                      now=joined)

    offered = wait(researcher, later_code, monday, monday + hour)
    # Joined before the entry above, though written after it.
    earlier = wait(create_user(name="Researcher Qian"), later_code, monday + 2 * hour,
                   monday + 3 * hour, joined=now - hour)
    other_instrument = wait(create_user(name="Researcher Zhou"), first_code, monday,
                            monday + hour)
    left = wait(create_user(name="Researcher Sun"), first_code, monday + hour, monday + 2 * hour)
    waitlist.leave_waitlist(db.session, left.user, left.id, now=now)
    wait(create_user(name="Researcher Li"), create_instrument(lab=other_lab), monday,
         monday + hour)
    offered.state, offered.offer_start, offered.offer_end = WaitlistState.OFFERED, monday, \
        monday + hour
    offered.offer_expires_at = now + dt.timedelta(minutes=30)
    db.session.commit()

    text = page(login_as(manager).get("/manage/approvals"))
    rows = re.findall(r'data-waitlist-entry="(\d+)"', text)
    assert rows == [str(other_instrument.id), str(earlier.id), str(offered.id)]
    assert "Researcher Zhao" in text and "Henan Battery Co." in text
    assert f"Offered {to_lab_time(monday):%Y-%m-%d %H:%M}, until " in text
    assert "Researcher Sun" not in text and "Researcher Li" not in text
    assert 'data-waitlist-entry' not in page(login_as(manager).get("/manage/approvals?lab=FOOD"))
    # The entries, their people and organizations: three statements however many wait.
    lab_id = lab.id
    db.session.expire_all()
    with Sent() as sent:
        lines = waitlist.lines_of_labs(db.session, [lab_id])
        [(entry.instrument.code, entry.user.name,
          entry.user.organization and entry.user.organization.name) for entry in lines]
    assert len(sent) == 3, sent
