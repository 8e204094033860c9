"""Fault reports and the instrument log: a user reports a problem, the lab's managers answer
it, put the instrument into maintenance from it (seeing the bookings hit) and close it; the
time the instrument was down is its downtime."""

import datetime as dt

import pytest
from sqlalchemy import select

from labbook.audit.models import AuditEvent
from labbook.catalogue.models import InstrumentStatus
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from labbook.extensions import db
from labbook.faults import services
from labbook.faults.models import FaultKind, FaultState, InstrumentFault
from labbook.notify.models import OutboxMessage
from tests.factories import (
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    lab_time,
    next_weekday,
    reload,
)

NOW = lab_time(dt.date(2026, 12, 1), 9)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def lab():
    return create_lab(code="FLT")


@pytest.fixture
def instrument(lab):
    return create_instrument(lab=lab)


@pytest.fixture
def manager(lab):
    return create_manager(lab, email="mgr@example.cn")


@pytest.fixture
def researcher():
    return create_user(email="res@example.cn")


def _messages(kind: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))


def _report(user, instrument, booking=None, text="真空泵异响") -> InstrumentFault:
    with write_transaction(db.session):
        fault = services.report_problem(db.session, user, instrument, description=text,
                                        booking=booking, now=NOW)
    return fault


def test_a_report_reaches_the_labs_managers_and_is_audited(instrument, manager, researcher):
    fault = _report(researcher, instrument)
    assert (fault.kind, fault.state, fault.down_from) == (FaultKind.PROBLEM, FaultState.OPEN,
                                                          None)
    [message] = _messages("fault_reported")
    assert message.recipient == manager.email and "真空泵异响" in message.body_text
    assert db.session.scalar(select(AuditEvent.action).where(
        AuditEvent.object_type == "instrument_faults")) == "report"


def test_a_report_needs_a_description_and_only_ones_own_booking(instrument, manager,
                                                                researcher):
    with pytest.raises(ValidationError):
        _report(researcher, instrument, text="   ")
    someone_elses = create_booking(instrument=instrument)
    with pytest.raises(ValidationError):
        _report(researcher, instrument, booking=someone_elses)
    assert db.session.scalar(select(InstrumentFault.id)) is None
    day = next_weekday(3)
    own = create_booking(instrument=instrument, user=researcher, start_at=lab_time(day, 14),
                         end_at=lab_time(day, 15))
    assert _report(researcher, instrument, booking=own).booking_id == own.id


def test_managers_answer_and_the_reporter_is_told(instrument, manager, researcher):
    fault = _report(researcher, instrument)
    with write_transaction(db.session):
        services.answer_fault(db.session, manager, fault.id, answer="已联系厂家", now=NOW)
    [message] = _messages("fault_open")
    assert message.recipient == researcher.email and "已联系厂家" in message.body_text
    assert reload(fault).state == FaultState.OPEN


def test_only_the_labs_managers_handle_a_report(instrument, researcher):
    fault = _report(researcher, instrument)
    other_manager = create_manager(create_lab())
    for actor in (researcher, other_manager):
        with pytest.raises(NotFound), write_transaction(db.session):
            services.answer_fault(db.session, actor, fault.id, answer="x", now=NOW)
    with pytest.raises(PermissionDenied), write_transaction(db.session):
        services.log_entry(db.session, researcher, instrument, kind="breakdown",
                           description="x", down_from=None, down_until=None, cause="", fix="",
                           now=NOW)


def test_maintenance_from_a_report_shows_the_bookings_hit_then_closing_ends_downtime(
        client, login_as, instrument, manager, researcher):
    day = next_weekday(2)
    hit = create_booking(instrument=instrument, start_at=lab_time(day, 10),
                         end_at=lab_time(day, 12))
    fault = _report(researcher, instrument)
    login_as(manager)
    response = client.post(f"/manage/faults/{fault.id}/maintenance",
                           data={"maintenance-kind": "breakdown",
                                 "maintenance-reason": "真空泵故障"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/instruments/{instrument.id}/bookings")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert hit.organization.name in page
    fault = reload(fault)
    assert reload(instrument).status == InstrumentStatus.MAINTENANCE
    assert fault.kind == FaultKind.BREAKDOWN and fault.down_from is not None
    response = client.post(f"/manage/faults/{fault.id}/close",
                           data={"close-kind": "breakdown", "close-cause": "轴承磨损",
                                 "close-fix": "更换真空泵", "close-back_in_service": "y"})
    assert response.status_code == 302
    fault = reload(fault)
    assert fault.state == FaultState.CLOSED and fault.down_until is not None
    assert (fault.cause, fault.fix) == ("轴承磨损", "更换真空泵")
    assert reload(instrument).status == InstrumentStatus.AVAILABLE
    assert [m.recipient for m in _messages("fault_closed")] == [researcher.email]


def test_a_closed_report_cannot_be_closed_or_answered_again(instrument, manager, researcher):
    fault = _report(researcher, instrument)
    with write_transaction(db.session):
        services.close_fault(db.session, manager, fault.id, kind="problem", cause="",
                             fix="", back_in_service=False, now=NOW)
    for change in (
            lambda: services.close_fault(db.session, manager, fault.id, kind="problem",
                                         cause="", fix="", back_in_service=False, now=NOW),
            lambda: services.answer_fault(db.session, manager, fault.id, answer="x", now=NOW)):
        with pytest.raises(Conflict) as refused, write_transaction(db.session):
            change()
        assert refused.value.code == "invalid_state"


def test_a_breakdown_needs_its_fix_to_be_closed(instrument, manager, researcher):
    fault = _report(researcher, instrument)
    with pytest.raises(ValidationError) as refused, write_transaction(db.session):
        services.close_fault(db.session, manager, fault.id, kind="breakdown", cause="",
                             fix="", back_in_service=False, now=NOW)
    assert refused.value.problems[0].field == "fix"
    assert reload(fault).state == FaultState.OPEN


def test_logged_downtime_is_checked(instrument, manager):
    def log(**times):
        with write_transaction(db.session):
            return services.log_entry(db.session, manager, instrument, kind="maintenance",
                                      description="年度校准", cause="", fix="校准完成",
                                      now=NOW, **times)

    for times in ({"down_from": NOW, "down_until": NOW},
                  {"down_from": None, "down_until": NOW},
                  {"down_from": NOW + HOUR, "down_until": None}):
        with pytest.raises(ValidationError):
            log(**times)
    closed = log(down_from=NOW - 3 * HOUR, down_until=NOW - HOUR)
    assert closed.state == FaultState.CLOSED
    assert log(down_from=NOW - HOUR, down_until=None).state == FaultState.OPEN


def test_downtime_joins_log_entries_and_closures_and_cuts_them_to_the_period(instrument,
                                                                             manager):
    from labbook.booking.models import Blackout

    start, end = lab_time(dt.date(2026, 1, 1), 0), lab_time(dt.date(2027, 1, 1), 0)
    with write_transaction(db.session):
        # 2025-12-31 22:00 to 2026-01-01 02:00 lab time: two hours fall in 2026.
        services.log_entry(db.session, manager, instrument, kind="breakdown", description="x",
                           down_from=start - 2 * HOUR, down_until=start + 2 * HOUR, cause="",
                           fix="y", now=NOW)
        # 10:00–14:00 logged, and a closure 12:00–16:00 of the same day: 6 hours in all.
        services.log_entry(db.session, manager, instrument, kind="maintenance",
                           description="x", down_from=start + 10 * HOUR,
                           down_until=start + 14 * HOUR, cause="", fix="y", now=NOW)
        db.session.add(Blackout(instrument=instrument, start_at=start + 12 * HOUR,
                                end_at=start + 16 * HOUR, reason="维护"))
    intervals = services.downtime_intervals(db.session, [instrument.id], start, end, now=NOW)
    assert intervals[instrument.id] == [(start, start + 2 * HOUR),
                                        (start + 10 * HOUR, start + 16 * HOUR)]


def test_the_report_page_is_linked_from_the_instrument_and_the_booking(
        client, login_as, instrument, manager, researcher):
    booking = create_booking(instrument=instrument, user=researcher)
    login_as(researcher)
    assert f"/instruments/{instrument.id}/report-problem" in client.get(
        f"/instruments/{instrument.id}").get_data(as_text=True)
    assert f"/instruments/{instrument.id}/report-problem?booking={booking.id}" in client.get(
        f"/bookings/{booking.id}").get_data(as_text=True).replace("&amp;", "&")
    response = client.post(f"/instruments/{instrument.id}/report-problem?booking={booking.id}",
                           data={"description": "样品台卡住"})
    assert response.status_code == 302
    fault = db.session.scalar(select(InstrumentFault))
    assert fault.booking_id == booking.id
    page = client.get(f"/instruments/{instrument.id}/report-problem").get_data(as_text=True)
    assert "样品台卡住" in page


def test_a_visitor_is_sent_to_sign_in(client, instrument):
    response = client.get(f"/instruments/{instrument.id}/report-problem")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_admin_page_shows_the_instruments_log(client, login_as, instrument, manager):
    with write_transaction(db.session):
        services.log_entry(db.session, manager, instrument, kind="maintenance",
                           description="更换灯丝", down_from=NOW - HOUR, down_until=NOW,
                           cause="灯丝老化", fix="已更换", now=NOW)
    login_as(manager)
    page = client.get(f"/admin/instruments/{instrument.id}").get_data(as_text=True)
    assert "更换灯丝" in page and "灯丝老化" in page
    page = client.get("/manage/faults").get_data(as_text=True)
    assert "更换灯丝" in page


def test_the_mobile_instrument_page_links_to_the_report(client, instrument):
    page = client.get(f"/m/instruments/{instrument.id}").get_data(as_text=True)
    assert f"/instruments/{instrument.id}/report-problem" in page
