"""The renderer on its own: RFC 5545 output, stability, the per-event cache."""

import datetime as dt

from labbook.booking.models import BookingState
from labbook.calendars import ical
from tests.calendars.conftest import parse, unfold

UTC = dt.UTC
BASE = {"base_url": "https://labbook.example.cn", "uid_domain": "labbook.example.cn"}


def facts(**changes) -> ical.BookingFacts:
    values = dict(
        id=7, user_id=1, organization_id=1, instrument_id=3, state=BookingState.APPROVED,
        start_at=dt.datetime(2026, 12, 7, 1, 30, tzinfo=UTC),
        end_at=dt.datetime(2026, 12, 7, 3, 0, tzinfo=UTC), purpose="正极材料 XRD 物相分析",
        project_ref="PO-77", sequence=2,
        created_at=dt.datetime(2026, 11, 1, 8, 0, 0, 123456, tzinfo=UTC),
        updated_at=dt.datetime(2026, 11, 2, 9, 30, 15, 654321, tzinfo=UTC),
        instrument_code="NEM-001", instrument_name_zh="X射线衍射仪",
        instrument_name_en="X-ray Diffractometer", room="A305", lab_id=1,
        lab_name_zh="新能源材料开放共享实验室", lab_name_en="New-Energy Materials Lab",
        lab_location_zh="焦作市产业技术科学院 A座1–4层",
        lab_location_en="Jiaozuo Institute of Industrial Technology, Building A, Floors 1–4",
        user_name="张三", organization_name="河南电池有限公司")
    values.update(changes)
    return ical.BookingFacts(**values)


class Viewer:
    id = 1
    locale = "zh_CN"


class EnglishViewer(Viewer):
    locale = "en"


def render(*bookings, viewer=Viewer, visibility="full") -> bytes:
    writer = ical.EventWriter(viewer, **BASE)
    return ical.render_calendar("labbook", [writer.event(b, visibility) for b in bookings])


def test_an_event_has_every_property():
    body = render(facts())
    (event,) = parse(body)[0].walk("VEVENT")
    assert str(event["UID"]) == "booking-7@labbook.example.cn"
    assert event.decoded("DTSTAMP") == dt.datetime(2026, 11, 2, 9, 30, 15, tzinfo=UTC)
    assert event.decoded("LAST-MODIFIED") == event.decoded("DTSTAMP")
    assert event.decoded("CREATED") == dt.datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    assert event.decoded("DTSTART") == dt.datetime(2026, 12, 7, 1, 30, tzinfo=UTC)
    assert int(event["SEQUENCE"]) == 2
    assert str(event["SUMMARY"]) == "X射线衍射仪：正极材料 XRD 物相分析"
    assert str(event["LOCATION"]) == \
        "新能源材料开放共享实验室 A305 室（焦作市产业技术科学院 A座1–4层）"
    assert str(event["URL"]) == "https://labbook.example.cn/bookings/7"
    assert "状态：已批准" in str(event["DESCRIPTION"])
    assert "项目编号：PO-77" in str(event["DESCRIPTION"])
    lines = unfold(body)
    assert "DTSTART:20261207T013000Z" in lines and "DTEND:20261207T030000Z" in lines


def test_english_and_visibility():
    others = facts(user_id=2, user_name="Li Si")
    (full,) = parse(render(others, viewer=EnglishViewer))[0].walk("VEVENT")
    assert str(full["SUMMARY"]) == "X-ray Diffractometer: Li Si – 正极材料 XRD 物相分析"
    assert "Booked by: Li Si (河南电池有限公司)" in str(full["DESCRIPTION"])
    (colleague,) = parse(render(others, viewer=EnglishViewer, visibility="colleague"))[0] \
        .walk("VEVENT")
    assert str(colleague["SUMMARY"]) == "X-ray Diffractometer: booked by Li Si"
    anonymous = render(others, viewer=EnglishViewer, visibility="anonymous")
    (event,) = parse(anonymous)[0].walk("VEVENT")
    assert str(event["SUMMARY"]) == "X-ray Diffractometer: booked"
    assert str(event["URL"]) == "https://labbook.example.cn/instruments/3/calendar"
    for hidden in ("Li Si", "正极材料", "PO-77", "河南电池", "/bookings/7"):
        assert hidden not in anonymous.decode()


def test_long_text_is_folded_at_75_octets_without_splitting_characters():
    body = render(facts(purpose="锂离子电池正极材料，" * 40 + "; \\ , \n end"))
    for line in body.split(b"\r\n"):
        assert len(line) <= 75
        line.decode("utf-8")
    (event,) = parse(body)[0].walk("VEVENT")
    assert str(event["SUMMARY"]).endswith("; \\ , \n end")


def test_rendering_is_deterministic_and_the_cache_is_exact():
    bookings = [facts(id=n, start_at=facts().start_at + dt.timedelta(days=n)) for n in range(5)]
    first = render(*bookings)
    ical.render_event.cache_clear()
    assert render(*bookings) == first
    assert render(*bookings) == first  # from the cache
    changed = render(*bookings[:4], bookings[4]._replace(sequence=3))
    assert changed != first and b"SEQUENCE:3" in changed


def test_statuses_and_flags():
    for state, status in ((BookingState.PENDING, "TENTATIVE"),
                          (BookingState.CANCELLED, "CANCELLED"),
                          (BookingState.REJECTED, "CANCELLED"),
                          (BookingState.EXPIRED, "CANCELLED"),
                          (BookingState.IN_USE, "CONFIRMED")):
        (event,) = parse(render(facts(state=state), viewer=EnglishViewer))[0].walk("VEVENT")
        assert str(event["STATUS"]) == status
        assert str(event["SUMMARY"]).startswith("[") == (state != BookingState.IN_USE)


def test_a_single_booking_calendar_has_no_refresh_hints():
    writer = ical.EventWriter(Viewer, **BASE)
    body = ical.render_calendar("one", [writer.event(facts(), "full")], refresh=False)
    lines = unfold(body)
    assert not any(line.startswith(("REFRESH-INTERVAL", "X-PUBLISHED-TTL")) for line in lines)
    assert "METHOD:PUBLISH" in lines
