"""Paging and counting over scoped statements, batched per parent.

These wrap a statement that :class:`authz.scope.Scope` built, and refuse any other: the
row filter stays the scope's, paging only narrows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, func, inspect, select, true
from sqlalchemy.orm import QueryableAttribute, aliased

from authz.guard import SCOPE_OPTION, UnscopedRead, scoped

ROW_NUMBER = "_row_number"

Column = ColumnElement[Any] | QueryableAttribute[Any]


def _label(stmt: Select[*tuple[Any, ...]]) -> str:
    label = stmt.get_execution_options().get(SCOPE_OPTION)
    if not label or str(label).startswith("system:"):
        raise UnscopedRead("paging needs a statement built by authz.scope")
    return str(label)


def first_per_parent(
    stmt: Select[*tuple[Any, ...]],
    entity: Any,
    parent_col: Column,
    order_by: Sequence[Column],
    limit: int,
    extra: Sequence[str] = (),
    *,
    columns: bool = False,
) -> Select[*tuple[Any, ...]]:
    """The first ``limit`` rows of ``entity`` for each parent, in ``order_by`` order.

    One statement for any number of parents (a window function), so a nested list costs
    the same number of statements whatever the page size. With ``columns`` the rows hold
    the entity's mapped columns by attribute name instead of an ORM object (far cheaper
    for long pages, where building instances costs more than the query).
    """
    label = _label(stmt)
    number = func.row_number().over(partition_by=parent_col, order_by=list(order_by))
    inner = stmt.add_columns(number.label(ROW_NUMBER)).subquery()
    # The subquery's own columns (named as the attributes: _column_names checks), not an
    # alias of the entity: building an alias and its attributes cost more than the query.
    selected = (
        [inner.c[name] for name in _column_names(entity)] if columns else [aliased(entity, inner)]
    )
    outer = (
        select(*selected, *(inner.c[name] for name in extra))
        .where(inner.c[ROW_NUMBER] <= limit)
        .order_by(inner.c[ROW_NUMBER])
    )
    return scoped(outer, f"{label}:page")


def first_of_each(
    parents: Select[*tuple[Any, ...]],
    key: str,
    stmt: Select[*tuple[Any, ...]],
    entity: Any,
    parent_col: Column,
    order_by: Sequence[Column],
    limit: int,
    extra: Sequence[str] = (),
) -> tuple[Select[*tuple[Any, ...]], Any]:
    """Each row of ``parents`` followed by the first ``limit`` rows of ``entity`` that
    ``stmt`` gives for it (``parent_col`` equal to its column ``key``), in ``order_by``
    order: one statement for a page and its nested pages (``LEFT JOIN LATERAL``,
    PostgreSQL). A parent with no such row has one row, the entity's columns null.

    Rows are the parents' columns, then the entity's mapped columns and ``extra`` (as
    :func:`first_per_parent` with ``columns``), ordered by the parents' ``key`` (ascending),
    then by ``order_by``.
    Both statements must be scoped; the result is labelled with both labels. Also returns
    the lateral subquery, for columns correlated to its rows.
    """
    label = f"{_label(parents)}+{_label(stmt)}"
    head = parents.subquery()
    number = func.row_number().over(order_by=list(order_by))
    inner = (
        stmt.where(parent_col == head.c[key])
        .add_columns(number.label(ROW_NUMBER))
        .order_by(*order_by)
        .limit(limit)
        .lateral()
    )
    outer = (
        select(
            *head.c,
            *(inner.c[name] for name in _column_names(entity)),
            *(inner.c[name] for name in extra),
        )
        .select_from(head.outerjoin(inner, true()))
        .order_by(head.c[key], inner.c[ROW_NUMBER])
    )
    return scoped(outer, f"{label}:page"), inner


@cache
def _column_names(entity: Any) -> tuple[str, ...]:
    """The entity's mapped columns, in mapper order; each column named as its attribute."""
    names = []
    for attr in inspect(entity).column_attrs:
        column = attr.columns[0]
        if column.key != attr.key:
            raise ValueError(f"{entity.__name__}.{attr.key} is column {column.key}")
        names.append(attr.key)
    return tuple(names)


def count_per_parent(stmt: Select[*tuple[Any, ...]], parent_col: Column) -> Select[Any, int]:
    """``(parent, count)`` rows over a scoped statement."""
    label = _label(stmt)
    inner = stmt.with_only_columns(parent_col.label("parent")).subquery()
    outer = select(inner.c.parent, func.count()).group_by(inner.c.parent)
    return scoped(outer, f"{label}:count")


def count(stmt: Select[*tuple[Any, ...]]) -> Select[int]:
    label = _label(stmt)
    return scoped(
        select(func.count()).select_from(stmt.order_by(None).subquery()), f"{label}:count"
    )
