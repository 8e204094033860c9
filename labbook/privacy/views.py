"""The privacy notice."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("privacy", __name__)


@bp.get("/privacy")
def notice():
    return render_template("privacy/notice.html")
