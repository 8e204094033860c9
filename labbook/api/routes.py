"""Every route of the API: importing an area's ``api`` module puts its routes on the blueprint.

Only ``create_app`` imports this module, so no area depends on another's routes, and the
blueprint itself depends on none.
"""

from __future__ import annotations

from flask import Flask

from labbook.api import bp
from labbook.api import openapi as openapi_routes  # noqa: F401
from labbook.billing import api as billing_routes  # noqa: F401
from labbook.booking import api as booking_routes  # noqa: F401
from labbook.calendars import api as calendars_routes  # noqa: F401
from labbook.catalogue import api as catalogue_routes  # noqa: F401
from labbook.enterprises import api as enterprises_routes  # noqa: F401
from labbook.extensions import csrf
from labbook.faults import api as faults_routes  # noqa: F401
from labbook.holidays import api as holidays_routes  # noqa: F401
from labbook.notify import api as notify_routes  # noqa: F401
from labbook.orders import api as orders_routes  # noqa: F401
from labbook.privacy import api as privacy_routes  # noqa: F401
from labbook.reports import api as reports_routes  # noqa: F401
from labbook.testing import api as testing_routes  # noqa: F401
from labbook.training import api as training_routes  # noqa: F401


def register(app: Flask) -> None:
    # The API authenticates with bearer tokens, never cookies, so there is nothing to forge.
    csrf.exempt(bp)
    app.register_blueprint(bp)
