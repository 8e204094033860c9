"""API of a person's own data: download it, ask for its deletion (``labbook.privacy.services``)."""

from __future__ import annotations

from labbook.api import bp
from labbook.api.auth import api_user, token_required
from labbook.core.engine import write_transaction
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.privacy import services


@bp.get("/me/personal-data")
@token_required
def my_personal_data():
    return services.export(db.session, api_user(), now=utcnow())


@bp.post("/me/deletion-request")
@token_required
def request_deletion():
    with write_transaction(db.session):
        deletion = services.request_deletion(db.session, api_user(), now=utcnow())
    return {"id": deletion.id, "state": deletion.state.value,
            "requested_at": deletion.requested_at.isoformat()}, 201
