"""The booking API as a researcher and a manager use it."""

import datetime as dt

import pytest
from sqlalchemy import event

from labbook.booking import changes
from labbook.booking.models import Blackout, Booking, BookingState
from labbook.booking.training import grant_qualification
from labbook.catalogue.models import InstrumentStatus
from labbook.extensions import db
from tests.factories import (
    bearer,
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


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()


def body(instrument, start, end, **extra):
    return {"instrument_id": instrument.id, "start": iso(start), "end": iso(end),
            "purpose": "正极材料 XRD 物相分析", **extra}


@pytest.fixture
def researcher():
    return create_user()


@pytest.fixture
def instrument():
    return create_instrument()


def test_create_and_read_a_booking(client, researcher, instrument):
    headers = bearer(researcher)
    response = client.post("/api/v1/bookings", headers=headers, json=body(
        instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10), project_ref="PO-77"))
    assert response.status_code == 201, response.json
    booking = response.json
    assert booking["state"] == "approved"
    assert booking["project_ref"] == "PO-77"
    assert dt.datetime.fromisoformat(booking["start"]) == lab_time(MONDAY, 9)
    assert response.headers["Location"].endswith(f"/api/v1/bookings/{booking['id']}")

    again = client.get(f"/api/v1/bookings/{booking['id']}", headers=headers)
    assert again.status_code == 200 and again.json["id"] == booking["id"]
    listed = client.get("/api/v1/bookings", headers=headers).json
    assert [item["id"] for item in listed["items"]] == [booking["id"]]


def test_requests_without_a_token_are_401(client, instrument):
    response = client.post("/api/v1/bookings", json=body(
        instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10)))
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert "Bearer" in response.headers["WWW-Authenticate"]
    bad = client.get("/api/v1/bookings", headers={"Authorization": "Bearer lbk_nope"})
    assert bad.status_code == 401


@pytest.mark.parametrize(("change", "code", "field"), [
    (lambda b: b.pop("start"), "required", "start"),
    (lambda b: b.pop("purpose"), "required", "purpose"),
    (lambda b: b.update(start="next monday"), "invalid_datetime", "start"),
    (lambda b: b.update(start="2027-03-01T09:00:00"), "naive_datetime", "start"),
    (lambda b: b.update(instrument_id="7"), "invalid", "instrument_id"),
    (lambda b: b.update(purpose="x" * 501), "too_long_text", "purpose"),
    (lambda b: b.update(override="yes"), "invalid", "override"),
])
def test_malformed_input_is_a_422_naming_the_field(client, researcher, instrument, change,
                                                   code, field):
    data = body(instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))
    change(data)
    response = client.post("/api/v1/bookings", headers=bearer(researcher), json=data)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert {"code": code, "field": field} in [
        {"code": p["code"], "field": p.get("field")} for p in response.json["problems"]]
    assert db.session.query(Booking).count() == 0


def test_end_before_start_is_a_422_invalid_interval(client, researcher, instrument):
    response = client.post("/api/v1/bookings", headers=bearer(researcher), json=body(
        instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 9)))
    assert response.status_code == 422
    assert response.json["problems"][0]["code"] == "invalid_interval"


@pytest.mark.parametrize("payload", [None, "[]", "not json", '{"instrument_id": 1e400}'])
def test_unreadable_bodies_are_422(client, researcher, payload):
    response = client.post("/api/v1/bookings", headers={**bearer(researcher),
                                                        "Content-Type": "application/json"},
                           data=payload or "")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"


def test_rule_refusals_are_409_with_problems_and_suggestions(client, researcher, instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 9),
                   end_at=lab_time(MONDAY, 11))
    response = client.post("/api/v1/bookings", headers=bearer(researcher), json=body(
        instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11)))
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "overlap"
    problem = response.json["problems"][0]
    assert problem["code"] == "overlap" and problem["message"]
    assert dt.datetime.fromisoformat(problem["start"]) == lab_time(MONDAY, 9)
    first = response.json["suggestions"][0]
    assert {key: value for key, value in first.items() if key not in {"start", "end"}} == {
        "instrument_id": instrument.id, "instrument_code": instrument.code,
        "instrument_name": instrument.name_zh, "instrument_name_en": instrument.name_en}
    assert [dt.datetime.fromisoformat(first[key]) for key in ("start", "end")] == \
        [lab_time(MONDAY, 11), lab_time(MONDAY, 12)]


def test_unknown_instrument_is_404(client, researcher):
    response = client.post("/api/v1/bookings", headers=bearer(researcher), json={
        "instrument_id": 999999, "start": iso(lab_time(MONDAY, 9)),
        "end": iso(lab_time(MONDAY, 10)), "purpose": "x"})
    assert response.status_code == 404


def test_someone_elses_booking_is_404_and_cannot_be_cancelled(client, instrument):
    booking = create_booking(instrument=instrument)
    stranger = bearer(create_user())
    assert client.get(f"/api/v1/bookings/{booking.id}", headers=stranger).status_code == 404
    response = client.post(f"/api/v1/bookings/{booking.id}/cancel", headers=stranger)
    assert response.status_code == 404
    assert reload(booking).state == BookingState.APPROVED


def test_cancel_own_booking_frees_the_slot(client, researcher, instrument):
    headers = bearer(researcher)
    created = client.post("/api/v1/bookings", headers=headers, json=body(
        instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))).json
    cancelled = client.post(f"/api/v1/bookings/{created['id']}/cancel", headers=headers,
                            json={"note": "样品未到"})
    assert cancelled.status_code == 200
    assert cancelled.json["state"] == "cancelled"
    assert not cancelled.json["is_late_cancellation"]
    again = client.post("/api/v1/bookings", headers=bearer(create_user()), json=body(
        instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10)))
    assert again.status_code == 201


def test_cancelling_inside_the_window_is_late(client, researcher):
    instrument = create_instrument(cancellation_window_hours=24 * 30)
    booking = create_booking(instrument=instrument, user=researcher)
    response = client.post(f"/api/v1/bookings/{booking.id}/cancel", headers=bearer(researcher))
    assert response.json["is_late_cancellation"] is True


def test_approval_flow_for_managers_of_the_lab_only(client, researcher):
    lab = create_lab()
    instrument = create_instrument(lab=lab, requires_approval=True)
    manager, outsider = create_manager(lab), create_manager(create_lab())
    created = client.post("/api/v1/bookings", headers=bearer(researcher), json=body(
        instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))).json
    assert created["state"] == "pending"

    queue = client.get("/api/v1/bookings", headers=bearer(manager),
                       query_string={"lab": lab.code, "state": "pending"}).json
    assert [item["id"] for item in queue["items"]] == [created["id"]]
    outsider_headers = bearer(outsider)
    assert client.get("/api/v1/bookings", headers=outsider_headers,
                      query_string={"lab": lab.code, "state": "pending"}).json["items"] == []
    assert client.post(f"/api/v1/bookings/{created['id']}/approve",
                       headers=outsider_headers).status_code == 404
    assert client.post(f"/api/v1/bookings/{created['id']}/approve",
                       headers=bearer(researcher)).status_code == 403

    approved = client.post(f"/api/v1/bookings/{created['id']}/approve", headers=bearer(manager),
                           json={"note": "请提前半小时到"})
    assert approved.status_code == 200 and approved.json["state"] == "approved"
    twice = client.post(f"/api/v1/bookings/{created['id']}/reject", headers=bearer(manager),
                        json={"note": "x"})
    assert twice.status_code == 409


def test_reject_needs_a_note(client, researcher):
    lab = create_lab()
    booking = create_booking(instrument=create_instrument(lab=lab), user=researcher,
                             state=BookingState.PENDING)
    manager = bearer(create_manager(lab))
    assert client.post(f"/api/v1/bookings/{booking.id}/reject", headers=manager).status_code \
        == 422
    response = client.post(f"/api/v1/bookings/{booking.id}/reject", headers=manager,
                           json={"note": "该时段仪器需校准"})
    assert response.json["state"] == "rejected"
    assert response.json["decision_note"] == "该时段仪器需校准"


def test_someone_who_may_not_reject_learns_nothing_from_a_missing_note(client, researcher):
    lab = create_lab()
    booking = create_booking(instrument=create_instrument(lab=lab), user=researcher,
                             state=BookingState.PENDING)
    outsider = bearer(create_manager(create_lab()))
    assert client.post(f"/api/v1/bookings/{booking.id}/reject",
                       headers=outsider).status_code == 404
    assert client.post(f"/api/v1/bookings/{booking.id}/reject",
                       headers=bearer(researcher)).status_code == 403


def test_recurring_all_or_nothing_and_skip_conflicts(client, researcher, instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY + dt.timedelta(days=2), 9),
                   end_at=lab_time(MONDAY + dt.timedelta(days=2), 10))
    series = body(instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
                  recurrence={"frequency": "daily", "count": 5})
    headers = bearer(researcher)
    refused = client.post("/api/v1/bookings", headers=headers, json=series)
    assert refused.status_code == 409
    assert len(refused.json["occurrences"]) == 1
    assert db.session.query(Booking).count() == 1

    series["skip_conflicts"] = True
    created = client.post("/api/v1/bookings", headers=headers, json=series)
    assert created.status_code == 201
    assert len(created.json["created"]) == 4
    [skipped] = created.json["skipped"]
    assert dt.datetime.fromisoformat(skipped["start"]) == \
        lab_time(MONDAY + dt.timedelta(days=2), 9)
    assert skipped["problems"][0]["code"] == "overlap"


def test_weekly_series_on_chosen_weekdays(client, researcher, instrument):
    response = client.post("/api/v1/bookings", headers=bearer(researcher), json=body(
        instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
        recurrence={"frequency": "weekly", "weekdays": [0, 3], "until": (
            MONDAY + dt.timedelta(days=13)).isoformat()}))
    assert response.status_code == 201, response.json
    starts = [dt.datetime.fromisoformat(b["start"]) for b in response.json["created"]]
    assert starts == [lab_time(MONDAY + dt.timedelta(days=d), 9) for d in (0, 3, 7, 10)]


def test_bad_recurrence_is_422(client, researcher, instrument):
    response = client.post("/api/v1/bookings", headers=bearer(researcher), json=body(
        instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10),
        recurrence={"frequency": "hourly", "count": 3}))
    assert response.status_code == 422
    assert response.json["problems"][0]["field"].startswith("recurrence")


def test_availability_hides_other_organizations(client, instrument):
    own_org = create_organization()
    me, colleague, stranger = (create_user(organization=own_org),
                               create_user(organization=own_org), create_user())
    create_booking(instrument=instrument, user=stranger, start_at=lab_time(MONDAY, 9),
                   end_at=lab_time(MONDAY, 10), purpose="机密项目")
    mine = create_booking(instrument=instrument, user=me, start_at=lab_time(MONDAY, 11),
                          end_at=lab_time(MONDAY, 12), purpose="我的样品")
    create_booking(instrument=instrument, user=colleague, start_at=lab_time(MONDAY, 13),
                   end_at=lab_time(MONDAY, 14), purpose="同事的样品")
    response = client.get(f"/api/v1/instruments/{instrument.id}/availability", headers=bearer(me),
                          query_string={"start": iso(lab_time(MONDAY, 0)),
                                        "end": iso(lab_time(MONDAY + dt.timedelta(days=1), 0))})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "机密项目" not in text and stranger.name not in text
    assert "同事的样品" not in text
    busy = response.json["busy"]
    assert [entry.get("id") for entry in busy][1] == mine.id
    assert busy[1]["purpose"] == "我的样品"
    free = [(dt.datetime.fromisoformat(f["start"]), dt.datetime.fromisoformat(f["end"]))
            for f in response.json["free"]]
    assert free == [(lab_time(MONDAY, 8), lab_time(MONDAY, 9)),
                    (lab_time(MONDAY, 10), lab_time(MONDAY, 11)),
                    (lab_time(MONDAY, 12), lab_time(MONDAY, 13)),
                    (lab_time(MONDAY, 14), lab_time(MONDAY, 18))]


def _tuesday(hour: int, minute: int = 0) -> dt.datetime:
    return lab_time(MONDAY + dt.timedelta(days=1), hour, minute)


def _span(start: dt.datetime, end: dt.datetime, **extra) -> dict:
    return {"start": start.isoformat(), "end": end.isoformat(), **extra}


def _two_days(client, instrument, headers: dict):
    response = client.get(f"/api/v1/instruments/{instrument.id}/availability",
                          headers={"Accept-Language": "en", **headers}, query_string={
                              "start": iso(lab_time(MONDAY, 0)),
                              "end": iso(lab_time(MONDAY + dt.timedelta(days=2), 0))})
    assert response.status_code == 200, response.json
    return response


@pytest.mark.parametrize("viewer", ["anonymous", "owner", "manager", "admin"])
def test_availability_answer_as_each_viewer_sees_it(client, viewer):
    """The whole answer: each viewer sees others' bookings as much as they may, a run through
    the night holds the next morning, closures of the lab and of the instrument cut the free
    time, and a finished booking is shown but holds nothing."""
    instrument = create_instrument(buffer_minutes=15)
    own_org = create_organization()
    owner, colleague, stranger = (create_user(organization=own_org),
                                  create_user(organization=own_org), create_user())
    mine = create_booking(instrument=instrument, user=owner, start_at=lab_time(MONDAY, 9),
                          end_at=lab_time(MONDAY, 10), purpose="我的样品")
    theirs = create_booking(instrument=instrument, user=colleague, state=BookingState.PENDING,
                            start_at=lab_time(MONDAY, 11), end_at=lab_time(MONDAY, 12),
                            purpose="同事的样品")
    done = create_booking(instrument=instrument, user=stranger, state=BookingState.COMPLETED,
                          start_at=lab_time(MONDAY, 13), end_at=lab_time(MONDAY, 14),
                          purpose="已完成")
    create_booking(instrument=instrument, user=stranger, state=BookingState.CANCELLED,
                   start_at=lab_time(MONDAY, 15), end_at=lab_time(MONDAY, 16), purpose="取消")
    night = create_booking(instrument=instrument, user=stranger, state=BookingState.IN_USE,
                           start_at=lab_time(MONDAY, 20), end_at=_tuesday(8, 30),
                           purpose="通宵")
    db.session.add_all([
        Blackout(lab_id=instrument.lab_id, start_at=_tuesday(12), end_at=_tuesday(13),
                 reason="停电"),
        Blackout(instrument_id=instrument.id, start_at=_tuesday(15), end_at=_tuesday(16),
                 reason="维护")])
    db.session.commit()
    headers = {"anonymous": {}, "owner": bearer(owner),
               "manager": bearer(create_manager(instrument.lab)),
               "admin": bearer(create_admin())}[viewer]

    def full(booking: Booking, user) -> dict:
        return _span(booking.start_at, booking.end_at, kind="booking", id=booking.id,
                     state=booking.state.value, user=user.name,
                     title=f"{user.name}: {booking.purpose}", purpose=booking.purpose,
                     organization=user.organization.name, own=viewer == "owner")

    def booked(booking: Booking) -> dict:
        return _span(booking.start_at, booking.end_at, kind="booking", title="Booked")

    if viewer == "anonymous":
        shown = [booked(b) for b in (mine, theirs, done, night)]
    elif viewer == "owner":
        shown = [full(mine, owner),
                 _span(theirs.start_at, theirs.end_at, kind="booking", id=theirs.id,
                       state="pending", user=colleague.name,
                       title=f"Booked by {colleague.name}"),
                 booked(done), booked(night)]
    else:
        shown = [full(mine, owner), full(theirs, colleague), full(done, stranger),
                 full(night, stranger)]
    response = _two_days(client, instrument, headers)
    # Only an answer with text in the asked language (others' bookings) varies by it.
    assert ("Accept-Language" in response.vary) == (viewer in ("anonymous", "owner"))
    assert response.json == {
        "instrument_id": instrument.id, "start": lab_time(MONDAY, 0).isoformat(),
        "end": lab_time(MONDAY + dt.timedelta(days=2), 0).isoformat(),
        "timezone": "Asia/Shanghai", "channels": 1,
        "busy": [*shown,
                 _span(_tuesday(12), _tuesday(13), kind="blackout", title="停电"),
                 _span(_tuesday(15), _tuesday(16), kind="blackout", title="维护")],
        "free": [_span(lab_time(MONDAY, 8), lab_time(MONDAY, 9)),
                 _span(lab_time(MONDAY, 10, 15), lab_time(MONDAY, 11)),
                 _span(lab_time(MONDAY, 12, 15), lab_time(MONDAY, 18)),
                 _span(_tuesday(8, 45), _tuesday(12)), _span(_tuesday(13), _tuesday(15)),
                 _span(_tuesday(16), _tuesday(18))]}


def test_availability_answer_of_an_instrument_with_channels(client):
    """Free channels span by span: bookings holding some channels, one through the night, a
    closure of the lab; an instrument out of service has none free."""
    cycler = create_instrument(channels=4)
    owner, stranger = create_user(), create_user()
    create_booking(instrument=cycler, user=owner, channel_mask=0b0011,
                   start_at=lab_time(MONDAY, 9), end_at=lab_time(MONDAY, 12))
    night = create_booking(instrument=cycler, user=stranger, channel_mask=0b0100,
                           start_at=lab_time(MONDAY, 10), end_at=_tuesday(9), purpose="通宵")
    db.session.add(Blackout(lab_id=cycler.lab_id, start_at=lab_time(MONDAY, 14),
                            end_at=lab_time(MONDAY, 15), reason="停电"))
    db.session.commit()
    answer = _two_days(client, cycler, bearer(owner)).json
    assert answer["channels"] == 4
    assert answer["busy"][1:] == [
        _span(night.start_at, night.end_at, kind="booking", title="Booked"),
        _span(lab_time(MONDAY, 14), lab_time(MONDAY, 15), kind="blackout", title="停电")]
    capacity = [(lab_time(MONDAY, 8), lab_time(MONDAY, 9), 4),
                (lab_time(MONDAY, 9), lab_time(MONDAY, 10), 2),
                (lab_time(MONDAY, 10), lab_time(MONDAY, 12), 1),
                (lab_time(MONDAY, 12), lab_time(MONDAY, 14), 3),
                (lab_time(MONDAY, 15), lab_time(MONDAY, 18), 3),
                (_tuesday(8), _tuesday(9), 3), (_tuesday(9), _tuesday(18), 4)]
    assert answer["capacity"] == [_span(s, e, free_channels=n) for s, e, n in capacity]
    assert answer["free"] == [_span(s, e) for s, e, _n in capacity]
    cycler.status = InstrumentStatus.MAINTENANCE
    db.session.commit()
    answer = _two_days(client, cycler, {}).json
    assert (answer["free"], answer["capacity"], len(answer["busy"])) == ([], [], 3)


@pytest.mark.parametrize("params", [
    {},
    {"start": "2027-03-01T00:00:00+08:00", "end": "2027-01-01T00:00:00+08:00"},
    {"start": "2027-03-01T00:00:00+08:00", "end": "2028-03-01T00:00:00+08:00"},
    {"start": "2027-03-01T00:00:00", "end": "2027-03-02T00:00:00+08:00"},
])
def test_availability_refuses_bad_windows(client, instrument, params):
    response = client.get(f"/api/v1/instruments/{instrument.id}/availability",
                          query_string=params)
    assert response.status_code == 422


def test_availability_of_an_unknown_instrument_is_404_before_its_window_is_read(client):
    response = client.get("/api/v1/instruments/99999/availability",
                          headers={"Accept-Language": "en"}, query_string={"start": "bad"})
    assert response.status_code == 404
    assert response.json == {"code": "not_found", "status": 404, "type": "about:blank",
                             "title": "No instrument with id 99999."}


def test_instrument_detail_and_labs_carry_rules_and_hours(client, instrument):
    detail = client.get(f"/api/v1/instruments/{instrument.id}").json
    assert detail["rules"] == {
        "slot_minutes": 30, "min_minutes": 30, "max_minutes": 480, "min_notice_minutes": 60,
        "horizon_days": 60, "buffer_minutes": 0, "requires_approval": False,
        "requires_qualification": False, "cancellation_window_hours": 24}
    lab = client.get("/api/v1/labs").json["items"][0]
    assert lab["timezone"] == "Asia/Shanghai"
    assert lab["opening_hours"]["mon"] == [["08:00", "18:00"]]
    assert lab["opening_hours"]["sun"] == []


def test_qualifications_api(client):
    lab = create_lab()
    instrument = create_instrument(lab=lab, requires_qualification=True)
    researcher = create_user()
    manager = bearer(create_manager(lab))
    granted = client.post("/api/v1/qualifications", headers=manager, json={
        "user_email": researcher.email.upper(), "instrument_id": instrument.id})
    assert granted.status_code == 201, granted.json
    booked = client.post("/api/v1/bookings", headers=bearer(researcher), json=body(
        instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10)))
    assert booked.status_code == 201

    outsider = bearer(create_manager(create_lab()))
    assert client.post("/api/v1/qualifications", headers=outsider, json={
        "user_email": researcher.email, "instrument_id": instrument.id}).status_code == 403
    assert client.delete(f"/api/v1/qualifications/{granted.json['id']}",
                         headers=outsider).status_code == 404
    assert client.delete(f"/api/v1/qualifications/{granted.json['id']}",
                         headers=manager).status_code == 204
    refused = client.post("/api/v1/bookings", headers=bearer(researcher), json=body(
        instrument, lab_time(MONDAY, 11), lab_time(MONDAY, 12)))
    assert refused.json["code"] == "not_qualified"
    unknown = client.post("/api/v1/qualifications", headers=manager, json={
        "user_email": "nobody@example.cn", "instrument_id": instrument.id})
    assert unknown.status_code == 422


def test_blackouts_api_reports_and_cancels_hit_bookings(client, researcher):
    lab = create_lab()
    instrument = create_instrument(lab=lab)
    hit = create_booking(instrument=instrument, user=researcher, start_at=lab_time(MONDAY, 9),
                         end_at=lab_time(MONDAY, 10))
    manager = bearer(create_manager(lab))
    response = client.post("/api/v1/blackouts", headers=manager, json={
        "lab": lab.code, "start": iso(lab_time(MONDAY, 8)), "end": iso(lab_time(MONDAY, 12)),
        "reason": "配电检修", "cancel_affected": True, "notice": "实验室停电，请改约"})
    assert response.status_code == 201, response.json
    assert [b["id"] for b in response.json["affected_bookings"]] == [hit.id]
    assert response.json["cancelled_booking_ids"] == [hit.id]
    assert response.json["emails_queued"] == 1
    hit = reload(hit)
    assert hit.state == BookingState.CANCELLED and not hit.is_late_cancellation
    refused = client.post("/api/v1/bookings", headers=bearer(researcher), json=body(
        instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11)))
    assert refused.json["code"] == "blackout"

    assert client.post("/api/v1/blackouts", headers=bearer(researcher), json={
        "lab": lab.code, "start": iso(lab_time(MONDAY, 8)), "end": iso(lab_time(MONDAY, 12)),
        "reason": "x"}).status_code == 403
    assert client.post("/api/v1/blackouts", headers=manager, json={
        "start": iso(lab_time(MONDAY, 8)), "end": iso(lab_time(MONDAY, 12)),
        "reason": "x"}).status_code == 422


def test_a_booking_just_made_answers_without_looking_for_a_change_waiting(client, instrument):
    """A manager's booking of an instrument that needs approval is approved at once; a change
    can wait for approval on such a booking, but not on one made a moment ago."""
    instrument.requires_approval = True
    manager = create_manager(instrument.lab)
    db.session.commit()
    statements = []

    def statement(_connection, _cursor, sql, *_args) -> None:
        statements.append(sql)

    event.listen(db.engine, "before_cursor_execute", statement)
    try:
        response = client.post("/api/v1/bookings", headers=bearer(manager), json=body(
            instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10)))
    finally:
        event.remove(db.engine, "before_cursor_execute", statement)
    assert response.status_code == 201, response.json
    assert response.json["state"] == "approved"
    assert response.json["pending_change"] is None
    assert not [sql for sql in statements if "booking_changes" in sql]


def test_making_and_moving_a_booking_reads_in_one_transaction_what_it_answers(
        client, researcher, instrument):
    """The answer's price is read before the commit (after it, its read would be a transaction
    of its own); the paying organization's overdue setting and the rate cards of its tier come
    with its lock, and the bookings and closures in the way in one statement."""
    with Sent() as made:
        response = client.post("/api/v1/bookings", headers=bearer(researcher), json=body(
            instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10)))
    assert response.status_code == 201, response.json
    assert response.json["estimate"]["amount"] == "100.00"
    address = f"/api/v1/bookings/{response.json['id']}"
    # Priced in the transaction as a booking shown later is priced.
    assert response.json == client.get(address, headers=bearer(researcher)).json
    later = {"start": iso(lab_time(MONDAY, 11)), "end": iso(lab_time(MONDAY, 12))}
    with Sent() as moved:
        response = client.patch(address, headers=bearer(researcher), json=later)
    assert response.status_code == 200, response.json
    assert {**response.json, "change": None} == {
        **client.get(address, headers=bearer(researcher)).json, "change": None}
    for sent in (made, moved):
        [priced] = [sql for sql in sent if "rate_cards" in sql]
        assert "JOIN organizations" in priced or "FROM organizations" in priced, priced
        assert "LEFT OUTER JOIN rate_cards" in priced and "billing_profiles" in priced, priced
        assert sent[-1] == "COMMIT", sent[-1]
        assert len([sql for sql in sent if "FROM blackouts" in sql]) == 1
    # A new booking's instrument comes in the same statement (a move's through its booking).
    assert next(sql for sql in made if "rate_cards" in sql).startswith(
        "SELECT instruments.id")


def test_a_new_booking_is_written_by_the_statement_that_reads_what_is_in_its_way(
        client, researcher, instrument):
    """On PostgreSQL the bookings and closures in the way of a new booking are read by the
    statement that writes it and its audit event, unless it finds one: a round trip to the
    server fewer. SQLite reads them and then writes."""
    db.session.add(Blackout(instrument=instrument, start_at=lab_time(MONDAY, 12),
                            end_at=lab_time(MONDAY, 13), reason="保养"))
    db.session.commit()
    for start, status in ((lab_time(MONDAY, 9), 201), (lab_time(MONDAY, 12), 409)):
        with Sent() as sent:
            response = client.post("/api/v1/bookings", headers=bearer(researcher), json=body(
                instrument, start, start + dt.timedelta(hours=1)))
        assert response.status_code == status, response.json
        # The first (a refusal's suggestions read closures again).
        calendar = next(sql for sql in sent if "FROM blackouts" in sql)
        if db.engine.dialect.name == "postgresql":
            assert calendar.startswith("WITH") and "INSERT INTO bookings" in calendar \
                and "INSERT INTO audit_events" in calendar, calendar
            # A refusal too: it wrote nothing, and its statements stay prepared.
            assert sent[-1] == "COMMIT", sent[-1]
        else:
            assert calendar.startswith("SELECT"), calendar
    assert response.json["problems"][0]["code"] == "blackout"
    assert db.session.query(Booking).count() == 1


def test_a_trained_researcher_s_booking_reads_the_record_and_settings_with_the_lock(
        client, researcher):
    """On an instrument that asks for training, the booker's training record and the paying
    organization's overdue setting come with the instrument's and the organization's locks: no
    statement of their own; on a move, the record comes with the booking's lock."""
    instrument = create_instrument(requires_qualification=True)
    grant_qualification(db.session, create_manager(instrument.lab), researcher, instrument,
                        now=dt.datetime.now(dt.UTC))
    db.session.commit()
    with Sent() as made:
        response = client.post("/api/v1/bookings", headers=bearer(researcher), json=body(
            instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10)))
    assert response.status_code == 201, response.json
    for table in ("qualifications", "billing_profiles"):
        reads = [sql for sql in made if table in sql]
        assert len(reads) == 1 and "JOIN organizations" in reads[0], (table, reads)
    later = {"start": iso(lab_time(MONDAY, 11)), "end": iso(lab_time(MONDAY, 12))}
    with Sent() as moved:
        response = client.patch(f"/api/v1/bookings/{response.json['id']}",
                                headers=bearer(researcher), json=later)
    assert response.status_code == 200, response.json
    # The record must cover the booking's person and new end: it comes with the booking's
    # read (on PostgreSQL its locked row, read after the organization's lock; on SQLite the
    # one read of the booking with its instrument).
    reads = [sql for sql in moved if "qualifications" in sql]
    assert len(reads) == 1 and "bookings.start_at" in reads[0], reads


def test_a_move_asks_whether_a_change_waits_with_the_booking_s_lock(client, researcher):
    """On an instrument that needs approval a change may wait; whether one does comes with the
    booking's read (every change record is written under the booking's lock), and the one that
    waits is withdrawn when a manager's move takes its place."""
    instrument = create_instrument(requires_approval=True)
    manager = create_manager(instrument.lab)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 9), end_at=lab_time(MONDAY, 10))
    db.session.commit()
    address = f"/api/v1/bookings/{booking.id}"
    asked = client.patch(address, headers=bearer(researcher), json={
        "start": iso(lab_time(MONDAY, 10)), "end": iso(lab_time(MONDAY, 11))})
    assert asked.status_code == 202, asked.json
    with Sent() as moved:
        response = client.patch(address, headers=bearer(manager), json={
            "start": iso(lab_time(MONDAY, 13)), "end": iso(lab_time(MONDAY, 14))})
    assert response.status_code == 200, response.json
    assert response.json["start"] == lab_time(MONDAY, 13).astimezone(dt.UTC).isoformat()
    assert response.json["pending_change"] is None
    reads = [sql for sql in moved if sql.startswith("SELECT") and "booking_changes" in sql]
    assert "bookings.start_at" in reads[0], reads
    # The state as the partial index of pending changes writes it: bound as a parameter, it
    # would have SQLite prepare the statement again at every run.
    assert "booking_changes.state = 'pending'" in reads[0], reads
    # Only the change found waiting is then read, under its own lock, to be withdrawn.
    assert len(reads) == 2 and reads[1].startswith("SELECT booking_changes."), reads
    withdrawn = client.post(f"/api/v1/booking-changes/{asked.json['change']['id']}/approve",
                            headers=bearer(manager))
    assert withdrawn.status_code == 409, withdrawn.json


def test_every_question_about_a_waiting_change_writes_its_state_into_the_statement(
        client, researcher):
    """The booking's answer, the managers' list and a cancellation's withdrawal ask whether a
    change waits with the state written as the partial index of pending changes writes it."""
    instrument = create_instrument(requires_approval=True)
    booking = create_booking(instrument=instrument, user=researcher,
                             start_at=lab_time(MONDAY, 9), end_at=lab_time(MONDAY, 10))
    db.session.commit()
    address = f"/api/v1/bookings/{booking.id}"
    with Sent() as sent:
        asked = client.patch(address, headers=bearer(researcher), json={
            "start": iso(lab_time(MONDAY, 10)), "end": iso(lab_time(MONDAY, 11))})
        assert asked.status_code == 202, asked.json
        shown = client.get(address, headers=bearer(researcher))
        assert shown.json["pending_change"]["id"] == asked.json["change"]["id"]
        assert [change.id for change in changes.pending_changes(
            db.session, [instrument.lab_id])] == [asked.json["change"]["id"]]
        cancelled = client.post(f"{address}/cancel", headers=bearer(researcher), json={})
        assert cancelled.status_code == 200, cancelled.json
    # The move's read of the booking, the answer's, the managers' list, the withdrawal's.
    asking = [sql for sql in sent if "FROM booking_changes" in sql and "WHERE" in sql]
    assert len(asking) == 4, asking
    assert all("booking_changes.state = 'pending'" in sql for sql in asking), asking
