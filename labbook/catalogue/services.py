"""Catalogue queries: lab summaries and the instrument and service search."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from labbook.catalogue.models import Category, Instrument, InstrumentStatus, Lab, TestingService
from labbook.core.errors import Problem, ValidationError

T = TypeVar("T")


@dataclass(frozen=True)
class CatalogueFilter:
    q: str = ""
    lab: str | None = None
    category: str | None = None
    status: str | None = None


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


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


def search_terms(q: str) -> list[str]:
    return [term for term in q.lower().split() if term]


def _filtered(statement: Select[Any], model: type[Instrument] | type[TestingService],
              criteria: CatalogueFilter) -> Select[Any]:
    for term in search_terms(criteria.q):
        statement = statement.where(model.search_text.contains(term, autoescape=True))
    if criteria.lab:
        statement = statement.where(model.lab.has(Lab.code == criteria.lab.upper()))
    if criteria.category:
        statement = statement.where(model.category.has(Category.key == criteria.category))
    return statement


def _page(session: Session, statement: Select[Any], page: int, per_page: int) -> Page[Any]:
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    items = list(session.scalars(statement.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, total=total or 0, page=page, per_page=per_page)


def search_instruments(session: Session, criteria: CatalogueFilter, *, page: int = 1,
                       per_page: int = 25) -> Page[Instrument]:
    statement = _filtered(select(Instrument), Instrument, criteria)
    if criteria.status:
        statement = statement.where(Instrument.status == InstrumentStatus(criteria.status))
    statement = statement.options(
        selectinload(Instrument.lab), selectinload(Instrument.category),
        selectinload(Instrument.rate_cards),
    ).order_by(Instrument.code)
    return _page(session, statement, page, per_page)


def search_services(session: Session, criteria: CatalogueFilter, *, page: int = 1,
                    per_page: int = 25) -> Page[TestingService]:
    statement = _filtered(select(TestingService), TestingService, criteria)
    if criteria.status == "active":
        statement = statement.where(TestingService.is_active.is_(True))
    elif criteria.status == "inactive":
        statement = statement.where(TestingService.is_active.is_(False))
    statement = statement.options(
        selectinload(TestingService.lab), selectinload(TestingService.category),
        selectinload(TestingService.instruments),
    ).order_by(TestingService.code)
    return _page(session, statement, page, per_page)


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
