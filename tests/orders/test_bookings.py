"""A line's instrument time, booked by the lab's staff through the booking rules for the
customer's organization, names the line."""

import datetime as dt

from labbook.booking.models import Booking
from labbook.core.time import to_lab_time
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
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


def test_the_approval_e_mail_of_a_line_s_booking_names_the_customer_s_organization(
        client, scene):
    """An analyst (no manager of the lab) books an instrument that needs approval for a line:
    the booking waits, and the manager's e-mail names the organization that pays for it, the
    customer's, not the analyst's own."""
    order = receive_all(client, scene, submit(client, scene))
    [instrument] = scene.service.instruments
    instrument.requires_approval = True
    db.session.commit()
    start = lab_time(next_weekday(1), 10)
    booked = client.post(
        f"/api/v1/orders/{order['id']}/lines/{order['lines'][0]['id']}/bookings",
        headers=scene.headers(scene.analyst),
        json={"instrument_id": instrument.id, "start": start.isoformat(),
              "end": (start + dt.timedelta(hours=2)).isoformat()})
    assert booked.status_code == 201, booked.json
    [message] = db.session.scalars(db.select(OutboxMessage).where(
        OutboxMessage.kind == "booking_requested")).all()
    assert message.user_id == scene.manager.id
    assert scene.customer.organization.name in message.body_text
    assert scene.analyst.organization.name not in message.body_text
