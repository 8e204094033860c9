"""gunicorn's hooks for labbook's web workers: ``gunicorn --config python:labbook.serving …``.

gunicorn takes the names of this module that are its settings. Only hooks live here: the
workers' number, address and timeouts stay on the command line of the deployment
(``docs/deploy/labbook-web.service``).
"""

from __future__ import annotations

from typing import Any


def post_worker_init(worker: Any) -> None:
    """A worker opens its database connection as it starts, before it accepts a request.

    A new engine's first connection asks the server for its version and settings besides
    connecting (on PostgreSQL some 10 ms), and the deployment restarts every worker after some
    2,000 requests (``--max-requests``): without this, the first request of every new worker
    (a calendar app's poll of its iCal feed, as often as not) waited for it.
    """
    from labbook.core.engine import connect_ahead
    from labbook.extensions import db

    with worker.wsgi.app_context():
        connect_ahead(db.engine)
