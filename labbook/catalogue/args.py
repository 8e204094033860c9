"""Query parameters that name a catalogue row, read alike by the pages and API routes of every
area."""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _

from labbook.catalogue.models import Lab
from labbook.catalogue.services import lab_by_code
from labbook.extensions import db
from labbook.http import invalid_parameter


def lab_arg(name: str = "lab") -> Lab | None:
    """The lab a query parameter names by code (any case), or a 422 naming the parameter."""
    raw = request.args.get(name)
    if not raw:
        return None
    lab = lab_by_code(db.session, raw)
    if lab is None:
        raise invalid_parameter(name, _("Unknown lab %(code)s.", code=raw))
    return lab
