"""One gunicorn server with four workers per module, on the test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.live import live_server


@pytest.fixture(scope="module")
def server(app: Flask, database_url: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[str]:
    """The base URL of a live server (``app`` first: it builds the schema the server uses)."""
    instance = tmp_path_factory.mktemp("race-server")
    with live_server(database_url, workers=4, extra_env={
            "LABBOOK_INSTANCE_PATH": str(instance),
            "LABBOOK_REPORT_DIR": str(instance / "reports"),
            "LABBOOK_MAIL_DIR": str(instance / "outbox")},
            log_file=instance / "server.log") as base_url:
        yield base_url
