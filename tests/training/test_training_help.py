"""Refused for want of training (``not_qualified``) when changing a booking's time or joining
the waiting list, a person sees the same way forward as a refused booking: the lab's contact
person and a "Request training" button that comes back to the page."""

from __future__ import annotations

import pytest

from tests.booking.test_views import assert_well_formed, text
from tests.factories import (
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    lab_time,
    next_weekday,
)

MONDAY = next_weekday(0)


@pytest.fixture
def instrument():
    lab = create_lab(code="NEM", contact_name="王磊", contact_phone="0391-3987101",
                     contact_email="nem.manager@jzit.example.cn")
    create_manager(lab)
    return create_instrument(lab=lab, requires_qualification=True)


def _assert_training_help(page: str, instrument, back: str) -> None:
    assert_well_formed(page)
    assert "How to get trained on this instrument" in page
    assert "王磊" in page and 'href="tel:0391-3987101"' in page
    assert f'action="/training/instruments/{instrument.id}/request"' in page
    assert f'name="next" value="{back}"' in page.replace("&amp;", "&")


def test_a_change_refused_for_want_of_training_says_whom_to_ask(login_as, instrument):
    user = create_user(locale="en")  # booked while trained; the record has lapsed since
    booking = create_booking(instrument=instrument, user=user, start_at=lab_time(MONDAY, 10),
                             end_at=lab_time(MONDAY, 11))
    refused = login_as(user).post(f"/bookings/{booking.id}/change", data={
        "change-date": MONDAY.isoformat(), "change-start_time": "10:00",
        "change-end_time": "12:00"}, follow_redirects=True)
    page = text(refused)
    assert "You need a valid training record for this instrument" in page
    _assert_training_help(page, instrument, f"/bookings/{booking.id}")


def test_the_waiting_list_refused_for_want_of_training_says_whom_to_ask(login_as, instrument):
    refused = login_as(create_user(locale="en")).post(
        f"/instruments/{instrument.id}/waitlist", data={
            "date": MONDAY.isoformat(), "start_time": "10:00", "end_time": "11:00",
            "purpose": "XRD"}, follow_redirects=True)
    page = text(refused)
    assert 'data-code="not_qualified"' in page
    _assert_training_help(page, instrument, f"/instruments/{instrument.id}/waitlist?date="
                          f"{MONDAY.isoformat()}&start_time=10:00&end_time=11:00&purpose=XRD")


def test_other_refusals_of_a_change_offer_no_training(login_as):
    user = create_user(locale="en")
    booking = create_booking(instrument=create_instrument(), user=user,
                             start_at=lab_time(MONDAY, 10), end_at=lab_time(MONDAY, 11))
    page = text(login_as(user).post(f"/bookings/{booking.id}/change", data={
        "change-date": MONDAY.isoformat(), "change-start_time": "19:00",
        "change-end_time": "23:00"}, follow_redirects=True))
    assert "alert-danger" in page and "data-training-help" not in page


def test_a_series_refused_for_want_of_training_says_whom_to_ask(login_as, instrument):
    refused = login_as(create_user(locale="en")).post(
        f"/instruments/{instrument.id}/book", data={
            "date": MONDAY.isoformat(), "start_time": "10:00", "end_time": "11:00",
            "purpose": "每周 XRD", "project_ref": "", "repeat": "weekly", "count": "3"},
        follow_redirects=True)
    page = text(refused)
    assert "Nothing was booked." in page
    assert "You need a valid training record for this instrument" in page
    _assert_training_help(page, instrument, f"/instruments/{instrument.id}/calendar?date="
                          f"{MONDAY.isoformat()}&start_time=10:00&end_time=11:00"
                          "&purpose=%E6%AF%8F%E5%91%A8+XRD")
