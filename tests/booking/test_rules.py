"""Every booking rule code, through the booking service, on the engine under test."""

import datetime as dt

import pytest
from flask_babel import force_locale
from sqlalchemy import update

from labbook.accounts.models import OrganizationStatus, Role
from labbook.audit.models import AuditEvent
from labbook.booking import services, training
from labbook.booking.models import Blackout, BookingState
from labbook.catalogue.models import Instrument, InstrumentStatus
from labbook.core.errors import PermissionDenied
from labbook.extensions import db
from tests.factories import (
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_user,
    lab_time,
)

MONDAY = dt.date(2027, 3, 1)
NOW = lab_time(MONDAY - dt.timedelta(days=3), 12)  # the Friday before, noon


def book(user, instrument, start, end, **kwargs):
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("purpose", "XRD 物相分析")
    return services.create_booking(db.session, user, instrument_id=instrument.id, start=start,
                                   end=end, **kwargs)


def refusal_codes(user, instrument, start, end, **kwargs):
    with pytest.raises(services.BookingRefused) as refused:
        book(user, instrument, start, end, **kwargs)
    return [p.code for p in refused.value.problems]


def test_a_valid_booking_is_approved_and_audited(researcher, instrument):
    booking = book(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 11),
                   project_ref="PO-2027-018")
    assert booking.state == BookingState.APPROVED
    assert booking.organization == researcher.organization
    assert booking.project_ref == "PO-2027-018"
    event = db.session.query(AuditEvent).one()
    assert (event.action, event.to_state, event.actor_id) == ("create", "approved", researcher.id)


def test_end_before_start_is_invalid_interval(researcher, instrument):
    with pytest.raises(services.BookingRefused) as refused:
        book(researcher, instrument, lab_time(MONDAY, 11), lab_time(MONDAY, 9))
    assert [p.code for p in refused.value.problems] == ["invalid_interval"]
    assert refused.value.status == 422


def test_naive_datetimes_are_refused(researcher, instrument):
    naive = dt.datetime(2027, 3, 1, 9)  # noqa: DTZ001
    with pytest.raises(services.BookingRefused) as refused:
        book(researcher, instrument, naive, naive + dt.timedelta(hours=1))
    assert [p.code for p in refused.value.problems] == ["naive_datetime"]
    assert refused.value.status == 422


def test_naive_datetimes_are_refused_on_an_instrument_that_asks_for_training(researcher):
    """The training is read with the organization's lock only for a time it can be read for."""
    instrument = create_instrument(requires_qualification=True)
    naive = dt.datetime(2027, 3, 1, 9)  # noqa: DTZ001
    for start, end in ((lab_time(MONDAY, 9), naive), (naive, naive + dt.timedelta(hours=1))):
        with pytest.raises(services.BookingRefused) as refused:
            book(researcher, instrument, start, end)
        assert [p.code for p in refused.value.problems] == ["naive_datetime"]


def test_off_grid_times_are_not_aligned(researcher, instrument):
    assert refusal_codes(researcher, instrument, lab_time(MONDAY, 9, 10),
                         lab_time(MONDAY, 10, 10)) == ["not_aligned"]


def test_too_short(researcher, instrument):
    instrument.min_minutes = 60
    db.session.commit()
    assert refusal_codes(researcher, instrument, lab_time(MONDAY, 9),
                         lab_time(MONDAY, 9, 30)) == ["too_short"]


def test_too_long(researcher, instrument):
    assert refusal_codes(researcher, instrument, lab_time(MONDAY, 9),
                         lab_time(MONDAY, 13, 30)) == ["too_long"]


def test_past_soon_and_far(researcher, instrument):
    friday = MONDAY - dt.timedelta(days=3)
    assert "in_past" in refusal_codes(researcher, instrument, lab_time(friday, 10),
                                      lab_time(friday, 11))
    assert refusal_codes(researcher, instrument, lab_time(friday, 13),
                         lab_time(friday, 14)) == ["too_soon"]
    far = MONDAY + dt.timedelta(days=35)
    assert refusal_codes(researcher, instrument, lab_time(far, 9), lab_time(far, 10)) == \
        ["too_far"]


def test_outside_opening_hours(researcher, instrument):
    assert refusal_codes(researcher, instrument, lab_time(MONDAY, 17),
                         lab_time(MONDAY, 19)) == ["outside_hours"]
    saturday = MONDAY + dt.timedelta(days=5)
    assert refusal_codes(researcher, instrument, lab_time(saturday, 9),
                         lab_time(saturday, 10)) == ["outside_hours"]


def test_long_runs_may_span_closed_hours_but_start_and_end_while_open(researcher):
    chamber = create_instrument(slot_minutes=60, min_minutes=60, max_minutes=10080)
    booking = book(researcher, chamber, lab_time(MONDAY, 16), lab_time(MONDAY + dt.timedelta(
        days=2), 10))
    assert booking.state == BookingState.APPROVED
    assert refusal_codes(researcher, chamber, lab_time(MONDAY + dt.timedelta(days=3), 16),
                         lab_time(MONDAY + dt.timedelta(days=4), 20)) == ["outside_hours"]


@pytest.mark.parametrize(("end_hour", "end_minute", "accepted"),
                         [(8, 0, True), (8, 1, True), (7, 59, False)])
def test_an_overnight_run_may_end_the_moment_the_lab_opens(researcher, end_hour, end_minute,
                                                             accepted):
    """The lab opens at 08:00: Monday 09:00 → Tuesday 08:00 is taken down as it opens."""
    chamber = create_instrument(slot_minutes=1, min_minutes=60, max_minutes=10080)
    start, end = lab_time(MONDAY, 9), lab_time(MONDAY + dt.timedelta(days=1), end_hour,
                                               end_minute)
    if accepted:
        assert book(researcher, chamber, start, end).state == BookingState.APPROVED
    else:
        assert refusal_codes(researcher, chamber, start, end) == ["outside_hours"]


@pytest.mark.parametrize("status", [InstrumentStatus.MAINTENANCE, InstrumentStatus.RETIRED])
def test_unavailable_instruments(researcher, status):
    instrument = create_instrument(status=status)
    assert refusal_codes(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10)) == \
        ["instrument_unavailable"]


def test_the_rules_see_the_instrument_as_it_is_now_not_as_loaded_earlier(researcher, instrument):
    """Another worker sends the instrument to maintenance after this request loaded it."""
    with db.engine.begin() as other_worker:
        other_worker.execute(update(Instrument).where(Instrument.id == instrument.id)
                             .values(status=InstrumentStatus.MAINTENANCE))
    assert refusal_codes(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10)) == \
        ["instrument_unavailable"]


def test_blackouts_on_the_instrument_and_on_the_whole_lab(researcher, instrument):
    db.session.add(Blackout(instrument=instrument, start_at=lab_time(MONDAY, 8),
                            end_at=lab_time(MONDAY, 12), reason="年度保养"))
    db.session.add(Blackout(lab=instrument.lab, start_at=lab_time(MONDAY + dt.timedelta(days=1),
                                                                  0),
                            end_at=lab_time(MONDAY + dt.timedelta(days=2), 0), reason="停电"))
    db.session.commit()
    assert refusal_codes(researcher, instrument, lab_time(MONDAY, 11), lab_time(MONDAY, 13)) == \
        ["blackout"]
    tuesday = MONDAY + dt.timedelta(days=1)
    assert refusal_codes(researcher, instrument, lab_time(tuesday, 9), lab_time(tuesday, 10)) == \
        ["blackout"]
    assert book(researcher, instrument, lab_time(MONDAY, 12), lab_time(MONDAY, 13))


def test_the_closures_in_the_way_are_said_in_the_order_of_their_start(researcher, instrument):
    for start, reason in ((11, "停电"), (9, "年度保养")):  # the later one closed first
        db.session.add(Blackout(instrument=instrument, start_at=lab_time(MONDAY, start),
                                end_at=lab_time(MONDAY, start + 1), reason=reason))
    db.session.commit()
    with pytest.raises(services.BookingRefused) as refused:
        book(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 12))
    assert [p.extra["start"] for p in refused.value.problems] == [
        lab_time(MONDAY, 9).astimezone(dt.UTC).isoformat(),
        lab_time(MONDAY, 11).astimezone(dt.UTC).isoformat()]


def test_overlap_and_half_open_adjacency(researcher, instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10),
                   end_at=lab_time(MONDAY, 11))
    assert refusal_codes(researcher, instrument, lab_time(MONDAY, 10, 30),
                         lab_time(MONDAY, 11, 30)) == ["overlap"]
    assert book(researcher, instrument, lab_time(MONDAY, 11), lab_time(MONDAY, 12))
    assert book(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))


def test_buffer_time_keeps_bookings_apart(researcher):
    sem = create_instrument(slot_minutes=15, min_minutes=15, buffer_minutes=30,
                            min_notice_minutes=0)
    book(researcher, sem, lab_time(MONDAY, 9), lab_time(MONDAY, 10))
    assert refusal_codes(researcher, sem, lab_time(MONDAY, 10), lab_time(MONDAY, 11)) == \
        ["overlap"]
    # The rules see the clash of its buffer with the booking after it (not the database at
    # the insert, as if someone had just booked it).
    with pytest.raises(services.BookingRefused) as refused, force_locale("en"):
        book(researcher, sem, lab_time(MONDAY, 8), lab_time(MONDAY, 9))
    [clash] = refused.value.problems
    assert clash.code == "overlap" and clash.message.startswith("The instrument is already booked")
    assert book(researcher, sem, lab_time(MONDAY, 10, 30), lab_time(MONDAY, 11))


@pytest.mark.parametrize("state", [BookingState.CANCELLED, BookingState.REJECTED,
                                   BookingState.EXPIRED])
def test_cancelled_rejected_and_expired_bookings_free_their_slot(researcher, instrument, state):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10),
                   end_at=lab_time(MONDAY, 11), state=state)
    assert book(researcher, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11))


def test_pending_bookings_hold_their_slot(researcher, instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10),
                   end_at=lab_time(MONDAY, 11), state=BookingState.PENDING)
    assert refusal_codes(researcher, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11)) == \
        ["overlap"]


def test_qualification_is_required_and_may_expire(researcher):
    manager = create_manager(create_lab())
    xps = create_instrument(lab=manager.managed_labs[0], requires_qualification=True)
    assert refusal_codes(researcher, xps, lab_time(MONDAY, 9), lab_time(MONDAY, 10)) == \
        ["not_qualified"]
    training.grant_qualification(db.session, manager, researcher, xps, now=NOW,
                                 expires_at=lab_time(MONDAY, 12))
    db.session.commit()
    assert book(researcher, xps, lab_time(MONDAY, 9), lab_time(MONDAY, 10))
    assert refusal_codes(researcher, xps, lab_time(MONDAY, 13), lab_time(MONDAY, 14)) == \
        ["not_qualified"]


def test_revoked_qualification_no_longer_counts(researcher):
    manager = create_manager(create_lab())
    xps = create_instrument(lab=manager.managed_labs[0], requires_qualification=True)
    qualification = training.grant_qualification(db.session, manager, researcher, xps, now=NOW)
    training.revoke_qualification(db.session, manager, qualification, now=NOW)
    db.session.commit()
    assert refusal_codes(researcher, xps, lab_time(MONDAY, 9), lab_time(MONDAY, 10)) == \
        ["not_qualified"]


def test_weekly_quota_counts_the_organizations_hours(instrument):
    organization = create_organization(weekly_quota_hours=3)
    alice, bob = create_user(organization=organization), create_user(organization=organization)
    book(alice, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 11))
    other = create_instrument()
    assert refusal_codes(bob, other, lab_time(MONDAY, 13), lab_time(MONDAY, 15)) == \
        ["quota_exceeded"]
    assert book(bob, other, lab_time(MONDAY, 13), lab_time(MONDAY, 14))
    next_week = MONDAY + dt.timedelta(days=7)
    assert book(bob, other, lab_time(next_week, 9), lab_time(next_week, 12))


def test_suspended_organizations_cannot_book(instrument):
    user = create_user(organization=create_organization(status=OrganizationStatus.SUSPENDED))
    assert refusal_codes(user, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10)) == \
        ["org_suspended"]


def test_every_problem_is_reported_at_once(researcher, instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 17),
                   end_at=lab_time(MONDAY, 18))
    instrument.status = InstrumentStatus.MAINTENANCE
    db.session.commit()
    codes = refusal_codes(researcher, instrument, lab_time(MONDAY, 17, 10),
                          lab_time(MONDAY, 23, 10))
    assert set(codes) == {"overlap", "not_aligned", "too_long", "outside_hours",
                          "instrument_unavailable"}
    assert codes[0] == "overlap"


def test_problems_carry_the_interval_at_fault(researcher, instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10),
                   end_at=lab_time(MONDAY, 11))
    with pytest.raises(services.BookingRefused) as refused:
        book(researcher, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    overlap = refused.value.problems[0]
    assert overlap.extra["start"] == lab_time(MONDAY, 10).isoformat()
    assert overlap.message


def test_managers_override_soft_rules_only_and_it_is_audited(researcher):
    manager = create_manager(create_lab())
    instrument = create_instrument(lab=manager.managed_labs[0], min_notice_minutes=120)
    friday = MONDAY - dt.timedelta(days=3)
    booking = book(manager, instrument, lab_time(friday, 12, 30), lab_time(friday, 19),
                   override=True)
    assert booking.is_override
    event = db.session.query(AuditEvent).one()
    assert set(event.details["overridden"]) == {"too_soon", "outside_hours"}

    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10),
                   end_at=lab_time(MONDAY, 11))
    assert refusal_codes(manager, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11),
                         override=True) == ["overlap"]


def test_researchers_cannot_override(researcher, instrument):
    with pytest.raises(PermissionDenied):
        book(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10), override=True)


def test_managers_of_another_lab_cannot_override(instrument):
    outsider = create_manager(create_lab())
    with pytest.raises(PermissionDenied):
        book(outsider, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10), override=True)


def test_approval_required_bookings_start_pending(researcher):
    instrument = create_instrument(requires_approval=True)
    assert book(researcher, instrument, lab_time(MONDAY, 9),
                lab_time(MONDAY, 10)).state == BookingState.PENDING
    manager = create_manager(instrument.lab)
    assert book(manager, instrument, lab_time(MONDAY, 10),
                lab_time(MONDAY, 11)).state == BookingState.APPROVED


def test_refused_overlap_suggests_free_slots_here_and_on_siblings(researcher, instrument):
    sibling = create_instrument(category=instrument.category, lab=instrument.lab)
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 8),
                   end_at=lab_time(MONDAY, 12))
    with pytest.raises(services.BookingRefused) as refused:
        book(researcher, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11))
    suggestions = [(s.instrument.id, s.start, s.end) for s in refused.value.suggestions]
    assert suggestions[0] == (instrument.id, lab_time(MONDAY, 12), lab_time(MONDAY, 13))
    assert (sibling.id, lab_time(MONDAY, 10), lab_time(MONDAY, 11)) in suggestions
    for _id, start, end in suggestions:
        assert end - start == dt.timedelta(hours=1)


def test_a_user_without_organization_cannot_book(instrument):
    admin = create_user(role=Role.ADMIN, organization=None)
    from labbook.core.errors import ValidationError

    with pytest.raises(ValidationError):
        book(admin, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))


def test_purpose_is_required(researcher, instrument):
    from labbook.core.errors import ValidationError

    with pytest.raises(ValidationError) as refused:
        book(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10), purpose="  ")
    assert refused.value.problems[0].field == "purpose"
