"""The privacy notice, a person's own data (download, ask for deletion), and the admins' list of
requests to delete personal data."""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from labbook.accounts.access import current_actor, require
from labbook.core.engine import write_transaction
from labbook.core.errors import DomainError, NotFound
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.privacy import services
from labbook.web import refuse

bp = Blueprint("privacy", __name__)


class ReasonForm(FlaskForm):
    reason = TextAreaField(validators=[DataRequired(), Length(max=2000)])


@bp.get("/privacy")
def notice():
    return render_template("privacy/notice.html")


@bp.get("/privacy/my-data")
@login_required
def my_data():
    user = current_actor()
    return render_template("privacy/my_data.html",
                           pending=services.pending_request(db.session, user))


def _download(body: bytes, filename: str, content_type: str):
    response = make_response(body)
    response.headers["Content-Type"] = content_type
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/privacy/my-data.json")
@login_required
def my_data_json():
    data = services.export(db.session, current_actor(), now=utcnow())
    return _download(json.dumps(data, ensure_ascii=False, indent=2).encode(),
                     "labbook-data.json", "application/json")


@bp.get("/privacy/my-data.zip")
@login_required
def my_data_zip():
    data = services.export(db.session, current_actor(), now=utcnow())
    return _download(services.export_zip(data), "labbook-data.zip", "application/zip")


@bp.post("/privacy/deletion-request")
@login_required
def request_deletion():
    try:
        with write_transaction(db.session):
            services.request_deletion(db.session, current_actor(), now=utcnow())
    except DomainError as error:
        return refuse(error, url_for("privacy.my_data"))
    flash(_("Your request was sent. An admin handles it; you get an email."), "success")
    return redirect(url_for("privacy.my_data"))


@bp.get("/admin/privacy-requests")
@login_required
def requests():
    require(services.can_handle_requests(current_actor()))
    return render_template("privacy/requests.html",
                           deletions=services.deletion_requests(db.session),
                           form=ReasonForm(formdata=None))


def _handle(deletion_id: int, handle, done: str):
    actor = require(services.can_handle_requests(current_actor()))
    back = url_for("privacy.requests")
    try:
        with write_transaction(db.session):
            deletion = services.get_request(db.session, actor, deletion_id)
            handle(db.session, actor, deletion)
    except NotFound:
        abort(404)
    except DomainError as error:
        return refuse(error, back)
    flash(done, "success")
    return redirect(back)


@bp.post("/admin/privacy-requests/<int:deletion_id>/complete")
@login_required
def complete_request(deletion_id: int):
    return _handle(deletion_id,
                   lambda session, actor, deletion: services.complete_deletion(
                       session, actor, deletion, now=utcnow()),
                   _("The person's data was deleted."))


@bp.post("/admin/privacy-requests/<int:deletion_id>/reject")
@login_required
def reject_request(deletion_id: int):
    form = ReasonForm()
    return _handle(deletion_id,
                   lambda session, actor, deletion: services.reject_deletion(
                       session, actor, deletion, reason=form.reason.data or "", now=utcnow()),
                   _("The request was refused; the person is told why."))
