"""The "No-show" button on the managers' Today page: offered once the grace period after an
approved booking's start has passed without a check-in, and charged at the no-show share."""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from labbook.billing.models import Charge, ChargeKind
from labbook.booking.attendance import NO_SHOW_GRACE_MINUTES
from labbook.booking.models import BookingState
from labbook.extensions import db
from tests.booking.test_actual_use_views import MINUTE, now, text, today_path
from tests.booking.test_views import assert_well_formed
from tests.factories import (
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    reload,
)


@pytest.fixture
def lab():
    return create_lab(code="NEM", name_en="New-Energy Materials Lab")


@pytest.fixture
def manager(lab):
    return create_manager(lab, name="Manager Wang", locale="en")


@pytest.fixture
def instrument(lab):
    return create_instrument(lab=lab, name_en="X-ray diffractometer")


@pytest.fixture
def missed(instrument):
    """An approved booking that started past the grace period and nobody checked in."""
    start = now() - (NO_SHOW_GRACE_MINUTES + 5) * MINUTE
    return create_booking(instrument=instrument, user=create_user(), start_at=start,
                          end_at=start + dt.timedelta(hours=1))


@pytest.fixture
def just_started(lab):
    """An approved booking still inside its grace period (on another instrument of the lab, so
    that it may overlap ``missed``)."""
    start = now() - 5 * MINUTE
    return create_booking(instrument=create_instrument(lab=lab), user=create_user(),
                          start_at=start, end_at=start + dt.timedelta(hours=1))


def test_a_manager_records_a_no_show_from_today(login_as, manager, missed, just_started):
    client = login_as(manager)
    page = text(client.get(today_path()))
    assert_well_formed(page)
    assert f'action="/manage/bookings/{missed.id}/no-show"' in page
    assert f'action="/manage/bookings/{just_started.id}/no-show"' not in page
    assert 'data-confirm="Record booking' in page and "/static/js/confirm.js" in page

    response = client.post(f"/manage/bookings/{missed.id}/no-show",
                           data={"next": "/manage/labs/NEM/today"})
    assert response.status_code == 302 and response.location == "/manage/labs/NEM/today"
    assert reload(missed).state == BookingState.NO_SHOW
    page = text(client.get(response.location))
    assert f"Booking #{missed.id} is recorded as a no-show." in page
    assert f'action="/manage/bookings/{missed.id}/no-show"' not in page
    # The researcher's organization is external: ¥100.00/h, one hour, the full no-show share.
    charge = db.session.scalars(select(Charge)).one()
    assert (charge.kind, charge.booking_id, charge.amount) == \
        (ChargeKind.NO_SHOW, missed.id, Decimal("100.00"))

    again = client.post(f"/manage/bookings/{missed.id}/no-show", follow_redirects=True)
    assert "Only an approved booking that was not checked in can be a no-show." in text(again)
    assert len(db.session.scalars(select(Charge)).all()) == 1


def test_too_early_is_a_message_and_changes_nothing(login_as, manager, just_started):
    response = login_as(manager).post(f"/manage/bookings/{just_started.id}/no-show",
                                      follow_redirects=True)
    assert response.status_code == 200 and "Too early" in text(response)
    assert reload(just_started).state == BookingState.APPROVED
    assert db.session.scalars(select(Charge)).all() == []


def test_only_the_labs_managers_record_no_shows(client, login_as, missed):
    assert client.post(f"/manage/bookings/{missed.id}/no-show").status_code == 302  # sign in
    assert login_as(create_user()).post(f"/manage/bookings/{missed.id}/no-show") \
        .status_code == 403
    outsider = create_manager(create_lab(code="FOOD"))
    assert login_as(outsider).post(f"/manage/bookings/{missed.id}/no-show").status_code == 404
    assert login_as(outsider).post("/manage/bookings/999999/no-show").status_code == 404
    assert reload(missed).state == BookingState.APPROVED
