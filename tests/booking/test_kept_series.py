"""A refused series is kept like a single booking (Post/Redirect/Get): the calendar's page shows
its refused dates again, after a reload and in the language switched to, and nothing is booked."""

import datetime as dt

from sqlalchemy import func, select

from labbook.booking.models import Booking
from labbook.extensions import db
from tests.factories import create_booking, create_instrument, create_user, lab_time, next_weekday

MONDAY = next_weekday(0)
TAKEN = MONDAY + dt.timedelta(days=7)


def series(**extra):
    return {"date": MONDAY.isoformat(), "start_time": "10:00", "end_time": "11:00",
            "purpose": "每周 XRD 测样", "project_ref": "", "repeat": "weekly", "count": "3",
            **extra}


def bookings() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Booking))


def test_a_refused_series_survives_reload_and_the_language_switch(login_as):
    instrument = create_instrument()
    create_booking(instrument=instrument, start_at=lab_time(TAKEN, 10),
                   end_at=lab_time(TAKEN, 11))
    client = login_as(create_user(locale="zh_CN"))
    calendar = f"/instruments/{instrument.id}/calendar"
    refused = client.post(f"/instruments/{instrument.id}/book", data=series())
    assert refused.status_code == 303 and refused.headers["Location"] == calendar

    for _reload in range(2):
        chinese = client.get(calendar).get_data(as_text=True)
        assert "预约未成功。" in chinese and f"{TAKEN.isoformat()} 10:00" in chinese
        assert "每周 XRD 测样" in chinese and 'value="3"' in chinese
        assert "未创建任何预约。" in chinese
    assert client.post("/language", data={"locale": "en", "next": calendar}).headers[
        "Location"] == calendar
    english = client.get(calendar).get_data(as_text=True)
    assert "The booking could not be made." in english
    assert f"{TAKEN.isoformat()} 10:00" in english and "每周 XRD 测样" in english
    assert "Nothing was booked." in english
    summary = english.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    assert "预约" not in summary
    assert bookings() == 1


def test_a_series_whose_dates_came_free_shows_no_refusal_again(login_as):
    instrument = create_instrument()
    taken = create_booking(instrument=instrument, start_at=lab_time(TAKEN, 10),
                           end_at=lab_time(TAKEN, 11))
    client = login_as(create_user(locale="en"))
    client.post(f"/instruments/{instrument.id}/book", data=series())
    db.session.delete(db.session.get(Booking, taken.id))
    db.session.commit()
    page = client.get(f"/instruments/{instrument.id}/calendar").get_data(as_text=True)
    assert "每周 XRD 测样" in page and 'id="error-summary"' not in page
