"""Paging and counting over scoped statements, batched per parent.

These wrap a statement that :class:`authz.scope.Scope` built, and refuse any other: the
row filter stays the scope's, paging only narrows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, func, inspect, literal, select, true, union_all
from sqlalchemy.orm import QueryableAttribute, aliased

from authz.guard import SCOPE_OPTION, UnscopedRead, scoped

ROW_NUMBER = "_row_number"
PARENT = "_parent"

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


def newest_per_parent(
    stmts: Sequence[tuple[int, Select[*tuple[Any, ...]]]],
    entity: Any,
    time_col: Column,
    id_col: Column,
    limit: int,
    bounds: Sequence[Any] = (),
) -> Select[*tuple[Any, ...]]:
    """``(row, parent)``: the newest ``limit`` rows of each parent's statement, by
    ``(time_col, id_col)`` descending, in time windows that the database reads only as far
    as it needs.

    ``bounds`` (descending times) cut each parent's rows into windows: the newest first,
    and each older one gated by a one-time filter that holds only while the newer windows
    gave fewer than ``limit`` rows. A parent with many rows is read in its newest window
    alone, however many it has in all; the rows come back newest first within a parent
    (the caller keeps the first ``limit``).
    """
    if not stmts:
        raise ValueError("no parent")
    branches: list[Select[*tuple[Any, ...]]] = []
    for i, (parent, stmt) in enumerate(stmts):
        label = _label(stmt)
        newer: list[Any] = []
        edges = [None, *bounds, None]
        for k in range(len(edges) - 1):
            upper, lower = edges[k], edges[k + 1]
            window = stmt
            if upper is not None:
                window = window.where(time_col < upper)
            if lower is not None:
                window = window.where(time_col >= lower)
            # Sorted after reading, not in the time index's order: walking that index
            # backwards passes every other factory's reads until this one's are found
            # (a factory read once would cost the whole window). A window's matches come
            # from the parent's own index and are few (see above).
            newest = func.coalesce(time_col, time_col) if bounds else time_col
            if bounds:
                # Parallel-restricted, so no window is read by parallel workers: starting
                # them costs more than these few index reads (PostgreSQL 15 has no switch
                # for a partitioned table; its partitions say parallel_workers = 0).
                window = window.where(func.pg_backend_pid() > 0)
            window = window.order_by(newest.desc(), id_col.desc()).limit(limit)
            if newer:
                # The gate stays above the LIMIT (no qual is pushed below one), so a
                # skipped window starts nothing, not even parallel workers.
                seen = union_all(*(select(c.c[str(id_col.key)]) for c in newer)).subquery()
                inner = window.subquery()
                window = select(*inner.c).where(
                    select(func.count()).select_from(seen).scalar_subquery() < limit
                )
            cte = window.cte(f"{label}_{i}_{k}")
            newer.append(cte)
            branches.append(select(*cte.c, literal(parent).label(PARENT)))
    rows = union_all(*branches).subquery()
    row = aliased(entity, rows)
    outer = select(row, rows.c[PARENT]).order_by(
        rows.c[PARENT], rows.c[str(time_col.key)].desc(), rows.c[str(id_col.key)].desc()
    )
    return scoped(outer, f"{label}:newest")


def count_each(stmts: Sequence[tuple[int, Select[*tuple[Any, ...]]]]) -> Select[Any, int]:
    """``(parent, count)`` for each parent's own scoped statement, in one statement."""
    if not stmts:
        raise ValueError("no parent")
    parts = [
        select(literal(parent).label(PARENT), func.count()).select_from(
            stmt.order_by(None).subquery()
        )
        for parent, stmt in stmts
    ]
    label = _label(stmts[0][1])
    return scoped(union_all(*parts), f"{label}:count")  # type: ignore[arg-type]
