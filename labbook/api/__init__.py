"""The JSON API under /api/v1: its blueprint, on which each area's ``api`` module puts its routes.

``labbook.api.routes`` imports those modules and registers the blueprint; only ``create_app``
imports it. What routes share in reading requests and answering problems is in
``labbook.http``.
"""

from __future__ import annotations

from flask import Blueprint

from labbook.ratelimit import api_client, limit_blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# One budget per client for the whole API rather than per endpoint; none unless configured.
limit_blueprint(bp, "LABBOOK_RATELIMIT_API", key_func=api_client)
