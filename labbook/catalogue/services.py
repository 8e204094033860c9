"""Catalogue queries (lab summaries, the instrument and service search) and its administration:
editing instruments and testing services, and importing the catalogue files. Each edit reads its
instrument's or service's row afresh under a lock before it decides."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from labbook.accounts.models import PriceTier, User
from labbook.audit.services import record
from labbook.catalogue import loader
from labbook.catalogue.models import Category, Instrument, InstrumentStatus, Lab, TestingService
from labbook.catalogue.search import (
    Item,
    SearchIndex,
    current_index,
    instrument_search_text,
    service_search_text,
)
from labbook.core.engine import lock
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from labbook.core.pagination import Page
from labbook.core.time import to_lab_time


@dataclass(frozen=True)
class CatalogueFilter:
    q: str = ""
    lab: str | None = None
    category: str | None = None
    status: str | None = None
    #: Only these labs (the labs a manager looks after); None: every lab.
    lab_ids: tuple[int, ...] | None = None


MAX_QUERY_LENGTH = 200


def parse_filter(args: Mapping[str, str], *, statuses: Iterable[str]) -> CatalogueFilter:
    """Read search and filter parameters; refuse unknown values with a clear message."""
    problems = []
    q = (args.get("q") or "").strip()
    if len(q) > MAX_QUERY_LENGTH:
        problems.append(Problem("invalid_parameter",
                                _("The search text is longer than %(n)d characters.",
                                  n=MAX_QUERY_LENGTH), field="q"))
    status = args.get("status") or None
    allowed = [str(s) for s in statuses]
    if status is not None and status not in allowed:
        problems.append(Problem("invalid_parameter",
                                _("Unknown status %(status)s; choose one of: %(allowed)s.",
                                  status=status, allowed=", ".join(allowed)), field="status"))
    if problems:
        raise ValidationError(problems[0].message, code="invalid_parameter", problems=problems)
    return CatalogueFilter(q=q, lab=args.get("lab") or None,
                           category=args.get("category") or None, status=status)


def _matching(index: SearchIndex, criteria: CatalogueFilter) -> list[Item]:
    """The items of ``index`` that ``criteria`` asks for, best match first."""
    lab = criteria.lab.upper() if criteria.lab else None
    return [item for item, _score in index.rank(criteria.q)
            if (lab is None or item.lab_code == lab)
            and (criteria.category is None or item.category_key == criteria.category)
            and (criteria.status is None or item.status == criteria.status)
            and (criteria.lab_ids is None or item.lab_id in criteria.lab_ids)]


def _page_of(session: Session, model: type[Any], items: list[Item], options: list[Any],
             page: int, per_page: int) -> Page[Any]:
    """Page ``page`` of ``items`` as rows of ``model``, in the items' order, with what
    ``options`` load beside them: the lab and category joined to each row (a statement apart
    would be a round trip more to PostgreSQL on every page of the catalogue)."""
    ids = [item.id for item in items[(page - 1) * per_page:page * per_page]]
    rows = {row.id: row for row in session.scalars(
        select(model).where(model.id.in_(ids)).options(*options))} if ids else {}
    return Page(items=[rows[i] for i in ids if i in rows], total=len(items), page=page,
                per_page=per_page)


def search_instruments(session: Session, criteria: CatalogueFilter, *, page: int = 1,
                       per_page: int = 25) -> Page[Instrument]:
    """Instruments matching ``criteria``, ranked as ``catalogue.search`` explains."""
    items = _matching(current_index(session).instruments, criteria)
    return _page_of(session, Instrument, items, [
        joinedload(Instrument.lab), joinedload(Instrument.category),
        selectinload(Instrument.rate_cards)], page, per_page)


def search_services(session: Session, criteria: CatalogueFilter, *, page: int = 1,
                    per_page: int = 25, with_instruments: bool = False
                    ) -> Page[TestingService]:
    """Testing services matching ``criteria``, ranked as ``catalogue.search`` explains; with
    each one's instruments loaded too where the caller shows them (the API does, the pages do
    not: on PostgreSQL a statement and whole rows of instruments less for every page)."""
    items = _matching(current_index(session).services, criteria)
    options = [joinedload(TestingService.lab), joinedload(TestingService.category)]
    if with_instruments:
        options.append(selectinload(TestingService.instruments))
    return _page_of(session, TestingService, items, options, page, per_page)


@dataclass(frozen=True)
class LabSummary:
    lab: Lab
    instrument_count: int
    service_count: int


def lab_summaries(session: Session) -> list[LabSummary]:
    instrument_counts = dict(session.execute(
        select(Instrument.lab_id, func.count()).group_by(Instrument.lab_id)).all())
    service_counts = dict(session.execute(
        select(TestingService.lab_id, func.count()).group_by(TestingService.lab_id)).all())
    labs = session.scalars(
        select(Lab).options(selectinload(Lab.opening_hours)).order_by(Lab.id)).all()
    return [LabSummary(lab, instrument_counts.get(lab.id, 0), service_counts.get(lab.id, 0))
            for lab in labs]


def categories_in_use(session: Session, model: type[Instrument] | type[TestingService]
                      ) -> list[Category]:
    used = select(model.category_id).distinct()
    return list(session.scalars(select(Category).where(Category.id.in_(used))
                                .order_by(Category.key)))


def all_labs(session: Session) -> list[Lab]:
    return list(session.scalars(select(Lab).order_by(Lab.id)))


def lab_by_code(session: Session, code: str) -> Lab | None:
    """The lab with this code, written in any case; None if there is none."""
    return session.scalar(select(Lab).where(Lab.code == code.upper()))


def _not_found(message: str, field: str | None) -> NotFound:
    """The 404 of a lookup; with ``field``, it names the request's field that gave the key."""
    return NotFound(message, problems=[Problem("not_found", message, field=field)]
                    if field else None)


def get_lab(session: Session, code: str, *, managed_by: User | None = None,
            field: str | None = None) -> Lab:
    """The lab with this code, written in any case; with ``managed_by``, only a lab that user
    manages. Any other is not found, as if it did not exist (naming ``field``, if given)."""
    lab = lab_by_code(session, code)
    if lab is None or (managed_by is not None and not managed_by.manages(lab)):
        raise _not_found(_("Unknown lab %(code)s.", code=code), field)
    return lab


def get_instrument(session: Session, instrument_id: int, *,
                   field: str | None = None) -> Instrument:
    """The instrument with this id, or a 404 (naming ``field``, if given)."""
    instrument = session.get(Instrument, instrument_id)
    if instrument is None:
        raise no_instrument(instrument_id, field)
    return instrument


def no_instrument(instrument_id: int, field: str | None = None) -> NotFound:
    """The 404 of an instrument id that names none (naming ``field``, if given)."""
    return _not_found(_("No instrument with id %(id)d.", id=instrument_id), field)


def get_service(session: Session, service_id: int, *,
                field: str | None = None) -> TestingService:
    """The testing service with this id, or a 404 (naming ``field``, if given)."""
    service = session.get(TestingService, service_id)
    if service is None:
        raise _not_found(_("No testing service with id %(id)d.", id=service_id), field)
    return service


def all_categories(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).order_by(Category.key)))


# -- administration: who may change what ------------------------------------------------------


def can_edit_instrument(actor: User, instrument: Instrument) -> bool:
    return actor.manages_lab_id(instrument.lab_id)


def can_edit_service(actor: User, service: TestingService) -> bool:
    return actor.manages_lab_id(service.lab_id)


def can_add_to_lab(actor: User, lab: Lab) -> bool:
    return actor.manages(lab)


def can_import_catalogue(actor: User) -> bool:
    """The catalogue files hold all three labs, so only admins import them."""
    return actor.is_admin


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def _raise_problems(problems: list[Problem]) -> None:
    if problems:
        raise ValidationError(problems[0].message, problems=problems)


# -- administration: checking values the way the catalogue files are checked ------------------

#: Instrument columns edited in labbook (the lab and the asset number never change).
INSTRUMENT_TEXTS = ("name_zh", "name_en", "model", "manufacturer", "room", "specs_zh",
                    "functions_zh")
SERVICE_TEXTS = ("name_zh", "name_en", "standard", "sample_requirements_zh",
                 "sample_requirements_en")
SERVICE_PRICES = tuple(f"price_{tier.value}" for tier in PriceTier)
MAX_STATUS_REASON = Instrument.__table__.c.status_reason.type.length


def _invalid(field: str, message: str) -> Problem:
    return Problem("invalid", message, field=field)


def _check_text(model: type, field: str, value: str | None, problems: list[Problem]) -> str:
    """``value`` stripped; a problem when it is empty, too long for its column or starts like a
    spreadsheet formula (which the catalogue files refuse, so labbook refuses it too)."""
    text = (value or "").strip()
    limit = model.__table__.c[field].type.length
    if not text:
        problems.append(_invalid(field, _("Fill this in.")))
    elif text.startswith(loader.FORMULA_PREFIXES):
        problems.append(_invalid(field, _("Must not start with %(char)s, which spreadsheets "
                                          "read as a formula.", char=text[0])))
    elif limit is not None and len(text) > limit:
        problems.append(_invalid(field, _("At most %(n)d characters.", n=limit)))
    return text


def _check_whole_number(field: str, value: int | None, bounds: tuple[int, int],
                        problems: list[Problem]) -> bool:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(_invalid(field, _("Enter a whole number from %(low)d to %(high)d.",
                                          low=low, high=high)))
        return False
    return True


def _check_amount(field: str, value: Decimal | None, problems: list[Problem]) -> bool:
    fault = loader.amount_fault(value) if isinstance(value, Decimal) else "not_positive"
    messages = {"not_positive": _("Enter an amount in yuan above 0, e.g. 1250.00."),
                "too_large": _("At most ¥%(max)s.", max=f"{loader.MAX_AMOUNT:,}"),
                "sub_fen": _("At most two decimals (fen).")}
    if fault is not None:
        problems.append(_invalid(field, messages[fault]))
    return fault is None


def _check_category(session: Session, category_id: int | None,
                    problems: list[Problem]) -> Category | None:
    category = session.get(Category, category_id) if isinstance(category_id, int) else None
    if category is None:
        problems.append(_invalid("category_id", _("Choose a category.")))
    return category


def _check_new_code(session: Session, model: type[Instrument] | type[TestingService],
                    pattern: str, lab: Lab, code: str | None, example: str,
                    problems: list[Problem]) -> str:
    code = (code or "").strip().upper()
    if not re.fullmatch(pattern, code) or not code.startswith(f"{lab.code}-"):
        problems.append(_invalid("code", _("Give a code like %(example)s: the lab's code, a "
                                           "hyphen, then the number.", example=example)))
    elif session.scalar(select(model.id).where(model.code == code)) is not None:
        problems.append(_invalid("code", _("%(code)s is taken already.", code=code)))
    return code


def _instrument_values(session: Session, raw: Mapping[str, Any],
                       problems: list[Problem]) -> dict[str, Any]:
    """The instrument's editable columns from ``raw`` (as the form names them), checked with
    the catalogue files' rules; what is wrong goes to ``problems``."""
    values: dict[str, Any] = {field: _check_text(Instrument, field, raw.get(field), problems)
                              for field in INSTRUMENT_TEXTS}
    values["category"] = _check_category(session, raw.get("category_id"), problems)
    values["purchase_year"] = raw.get("purchase_year")
    _check_whole_number("purchase_year", values["purchase_year"], loader.PURCHASE_YEARS,
                        problems)
    values["value_cny"] = raw.get("value_cny")
    _check_amount("value_cny", values["value_cny"], problems)
    if raw.get("channels") is None:
        # Most instruments are taken whole by one booking: no channels given means one.
        raw = {**raw, "channels": 1}
    valid = {field for field, bounds in loader.RULE_RANGES.items()
             if _check_whole_number(field, raw.get(field), bounds, problems)}
    values.update((field, raw.get(field)) for field in loader.RULE_RANGES)
    if {"slot_minutes", "min_minutes", "max_minutes"} <= valid:
        for field, conflict in loader.rule_conflicts(
                values["slot_minutes"], values["min_minutes"], values["max_minutes"]):
            problems.append(_invalid(field, _(
                "Must be a multiple of the slot length (%(n)d minutes).",
                n=values["slot_minutes"]) if conflict == "off_grid" else _(
                "Must not be shorter than the shortest booking.")))
    for flag in loader.RULE_FLAGS:
        values[flag] = bool(raw.get(flag))
    return values


def _service_values(session: Session, lab: Lab, raw: Mapping[str, Any],
                    problems: list[Problem], *, service: TestingService | None = None
                    ) -> dict[str, Any]:
    """A testing service's editable columns from ``raw``, checked as the files check them:
    names unique among services, prices not falling from internal to external, instruments of
    its own lab."""
    values: dict[str, Any] = {field: _check_text(TestingService, field, raw.get(field),
                                                 problems)
                              for field in SERVICE_TEXTS}
    for field in ("name_zh", "name_en"):
        clash = select(TestingService.id).where(getattr(TestingService, field) == values[field])
        if service is not None:
            clash = clash.where(TestingService.id != service.id)
        if values[field] and session.scalar(clash) is not None:
            problems.append(_invalid(field, _("Another testing service has this name.")))
    values["category"] = _check_category(session, raw.get("category_id"), problems)
    values["turnaround_days"] = raw.get("turnaround_days")
    _check_whole_number("turnaround_days", values["turnaround_days"], loader.TURNAROUND_DAYS,
                        problems)
    values["express_surcharge_percent"] = raw.get("express_surcharge_percent")
    _check_whole_number("express_surcharge_percent", values["express_surcharge_percent"],
                        loader.EXPRESS_SURCHARGE_PERCENT, problems)
    priced = True
    for field in SERVICE_PRICES:
        values[field] = raw.get(field)
        priced &= _check_amount(field, values[field], problems)
    if priced and not loader.tiers_in_order(*(values[field] for field in SERVICE_PRICES)):
        problems.append(_invalid("price_internal", _(
            "Prices must not get cheaper from the internal to the external tier.")))
    wanted = set(raw.get("instrument_ids") or [])
    instruments = [i for i in lab.instruments if i.id in wanted]
    if not wanted:
        problems.append(_invalid("instrument_ids", _("Choose the instruments the test runs "
                                                     "on.")))
    elif len(instruments) != len(wanted):
        problems.append(_invalid("instrument_ids", _("Choose instruments of the service's own "
                                                     "lab.")))
    values["instruments"] = sorted(instruments, key=lambda i: i.code)
    return values


def _checked_instrument(session: Session, raw: Mapping[str, Any], lab: Lab | None
                        ) -> tuple[str, dict[str, Any], list[Problem]]:
    """The code (with ``lab``: of a new instrument) and values in ``raw``, and what is wrong."""
    problems: list[Problem] = []
    code = "" if lab is None else _check_new_code(
        session, Instrument, loader.INSTRUMENT_CODE, lab, raw.get("code"), f"{lab.code}-001",
        problems)
    return code, _instrument_values(session, raw, problems), problems


def _checked_service(session: Session, lab: Lab, raw: Mapping[str, Any],
                     service: TestingService | None
                     ) -> tuple[str, dict[str, Any], list[Problem]]:
    """The code (of a new service, when ``service`` is None) and values in ``raw``, and what is
    wrong."""
    problems: list[Problem] = []
    code = "" if service is not None else _check_new_code(
        session, TestingService, loader.SERVICE_CODE, lab, raw.get("code"), f"{lab.code}-S001",
        problems)
    return code, _service_values(session, lab, raw, problems, service=service), problems


def instrument_problems(session: Session, raw: Mapping[str, Any], *,
                        lab: Lab | None = None) -> list[Problem]:
    """Everything wrong with ``raw`` as an instrument's values — with ``lab``, a new
    instrument's, its code included; changes nothing."""
    return _checked_instrument(session, raw, lab)[2]


def service_problems(session: Session, lab: Lab, raw: Mapping[str, Any], *,
                     service: TestingService | None = None) -> list[Problem]:
    """Everything wrong with ``raw`` as the values of ``service`` of ``lab`` (None: a new one,
    its code included); changes nothing."""
    return _checked_service(session, lab, raw, service)[2]


def _audit_changes(changes: loader.Changes) -> dict[str, list[str | None]]:
    """Changes as the audit log keeps them: field -> [before, after], search text left out
    (it is derived from the other fields)."""
    return {field: list(values) for field, values in changes.items() if field != "search_text"}


# -- administration: instruments --------------------------------------------------------------


def create_instrument(session: Session, actor: User, lab: Lab, raw: Mapping[str, Any], *,
                      now: dt.datetime) -> Instrument:
    """A new instrument of ``lab``, available at once; its rates are set on the rate card page
    (until then its bookings cost nothing)."""
    _require(can_add_to_lab(actor, lab), _("Only the lab's managers add instruments to it."))
    code, values, problems = _checked_instrument(session, raw, lab)
    _raise_problems(problems)
    instrument = Instrument(code=code, lab=lab, status=InstrumentStatus.AVAILABLE, **values)
    instrument.search_text = instrument_search_text(instrument)
    session.add(instrument)
    session.flush()
    record(session, actor, instrument, "create", at=now,
           to_state=InstrumentStatus.AVAILABLE.value,
           values={field: loader.shown_value(value) for field, value in values.items()})
    return instrument


def update_instrument(session: Session, actor: User, instrument: Instrument,
                      raw: Mapping[str, Any], *, now: dt.datetime) -> loader.Changes:
    """Change an instrument's details and booking rules; returns what changed (audited).

    Bookings already made keep their times; the new rules apply to bookings made from now on.
    """
    lock(session, instrument)
    _require(can_edit_instrument(actor, instrument),
             _("Only the lab's managers change its instruments."))
    _code, values, problems = _checked_instrument(session, raw, None)
    _raise_problems(problems)
    changes = loader.assign_changes(instrument, values)
    if changes:
        instrument.search_text = instrument_search_text(instrument)
        record(session, actor, instrument, "update", at=now, changes=_audit_changes(changes))
    return changes


def change_instrument_status(session: Session, actor: User, instrument: Instrument,
                             status: InstrumentStatus | str, reason: str | None, *,
                             now: dt.datetime) -> bool:
    """Make an instrument available, put it under maintenance or retire it, saying why.

    The reason of a maintenance or retirement is shown on the instrument's page; the reason for
    making it available again is kept in the audit log only. Bookings it already has are left
    alone: the booking area lists them for the manager to cancel or keep
    (``labbook.booking.closures.bookings_ahead``). Returns whether anything changed.
    """
    lock(session, instrument)
    _require(can_edit_instrument(actor, instrument),
             _("Only the lab's managers change its instruments."))
    problems: list[Problem] = []
    try:
        status = InstrumentStatus(status)
    except ValueError:
        problems.append(_invalid("status", _("Choose available, maintenance or retired.")))
    reason = (reason or "").strip()
    if not reason:
        problems.append(_invalid("reason", _("Say why, e.g. “annual calibration until "
                                             "15 December”.")))
    elif len(reason) > MAX_STATUS_REASON:
        problems.append(_invalid("reason", _("At most %(n)d characters.", n=MAX_STATUS_REASON)))
    _raise_problems(problems)
    shown_reason = reason if status != InstrumentStatus.AVAILABLE else ""
    if status == instrument.status and shown_reason == instrument.status_reason:
        return False
    before = instrument.status
    instrument.status = InstrumentStatus(status)
    instrument.status_reason = shown_reason
    record(session, actor, instrument, "status", at=now, from_state=before.value,
           to_state=instrument.status.value, note=reason)
    return True


# -- administration: a lab's contact person ---------------------------------------------------


def update_lab_contact(session: Session, actor: User, lab: Lab, *, name: str, phone: str,
                       email: str, now: dt.datetime) -> loader.Changes:
    """A manager of the lab (or an admin) names whom people ask about bookings and training;
    checked as the catalogue files check it. All three empty names nobody. Audited."""
    lock(session, lab)
    _require(actor.manages_lab_id(lab.id), _("Only the lab's managers change its contact person."))
    values = {"contact_name": (name or "").strip(), "contact_phone": (phone or "").strip(),
              "contact_email": (email or "").strip().lower()}
    patterns = {"contact_name": r"\S.*", "contact_phone": loader.CONTACT_PHONE,
                "contact_email": loader.CONTACT_EMAIL}
    messages = {"contact_name": _("Give the contact person's name."),
                "contact_phone": _("Give a phone number such as 0391-3987101."),
                "contact_email": _("Give an email address such as lab@example.cn.")}
    named = any(values.values())
    problems = [Problem("invalid", messages[field], field=field)
                for field, value in values.items()
                if (named and not value) or len(value) > loader.MAX_CONTACT[field]
                or (value and not re.fullmatch(patterns[field], value))]
    _raise_problems(problems)
    changes = loader.assign_changes(lab, values)
    if changes:
        record(session, actor, lab, "update", at=now, changes=_audit_changes(changes))
    return changes


# -- administration: testing services ---------------------------------------------------------


def create_service(session: Session, actor: User, lab: Lab, raw: Mapping[str, Any], *,
                   now: dt.datetime) -> TestingService:
    """A new testing service of ``lab``, offered at once."""
    _require(can_add_to_lab(actor, lab), _("Only the lab's managers add testing services."))
    code, values, problems = _checked_service(session, lab, raw, None)
    _raise_problems(problems)
    service = TestingService(code=code, lab=lab, is_active=True, **values)
    service.search_text = service_search_text(service)
    session.add(service)
    session.flush()
    shown = {field: loader.shown_value(value) for field, value in values.items()
             if field != "instruments"}
    record(session, actor, service, "create", at=now, to_state="active", values=shown,
           instruments=[i.code for i in values["instruments"]])
    return service


def update_service(session: Session, actor: User, service: TestingService,
                   raw: Mapping[str, Any], *, now: dt.datetime) -> loader.Changes:
    """Change a testing service's description, prices or instruments; returns what changed
    (audited). Requests already made keep their quoted price."""
    lock(session, service)
    _require(can_edit_service(actor, service),
             _("Only the lab's managers change its testing services."))
    _code, values, problems = _checked_service(session, service.lab, raw, service)
    _raise_problems(problems)
    instruments = values.pop("instruments")
    changes = loader.assign_changes(service, values)
    before = [i.code for i in service.instruments]
    if before != [i.code for i in instruments]:
        service.instruments = instruments
        changes["instruments"] = ("; ".join(before), "; ".join(i.code for i in instruments))
    if changes:
        service.search_text = service_search_text(service)
        record(session, actor, service, "update", at=now, changes=_audit_changes(changes))
    return changes


def set_service_offered(session: Session, actor: User, service: TestingService, *,
                        offered: bool, now: dt.datetime) -> bool:
    """Retire a testing service (it stays in the catalogue, marked as not offered, and takes
    no new requests; requests under way go on) or offer it again. Returns whether it changed."""
    lock(session, service)
    _require(can_edit_service(actor, service),
             _("Only the lab's managers change its testing services."))
    if service.is_active == offered:
        return False
    service.is_active = offered
    record(session, actor, service, "reactivate" if offered else "retire", at=now,
           from_state="retired" if offered else "active",
           to_state="active" if offered else "retired")
    return True


# -- administration: importing the catalogue files --------------------------------------------

#: The most an import may unpack to: the shipped catalogue is about 150 kB.
MAX_IMPORT_BYTES = 5 * 1024 * 1024
#: A catalogue is five files; an archive of thousands is not one (and costs time to open).
MAX_ZIP_ENTRIES = 100
#: The confirmation carries the packed files back in a form field, and Flask takes form fields
#: of up to 500 kB (MAX_FORM_MEMORY_SIZE); the shipped catalogue packs to about 70 kB.
MAX_PAYLOAD_CHARS = 450_000


@dataclass(frozen=True)
class ImportPreview:
    """What importing a set of catalogue files would change, and the files themselves, packed,
    for the confirmation to apply exactly these."""

    report: loader.LoadReport
    payload: str
    fingerprint: str
    ignored: list[str]


class ImportChanged(Conflict):
    """The database changed between the preview and the confirmation; nothing was applied."""

    code = "catalogue_changed"


def _upload_problem(message: str) -> ValidationError:
    return ValidationError(message, problems=[_invalid("files", message)])


def unpack_upload(uploads: list[tuple[str, bytes]]) -> tuple[dict[str, bytes], list[str]]:
    """The catalogue files among ``uploads`` (name, content) — several CSV files, or one zip
    of them (in any folder) — and the names of the other files, which are not imported."""
    files: dict[str, bytes] = {}
    ignored: list[str] = []

    def take(name: str, content: bytes) -> None:
        if name not in loader.FILE_ORDER:
            ignored.append(name)
        elif name in files:
            raise _upload_problem(_("%(name)s was given twice.", name=name))
        else:
            files[name] = content

    for filename, content in uploads:
        name = PurePosixPath(filename.replace("\\", "/")).name
        if name.lower().endswith(".zip"):
            for member_name, member in _zip_members(content):
                take(member_name, member)
        else:
            take(name, content)
    if sum(map(len, files.values())) > MAX_IMPORT_BYTES:
        raise _upload_problem(_("The files are larger than %(n)d MB.",
                                n=MAX_IMPORT_BYTES // 2**20))
    if not files:
        raise _upload_problem(_("None of the files is a catalogue file (%(names)s).",
                                names=", ".join(loader.FILE_ORDER)))
    return files, ignored


def _zip_members(content: bytes) -> Iterator[tuple[str, bytes]]:
    """The files in a zip archive, by name without folders; never more than MAX_IMPORT_BYTES
    are unpacked, whatever the archive claims about itself."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        if len(archive.infolist()) > MAX_ZIP_ENTRIES:
            raise _upload_problem(_("The zip file holds more than %(n)d files.",
                                    n=MAX_ZIP_ENTRIES))
        budget = MAX_IMPORT_BYTES
        for info in archive.infolist():
            if info.is_dir():
                continue
            with archive.open(info) as member:
                data = member.read(budget + 1)
            budget -= len(data)
            if budget < 0:
                raise _upload_problem(_("The files are larger than %(n)d MB.",
                                        n=MAX_IMPORT_BYTES // 2**20))
            yield PurePosixPath(info.filename).name, data
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError,
            EOFError):
        raise _upload_problem(_("The zip file cannot be read.")) from None


def _read_files(files: dict[str, bytes]) -> loader.CatalogueData:
    """Check the files with the loader (CatalogueError says what is wrong, by file and line)."""
    with tempfile.TemporaryDirectory(prefix="labbook-import-") as folder:
        for name, content in files.items():
            (Path(folder) / name).write_bytes(content)
        return loader.read_catalogue(Path(folder))


def _pack(files: dict[str, bytes]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            archive.writestr(name, files[name])
    return base64.urlsafe_b64encode(buffer.getvalue()).decode("ascii")


def _unpack(payload: str) -> dict[str, bytes]:
    try:
        content = base64.urlsafe_b64decode(payload.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise _upload_problem(_("The files to import were lost on the way; upload them "
                                "again.")) from None
    files, _ignored = unpack_upload([("catalogue.zip", content)])
    return files


def _fingerprint(report: loader.LoadReport) -> str:
    changes = [[c.kind, c.key, c.outcome, sorted(c.changes.items())] for c in report.changes]
    return hashlib.sha256(json.dumps(changes, ensure_ascii=False).encode()).hexdigest()


def preview_import(session: Session, actor: User, uploads: list[tuple[str, bytes]], *,
                   today: dt.date) -> ImportPreview:
    """Check uploaded catalogue files and say what importing them would change, changing
    nothing. CatalogueError lists the problems of broken files by file, line and column."""
    files, ignored = unpack_upload(uploads)
    return _preview(session, actor, files, ignored, today)


def preview_again(session: Session, actor: User, payload: str, *,
                  today: dt.date) -> ImportPreview:
    """``preview_import`` for files previewed before (an ImportPreview's ``payload``)."""
    return _preview(session, actor, _unpack(payload), [], today)


def _preview(session: Session, actor: User, files: dict[str, bytes], ignored: list[str],
             today: dt.date) -> ImportPreview:
    _require(can_import_catalogue(actor), _("Only admins import catalogue files."))
    payload = _pack(files)
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise _upload_problem(_("The files are too large to import on this page; load them "
                                "with the command line (labbook load-catalogue)."))
    report = loader.preview_catalogue(session, _read_files(files), today)
    return ImportPreview(report=report, payload=payload, fingerprint=_fingerprint(report),
                         ignored=ignored)


def apply_import(session: Session, actor: User, payload: str, fingerprint: str, *,
                 now: dt.datetime) -> loader.LoadReport:
    """Apply previewed catalogue files in the caller's transaction, each changed row audited.

    The files win over what was edited in labbook (see the README). When the changes are no
    longer those previewed — someone edited an instrument meanwhile — ImportChanged is raised
    and the caller's rollback leaves everything as it was.
    """
    _require(can_import_catalogue(actor), _("Only admins import catalogue files."))
    report = loader.apply_catalogue(session, _read_files(_unpack(payload)),
                                    to_lab_time(now).date())
    if _fingerprint(report) != fingerprint:
        raise ImportChanged(_("The catalogue changed since the preview. Nothing was imported; "
                              "check the changes again."))
    for change in report.changes:
        changes = _audit_changes(change.changes)
        if change.outcome == "created" or changes:  # not a mere search index refresh
            record(session, actor, change.obj,
                   "create" if change.outcome == "created" else "update", at=now,
                   source="catalogue import", changes=changes)
    return report
