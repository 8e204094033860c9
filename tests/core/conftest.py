import time

import pytest


@pytest.fixture
def server_clock_in_shanghai(monkeypatch):
    """The server's own clock on China time, as on many of the lab's machines."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
