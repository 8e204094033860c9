"""Fixtures the booking tests share."""

import pytest
from flask_babel import force_locale

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
