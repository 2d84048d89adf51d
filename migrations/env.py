"""Alembic environment: async engines, with ``models.Base.metadata`` as the target.

The URL comes from ``config.attributes["database_url"]`` (set by :mod:`migrations.migrate`), else
from the ``MILLGATE_*`` settings. A caller that already holds a connection passes it as
``config.attributes["connection"]`` and commits itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

import models as m
from core.db import make_engine
from core.errors import MillgateError
from core.settings import Settings
from migrations.migrate import include_object_on
from models.base import UtcDateTime

config = context.config
target_metadata = m.Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    return str(url) if url else Settings().effective_database_url


def _render_item(kind: str, obj: Any, autogen: AutogenContext) -> str | bool:
    # Revision scripts stay free of our own imports: a UTC datetime is a plain aware DateTime.
    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "compare_type": True,
        # SQLite alters a table by copying it; batch mode writes that for us.
        "render_as_batch": dialect_name == "sqlite",
        "render_item": _render_item,
        "include_object": include_object_on(dialect_name),
    }


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(_url(), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # A batch copy drops the old table; with foreign keys on that would cascade.
                await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                await conn.commit()
            await conn.run_sync(_run)
            await conn.commit()
            if sqlite:
                broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise MillgateError(f"migration left dangling foreign keys: {broken[:5]}")
    finally:
        await engine.dispose()


def _run_offline() -> None:
    url = _url()
    context.configure(url=url, literal_binds=True, **_options(url.split(":", 1)[0].split("+")[0]))
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
elif isinstance(given := config.attributes.get("connection"), Connection):
    _run(given)
else:
    asyncio.run(_run_async())
