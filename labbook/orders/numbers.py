"""Numbers handed out in series: orders, samples and reports, per lab and year.

Each series is a ``NumberCounter`` row moved on by one in SQL (``UPDATE … SET value = value + 1
… RETURNING value``), which takes the row's lock: a second intake at the same moment waits for
the first to commit and then gets the next number. The numbers' unique constraints back this up.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from labbook.core.engine import dialect_insert
from labbook.orders.models import NumberCounter


def next_value(session: Session, scope: str, year: int) -> int:
    """The next number of series ``scope`` in ``year`` (1, 2, …), in the caller's transaction."""
    session.execute(dialect_insert(session)(NumberCounter)
                    .values(scope=scope, year=year, value=0)
                    .on_conflict_do_nothing(index_elements=["scope", "year"]))
    return session.execute(
        update(NumberCounter)
        .where(NumberCounter.scope == scope, NumberCounter.year == year)
        .values(value=NumberCounter.value + 1)
        .returning(NumberCounter.value)
        .execution_options(synchronize_session=False)).scalar_one()


def order_number(session: Session, lab_code: str, year: int) -> str:
    return f"{lab_code}-WT-{year}-{next_value(session, f'order:{lab_code}', year):05d}"


def sample_number(session: Session, lab_code: str, year: int) -> str:
    """e.g. ``FOOD-2026-000123``."""
    return f"{lab_code}-{year}-{next_value(session, f'sample:{lab_code}', year):06d}"


def report_number(session: Session, lab_code: str, year: int) -> str:
    return f"{lab_code}-BG-{year}-{next_value(session, f'report:{lab_code}', year):05d}"
