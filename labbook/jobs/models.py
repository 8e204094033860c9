"""The scheduler lease: which scheduler process runs the jobs (SQLite only).

PostgreSQL uses a session-level advisory lock instead, which the server releases by itself
when the holder's connection goes away. SQLite has nothing like it, so the holder renews a
lease row; a lease that is not renewed expires and another scheduler may take it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from labbook.core.db import Base, UTCDateTime


class SchedulerLease(Base):
    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    renewed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
