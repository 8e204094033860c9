"""The instrument's phone page (``/m/instruments/<id>``, what its label's QR code opens) and
its check-in and check-out buttons."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    url_for,
)
from flask_babel import get_locale
from flask_login import login_required

from labbook import links
from labbook.accounts.access import current_actor, current_manager, current_viewer
from labbook.catalogue import services as catalogue
from labbook.core.engine import write_transaction
from labbook.core.errors import DomainError
from labbook.core.time import utcnow
from labbook.documents.labels import render_instrument_label
from labbook.documents.model import InstrumentLabel
from labbook.extensions import db
from labbook.i18n import gettext as _
from labbook.i18n import localized
from labbook.mobile import services
from labbook.web import refuse

bp = Blueprint("mobile", __name__)


@bp.get("/admin/instruments/<int:instrument_id>/label.pdf")
@login_required
def instrument_label(instrument_id: int):
    """The A6 label to stick on the instrument, whose QR code opens its phone page."""
    actor = current_manager()
    instrument = catalogue.get_instrument(db.session, instrument_id)
    if not catalogue.can_edit_instrument(actor, instrument):
        abort(404)
    language = _locale()
    label = InstrumentLabel(
        code=instrument.code, name=localized(instrument, "name"),
        lab_name=localized(instrument.lab, "name"),
        url=links.external_url("mobile.instrument", instrument_id=instrument.id))
    response = make_response(render_instrument_label(label, language))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = \
        f'inline; filename="label-{instrument.code}.pdf"'
    return response


def _locale() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh_CN"


@bp.get("/m/instruments/<int:instrument_id>")
def instrument(instrument_id: int):
    instrument = catalogue.get_instrument(db.session, instrument_id)
    viewer = current_viewer()
    today = services.today(db.session, instrument, viewer, now=utcnow())
    return render_template("mobile/instrument.html", instrument=instrument, today=today,
                           viewer=viewer)


def _use(instrument_id: int, change, done: str):
    page = url_for("mobile.instrument", instrument_id=instrument_id)
    try:
        with write_transaction(db.session):
            instrument = catalogue.get_instrument(db.session, instrument_id)
            change(db.session, current_actor(), instrument, now=utcnow())
    except DomainError as error:
        return refuse(error, page)
    flash(done, "success")
    return redirect(page)


@bp.post("/m/instruments/<int:instrument_id>/check-in")
@login_required
def check_in(instrument_id: int):
    return _use(instrument_id, services.check_in_here, _("Checked in. Enjoy your session."))


@bp.post("/m/instruments/<int:instrument_id>/check-out")
@login_required
def check_out(instrument_id: int):
    return _use(instrument_id, services.check_out_here,
                _("Checked out. Thank you for leaving the instrument tidy."))
