"""The database clock, so every process judges expiry and release dates alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import Date, DateTime


class db_now(FunctionElement[Any]):
    """Current UTC timestamp of the database server."""

    type = DateTime(timezone=True)
    inherit_cache = True


class db_today(FunctionElement[Any]):
    """Current UTC date of the database server."""

    type = Date()
    inherit_cache = True


@compiles(db_now)
def _now_default(element: db_now, compiler: Any, **kw: Any) -> str:
    return "now()"


@compiles(db_now, "sqlite")
def _now_sqlite(element: db_now, compiler: Any, **kw: Any) -> str:
    # Same text form SQLAlchemy stores DATETIME in on SQLite, so comparisons are textual.
    return "strftime('%Y-%m-%d %H:%M:%f000', 'now')"


@compiles(db_today)
def _today_default(element: db_today, compiler: Any, **kw: Any) -> str:
    return "(now() AT TIME ZONE 'UTC')::date"


@compiles(db_today, "sqlite")
def _today_sqlite(element: db_today, compiler: Any, **kw: Any) -> str:
    return "date('now')"
