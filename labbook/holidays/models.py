"""Days the State Council gives off or turns into working days, and each lab's choice to follow
them."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from labbook.core.db import Base, UTCDateTime
from labbook.core.enums import string_enum
from labbook.core.time import utcnow


class DayKind(enum.StrEnum):
    #: A statutory holiday (or a day of its bridge): no work, though it may be a weekday.
    HOLIDAY = "holiday"
    #: A make-up working day (调休): a Saturday or Sunday worked in exchange for a bridge day.
    MAKEUP_WORKDAY = "makeup_workday"


class Festival(enum.StrEnum):
    """The occasions of the national calendar (《全国年节及纪念日放假办法》)."""

    NEW_YEAR = "new_year"
    SPRING_FESTIVAL = "spring_festival"
    TOMB_SWEEPING = "tomb_sweeping"
    LABOUR_DAY = "labour_day"
    DRAGON_BOAT = "dragon_boat"
    MID_AUTUMN = "mid_autumn"
    NATIONAL_DAY = "national_day"
    OTHER = "other"


class StatutoryDay(Base):
    """One day off or one make-up working day of the national calendar, for every lab."""

    __tablename__ = "statutory_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, unique=True)
    kind: Mapped[DayKind] = mapped_column(string_enum(DayKind, "statutory_day_kind"))
    festival: Mapped[Festival] = mapped_column(string_enum(Festival, "statutory_festival"))
    # Where the day comes from (the package and version, or the shipped file and its source),
    # so that an admin reviewing the calendar knows what to check it against.
    source: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LabHolidayPolicy(Base):
    """Whether a lab closes on statutory holidays and opens on make-up working days.

    A lab without a row follows neither: it keeps its weekly opening hours all year.
    """

    __tablename__ = "lab_holiday_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"), unique=True)
    closes_on_holidays: Mapped[bool] = mapped_column(default=False)
    opens_on_makeup_days: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
