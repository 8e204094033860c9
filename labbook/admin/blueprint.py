"""The administration blueprint, its access rule and what its pages share.

Open to lab managers (instruments and testing services of the labs they manage) and admins
(everything, including organizations, users, catalogue imports and the audit log). Objects of
a lab the user does not manage answer 404, as on the managers' pages; pages only admins use
answer 403 to everybody else.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from labbook.accounts.access import current_viewer, require_manager
from labbook.audit.labels import ACTION_LABELS
from labbook.catalogue import services as catalogue
from labbook.catalogue.models import Instrument, TestingService

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_manager)


@bp.app_context_processor
def admin_links() -> dict[str, Any]:
    # Functions, so that templates elsewhere (the catalogue pages) only ask when they show one.
    def edit_instrument_link(instrument: Instrument) -> bool:
        viewer = current_viewer()
        return viewer is not None and catalogue.can_edit_instrument(viewer, instrument)

    def edit_service_link(service: TestingService) -> bool:
        viewer = current_viewer()
        return viewer is not None and catalogue.can_edit_service(viewer, service)

    return {"can_edit_instrument": edit_instrument_link, "can_edit_service": edit_service_link}


@bp.context_processor
def admin_labels() -> dict[str, Any]:
    return {"action_labels": ACTION_LABELS}
