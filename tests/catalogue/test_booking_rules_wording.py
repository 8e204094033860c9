"""An instrument's page states its booking rules in the largest whole unit of time a person
reads at a glance: "1 day ahead", not "1440 minutes ahead"."""

from tests.factories import create_instrument


def test_the_booking_rules_speak_in_hours_and_days(client):
    instrument = create_instrument(slot_minutes=30, min_minutes=120, max_minutes=1440,
                                   min_notice_minutes=1440, horizon_days=30)
    chinese = client.get(f"/instruments/{instrument.id}").get_data(as_text=True)
    assert "预约时长以 30 分钟为单位，最短 2 小时，最长 1 天" in chinese
    assert "至少提前 1 天、最多提前 30 天预约" in chinese
    english = client.get(f"/instruments/{instrument.id}",
                         headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Bookable in steps of 30 minutes, from 2 hours to 1 day" in english
    assert "Book at least 1 day ahead, at most 30 days ahead" in english
