"""A line's instrument time, booked by the lab's staff through the booking rules for the
customer's organization, names the line."""

import datetime as dt

from labbook.booking.models import Booking
from labbook.core.time import to_lab_time
from labbook.extensions import db
from labbook.orders import work
from labbook.orders.models import Order
from tests.factories import create_instrument, lab_time, next_weekday
from tests.orders.conftest import receive_all, submit


def test_the_lab_books_instrument_time_for_a_line(client, scene, login_as):
    order = receive_all(client, scene, submit(client, scene))
    line = order["lines"][0]
    [instrument] = scene.service.instruments
    url = f"/api/v1/orders/{order['id']}/lines/{line['id']}/bookings"
    start = lab_time(next_weekday(1), 10)
    slot = {"instrument_id": instrument.id, "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=2)).isoformat()}
    assert client.post(url, headers=scene.headers(scene.customer), json=slot).status_code == 403
    booked = client.post(url, headers=scene.headers(scene.manager), json=slot)
    assert booked.status_code == 201, booked.json
    [entry] = booked.json["lines"][0]["bookings"]
    booking = db.session.get(Booking, entry["id"])
    assert booking.order_line_id == line["id"]
    assert booking.organization_id == scene.customer.organization_id
    assert booking.user_id == scene.manager.id
    again = client.post(url, headers=scene.headers(scene.analyst), json=slot)
    assert again.status_code == 409 and again.json["code"] == "overlap"
    elsewhere = create_instrument(lab=scene.lab)
    other = client.post(url, headers=scene.headers(scene.manager),
                        json={**slot, "instrument_id": elsewhere.id})
    assert other.status_code == 422 and other.json["code"] == "instrument_not_of_service"
    page = login_as(scene.manager).post(
        f"/orders/{order['id']}/lines/{line['id']}/bookings",
        data={"instrument_id": str(instrument.id),
              "start": to_lab_time(start + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
              "end": to_lab_time(start + dt.timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M")})
    assert page.status_code == 303
    detail = login_as(scene.manager).get(f"/orders/{order['id']}").get_data(as_text=True)
    assert detail.count(instrument.code) >= 2
    assert len(db.session.scalars(db.select(Booking)
                                  .where(Booking.order_line_id == line["id"])).all()) == 2


def test_a_line_s_booking_belongs_to_the_customer_s_organization_in_the_request_too(
        client, scene):
    """What the rest of the booking's request reads of it (an approval e-mail, the answer)
    names the organization that pays, not the one of the staff member who booked."""
    order = receive_all(client, scene, submit(client, scene))
    [instrument] = scene.service.instruments
    start = lab_time(next_weekday(1), 10)
    booking = work.book_instrument(
        db.session, scene.manager, db.session.get(Order, order["id"]), order["lines"][0]["id"],
        instrument_id=instrument.id, start=start, end=start + dt.timedelta(hours=2),
        now=dt.datetime.now(dt.UTC))
    assert booking.organization.id == scene.customer.organization_id
    assert booking.organization.id != scene.manager.organization_id
