"""Time helpers. The database holds aware UTC; lab time (Asia/Shanghai) is for display and rules."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

LAB_TIMEZONE_NAME = "Asia/Shanghai"
LAB_TZ = ZoneInfo(LAB_TIMEZONE_NAME)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def to_lab_time(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime cannot be converted to lab time")
    return moment.astimezone(LAB_TZ)


def parse_aware_datetime(text: str) -> dt.datetime:
    """Parse an ISO 8601 timestamp that carries an offset, returning it in UTC.

    Raises ValueError for unparsable text and NaiveDatetimeError when the offset is missing.
    """
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(text)
    return value.astimezone(dt.UTC)


class NaiveDatetimeError(ValueError):
    """An ISO timestamp without a UTC offset."""
