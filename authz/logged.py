"""A factory page that writes its own access log, in the statement that reads it (PostgreSQL).

The planner (:mod:`api.planner`) reads a page of factories, each one's assessment page
joined, in one statement; the reads it shows were then logged by a statement of their own
(:meth:`api.context.Context.flush_access_log`), one more round trip. Here the read becomes
a CTE and a data-modifying CTE beside it inserts the log rows the resolvers would have
written: one ``access_event`` row per set of field paths read, naming its factories, in the
order of each set's first factory; never the reader's own factory. The rows come back as
the read gave them, in the same order. The reader, the time and the paths are bind
parameters (:data:`LOG_PARAMETERS`), so a statement is built once per shape of reader and
page arguments and kept, as the planner keeps its other statements.

A page whose last statement reads the findings of the assessments shown (the brand page)
knows every row of its log before that statement runs: :func:`with_log_rows` gives that
statement a data-modifying CTE inserting those rows, bound as :func:`log_row_values` names
them, so the log costs no round trip of its own there either.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    Integer,
    Select,
    String,
    Table,
    bindparam,
    case,
    func,
    insert,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

import models as m
from authz.guard import scoped
from authz.paging import _label

AT, ORGANIZATION, USER, API_KEY = "log_at", "log_organization", "log_user", "log_api_key"
OWN_FACTORY, OPERATION = "log_own_factory", "log_operation"
FIELDS, FIELDS_SHOWN = "log_fields", "log_fields_shown"
LOG_PARAMETERS = (AT, ORGANIZATION, USER, API_KEY, OWN_FACTORY, OPERATION, FIELDS, FIELDS_SHOWN)

_FACTORY_RANK = "_log_factory_rank"
_NESTED_RANK = "_log_nested_rank"
_LOGGED = ["at", "factory_ids", "organization_id", "user_id", "api_key_id", "operation", "fields"]
_EVENTS = cast(Table, m.AccessEvent.__table__)


def with_access_log(
    stmt: Select[*tuple[Any, ...]],
    factory_at: int,
    first: int,
    nested_rank: Any | None = None,
    shown_within: int | None = None,
) -> Select[*tuple[Any, ...]]:
    """``stmt`` (a scoped page of factories ordered by their id, its column ``factory_at``;
    ``first`` + 1 of them, the last only telling whether there is a next page), logging its
    first ``first`` factories with the paths :data:`FIELDS` gives, or :data:`FIELDS_SHOWN`
    for a factory with a nested row whose ``nested_rank`` (its number in the factory's
    nested page, ``_row_number`` of :func:`authz.paging.first_of_each`) is at most
    ``shown_within``: an assessment shown, whose findings are read."""
    label = _label(stmt)
    selected = list(stmt.selected_columns)
    ranks = [func.dense_rank().over(order_by=selected[factory_at]).label(_FACTORY_RANK)]
    if nested_rank is not None:
        ranks.append(nested_rank.label(_NESTED_RANK))
    read = stmt.add_columns(*ranks).cte("read")
    columns = list(read.c)
    factory = columns[factory_at]
    shown = (  # false, not null, for a factory without a nested row: one group with the rest
        func.coalesce(func.bool_or(read.c[_NESTED_RANK] <= shown_within), False)
        if nested_rank is not None and shown_within is not None
        else None
    )
    per_factory = (
        select(factory.label("id"), *([] if shown is None else [shown.label("shown")]))
        .where(
            read.c[_FACTORY_RANK] <= first,
            factory.is_distinct_from(bindparam(OWN_FACTORY, type_=Integer)),
        )
        .group_by(factory)
        .subquery()
    )
    fields: Any = bindparam(FIELDS, type_=String)
    if shown is not None:
        fields = case((per_factory.c.shown, bindparam(FIELDS_SHOWN, type_=String)), else_=fields)
    rows = select(
        bindparam(AT, type_=m.AccessEvent.__table__.c.at.type),
        func.array_agg(aggregate_order_by(per_factory.c.id, per_factory.c.id)),
        bindparam(ORGANIZATION, type_=Integer),
        bindparam(USER, type_=Integer),
        bindparam(API_KEY, type_=Integer),
        bindparam(OPERATION, type_=String),
        fields,
    ).order_by(func.min(per_factory.c.id))
    # One row per set of paths; none when no factory was read (an aggregate without GROUP BY
    # would give one row of nulls).
    rows = rows.having(func.count() > 0) if shown is None else rows.group_by(per_factory.c.shown)
    logged = insert(m.AccessEvent).from_select(_LOGGED, rows).cte("logged")
    order = [read.c[_FACTORY_RANK]] + ([read.c[_NESTED_RANK]] if nested_rank is not None else [])
    out = select(*columns[: len(selected)]).add_cte(logged).order_by(*order)
    return scoped(out, f"{label}+access_log")


def with_log_rows(stmt: Select[*tuple[Any, ...]], rows: int) -> Select[*tuple[Any, ...]]:
    """``stmt``, a scoped read, with a data-modifying CTE inserting ``rows`` ``access_event``
    rows whose values are the bind parameters :func:`log_row_values` gives (PostgreSQL).

    PostgreSQL runs a data-modifying CTE once and to completion whether or not the read
    uses it, and the read's failure undoes it: the rows are written exactly when the read
    ran."""
    # Rows as SELECTs of parameters, not a VALUES list: SQLAlchemy caches no compiled form
    # of a multi-row VALUES.
    selects = [
        select(*(bindparam(_log_row(c, i), type_=_EVENTS.c[c].type) for c in _LOGGED))
        for i in range(rows)
    ]
    values = selects[0] if rows == 1 else union_all(*selects)
    logged = insert(_EVENTS).from_select(_LOGGED, values).cte("logged")
    return scoped(stmt.add_cte(logged), f"{_label(stmt)}+access_log")


def log_row_values(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The bind parameters of :func:`with_log_rows` for these rows, each one the values of an
    ``access_event`` (:meth:`api.context.Context.take_access_log`)."""
    return {_log_row(column, i): row[column] for i, row in enumerate(rows) for column in _LOGGED}


def _log_row(column: str, row: int) -> str:
    return f"log_{column}_{row}"
