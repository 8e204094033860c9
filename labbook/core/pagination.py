"""One page of a query's results, for every paginated list (catalogue, people, audit log)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
#: The highest page number a list answers (empty, past its last page); beyond it a request is
#: refused, so that no page number can overflow the query's OFFSET.
MAX_PAGE = 1_000_000


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def paginate(session: Session, statement: Select[Any], page: int, per_page: int, *,
             scalars: bool = True) -> Page[Any]:
    """Page ``page`` (from 1) of ``statement``'s rows: ORM objects, or whole rows when
    ``scalars`` is false (a statement selecting several things)."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    window = statement.limit(per_page).offset((page - 1) * per_page)
    items = list(session.scalars(window) if scalars else session.execute(window))
    return Page(items=items, total=total or 0, page=page, per_page=per_page)
