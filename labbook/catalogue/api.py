"""Read API of the catalogue: labs, instruments, testing services."""

from __future__ import annotations

from typing import Any

from flask import request

from labbook.api import bp
from labbook.catalogue import services as catalogue
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab, TestingService
from labbook.extensions import db
from labbook.http import pagination_args

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def lab_json(lab: Lab) -> dict[str, Any]:
    hours: dict[str, list[list[str]]] = {day: [] for day in WEEKDAY_NAMES}
    for interval in lab.opening_hours:
        hours[WEEKDAY_NAMES[interval.weekday]].append(
            [interval.opens_at.strftime("%H:%M"), interval.closes_at.strftime("%H:%M")])
    return {"code": lab.code, "name": lab.name_zh, "name_en": lab.name_en,
            "location": lab.location_zh, "location_en": lab.location_en,
            "timezone": lab.timezone, "opening_hours": hours, "contact": lab.contact}


def instrument_json(instrument: Instrument) -> dict[str, Any]:
    return {
        "id": instrument.id, "code": instrument.code, "lab": instrument.lab.code,
        "name": instrument.name_zh, "name_en": instrument.name_en,
        "category": instrument.category.key, "model": instrument.model,
        "manufacturer": instrument.manufacturer, "value_cny": str(instrument.value_cny),
        "status": instrument.status.value, "channels": instrument.channels,
    }


def instrument_detail_json(instrument: Instrument) -> dict[str, Any]:
    return {
        **instrument_json(instrument),
        "category_name": instrument.category.name_zh,
        "category_name_en": instrument.category.name_en,
        "purchase_year": instrument.purchase_year, "room": instrument.room,
        "specs": instrument.specs_zh, "functions": instrument.functions_zh,
        "rate_cards": [
            {"tier": card.tier.value, "effective_from": card.effective_from.isoformat(),
             "hourly_rate": str(card.hourly_rate), "billing_basis": card.billing_basis.value,
             "rounding_minutes": card.rounding_minutes, "minimum_minutes": card.minimum_minutes}
            for card in instrument.rate_cards
        ],
        "services": [service.code for service in instrument.services],
        "rules": {
            "slot_minutes": instrument.slot_minutes, "min_minutes": instrument.min_minutes,
            "max_minutes": instrument.max_minutes,
            "min_notice_minutes": instrument.min_notice_minutes,
            "horizon_days": instrument.horizon_days, "buffer_minutes": instrument.buffer_minutes,
            "requires_approval": instrument.requires_approval,
            "requires_qualification": instrument.requires_qualification,
            "cancellation_window_hours": instrument.cancellation_window_hours,
        },
    }


def service_json(service: TestingService) -> dict[str, Any]:
    return {
        "id": service.id, "code": service.code, "lab": service.lab.code,
        "name": service.name_zh, "name_en": service.name_en,
        "category": service.category.key, "standard": service.standard,
        "turnaround_days": service.turnaround_days,
        "prices": {"internal": str(service.price_internal), "partner": str(service.price_partner),
                   "external": str(service.price_external)},
        "express_surcharge_percent": service.express_surcharge_percent,
        "is_active": service.is_active,
        "instruments": [instrument.code for instrument in service.instruments],
    }


def service_detail_json(service: TestingService) -> dict[str, Any]:
    return {**service_json(service),
            "sample_requirements": service.sample_requirements_zh,
            "sample_requirements_en": service.sample_requirements_en}


@bp.get("/labs")
def list_labs():
    labs = [summary.lab for summary in catalogue.lab_summaries(db.session)]
    return {"items": [lab_json(lab) for lab in labs], "total": len(labs)}


@bp.get("/instruments")
def list_instruments():
    criteria = catalogue.parse_filter(request.args, statuses=list(InstrumentStatus))
    page, per_page = pagination_args()
    result = catalogue.search_instruments(db.session, criteria, page=page, per_page=per_page)
    return {"items": [instrument_json(i) for i in result.items], "total": result.total,
            "page": result.page, "per_page": result.per_page}


@bp.get("/instruments/<int:instrument_id>")
def get_instrument(instrument_id: int):
    return instrument_detail_json(catalogue.get_instrument(db.session, instrument_id))


@bp.get("/services")
def list_services():
    criteria = catalogue.parse_filter(request.args, statuses=["active", "inactive"])
    page, per_page = pagination_args()
    result = catalogue.search_services(db.session, criteria, page=page, per_page=per_page,
                                       with_instruments=True)
    return {"items": [service_json(s) for s in result.items], "total": result.total,
            "page": result.page, "per_page": result.per_page}


@bp.get("/services/<int:service_id>")
def get_service(service_id: int):
    return service_detail_json(catalogue.get_service(db.session, service_id))
