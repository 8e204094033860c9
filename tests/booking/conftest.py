"""Fixtures the booking tests share."""

from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from sqlalchemy.exc import IntegrityError

from labbook.booking import services
from tests.factories import create_instrument, create_user


@pytest.fixture
def english():
    """Messages in English, for tests that read them."""
    with force_locale("en"):
        yield


@pytest.fixture
def instrument():
    """Booked on a 30-minute grid, for 30 minutes to 4 hours, 2 hours to 30 days ahead."""
    return create_instrument(slot_minutes=30, min_minutes=30, max_minutes=240,
                             min_notice_minutes=120, horizon_days=30)


@pytest.fixture
def researcher():
    return create_user()


@pytest.fixture
def insert_fails(monkeypatch):
    """Make the database refuse new bookings with the given SQLSTATE: ``23P01`` is what
    PostgreSQL's exclusion constraint says to the second of two overlapping bookings; None is
    an error without one, as SQLite's are."""
    def fail(sqlstate: str | None) -> None:
        def refuse(*args, **kwargs):
            raise IntegrityError("INSERT INTO bookings", {}, SimpleNamespace(sqlstate=sqlstate)
                                 if sqlstate else SimpleNamespace())

        # A single booking is inserted guarded by its calendar, a series' one by one.
        monkeypatch.setattr(services, "insert_recorded_unless", refuse)
        monkeypatch.setattr(services, "_insert_bookings", refuse)

    return fail
