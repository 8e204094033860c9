"""Catalogue pages: home, instrument list and page, testing-service list (a service's own
page, with its request form, is in ``labbook.testing.views``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import func, select

from labbook.accounts.access import current_viewer
from labbook.accounts.models import PriceTier, User
from labbook.booking import listing as booking_listing
from labbook.booking.models import BookingState
from labbook.catalogue import listing
from labbook.catalogue import services as catalogue
from labbook.catalogue.models import Instrument, InstrumentStatus, TestingService
from labbook.core.money import format_money
from labbook.core.time import to_lab_time, utcnow
from labbook.extensions import db
from labbook.http import page_arg
from labbook.orders import services as order_services
from labbook.orders.models import Order, OrderState

bp = Blueprint("catalogue", __name__)


def _viewer_tier() -> PriceTier | None:
    viewer = current_viewer()
    return viewer.price_tier if viewer is not None else None


def _today():
    return to_lab_time(utcnow()).date()


#: How many of a person's coming bookings the home page lists.
HOME_BOOKINGS = 3


@bp.get("/")
def home():
    viewer = current_viewer()
    return render_template("catalogue/home.html", summaries=catalogue.lab_summaries(db.session),
                           work=_work_of(viewer) if viewer is not None else None)


def _work_of(viewer: User) -> dict[str, Any]:
    """What the signed-in person has going on, for the first page they see: their coming
    bookings (the first few, and how many wait for approval) and their testing orders still
    under way."""
    upcoming = booking_listing.upcoming_bookings(db.session, viewer, now=utcnow())
    open_orders = db.session.scalar(select(func.count()).select_from(
        order_services.my_orders(viewer)
        .where(Order.state.in_((OrderState.SUBMITTED, OrderState.RECEIVED)))
        .order_by(None).subquery()))
    return {"bookings": upcoming[:HOME_BOOKINGS], "booking_count": len(upcoming),
            "pending_count": sum(b.state == BookingState.PENDING for b in upcoming),
            "open_orders": open_orders}


#: How many of each kind the search page shows before its links to the full lists.
SEARCH_PAGE_ITEMS = 10


@bp.get("/search")
def search_all():
    """Both kinds at once: the best instruments and the best testing services for ``q``."""
    criteria = catalogue.parse_filter(request.args, statuses=[])
    tier = _viewer_tier()
    instruments = catalogue.search_instruments(db.session, criteria, per_page=SEARCH_PAGE_ITEMS)
    services = catalogue.search_services(db.session, criteria, per_page=SEARCH_PAGE_ITEMS)
    return render_template(
        "catalogue/search.html", criteria=criteria, instruments=instruments, services=services,
        instrument_prices=listing.prices_of(instruments.items, tier, _today()),
        service_prices=listing.prices_of(services.items, tier, _today()))


@bp.get("/search/suggestions")
def suggestions():
    """The best instruments and services for what is typed so far, as JSON for the search
    box (static/js/search-suggest.js)."""
    criteria = catalogue.parse_filter(request.args, statuses=[])
    found = listing.suggestions(db.session, criteria.q, _viewer_tier(), _today())
    english = str(get_locale()) == "en"
    kind_labels = {"instrument": _("Instrument"), "service": _("Testing service")}
    message = ngettext("%(num)d suggestion; use the up and down arrows to choose.",
                       "%(num)d suggestions; use the up and down arrows to choose.",
                       len(found)) if found else _("No suggestions.")
    return jsonify(message=message, items=[{
        "kind": suggestion.kind,
        "kind_label": kind_labels[suggestion.kind],
        "code": suggestion.row.code,
        "name": suggestion.row.name_en if english else suggestion.row.name_zh,
        "lab": suggestion.row.lab.code,
        "price": _price_text(suggestion.kind, suggestion.price),
        "url": url_for("catalogue.instrument_detail", instrument_id=suggestion.row.id)
        if suggestion.kind == "instrument"
        else url_for("testing.service_detail", service_id=suggestion.row.id),
    } for suggestion in found])


def _price_text(kind: str, price: listing.ListPrice | None) -> str:
    if price is None:
        return ""
    amount = format_money(price.amount)
    if kind == "instrument":
        return _("from %(amount)s/h", amount=amount) if price.is_lowest \
            else _("%(amount)s/h", amount=amount)
    return _("from %(amount)s per sample", amount=amount) if price.is_lowest \
        else _("%(amount)s per sample", amount=amount)


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
        prices=listing.prices_of(page.items, _viewer_tier(), _today()),
        other_count=listing.count_matches(db.session, criteria.q, services=True,
                                          lab=criteria.lab) if criteria.q else 0,
    )


@bp.get("/instruments/<int:instrument_id>")
def instrument_detail(instrument_id: int):
    instrument = catalogue.get_instrument(db.session, instrument_id)
    tier = _viewer_tier()
    today = _today()
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
        prices=listing.prices_of(page.items, _viewer_tier(), _today()),
        other_count=listing.count_matches(db.session, criteria.q, services=False,
                                          lab=criteria.lab) if criteria.q else 0,
    )
