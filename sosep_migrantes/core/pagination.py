"""Pages of a query whose count never reads a whole table.

At national scale a list can match hundreds of thousands of families; counting them all on every page
took longer than showing the page. The count stops at ``cap``: beyond it the page says "more than
500" and the pager only offers the next page while there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, literal_column, select

from ..extensions import db

T = TypeVar("T")

#: Matches counted exactly up to this many; above it, "more than 500".
COUNT_CAP = 500


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    per_page: int
    #: Matching rows, counted up to ``cap + 1``: see :attr:`total_is_exact`.
    total: int
    cap: int
    has_next: bool

    @property
    def total_is_exact(self) -> bool:
        return self.total <= self.cap

    @property
    def pages(self) -> int | None:
        """Number of pages when the total is known; ``None`` when there are more than ``cap`` rows."""
        if not self.total_is_exact:
            return None
        return max((self.total + self.per_page - 1) // self.per_page, 1)


def capped_count(stmt: Select[Any], cap: int = COUNT_CAP) -> int:
    """Rows of ``stmt``, counted up to ``cap + 1`` (the database stops reading there).

    Only the rows are counted: the columns (and any subquery among them) are left out.
    """
    rows: Select[Any] = stmt.order_by(None).with_only_columns(literal_column("1"), maintain_column_froms=True)
    return db.session.scalar(select(func.count()).select_from(rows.limit(cap + 1).subquery())) or 0


def _objects(stmt: Select[Any]) -> list[Any]:
    return list(db.session.scalars(stmt).unique().all())


def paginate(
    stmt: Select[Any],
    number: int,
    per_page: int,
    cap: int = COUNT_CAP,
    load: Callable[[Select[Any]], list[Any]] = _objects,
    count_stmt: Select[Any] | None = None,
) -> Page[Any]:
    """Page ``number`` (1-based; clamped to the last page when the total is known) of ``stmt``.

    ``load`` reads the page's statement (ORM objects by default; a projection's rows, say);
    ``count_stmt`` is what is counted, when something cheaper than ``stmt`` selects the same rows.
    """
    total = capped_count(stmt if count_stmt is None else count_stmt, cap)
    if total <= cap:
        number = min(number, max((total + per_page - 1) // per_page, 1))
    number = max(number, 1)
    # One row more than a page tells whether there is a next one without counting everything.
    rows = load(stmt.limit(per_page + 1).offset((number - 1) * per_page))
    return Page(
        items=list(rows[:per_page]),
        number=number,
        per_page=per_page,
        total=total,
        cap=cap,
        has_next=len(rows) > per_page,
    )
