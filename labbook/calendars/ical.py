"""The one iCalendar renderer: feeds, a single booking's .ics download and email attachments.

Everything an event shows is first collected into an ``EventData`` tuple of plain values, in the
subscriber's language, then written out as RFC 5545 content lines: TEXT escaping, CRLF line
endings and folding at 75 octets, byte for byte as icalendar writes them (a test holds the two
together). icalendar's component objects are used only for the calendar's frame: building them
per event costs about 0.3 ms, which would make a feed of a thousand events slow on every worker
that has not served it before.

Nothing in the output depends on the moment of rendering: DTSTAMP and LAST-MODIFIED are the
booking's last change, so a feed is byte-for-byte the same until a booking in it changes.
Times are written in UTC (``…Z``), which needs no VTIMEZONE and means the same in every client;
X-WR-TIMEZONE tells clients which zone to show the calendar in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from flask_babel import force_locale
from flask_babel import gettext as _
from icalendar import Calendar, vDuration, vText

from labbook.accounts.models import User
from labbook.booking.labels import STATE_TITLES
from labbook.booking.models import Booking, BookingState
from labbook.core.time import LAB_TIMEZONE_NAME
from labbook.i18n import DEFAULT_LOCALE, is_english

PRODID = "-//Jiaozuo Institute of Industrial Technology//labbook//EN"
#: How often clients should fetch a feed again (REFRESH-INTERVAL and X-PUBLISHED-TTL).
REFRESH_INTERVAL = dt.timedelta(minutes=15)
MEDIA_TYPE = "text/calendar; charset=utf-8"

STATUS = {
    BookingState.PENDING: "TENTATIVE",
    BookingState.APPROVED: "CONFIRMED",
    BookingState.IN_USE: "CONFIRMED",
    BookingState.COMPLETED: "CONFIRMED",
    BookingState.NO_SHOW: "CONFIRMED",
    BookingState.CANCELLED: "CANCELLED",
    BookingState.REJECTED: "CANCELLED",
    BookingState.EXPIRED: "CANCELLED",
}
#: States whose summary is prefixed with the state, so they stand out in every client.
FLAGGED_STATES = frozenset({BookingState.PENDING, BookingState.CANCELLED, BookingState.REJECTED,
                            BookingState.EXPIRED, BookingState.NO_SHOW})
#: States in which a booking no longer holds its time: called off by someone, or never decided.
CALLED_OFF_STATES = frozenset(state for state, status in STATUS.items() if status == "CANCELLED")


class BookingFacts(NamedTuple):
    """What the renderer needs of a booking, as plain values.

    Feeds select exactly these columns in one query (see ``labbook.calendars.services``); a
    single booking is turned into the same shape with ``from_booking``.
    """

    id: int
    user_id: int
    organization_id: int
    instrument_id: int
    state: BookingState
    start_at: dt.datetime
    end_at: dt.datetime
    purpose: str
    project_ref: str
    sequence: int
    created_at: dt.datetime
    updated_at: dt.datetime
    instrument_code: str
    instrument_name_zh: str
    instrument_name_en: str
    room: str
    lab_id: int
    lab_name_zh: str
    lab_name_en: str
    lab_location_zh: str
    lab_location_en: str
    user_name: str
    organization_name: str

    @classmethod
    def from_booking(cls, booking: Booking) -> BookingFacts:
        instrument, lab = booking.instrument, booking.instrument.lab
        return cls(
            booking.id, booking.user_id, booking.organization_id, booking.instrument_id,
            booking.state, booking.start_at, booking.end_at, booking.purpose,
            booking.project_ref, booking.sequence, booking.created_at, booking.updated_at,
            instrument.code, instrument.name_zh, instrument.name_en, instrument.room, lab.id,
            lab.name_zh, lab.name_en, lab.location_zh, lab.location_en, booking.user.name,
            booking.organization.name)


class EventData(NamedTuple):
    """Every value of one VEVENT, ready to serialize; equal tuples give equal bytes."""

    uid: str
    stamp: dt.datetime
    created: dt.datetime
    sequence: int
    status: str
    start: dt.datetime
    end: dt.datetime
    summary: str
    location: str
    url: str
    description: str


class EventWriter:
    """Turns bookings into ``EventData`` for one subscriber, in their language.

    The labels are looked up once per writer (under the subscriber's locale) rather than once per
    event, because a feed has up to a few thousand events. ``visibility`` is what
    ``labbook.booking.calendar.booking_visibility`` says the subscriber may see of a booking:
    ``full``, ``colleague`` (name and state, no purpose) or ``anonymous``.

    An anonymous event tells only that the time is booked, and later, if so, that the booking
    was called off (a calendar that has the event must learn that): pending, approved, in use,
    completed and no-show bookings of another organization are the same event, and cancelled,
    rejected and expired ones the same cancelled event. Nothing in it follows the booking's
    other changes either: SEQUENCE is 0, or 1 once called off, and DTSTAMP and LAST-MODIFIED
    are when it was made, or when it was called off.
    """

    def __init__(self, viewer: User | None, *, base_url: str, uid_domain: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.uid_domain = uid_domain
        self.viewer_id = viewer.id if viewer else None
        self.locale = subscriber_locale(viewer)
        with force_locale(self.locale):
            self.english = is_english()
            self.state_labels = {state: str(label) for state, label in STATE_TITLES.items()}
            # Format strings with %-placeholders, filled in per event without gettext.
            self.own_summary = _("%(instrument)s: %(purpose)s")
            self.full_summary = _("%(instrument)s: %(name)s – %(purpose)s")
            self.colleague_summary = _("%(instrument)s: booked by %(name)s")
            self.anonymous_summary = _("%(instrument)s: booked")
            self.flagged_summary = _("[%(state)s] %(summary)s")
            self.location_room = _("%(lab)s, room %(room)s")
            self.location_address = _("%(place)s (%(address)s)")
            self.state_line = _("State: %(state)s")
            self.booker_line = _("Booked by: %(name)s (%(organization)s)")
            self.purpose_line = _("Purpose: %(purpose)s")
            self.project_line = _("Project reference: %(reference)s")
            self.instrument_line = _("Instrument: %(name)s (%(code)s)")
            self.link_line = _("Details: %(url)s")

    def _pick(self, chinese: str, english: str) -> str:
        return english if self.english and english else chinese

    def event(self, booking: BookingFacts, visibility: str) -> EventData:
        if visibility == "anonymous":
            return self._anonymous_event(booking)
        instrument = self._pick(booking.instrument_name_zh, booking.instrument_name_en)
        state = self.state_labels[booking.state]
        if visibility == "full":
            url = f"{self.base_url}/bookings/{booking.id}"
            if booking.user_id == self.viewer_id:
                summary = self.own_summary % {"instrument": instrument,
                                              "purpose": booking.purpose}
            else:
                summary = self.full_summary % {"instrument": instrument,
                                               "name": booking.user_name,
                                               "purpose": booking.purpose}
        else:
            url = self._calendar_url(booking)
            summary = self.colleague_summary % {"instrument": instrument,
                                                "name": booking.user_name}
        if booking.state in FLAGGED_STATES:
            summary = self.flagged_summary % {"state": state, "summary": summary}

        lines = [self.state_line % {"state": state}]
        if booking.user_id != self.viewer_id:
            lines.append(self.booker_line % {"name": booking.user_name,
                                             "organization": booking.organization_name})
        if visibility == "full":
            lines.append(self.purpose_line % {"purpose": booking.purpose})
            if booking.project_ref:
                lines.append(self.project_line % {"reference": booking.project_ref})
        lines.append(self.instrument_line % {"name": instrument,
                                             "code": booking.instrument_code})
        lines.append(self.link_line % {"url": url})
        return EventData(
            uid=booking_uid(booking.id, self.uid_domain), stamp=booking.updated_at,
            created=booking.created_at, sequence=booking.sequence,
            status=STATUS[booking.state], start=booking.start_at, end=booking.end_at,
            summary=summary, location=self._location(booking), url=url,
            description="\n".join(lines))

    def _anonymous_event(self, booking: BookingFacts) -> EventData:
        """Another organization's booking: booked, or called off (see the class)."""
        instrument = self._pick(booking.instrument_name_zh, booking.instrument_name_en)
        summary = self.anonymous_summary % {"instrument": instrument}
        called_off = booking.state in CALLED_OFF_STATES
        if called_off:
            summary = self.flagged_summary % {
                "state": self.state_labels[BookingState.CANCELLED], "summary": summary}
        url = self._calendar_url(booking)
        lines = [self.instrument_line % {"name": instrument, "code": booking.instrument_code},
                 self.link_line % {"url": url}]
        return EventData(
            uid=booking_uid(booking.id, self.uid_domain),
            stamp=booking.updated_at if called_off else booking.created_at,
            created=booking.created_at, sequence=int(called_off),
            status="CANCELLED" if called_off else "CONFIRMED", start=booking.start_at,
            end=booking.end_at, summary=summary, location=self._location(booking), url=url,
            description="\n".join(lines))

    def _calendar_url(self, booking: BookingFacts) -> str:
        # The booking page is only for the booker and the lab's managers.
        return f"{self.base_url}/instruments/{booking.instrument_id}/calendar"

    def _location(self, booking: BookingFacts) -> str:
        lab = self._pick(booking.lab_name_zh, booking.lab_name_en)
        address = self._pick(booking.lab_location_zh, booking.lab_location_en)
        location = self.location_room % {"lab": lab, "room": booking.room} if booking.room \
            else lab
        if address:
            location = self.location_address % {"place": location, "address": address}
        return location


def subscriber_locale(viewer: User | None) -> str:
    return viewer.locale if viewer is not None and viewer.locale else DEFAULT_LOCALE


def booking_uid(booking_id: int, uid_domain: str) -> str:
    """The UID of a booking's event: the same in every feed, download and email, forever."""
    return f"booking-{booking_id}@{uid_domain}"


def _stamp(moment: dt.datetime) -> bytes:
    """A DATE-TIME in UTC (``20261207T013000Z``); the database hands out aware UTC already and
    iCal carries no microseconds."""
    utc = moment.astimezone(dt.UTC)
    return b"%04d%02d%02dT%02d%02d%02dZ" % (utc.year, utc.month, utc.day,
                                            utc.hour, utc.minute, utc.second)


def _text(value: str) -> str:
    """TEXT escaping of RFC 5545 §3.3.11: backslash first, then ``;``, ``,`` and line breaks."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


#: The most octets of a content line on one physical line: RFC 5545 §3.1 allows 75 without the
#: line break, and a continuation's leading space counts.
_FOLD_OCTETS = 74
#: Bytes that continue a UTF-8 character (10xxxxxx): a fold never goes before one.
_CONTINUATION = range(0x80, 0xC0)
#: A backslash (a TEXT escape) or a caret (a parameter escape) moves down with what it escapes.
_ESCAPE_BYTES = b"\\^"


def _fold(line: bytes) -> bytes:
    """``line`` folded as RFC 5545 §3.1 asks: CRLF and a space before the octet that would
    make a physical line too long, never inside a UTF-8 character, and never between an escape
    and what it escapes (some clients unfold such a split wrongly) — the folding icalendar
    does, done on bytes."""
    if len(line) <= _FOLD_OCTETS:
        return line
    chunks = []
    start = 0
    while len(line) - start > _FOLD_OCTETS:
        cut = start + _FOLD_OCTETS
        while line[cut] in _CONTINUATION:
            cut -= 1
        if line[cut - 1] in _ESCAPE_BYTES and cut - 1 > start:
            cut -= 1
        chunks.append(line[start:cut])
        start = cut
    chunks.append(line[start:])
    return b"\r\n ".join(chunks)


def render_event(data: EventData) -> bytes:
    """One VEVENT, folded, with CRLF line endings (about 0.6 kB).

    Written directly rather than through icalendar's component objects, which cost about 0.3 ms
    an event: a feed of a thousand events must be as quick to render on a fresh worker as on a
    warm one. tests/calendars/test_ical.py holds the output to what icalendar writes.
    """
    stamp = _stamp(data.stamp)
    return b"\r\n".join((
        b"BEGIN:VEVENT",
        _fold(("SUMMARY:" + _text(data.summary)).encode()),
        b"DTSTART:" + _stamp(data.start),
        b"DTEND:" + _stamp(data.end),
        b"DTSTAMP:" + stamp,
        _fold(("UID:" + _text(data.uid)).encode()),
        b"SEQUENCE:%d" % data.sequence,
        b"CREATED:" + _stamp(data.created),
        _fold(("DESCRIPTION:" + _text(data.description)).encode()),
        b"LAST-MODIFIED:" + stamp,
        _fold(("LOCATION:" + _text(data.location)).encode()),
        b"STATUS:" + data.status.encode(),
        b"TRANSP:TRANSPARENT" if data.status == "CANCELLED" else b"TRANSP:OPAQUE",
        _fold(("URL:" + data.url).encode()),
        b"END:VEVENT",
        b"",
    ))


@lru_cache(maxsize=1024)
def _calendar_frame(name: str, method: str, refresh: bool) -> tuple[bytes, bytes]:
    """The VCALENDAR lines before and after the events."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add("name", name)
    calendar.add("x-wr-calname", vText(name))
    calendar.add("x-wr-timezone", vText(LAB_TIMEZONE_NAME))
    if refresh:
        calendar.add("refresh-interval", vDuration(REFRESH_INTERVAL),
                      parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    text = calendar.to_ical()
    end = b"END:VCALENDAR\r\n"
    assert text.endswith(end)
    return text[:-len(end)], end


def render_calendar(name: str, events: Iterable[EventData], *, method: str = "PUBLISH",
                    refresh: bool = True) -> bytes:
    """A whole VCALENDAR: the calendar properties, then the events in the order given.

    This is what icalendar's ``Calendar.to_ical`` writes for a calendar with these events (its
    properties, then each subcomponent), assembled from the per-event cache.
    """
    head, tail = _calendar_frame(name, method, refresh)
    return b"".join([head, *map(render_event, events), tail])


def booking_calendar(booking: Booking, viewer: User, *, base_url: str, uid_domain: str,
                     method: str = "PUBLISH") -> bytes:
    """One booking as a calendar of its own: the .ics download and the email attachment."""
    from labbook.booking.calendar import booking_visibility

    writer = EventWriter(viewer, base_url=base_url, uid_domain=uid_domain)
    with force_locale(writer.locale):
        name = _("labbook booking %(id)d", id=booking.id)
    event = writer.event(BookingFacts.from_booking(booking), booking_visibility(viewer, booking))
    return render_calendar(name, [event], method=method, refresh=False)
