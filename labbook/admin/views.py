"""The administration pages: the index here, the others in a module per area (importing them
adds their routes to ``bp``)."""

from __future__ import annotations

from flask import render_template

from labbook.accounts import services as accounts
from labbook.accounts.access import current_actor
from labbook.admin import audit_views, catalogue_views, owner_views, people_views
from labbook.admin.blueprint import bp
from labbook.extensions import db

__all__ = ["audit_views", "bp", "catalogue_views", "owner_views", "people_views"]


@bp.get("/")
def index():
    actor = current_actor()
    return render_template("admin/index.html", labs=accounts.managed_labs(db.session, actor),
                           is_admin=accounts.can_manage_people(actor))
