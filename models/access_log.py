"""The access log's storage: which rows name a factory, its monthly partitions, retention.

On PostgreSQL ``access_event`` is partitioned by month on ``at`` (``access_event_pYYYYMM``,
declarative RANGE partitions). Partitions are made ahead of time (this month and the next
:data:`AHEAD` ones) by the migration, by ``create_all`` and by :func:`maintain`, which the
export worker runs on every pass and ``millgate access-log maintain`` runs by hand; the same
call drops the partitions that lie wholly before the retention cutoff. On SQLite, where the
table is one plain table, :func:`maintain` deletes the rows before that cutoff.

``access_read`` is a view with one row per factory read (the shape of the log before 0009):
for operators' ad-hoc questions and for tests, never for the API, which reads the table.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    PrimaryKeyConstraint,
    delete,
    event,
    text,  # noqa: TID251 - DDL, the catalogue and retention: no reads
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import DDLCompiler, SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from models.consent import AccessEvent

# Partitions made beyond the current month: a month boundary never finds none to write to,
# even when maintenance has not run for weeks.
AHEAD = 2
PARTITION = re.compile(r"^access_event_p(\d{4})(\d{2})$")
# Takes a read for a month with no partition of its own, so that a write never fails when
# maintenance has not run for months; maintenance moves such rows into their month's
# partition when it makes it.
DEFAULT_PARTITION = "access_event_default"
# Serialises maintenance between the worker and the command line (an arbitrary constant).
_LOCK = 0x6D696C6C_616C67


class NamesFactory(ColumnElement[bool]):
    """True when an event's ``factory_ids`` name ``factory``: ``factory_ids @> ARRAY[f]``
    on PostgreSQL (the GIN index's operator), ``json_each`` on SQLite."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [
        ("ids", InternalTraversal.dp_clauseelement),
        ("factory", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, ids: ColumnElement[Any], factory: ColumnElement[Any]) -> None:
        self.ids = ids
        self.factory = factory


@compiles(NamesFactory, "postgresql")
def _names_pg(element: NamesFactory, compiler: SQLCompiler, **kw: Any) -> str:
    ids = compiler.process(element.ids, **kw)
    factory = compiler.process(element.factory, **kw)
    return f"({ids} @> ARRAY[CAST({factory} AS INTEGER)])"


@compiles(NamesFactory)
def _names_json(element: NamesFactory, compiler: SQLCompiler, **kw: Any) -> str:
    ids = compiler.process(element.ids, **kw)
    factory = compiler.process(element.factory, **kw)
    # Both parts are compiled SQL (a column, a bound parameter), never values.
    return f"EXISTS (SELECT 1 FROM json_each({ids}) WHERE json_each.value = {factory})"  # noqa: S608


def names_factory(factory: Any) -> ColumnElement[bool]:
    """The events that name ``factory`` (a column or a bound value)."""
    return NamesFactory(AccessEvent.__table__.c.factory_ids, factory)


# --- one row per factory read, as a view -----------------------------------------------------

VIEW_SQL = {
    "postgresql": "CREATE VIEW access_read AS"
    " SELECT e.id, e.at, f.factory_id, e.organization_id, e.user_id, e.api_key_id,"
    " e.operation, e.fields"
    " FROM access_event e CROSS JOIN LATERAL unnest(e.factory_ids) AS f(factory_id)",
    "sqlite": "CREATE VIEW access_read AS"
    " SELECT e.id, e.at, CAST(f.value AS INTEGER) AS factory_id, e.organization_id,"
    " e.user_id, e.api_key_id, e.operation, e.fields"
    " FROM access_event e, json_each(e.factory_ids) AS f",
}
DROP_VIEW_SQL = "DROP VIEW IF EXISTS access_read"


# --- months and partitions -------------------------------------------------------------------


def is_partition(name: str | None) -> bool:
    """A month's partition or the default one: a table of the database that no model names."""
    return name is not None and (name == DEFAULT_PARTITION or PARTITION.match(name) is not None)


def month_of(day: dt.date) -> dt.date:
    return dt.date(day.year, day.month, 1)


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(month: dt.date) -> str:
    return f"access_event_p{month.year:04d}{month.month:02d}"


def create_partition_sql(month: dt.date) -> str:
    """DDL of one month's partition; harmless when it exists already."""
    # No parallel workers: the factory's page is a few index reads, and starting workers
    # for it (even for a window that the one-time filter then skips) costs more.
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(month)} PARTITION OF access_event "
        f"FOR VALUES FROM ('{month.isoformat()}') TO ('{add_months(month, 1).isoformat()}') "
        "WITH (parallel_workers = 0)"
    )


def create_default_partition_sql() -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {DEFAULT_PARTITION} PARTITION OF access_event DEFAULT "
        "WITH (parallel_workers = 0)"
    )


def _make_partition(conn: Connection, month: dt.date) -> int:
    """Makes ``month``'s partition; the rows of that month the default partition took (none
    unless maintenance was late) move into it. How many moved."""
    bounds = {"start": month, "end": add_months(month, 1)}
    in_default = text("SELECT count(*) FROM access_event_default WHERE at >= :start AND at < :end")
    late = int(conn.execute(in_default, bounds).scalar_one())
    if not late:  # PostgreSQL checks the default partition holds none of the range
        conn.execute(text(create_partition_sql(month)))
        return 0
    # The default partition may not hold rows of a range being attached: detach it, make the
    # month, move its rows through the parent (they land in the month), attach it again.
    conn.execute(text(f"ALTER TABLE access_event DETACH PARTITION {DEFAULT_PARTITION}"))
    conn.execute(text(create_partition_sql(month)))
    conn.execute(
        text(
            "WITH moved AS (DELETE FROM access_event_default WHERE at >= :start AND at < :end "
            "RETURNING *) INSERT INTO access_event SELECT * FROM moved"
        ),
        bounds,
    )
    conn.execute(text(f"ALTER TABLE access_event ATTACH PARTITION {DEFAULT_PARTITION} DEFAULT"))
    return late


def months_ahead(today: dt.date, ahead: int = AHEAD) -> list[dt.date]:
    """This month and the next ``ahead``: the partitions that must exist."""
    return [add_months(month_of(today), n) for n in range(ahead + 1)]


def cutoff(today: dt.date, retention_months: int) -> dt.date | None:
    """Reads before this day are dropped: the first day of the month ``retention_months``
    before this one, so that at least that many whole months are kept beside this one.
    None when nothing is ever dropped (``retention_months`` 0)."""
    if retention_months <= 0:
        return None
    return add_months(month_of(today), -retention_months)


@dataclass
class Maintenance:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    deleted_rows: int = 0
    # Rows the default partition took for a month that had no partition yet, moved into it.
    moved_rows: int = 0

    def summary(self) -> str:
        return (
            f"access log: {len(self.created)} partitions created"
            f"{' (' + ', '.join(self.created) + ')' if self.created else ''}, "
            f"{len(self.dropped)} dropped"
            f"{' (' + ', '.join(self.dropped) + ')' if self.dropped else ''}, "
            f"{self.deleted_rows} rows deleted, {self.moved_rows} moved out of the default"
        )


def _existing_partitions(conn: Connection) -> dict[str, dt.date]:
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'access_event'::regclass"
        )
    )
    found = {}
    for (name,) in rows:
        match = PARTITION.match(name)
        if match:
            found[name] = dt.date(int(match[1]), int(match[2]), 1)
    return found


def maintain_sync(
    conn: Connection, *, retention_months: int, today: dt.date, ahead: int = AHEAD
) -> Maintenance:
    """Makes the partitions ahead and drops (PostgreSQL) or empties (SQLite) what lies
    before the retention cutoff. Idempotent; the caller commits."""
    done = Maintenance()
    before = cutoff(today, retention_months)
    if conn.dialect.name != "postgresql":
        if before is not None:
            oldest_kept = dt.datetime.combine(before, dt.time(), dt.UTC)
            deleted = conn.execute(delete(AccessEvent).where(AccessEvent.at < oldest_kept))
            done.deleted_rows = int(deleted.rowcount or 0)
        return done
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    conn.execute(text(create_default_partition_sql()))
    existing = _existing_partitions(conn)
    # Every month the default partition took reads for, and the months ahead.
    late = conn.execute(
        text("SELECT DISTINCT date_trunc('month', at AT TIME ZONE 'UTC') FROM access_event_default")
    )
    wanted = {month_of(value.date()) for (value,) in late} | set(months_ahead(today, ahead))
    for month in sorted(wanted):
        if partition_name(month) not in existing and (before is None or month >= before):
            done.moved_rows += _make_partition(conn, month)
            done.created.append(partition_name(month))
    if before is not None:
        oldest_kept = dt.datetime.combine(before, dt.time(), dt.UTC)
        stale = conn.execute(
            text("DELETE FROM access_event_default WHERE at < :before"), {"before": oldest_kept}
        )
        done.deleted_rows += int(stale.rowcount or 0)
        for name, month in sorted(existing.items(), key=lambda kv: kv[1]):
            if add_months(month, 1) <= before:
                conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
                done.dropped.append(name)
    return done


async def maintain(
    conn: AsyncConnection, *, retention_months: int, today: dt.date | None = None
) -> Maintenance:
    """:func:`maintain_sync` on an async connection (the caller commits)."""
    day = today or dt.datetime.now(dt.UTC).date()
    return await conn.run_sync(
        lambda sync: maintain_sync(sync, retention_months=retention_months, today=day)
    )


@compiles(PrimaryKeyConstraint, "postgresql")
def _primary_key_pg(element: PrimaryKeyConstraint, compiler: DDLCompiler, **kw: Any) -> str:
    """A partitioned table's primary key must hold its partition key: ``(id, at)`` on
    PostgreSQL, where the model (and SQLite, whose ``id`` counts by itself) has ``id``."""
    sql = compiler.visit_primary_key_constraint(element, **kw)
    if element.table is AccessEvent.__table__:
        return sql.replace("PRIMARY KEY (id)", "PRIMARY KEY (id, at)")
    return sql


# ``create_all`` (tests, development) gets what the migration makes: the view, and on
# PostgreSQL the partitions ahead.
@event.listens_for(AccessEvent.__table__, "after_create")
def _after_create(target: Any, connection: Connection, **kw: Any) -> None:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        for month in months_ahead(dt.datetime.now(dt.UTC).date()):
            connection.execute(text(create_partition_sql(month)))
        connection.execute(text(create_default_partition_sql()))
    if dialect in VIEW_SQL:
        connection.execute(text(VIEW_SQL[dialect]))


@event.listens_for(AccessEvent.__table__, "before_drop")
def _before_drop(target: Any, connection: Connection, **kw: Any) -> None:
    connection.execute(text(DROP_VIEW_SQL))
