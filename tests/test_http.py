"""Reading the day a page shows from its query: the day view and the managers' Today page."""

import datetime as dt

import pytest

from labbook.core.errors import ValidationError
from labbook.http import day_arg

TODAY = dt.date(2026, 12, 7)


@pytest.mark.parametrize(("raw", "expected"), [
    ("", TODAY),
    ("   ", TODAY),
    ("2026-12-31", dt.date(2026, 12, 31)),
    (" 2026-12-31 ", dt.date(2026, 12, 31)),
    # The first and last days whose neighbours, which the page links to, are plausible too.
    ("2000-01-02", dt.date(2000, 1, 2)),
    ("2099-12-30", dt.date(2099, 12, 30)),
])
def test_a_page_shows_the_day_asked_for_or_today(app, raw, expected):
    with app.test_request_context(query_string={"date": raw}):
        assert day_arg("date", TODAY) == expected


@pytest.mark.parametrize("raw", ["2000-01-01", "2099-12-31", "0001-01-01", "9999-12-31",
                                 "2026-02-30", "tomorrow", "2026-12-31T10:00"])
def test_a_day_the_page_cannot_show_is_a_422_naming_the_parameter(app, raw):
    with app.test_request_context(query_string={"date": raw}), \
            pytest.raises(ValidationError) as refused:
        day_arg("date", TODAY)
    assert [(p.code, p.field) for p in refused.value.problems] == [("invalid_date", "date")]
