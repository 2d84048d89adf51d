"""Schema migrations, driven from code so they run from any working directory.

``upgrade`` and ``downgrade`` are synchronous (Alembic's environment starts its own event
loop): call them before the application's loop starts, or from a thread.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations
from models.access_log import is_partition

# __path__, not __file__: an editable install made before __init__.py existed sees a namespace.
SCRIPT_LOCATION = Path(next(iter(migrations.__path__))).resolve()


def include_object_on(dialect_name: str) -> Callable[..., bool]:
    """Alembic's ``include_object`` for one database: the access log's monthly partitions
    are the database's, not the models' tables; an index the models make only on another
    database (``Index.ddl_if``) is not expected here."""

    def include_object(
        obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
    ) -> bool:
        if type_ == "table" and reflected and is_partition(name):
            return False
        ddl_if = getattr(obj, "_ddl_if", None) if type_ == "index" else None
        return not (ddl_if is not None and ddl_if.dialect not in (None, dialect_name))

    return include_object


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for the installed ``migrations`` package; no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # Revisions are numbered 0001, 0002, ...; the file name keeps the number first.
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url:
        # Passed as an attribute, not an ini option, so a '%' in a password needs no escaping.
        config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def next_revision_id() -> str:
    return f"{len(list(_scripts().walk_revisions())) + 1:04d}"


def revision(url: str, message: str, *, autogenerate: bool = True) -> Path:
    """Writes the next revision script (diffed against the database at ``url``); its path."""
    script = command.revision(
        alembic_config(url), message, autogenerate=autogenerate, rev_id=next_revision_id()
    )
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revisions() -> frozenset[str]:
    return frozenset(_scripts().get_heads())


def _current(connection: Connection) -> frozenset[str]:
    return frozenset(MigrationContext.configure(connection).get_current_heads())


async def current_revisions(engine: AsyncEngine) -> frozenset[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def is_at_head(engine: AsyncEngine) -> bool:
    """True when the database carries exactly the head revision(s) of the installed code."""
    return await current_revisions(engine) == head_revisions()
