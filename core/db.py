"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core import metrics


def make_engine(url: str, *, statement_timeout_ms: int | None = None, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets foreign keys and WAL, PostgreSQL a statement timeout
    and no JIT."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        metrics.watch_pool(engine)
        return engine
    # No JIT: Millgate's statements are short reads whose estimated cost can still pass
    # jit_above_cost (a factory's access-log page: ~60 ms compiling 0.4 ms of reads, see
    # docs/performance.md); set once per connection, never per request.
    server_settings = {"jit": "off"}
    if statement_timeout_ms:
        server_settings["statement_timeout"] = str(statement_timeout_ms)
    connect_args: dict[str, Any] = {"server_settings": server_settings}
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, connect_args=connect_args, **kwargs)
    metrics.watch_pool(engine)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
