"""iCal feeds over HTTP: content, RFC 5545, caching, privacy and the life of a token."""

import datetime as dt
import hashlib
from email.utils import format_datetime

import pytest
from flask_babel import force_locale, gettext
from limits import parse as parse_limit
from sqlalchemy import select, update

from labbook.accounts.models import User
from labbook.booking import services as booking_services
from labbook.booking.models import BookingState
from labbook.calendars import services as feed_services
from labbook.calendars import views as calendar_views
from labbook.calendars.models import FeedToken
from labbook.core.time import utcnow
from labbook.extensions import db
from tests.calendars.conftest import count_statements, events_by_uid, parse, subscribe, uid, unfold
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

MONDAY = next_weekday(0)
# The day after that Monday: next_weekday(1) on a Tuesday in the lab is a week before it.
TUESDAY = MONDAY + dt.timedelta(days=1)


@pytest.fixture
def lab():
    return create_lab(code="NEM", name_zh="新能源材料开放共享实验室",
                      name_en="New-Energy Materials Lab", location_zh="A座",
                      location_en="Building A")


@pytest.fixture
def instrument(lab):
    return create_instrument(lab=lab, name_zh="X射线衍射仪", name_en="X-ray Diffractometer",
                             code="NEM-001", room="A305")


@pytest.fixture
def company():
    return create_organization(name="河南电池有限公司")


@pytest.fixture
def researcher(company):
    return create_user(name="赵研究员", organization=company, locale="en")


@pytest.fixture
def rival():
    return create_user(name="钱竞争", organization=create_organization(name="竞争对手公司"))


@pytest.fixture
def manager(lab):
    return create_manager(lab, name="王主任")


def fetch(client, path, **headers):
    return client.get(path, headers=headers)


def cancel(booking, actor):
    booking = reload(booking)
    booking_services.cancel_booking(db.session, actor, booking, now=utcnow())
    db.session.commit()
    return booking


# -- content ------------------------------------------------------------------------------------


def test_my_bookings_feed_shows_every_own_booking_with_detail(client, researcher, instrument):
    approved = create_booking(user=researcher, instrument=instrument, purpose="Phase analysis",
                              project_ref="PO-77", start_at=lab_time(MONDAY, 9))
    pending = create_booking(user=researcher, instrument=instrument, purpose="Retest",
                             state=BookingState.PENDING, start_at=lab_time(TUESDAY, 9))
    elsewhere = create_booking(user=researcher, purpose="Other instrument",
                               start_at=lab_time(TUESDAY, 14))
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 14))  # someone else's

    response = fetch(client, subscribe(researcher, "mine"))
    assert response.status_code == 200
    calendar, second = parse(response.data)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert list(events) == [uid(approved), uid(pending), uid(elsewhere)]  # by start time

    event = events[uid(approved)]
    assert event.decoded("DTSTART") == lab_time(MONDAY, 9)
    assert event.decoded("DTEND") == lab_time(MONDAY, 10)
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["SUMMARY"]) == "X-ray Diffractometer: Phase analysis"
    assert str(event["LOCATION"]) == "New-Energy Materials Lab, room A305 (Building A)"
    assert str(event["URL"]) == f"http://localhost/bookings/{approved.id}"
    description = str(event["DESCRIPTION"])
    assert "State: Approved" in description and "PO-77" in description
    assert event.decoded("DTSTAMP") == approved.updated_at.replace(microsecond=0)
    assert event.decoded("LAST-MODIFIED") == approved.updated_at.replace(microsecond=0)
    assert int(event["SEQUENCE"]) == 0

    assert str(events[uid(pending)]["STATUS"]) == "TENTATIVE"
    assert "Awaiting approval" in str(events[uid(pending)]["SUMMARY"])
    assert second.method == "PUBLISH"


def test_calendar_properties_and_line_format(client, researcher, instrument):
    create_booking(user=researcher, instrument=instrument, purpose="长" * 200 + ", ; \\ \n end")
    body = fetch(client, subscribe(researcher, "mine")).data
    lines = unfold(body)
    assert lines[:2] == ["BEGIN:VCALENDAR", "VERSION:2.0"]
    assert "PRODID:-//Jiaozuo Institute of Industrial Technology//labbook//EN" in lines
    assert "METHOD:PUBLISH" in lines and "CALSCALE:GREGORIAN" in lines
    assert "X-WR-CALNAME:labbook: my bookings" in lines
    assert "X-WR-TIMEZONE:Asia/Shanghai" in lines
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT15M" in lines
    assert "X-PUBLISHED-TTL:PT15M" in lines
    assert len(max(body.split(b"\r\n"), key=len)) <= 75
    assert any(line.startswith(b" ") for line in body.split(b"\r\n"))  # it was folded
    event = parse(body)[0].walk("VEVENT")[0]
    assert str(event["SUMMARY"]).endswith("长, ; \\ \n end")  # escaping survives the trip


def test_summaries_follow_the_subscribers_language(client, instrument, company):
    chinese = create_user(organization=company, locale="zh_CN")
    english = create_user(organization=company, locale="en")
    booking = create_booking(user=chinese, instrument=instrument, purpose="物相分析")
    zh_event = events_by_uid(fetch(client, subscribe(chinese, "mine")).data)[uid(booking)]
    assert str(zh_event["SUMMARY"]).startswith("X射线衍射仪")
    assert "新能源材料开放共享实验室" in str(zh_event["LOCATION"])
    assert "已批准" in str(zh_event["DESCRIPTION"])
    path = subscribe(english, f"instrument:{instrument.id}")
    en_event = events_by_uid(fetch(client, path).data)[uid(booking)]
    assert str(en_event["SUMMARY"]).startswith("X-ray Diffractometer")
    assert "New-Energy Materials Lab" in str(en_event["LOCATION"])


def test_states_map_to_ical_statuses(client, researcher, instrument):
    expected = {BookingState.PENDING: "TENTATIVE", BookingState.APPROVED: "CONFIRMED",
                BookingState.IN_USE: "CONFIRMED", BookingState.COMPLETED: "CONFIRMED",
                BookingState.CANCELLED: "CANCELLED", BookingState.REJECTED: "CANCELLED",
                BookingState.EXPIRED: "CANCELLED"}
    bookings = {state: create_booking(user=researcher, instrument=instrument, state=state,
                                      start_at=lab_time(MONDAY, 8 + n))
                for n, state in enumerate(expected)}
    events = events_by_uid(fetch(client, subscribe(researcher, "mine")).data)
    for state, status in expected.items():
        event = events[uid(bookings[state])]
        assert str(event["STATUS"]) == status, state
        assert str(event["TRANSP"]) == ("TRANSPARENT" if status == "CANCELLED" else "OPAQUE")


def test_the_window_is_90_days_back_to_365_days_ahead(client, researcher, instrument):
    today = dt.datetime.now(dt.UTC)
    inside = [create_booking(user=researcher, instrument=instrument,
                             state=BookingState.COMPLETED, start_at=today - dt.timedelta(days=89)),
              create_booking(user=researcher, instrument=instrument,
                             start_at=today + dt.timedelta(days=364))]
    create_booking(user=researcher, instrument=instrument, state=BookingState.COMPLETED,
                   start_at=today - dt.timedelta(days=91))
    create_booking(user=researcher, instrument=instrument,
                   start_at=today + dt.timedelta(days=366))
    events = events_by_uid(fetch(client, subscribe(researcher, "mine")).data)
    assert sorted(events) == sorted(uid(b) for b in inside)


# -- changes between polls ----------------------------------------------------------------------


def test_bodies_are_byte_identical_while_nothing_changes(client, researcher, instrument):
    for hour in (9, 11, 14):
        create_booking(user=researcher, instrument=instrument, start_at=lab_time(MONDAY, hour))
    path = subscribe(researcher, "mine")
    first, second = fetch(client, path), fetch(client, path)
    assert first.data == second.data
    assert first.headers["ETag"] == second.headers["ETag"]
    assert first.headers["Last-Modified"] == second.headers["Last-Modified"]


def test_a_change_grows_the_sequence_and_a_cancellation_keeps_the_uid(
        client, researcher, instrument):
    booking = create_booking(user=researcher, instrument=instrument, state=BookingState.PENDING)
    manager = create_manager(instrument.lab)
    path = subscribe(researcher, "mine")
    before = fetch(client, path)
    assert int(events_by_uid(before.data)[uid(booking)]["SEQUENCE"]) == 0

    booking = reload(booking)
    booking_services.approve_booking(db.session, manager, booking, now=utcnow())
    db.session.commit()
    approved = fetch(client, path, **{"If-None-Match": before.headers["ETag"]})
    assert approved.status_code == 200
    event = events_by_uid(approved.data)[uid(booking)]
    assert int(event["SEQUENCE"]) == 1 and str(event["STATUS"]) == "CONFIRMED"
    assert approved.headers["ETag"] != before.headers["ETag"]

    cancel(booking, researcher)
    cancelled = fetch(client, path)
    event = events_by_uid(cancelled.data)[uid(booking)]
    assert int(event["SEQUENCE"]) == 2 and str(event["STATUS"]) == "CANCELLED"
    assert event.decoded("DTSTAMP") >= \
        events_by_uid(approved.data)[uid(booking)].decoded("DTSTAMP")


@pytest.mark.parametrize(("days", "kept"), [(29, True), (31, False)])
def test_cancelled_bookings_stay_30_days(client, researcher, instrument, ago, days, kept):
    booking = cancel(create_booking(user=researcher, instrument=instrument), researcher)
    booking.cancelled_at = booking.updated_at = ago(days=days)
    db.session.commit()
    for scope in ("mine", f"instrument:{instrument.id}"):
        events = events_by_uid(fetch(client, subscribe(researcher, scope)).data)
        assert (uid(booking) in events) is kept
        if kept:
            assert str(events[uid(booking)]["STATUS"]) == "CANCELLED"


def test_a_cancellation_dated_back_is_dropped_whatever_column_says_so(
        client, researcher, instrument, ago):
    only_cancelled_at = cancel(create_booking(user=researcher, instrument=instrument,
                                              start_at=lab_time(MONDAY, 9)), researcher)
    only_cancelled_at.cancelled_at = ago(days=31)
    rejected = create_booking(user=researcher, instrument=instrument, start_at=lab_time(MONDAY, 11),
                              state=BookingState.REJECTED, decided_at=ago(days=40),
                              updated_at=ago(days=40))
    db.session.commit()
    events = events_by_uid(fetch(client, subscribe(researcher, "mine")).data)
    assert uid(only_cancelled_at) not in events and uid(rejected) not in events


# -- conditional requests -----------------------------------------------------------------------


def test_caching_headers(client, researcher, instrument):
    booking = create_booking(user=researcher, instrument=instrument)
    response = fetch(client, subscribe(researcher, "mine"))
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["ETag"] == f'"{hashlib.sha256(response.data).hexdigest()}"'
    assert response.headers["Last-Modified"] == format_datetime(
        booking.updated_at.replace(microsecond=0), usegmt=True)
    assert response.headers["Cache-Control"] == "private, max-age=300"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response.headers["X-Robots-Tag"]


def test_an_empty_feed_is_last_modified_when_the_token_was_made(client, researcher):
    path = subscribe(researcher, "mine")
    token = db.session.scalar(select(FeedToken))
    response = fetch(client, path)
    assert response.headers["Last-Modified"] == format_datetime(
        token.created_at.replace(microsecond=0), usegmt=True)
    calendar, _second = parse(response.data)
    assert calendar.walk("VEVENT") == []


def test_304_for_a_matching_etag(client, researcher, instrument):
    create_booking(user=researcher, instrument=instrument)
    path = subscribe(researcher, "mine")
    first = fetch(client, path)
    etag = first.headers["ETag"]
    for header in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        again = fetch(client, path, **{"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.data == b""
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == "private, max-age=300"
        assert again.headers["Referrer-Policy"] == "no-referrer"
    assert fetch(client, path, **{"If-None-Match": '"other"'}).status_code == 200


def test_if_none_match_wins_over_if_modified_since(client, researcher, instrument):
    create_booking(user=researcher, instrument=instrument)
    path = subscribe(researcher, "mine")
    first = fetch(client, path)
    future = format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(days=1), usegmt=True)
    past = "Mon, 01 Jan 2001 00:00:00 GMT"
    stale = fetch(client, path, **{"If-None-Match": '"stale"', "If-Modified-Since": future})
    assert stale.status_code == 200 and stale.data == first.data
    fresh = fetch(client, path, **{"If-None-Match": first.headers["ETag"],
                                   "If-Modified-Since": past})
    assert fresh.status_code == 304


def test_if_modified_since_alone(client, researcher, instrument):
    booking = create_booking(user=researcher, instrument=instrument)
    path = subscribe(researcher, "mine")
    first = fetch(client, path)
    since = first.headers["Last-Modified"]
    not_modified = fetch(client, path, **{"If-Modified-Since": since})
    assert not_modified.status_code == 304
    assert not_modified.headers["ETag"] == first.headers["ETag"]
    booking = reload(booking)
    booking.purpose = "changed"
    booking.sequence += 1
    booking.updated_at = utcnow() + dt.timedelta(seconds=2)
    db.session.commit()
    changed = fetch(client, path, **{"If-Modified-Since": since})
    assert changed.status_code == 200 and b"changed" in changed.data


def test_revalidation_does_not_render_the_calendar(client, researcher, instrument, monkeypatch):
    create_booking(user=researcher, instrument=instrument)
    path = subscribe(researcher, "mine")
    etag = fetch(client, path).headers["ETag"]
    renders = []
    original = calendar_views._rendered
    monkeypatch.setattr(calendar_views, "_rendered",
                        lambda *args: renders.append(1) or original(*args))
    with count_statements() as statements:
        assert fetch(client, path, **{"If-None-Match": etag}).status_code == 304
    assert renders == []
    assert len(statements) <= 3, statements
    assert fetch(client, path).status_code == 200 and renders == [1]


def test_a_renamed_instrument_changes_the_etag(client, researcher, instrument):
    create_booking(user=researcher, instrument=instrument)
    path = subscribe(researcher, "mine")
    etag = fetch(client, path).headers["ETag"]
    instrument = reload(instrument)
    instrument.name_en = "Diffractometer, renamed"
    db.session.commit()
    response = fetch(client, path, **{"If-None-Match": etag})
    assert response.status_code == 200 and b"renamed" in response.data


def test_subscribers_of_one_feed_reading_other_languages_share_no_cached_answer(
        client, company, rival, instrument):
    create_booking(user=rival, instrument=instrument, start_at=lab_time(MONDAY, 9))
    chinese = create_user(organization=company, locale="zh_CN")
    english = create_user(organization=company, locale="en")
    zh_path = subscribe(chinese, f"instrument:{instrument.id}")
    en_path = subscribe(english, f"instrument:{instrument.id}")
    zh, en = fetch(client, zh_path), fetch(client, en_path)
    assert "X射线衍射仪：已预约" in zh.data.decode() and b"X-ray Diffractometer: booked" in en.data
    assert zh.headers["ETag"] != en.headers["ETag"]
    # Each revalidates its own answer; neither is told the other's is current.
    assert fetch(client, en_path, **{"If-None-Match": zh.headers["ETag"]}).data == en.data
    assert fetch(client, zh_path, **{"If-None-Match": en.headers["ETag"]}).data == zh.data
    assert fetch(client, en_path, **{"If-None-Match": en.headers["ETag"]}).status_code == 304


def test_a_subscriber_who_changes_language_gets_the_feed_in_the_new_one(
        client, researcher, rival, instrument):
    create_booking(user=rival, instrument=instrument, start_at=lab_time(MONDAY, 9))
    path = subscribe(researcher, f"instrument:{instrument.id}")
    english = fetch(client, path)
    assert b"X-ray Diffractometer: booked" in english.data
    # Changed by another worker: this one learns of it from the database only.
    db.session.execute(update(User).where(User.id == researcher.id).values(locale="zh_CN"))
    db.session.commit()
    chinese = fetch(client, path, **{"If-None-Match": english.headers["ETag"]})
    assert chinese.status_code == 200
    assert "X射线衍射仪：已预约" in chinese.data.decode()
    assert chinese.headers["ETag"] != english.headers["ETag"]


# -- who sees what ------------------------------------------------------------------------------


def test_an_instrument_feed_hides_other_organizations(client, researcher, company, rival,
                                                      instrument):
    colleague = create_user(name="孙同事", organization=company)
    own = create_booking(user=researcher, instrument=instrument, purpose="Own purpose",
                         project_ref="PO-OWN", start_at=lab_time(MONDAY, 9))
    theirs = create_booking(user=colleague, instrument=instrument, purpose="Colleague purpose",
                            project_ref="PO-COLLEAGUE", start_at=lab_time(MONDAY, 11))
    foreign = create_booking(user=rival, instrument=instrument, purpose="Secret formula",
                             project_ref="PO-SECRET", start_at=lab_time(MONDAY, 14),
                             state=BookingState.PENDING)
    body = fetch(client, subscribe(researcher, f"instrument:{instrument.id}")).data
    events = events_by_uid(body)
    assert "Own purpose" in str(events[uid(own)]["SUMMARY"])
    colleague_event = events[uid(theirs)].to_ical().decode()
    assert "孙同事" in colleague_event and "Colleague purpose" not in colleague_event
    assert "PO-COLLEAGUE" not in colleague_event
    foreign_event = events[uid(foreign)]
    assert str(foreign_event["SUMMARY"]) == "X-ray Diffractometer: booked"
    assert str(foreign_event["STATUS"]) == "CONFIRMED"
    assert f"/bookings/{foreign.id}" not in foreign_event.to_ical().decode()
    for secret in ("Secret formula", "PO-SECRET", "钱竞争", "竞争对手公司"):
        assert secret not in body.decode()


def advance(booking, state, *, minutes: int):
    """``booking`` moved to ``state`` ``minutes`` after it was made, as a transition records it:
    a new state, the next SEQUENCE, a new change time."""
    booking = reload(booking)
    booking.state = state
    booking.sequence += 1
    booking.updated_at = booking.created_at + dt.timedelta(minutes=minutes)
    db.session.commit()
    return booking


#: What a VEVENT may vary in from one booking to another: which booking, and when.
WHICH_AND_WHEN = {"UID", "DTSTART", "DTEND", "DTSTAMP", "LAST-MODIFIED", "CREATED", "SEQUENCE"}


def shape(event) -> list[tuple[str, bytes]]:
    """An event's properties but for which booking it is and when."""
    return sorted((name, value.to_ical()) for name, value in event.property_items()
                  if name not in WHICH_AND_WHEN and name not in ("BEGIN", "END"))


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_another_organizations_bookings_look_the_same_in_every_state(
        client, company, rival, instrument, locale):
    viewer = create_user(organization=company, locale=locale)
    states = (BookingState.PENDING, BookingState.APPROVED, BookingState.IN_USE,
              BookingState.COMPLETED, BookingState.NO_SHOW)
    bookings = [create_booking(user=rival, instrument=instrument, state=state,
                               purpose="Secret formula", start_at=lab_time(MONDAY, 8 + n),
                               sequence=n, updated_at=utcnow() + dt.timedelta(minutes=n))
                for n, state in enumerate(states)]
    body = fetch(client, subscribe(viewer, f"instrument:{instrument.id}")).data
    events = events_by_uid(body)
    shapes = [shape(events[uid(booking)]) for booking in bookings]
    assert all(each == shapes[0] for each in shapes), shapes
    assert {str(events[uid(b)]["STATUS"]) for b in bookings} == {"CONFIRMED"}
    # Nor does SEQUENCE or the change time tell which were decided on or used.
    assert {int(events[uid(b)]["SEQUENCE"]) for b in bookings} == {0}
    assert all(events[uid(b)].decoded("DTSTAMP") == events[uid(b)].decoded("CREATED")
               for b in bookings)
    with force_locale(locale):
        words = [gettext(label) for label in ("Awaiting approval", "Approved", "In use",
                                              "Completed", "No-show", "State: %(state)s")]
    text = body.decode()
    for hidden in (*[word.split("%")[0] for word in words], "钱竞争", "竞争对手公司",
                   "Secret formula", "CATEGORIES"):
        assert hidden not in text


def test_another_organizations_booking_changes_nothing_a_subscriber_sees_until_called_off(
        client, researcher, rival, instrument):
    booking = create_booking(user=rival, instrument=instrument, state=BookingState.PENDING,
                             start_at=lab_time(MONDAY, 9))
    no_show = create_booking(user=rival, instrument=instrument, start_at=lab_time(MONDAY, 14))
    path = subscribe(researcher, f"instrument:{instrument.id}")
    first = fetch(client, path)
    steps = [(booking, BookingState.APPROVED), (booking, BookingState.IN_USE),
             (booking, BookingState.COMPLETED), (no_show, BookingState.NO_SHOW)]
    for minutes, (which, state) in enumerate(steps, start=1):
        advance(which, state, minutes=minutes)
        again = fetch(client, path, **{"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304, state
        full = fetch(client, path)
        assert full.data == first.data
        assert full.headers["Last-Modified"] == first.headers["Last-Modified"]

    # Called off, however: every calendar that has the event must learn that the time is free.
    withdrawn = create_booking(user=rival, instrument=instrument, state=BookingState.PENDING,
                               start_at=lab_time(TUESDAY, 9))
    refused = create_booking(user=rival, instrument=instrument, state=BookingState.PENDING,
                             start_at=lab_time(TUESDAY, 11))
    lapsed = create_booking(user=rival, instrument=instrument, state=BookingState.PENDING,
                            start_at=lab_time(TUESDAY, 14))
    before = fetch(client, path)
    called_off = [advance(withdrawn, BookingState.APPROVED, minutes=1),
                  advance(refused, BookingState.REJECTED, minutes=2),
                  advance(lapsed, BookingState.EXPIRED, minutes=3)]
    called_off[0] = cancel(called_off[0], rival)
    after = fetch(client, path, **{"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    events = events_by_uid(after.data)
    for cancelled in called_off:
        event = events[uid(cancelled)]
        assert str(event["STATUS"]) == "CANCELLED" and str(event["TRANSP"]) == "TRANSPARENT"
        assert str(event["SUMMARY"]) == "[Cancelled] X-ray Diffractometer: booked"
        assert int(event["SEQUENCE"]) == 1
        assert event.decoded("DTSTAMP") == cancelled.updated_at.replace(microsecond=0)
        assert shape(event) == shape(events[uid(called_off[0])])


def test_colleagues_bookings_still_show_their_state(client, researcher, company, instrument):
    colleague = create_user(name="孙同事", organization=company)
    booking = create_booking(user=colleague, instrument=instrument, state=BookingState.NO_SHOW,
                             sequence=2)
    event = events_by_uid(fetch(client, subscribe(researcher,
                                                  f"instrument:{instrument.id}")).data)[uid(booking)]
    assert str(event["SUMMARY"]) == "[No-show] X-ray Diffractometer: booked by 孙同事"
    assert "State: No-show" in str(event["DESCRIPTION"])
    assert int(event["SEQUENCE"]) == 2


def test_a_chinese_subscriber_sees_others_as_booked(client, rival, instrument):
    viewer = create_user(locale="zh_CN")
    create_booking(user=rival, instrument=instrument, purpose="保密")
    body = fetch(client, subscribe(viewer, f"instrument:{instrument.id}")).data
    event = parse(body)[0].walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "X射线衍射仪：已预约"
    assert "保密" not in body.decode()


def test_a_lab_feed_shows_every_booking_with_names(client, manager, researcher, rival,
                                                   instrument, lab):
    pending = create_booking(user=rival, instrument=instrument, purpose="Secret formula",
                             state=BookingState.PENDING, start_at=lab_time(MONDAY, 9))
    approved = create_booking(user=researcher, instrument=instrument, purpose="Phase analysis",
                              start_at=lab_time(MONDAY, 11))
    create_booking(start_at=lab_time(MONDAY, 9))  # another lab
    events = events_by_uid(fetch(client, subscribe(manager, "lab:NEM")).data)
    assert list(events) == [uid(pending), uid(approved)]
    assert str(events[uid(pending)]["STATUS"]) == "TENTATIVE"
    assert "钱竞争" in str(events[uid(pending)]["SUMMARY"])
    assert "Secret formula" in str(events[uid(pending)]["SUMMARY"])
    assert "赵研究员" in str(events[uid(approved)]["DESCRIPTION"])


def test_only_managers_subscribe_to_a_lab(researcher, lab):
    from labbook.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        subscribe(researcher, "lab:NEM")
    other_manager = create_manager(create_lab(code="FOOD"))
    with pytest.raises(PermissionDenied):
        subscribe(other_manager, "lab:NEM")
    with pytest.raises(PermissionDenied):
        subscribe(researcher, "approvals")
    assert subscribe(create_admin(), "lab:NEM")


def test_a_manager_who_lost_the_lab_gets_404(client, manager, lab, instrument, rival):
    create_booking(user=rival, instrument=instrument, purpose="Secret formula")
    lab_feed = subscribe(manager, "lab:NEM")
    approvals = subscribe(manager, "approvals")
    instrument_feed = subscribe(manager, f"instrument:{instrument.id}")
    assert fetch(client, lab_feed).status_code == 200
    assert b"Secret formula" in fetch(client, instrument_feed).data

    manager = reload(manager)
    manager.managed_labs = [create_lab(code="FOOD")]
    db.session.commit()
    assert fetch(client, lab_feed).status_code == 404
    still = fetch(client, instrument_feed)  # the instrument feed stays, anonymized
    assert still.status_code == 200 and b"Secret formula" not in still.data
    assert fetch(client, approvals).status_code == 200  # still manages FOOD

    manager = reload(manager)
    manager.managed_labs = []
    db.session.commit()
    assert fetch(client, approvals).status_code == 404


def test_a_deactivated_users_feeds_are_404(client, researcher, instrument):
    create_booking(user=researcher, instrument=instrument)
    paths = [subscribe(researcher, "mine"), subscribe(researcher, f"instrument:{instrument.id}")]
    assert all(fetch(client, path).status_code == 200 for path in paths)
    researcher = reload(researcher)
    researcher.is_active = False
    db.session.commit()
    assert all(fetch(client, path).status_code == 404 for path in paths)


def test_someone_who_left_the_organization_sees_former_colleagues_as_booked(
        client, researcher, company, instrument):
    colleague = create_user(name="孙同事", organization=company)
    create_booking(user=colleague, instrument=instrument, purpose="Colleague purpose")
    path = subscribe(researcher, f"instrument:{instrument.id}")
    assert "孙同事" in fetch(client, path).data.decode()
    researcher = reload(researcher)
    researcher.organization = create_organization(name="新单位")
    db.session.commit()
    assert "孙同事" not in fetch(client, path).data.decode()


def test_the_approvals_feed(client, manager, rival, instrument):
    waiting = create_booking(user=rival, instrument=instrument, state=BookingState.PENDING,
                             purpose="Please approve", start_at=lab_time(MONDAY, 9))
    decided = create_booking(user=rival, instrument=instrument, state=BookingState.PENDING,
                             start_at=lab_time(MONDAY, 11))
    create_booking(user=rival, instrument=instrument, start_at=lab_time(MONDAY, 14))  # approved
    create_booking(state=BookingState.PENDING)  # another lab
    path = subscribe(manager, "approvals")
    events = events_by_uid(fetch(client, path).data)
    assert list(events) == [uid(waiting), uid(decided)]
    assert all(str(e["STATUS"]) == "TENTATIVE" for e in events.values())

    decided = reload(decided)
    booking_services.reject_booking(db.session, manager, decided, now=utcnow(), note="No")
    db.session.commit()
    events = events_by_uid(fetch(client, path).data)
    assert str(events[uid(decided)]["STATUS"]) == "CANCELLED"

    waiting = reload(waiting)
    booking_services.approve_booking(db.session, manager, waiting, now=utcnow())
    db.session.commit()
    assert uid(waiting) not in events_by_uid(fetch(client, path).data)
    cancel(waiting, rival)  # cancelled after approval: it was not awaiting anything any more
    assert uid(waiting) not in events_by_uid(fetch(client, path).data)

    withdrawn = create_booking(user=rival, instrument=instrument, state=BookingState.PENDING,
                               start_at=lab_time(TUESDAY, 9))
    cancel(withdrawn, rival)
    assert str(events_by_uid(fetch(client, path).data)[uid(withdrawn)]["STATUS"]) == "CANCELLED"


# -- tokens -------------------------------------------------------------------------------------


def test_unknown_malformed_revoked_and_rotated_tokens_are_the_same_404(client, researcher):
    path = subscribe(researcher, "mine")
    secret = path.removeprefix("/ical/").removesuffix(".ics")
    revoked_path = subscribe(researcher, "mine")
    token = db.session.scalar(select(FeedToken).order_by(FeedToken.id.desc()))
    feed_services.revoke_feed_token(db.session, researcher, token, now=utcnow())
    db.session.commit()
    rotated_path = subscribe(researcher, "mine")
    token = db.session.scalar(select(FeedToken).order_by(FeedToken.id.desc()))
    _new, new_secret = feed_services.rotate_feed_token(db.session, researcher, token, now=utcnow())
    db.session.commit()

    assert fetch(client, path).status_code == 200
    assert fetch(client, f"/ical/{new_secret}.ics").status_code == 200
    bad = [revoked_path, rotated_path, "/ical/" + "A" * 43 + ".ics", f"/ical/{secret[:-1]}.ics",
           f"/ical/{secret}x.ics", f"/ical/{secret[:-1]}!.ics", "/ical/" + "A" * 5000 + ".ics",
           f"/ical/{secret.swapcase()}.ics", f"/ical/{secret}.ics.ics", "/ical/%00.ics"]
    answers = [fetch(client, p) for p in bad]
    assert [a.status_code for a in answers] == [404] * len(bad)
    assert {(a.mimetype, a.data) for a in answers} == {("text/plain", b"Not Found\n")}
    assert {a.headers["Referrer-Policy"] for a in answers} == {"no-referrer"}
    for elsewhere in ("/ical/.ics", f"/ical/{secret}"):
        assert fetch(client, elsewhere).status_code == 404


def test_the_secret_is_stored_only_as_a_hash(client, researcher):
    path = subscribe(researcher, "mine")
    secret = path.removeprefix("/ical/").removesuffix(".ics")
    assert len(secret) >= 43  # 32 random bytes, 256 bits
    token = db.session.scalar(select(FeedToken))
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            assert secret not in repr(tuple(row)), table.name


def test_last_used_is_written_at_most_hourly(client, researcher, ago):
    path = subscribe(researcher, "mine")
    token = db.session.scalar(select(FeedToken))
    assert token.last_used_at is None
    fetch(client, path)
    first = reload(token).last_used_at
    assert first is not None
    fetch(client, path)
    assert reload(token).last_used_at == first
    token.last_used_at = ago(hours=2)
    db.session.commit()
    fetch(client, path)
    assert reload(token).last_used_at > first - dt.timedelta(seconds=1)


def test_the_rate_limit_per_token(app, client, researcher, monkeypatch):
    monkeypatch.setitem(app.config, "LABBOOK_RATELIMIT_FEED", "3 per 10 minutes")
    path, other = subscribe(researcher, "mine"), subscribe(researcher, "mine")
    assert [fetch(client, path).status_code for _ in range(3)] == [200, 200, 200]
    limited = fetch(client, path)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 600
    assert fetch(client, other).status_code == 200  # per token


def test_polling_every_five_minutes_is_far_below_the_limit(app):
    limit = parse_limit(app.config["LABBOOK_RATELIMIT_FEED"])
    assert limit.amount / limit.get_expiry() * 300 >= 10


# -- cost ---------------------------------------------------------------------------------------


def test_the_number_of_queries_does_not_grow_with_the_feed(client, manager, lab):
    users = [create_user(), create_user(), create_user(organization=create_organization())]
    small, large = create_instrument(lab=lab), create_instrument(lab=lab)
    for n in range(3):
        create_booking(user=users[n % 3], instrument=small,
                       start_at=lab_time(MONDAY, 8) + dt.timedelta(days=n))
    for n in range(30):
        create_booking(user=users[n % 3], instrument=large,
                       state=BookingState.PENDING if n % 4 == 0 else BookingState.APPROVED,
                       start_at=lab_time(MONDAY, 8) + dt.timedelta(days=n))
    counts = {}
    for name, instrument in (("small", small), ("large", large)):
        for scope in (f"instrument:{instrument.id}",):
            path = subscribe(manager, scope)
            with count_statements() as statements:
                response = fetch(client, path)
            assert response.status_code == 200
            counts[name] = len(statements)
    assert counts["small"] == counts["large"], counts
    assert len(events_by_uid(response.data)) == 30


@pytest.mark.parametrize("scope", ["mine", "lab", "approvals", "instrument"])
def test_queries_per_feed_are_constant_for_every_kind(client, lab, scope):
    manager = create_manager(lab)
    instrument = create_instrument(lab=lab)
    scope_text = {"lab": "lab:" + lab.code, "instrument": f"instrument:{instrument.id}"}.get(
        scope, scope)
    path = subscribe(manager, scope_text)
    fetch(client, path)  # writes last_used_at once

    def cost() -> int:
        with count_statements() as statements:
            assert fetch(client, path).status_code == 200
        return len(statements)

    empty = cost()
    for n in range(12):
        create_booking(user=manager if n % 2 else create_user(), instrument=instrument,
                       state=BookingState.PENDING, start_at=lab_time(MONDAY, 8) +
                       dt.timedelta(days=n))
    assert cost() == empty
