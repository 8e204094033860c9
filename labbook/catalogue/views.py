"""Catalogue pages: home, instrument list and page, testing-service list (a service's own
page, with its request form, is in ``labbook.testing.views``)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from labbook.accounts.access import current_viewer
from labbook.accounts.models import PriceTier
from labbook.catalogue import services as catalogue
from labbook.catalogue.models import Instrument, InstrumentStatus, TestingService
from labbook.core.time import to_lab_time, utcnow
from labbook.extensions import db
from labbook.http import page_arg

bp = Blueprint("catalogue", __name__)


def _viewer_tier() -> PriceTier | None:
    viewer = current_viewer()
    return viewer.price_tier if viewer is not None else None


@bp.get("/")
def home():
    return render_template("catalogue/home.html", summaries=catalogue.lab_summaries(db.session))


@bp.get("/instruments")
def instrument_list():
    criteria = catalogue.parse_filter(request.args, statuses=list(InstrumentStatus))
    page = catalogue.search_instruments(db.session, criteria, page=page_arg(),
                                        per_page=current_app.config["UI_PER_PAGE"])
    return render_template(
        "catalogue/instrument_list.html", page=page, criteria=criteria,
        labs=catalogue.all_labs(db.session),
        categories=catalogue.categories_in_use(db.session, Instrument),
        statuses=list(InstrumentStatus),
    )


@bp.get("/instruments/<int:instrument_id>")
def instrument_detail(instrument_id: int):
    instrument = catalogue.get_instrument(db.session, instrument_id)
    tier = _viewer_tier()
    today = to_lab_time(utcnow()).date()
    rates = {t: instrument.current_rate(t, today) for t in PriceTier}
    return render_template("catalogue/instrument_detail.html", instrument=instrument,
                           viewer_tier=tier, rates=rates)


@bp.get("/services")
def service_list():
    criteria = catalogue.parse_filter(request.args, statuses=["active", "inactive"])
    page = catalogue.search_services(db.session, criteria, page=page_arg(),
                                     per_page=current_app.config["UI_PER_PAGE"])
    return render_template(
        "catalogue/service_list.html", page=page, criteria=criteria,
        labs=catalogue.all_labs(db.session),
        categories=catalogue.categories_in_use(db.session, TestingService),
    )
