"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core import metrics

# A pooled PostgreSQL connection idle for longer is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 10.0
_LAST_USED = "millgate_last_used"


def make_engine(
    url: str,
    *,
    statement_timeout_ms: int | None = None,
    ping_after_idle_s: float = PING_AFTER_IDLE_SECONDS,
    **kwargs: Any,
) -> AsyncEngine:
    """An async engine; SQLite gets foreign keys and WAL, PostgreSQL a statement timeout, no
    JIT and a check of each connection it hands out (:func:`check_at_checkout`)."""
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
    engine = create_async_engine(url, connect_args=connect_args, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        check_at_checkout(engine, ping_after_idle_s)
    metrics.watch_pool(engine)
    return engine


def check_at_checkout(engine: AsyncEngine, ping_after_idle_s: float) -> None:
    """Hands out no connection the server has closed, at no round trip for a busy one.

    ``pool_pre_ping`` pinged at every checkout: BEGIN, a prepare, the ping and ROLLBACK, four
    round trips before a request's first statement. Here a connection whose socket the
    driver saw closed (a restarted server, ``pg_terminate_backend``) is replaced, and only
    one idle for ``ping_after_idle_s`` or more (a peer or firewall may drop it silently) is
    pinged. A connection that dies after this check fails its first statement with
    ``connection_invalidated``: the GraphQL endpoint then authenticates again on a new one.
    """
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "connect")
    def _fresh(_dbapi_conn: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(sync_engine, "checkin")
    def _used(_dbapi_conn: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _alive(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        driver = record.driver_connection
        if driver is None or driver.is_closed():
            raise DisconnectionError("the server closed this connection")  # the pool reconnects
        last_used = record.info.get(_LAST_USED)
        if last_used is None or time.monotonic() - last_used >= ping_after_idle_s:
            try:
                dialect.do_ping(dbapi_conn)
            except Exception as error:
                raise DisconnectionError("the connection did not answer a ping") from error


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
