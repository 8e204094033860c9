import datetime as dt

import pytest

from labbook.billing import api as billing_api
from labbook.booking import api as booking_api
from labbook.orders import api as orders_api
from labbook.orders import views as orders_views


class Clock:
    """The time the API handlers see; tests move it to play a month through in minutes."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    now = Clock()
    for module in (billing_api, booking_api, orders_api, orders_views):
        monkeypatch.setattr(module, "utcnow", now)
    return now


@pytest.fixture(autouse=True)
def _report_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "LABBOOK_REPORT_DIR", str(tmp_path / "reports"))
