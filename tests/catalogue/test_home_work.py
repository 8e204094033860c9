"""The first page a signed-in person sees shows what they have going on: their coming bookings
(the first three, how many wait for approval) and their testing orders under way, with the way
to each list; a visitor sees the labs only."""

from __future__ import annotations

import pytest

from labbook.booking.models import BookingState
from tests.factories import create_booking, create_instrument, create_user, lab_time, next_weekday
from tests.orders.conftest import build_scene, submit

MONDAY = next_weekday(0)


@pytest.fixture
def researcher():
    return create_user(name="陈研究")


def _work(page: str) -> str:
    assert "data-your-work" in page
    return page.split("data-your-work", 1)[1].split("</section>", 1)[0]


def test_a_researcher_sees_their_next_bookings_first(login_as, researcher):
    instrument = create_instrument(code="NEM-101", name_zh="X 射线衍射仪",
                                   name_en="X-ray diffractometer")
    for hour, state in ((9, BookingState.APPROVED), (11, BookingState.PENDING),
                        (13, BookingState.PENDING), (15, BookingState.APPROVED)):
        create_booking(instrument=instrument, user=researcher, state=state,
                       start_at=lab_time(MONDAY, hour), end_at=lab_time(MONDAY, hour + 1))
    create_booking(instrument=instrument, user=researcher, state=BookingState.CANCELLED,
                   start_at=lab_time(MONDAY, 17), end_at=lab_time(MONDAY, 18))
    client = login_as(researcher)
    chinese = _work(client.get("/").get_data(as_text=True))
    assert "我的预约与检测委托" in chinese and "X 射线衍射仪" in chinese
    assert f"{MONDAY.isoformat()} 09:00" in chinese and f"{MONDAY.isoformat()} 13:00" in chinese
    assert f"{MONDAY.isoformat()} 15:00" not in chinese  # the first three only
    assert "近期预约 4 个" in chinese and "2 个待审批" in chinese
    assert 'href="/bookings"' in chinese and "进行中的检测委托 0 个" in chinese

    client.post("/language", data={"locale": "en", "next": "/"})
    english = _work(client.get("/").get_data(as_text=True))
    assert "Your bookings and testing orders" in english and "X-ray diffractometer" in english
    assert "4 bookings coming up" in english and "(2 wait for approval)" in english
    assert "0 testing orders under way" in english


def test_a_customer_sees_their_testing_orders_under_way(client, login_as):
    scene = build_scene()
    submit(client, scene)
    page = _work(login_as(scene.customer).get("/").get_data(as_text=True))
    assert "进行中的检测委托 1 个" in page and 'href="/orders"' in page
    assert "您近期没有预约。" in page


def test_a_visitor_sees_no_work(client):
    assert "data-your-work" not in client.get("/").get_data(as_text=True)
