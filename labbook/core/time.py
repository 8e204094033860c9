"""Time helpers. The database holds aware UTC; lab time (Asia/Shanghai) is for display and rules."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

LAB_TIMEZONE_NAME = "Asia/Shanghai"
LAB_TZ = ZoneInfo(LAB_TIMEZONE_NAME)
#: The dates input may name. Anything wider is a typing mistake, and near either end of the
#: calendar (year 1, year 9999) adding a day or a UTC offset overflows Python's datetime.
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2099, 12, 31)
_EARLIEST_MOMENT = dt.datetime.combine(EARLIEST_DATE, dt.time(0), dt.UTC)
_END_OF_LATEST_DAY = dt.datetime.combine(LATEST_DATE + dt.timedelta(days=1), dt.time(0), dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: How many texts ``iso`` keeps: some requests' worth of the moments they write.
ISO_TEXTS_KEPT = 4096
_iso_texts: dict[tuple[dt.datetime, dt.tzinfo | None, int], str] = {}


def iso(moment: dt.datetime) -> str:
    """``moment.isoformat()``, kept for the moments written most recently.

    An answer writes the same moments again and again (a booking's start is its change's new
    start, an interval's end the next one's start, the week a calendar polls the same bookings),
    and ``isoformat`` of an aware moment costs several times a look-up. Equal moments share a
    text only where their zone and fold are the same too: equal instants in two zones, or the
    two readings of an hour a clock repeats, are written differently.
    """
    key = (moment, moment.tzinfo, moment.fold)
    text = _iso_texts.get(key)
    if text is None:
        if len(_iso_texts) >= ISO_TEXTS_KEPT:
            _iso_texts.clear()
        text = _iso_texts[key] = moment.isoformat()
    return text


def to_lab_time(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime cannot be converted to lab time")
    return moment.astimezone(LAB_TZ)


def is_plausible_date(day: dt.date) -> bool:
    """Whether a day (or the day of a moment from a date-and-time field) lies in 2000–2099."""
    if isinstance(day, dt.datetime):
        day = day.date()
    return EARLIEST_DATE <= day <= LATEST_DATE


def parse_aware_datetime(text: str) -> dt.datetime:
    """Parse an ISO 8601 timestamp that carries an offset, returning it in UTC.

    RFC 3339 (the API's ``date-time``) lets the "T" and the "Z" of UTC be written in lower
    case; both are read. Raises ValueError for unparsable text, NaiveDatetimeError when the
    offset is missing and ImplausibleDatetimeError for a moment outside the years 2000 to 2099
    (one near year 1 or 9999 cannot even be converted to UTC).
    """
    value = dt.datetime.fromisoformat(text.strip().upper())
    if value.tzinfo is None:
        raise NaiveDatetimeError(text)
    try:
        moment = value.astimezone(dt.UTC)
    except OverflowError:
        raise ImplausibleDatetimeError(text) from None
    if not _EARLIEST_MOMENT <= moment <= _END_OF_LATEST_DAY:
        raise ImplausibleDatetimeError(text)
    return moment


class NaiveDatetimeError(ValueError):
    """An ISO timestamp without a UTC offset."""


class ImplausibleDatetimeError(ValueError):
    """A moment outside the years 2000 to 2099, which no booking, closure or record can have."""
