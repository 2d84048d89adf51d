"""The migrations build the models' schema from nothing, and take it away again.

Each test gets an empty database of its own (a fresh SQLite file; on PostgreSQL a database
created for the test and dropped after it), not the shared one that conftest fills with
``metadata.create_all``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

import models as m
from cli.db import app as db_app
from core.db import make_engine
from migrations import migrate
from migrations.migrate import include_object_on
from models.access_log import is_partition

BOOKKEEPING = {"alembic_version"}


# Alembic's environment runs its own event loop, so the sync commands go to a thread.
async def upgrade(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(migrate.upgrade, url, revision)


async def downgrade(url: str, revision: str = "base") -> None:
    await asyncio.to_thread(migrate.downgrade, url, revision)


def _tables(conn: Connection) -> set[str]:
    """The tables, less the access log's monthly partitions (PostgreSQL)."""
    return {name for name in inspect(conn).get_table_names() if not is_partition(name)}


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn,
        opts={"compare_type": True, "include_object": include_object_on(conn.dialect.name)},
    )
    return list(compare_metadata(context, m.Base.metadata))


async def on(url: str, probe: Any) -> Any:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(probe)
    finally:
        await engine.dispose()


async def at_head(url: str) -> bool:
    engine = make_engine(url)
    try:
        return await migrate.is_at_head(engine)
    finally:
        await engine.dispose()


def test_the_revisions_form_one_line() -> None:
    assert len(migrate.head_revisions()) == 1


async def test_upgrade_from_empty_creates_every_table(empty_url: str) -> None:
    assert not await at_head(empty_url)

    await upgrade(empty_url)

    assert await on(empty_url, _tables) == set(m.Base.metadata.tables) | BOOKKEEPING
    assert await at_head(empty_url)


async def test_the_migrated_schema_matches_the_models(empty_url: str) -> None:
    await upgrade(empty_url)

    assert await on(empty_url, _diff) == []


async def test_downgrade_to_base_leaves_no_tables(empty_url: str) -> None:
    await upgrade(empty_url)

    await downgrade(empty_url)

    assert await on(empty_url, _tables) == BOOKKEEPING
    assert not await at_head(empty_url)


async def test_every_revision_steps_down_and_up_again(empty_url: str) -> None:
    revisions = [r.revision for r in reversed(list(migrate._scripts().walk_revisions()))]
    for revision in revisions:
        await upgrade(empty_url, revision)
        await downgrade(empty_url, "-1")
        await upgrade(empty_url, revision)

    assert await at_head(empty_url)


async def test_rows_written_at_0001_survive_the_upgrade_to_0002(empty_url: str) -> None:
    await upgrade(empty_url, "0001")
    engine = make_engine(empty_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO policy_change (revision, op, subject, relation, domain)"
                    " VALUES (1, 'add', 'org:1', 'owner', 'factory:1')"
                )
            )
    finally:
        await engine.dispose()

    await upgrade(empty_url, "0002")

    def changes(conn: Connection) -> list[Any]:
        return list(conn.execute(text("SELECT revision, subject FROM policy_change")).all())

    assert [tuple(row) for row in await on(empty_url, changes)] == [(1, "org:1")]


POLICY_LOG = {"policy_change", "policy_revision"}


async def test_decisions_per_request_drop_the_policy_log_and_its_downgrade_restores_it(
    empty_url: str,
) -> None:
    await upgrade(empty_url, "0002")
    assert await on(empty_url, _tables) >= POLICY_LOG

    await upgrade(empty_url, "0005")
    assert not POLICY_LOG & await on(empty_url, _tables)

    await downgrade(empty_url, "0002")
    assert await on(empty_url, _tables) >= POLICY_LOG


def _cli(url: str, *args: str, answer: str = "") -> Any:
    return CliRunner().invoke(db_app, list(args), input=answer, env={"MILLGATE_DATABASE_URL": url})


async def test_cli_upgrades_and_downgrades_only_when_confirmed(empty_url: str) -> None:
    upgraded = await asyncio.to_thread(_cli, empty_url, "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert await at_head(empty_url)

    refused = await asyncio.to_thread(_cli, empty_url, "downgrade", answer="n\n")
    assert refused.exit_code != 0
    assert await at_head(empty_url)

    confirmed = await asyncio.to_thread(_cli, empty_url, "downgrade", "--yes")
    assert confirmed.exit_code == 0, confirmed.output
    assert await on(empty_url, _tables) == BOOKKEEPING


async def _reads_world(url: str) -> tuple[int, int, int]:
    """Two factories and a brand, built with the models at 0008 (the access log aside)."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from tests.builders import make_country, make_factory, make_org

    engine = make_engine(url)
    try:
        async with async_sessionmaker(engine)() as session:
            if not await session.scalar(text("SELECT count(*) FROM country WHERE code = 'ID'")):
                await make_country(session, "ID")
            a = await make_factory(session, "ID")
            b = await make_factory(session, "ID")
            brand = await make_org(session, m.OrganizationKind.BRAND)
            ids = (a.id, b.id, brand.id)
            await session.commit()
            return ids
    finally:
        await engine.dispose()


async def _execute(url: str, sql: str, **params: Any) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql), params)
    finally:
        await engine.dispose()


def _rows(sql: str) -> Any:
    def probe(conn: Connection) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in conn.execute(text(sql)).all()]

    return probe


OLD_READ = (
    "INSERT INTO access_event (at, factory_id, organization_id, operation, fields)"
    " VALUES (:at, :f, :o, 'query:factory', 'factory factory.name')"
)


async def test_access_reads_move_to_one_row_per_request_and_back(empty_url: str) -> None:
    import datetime as dt

    await upgrade(empty_url, "0008")
    a, b, brand = await _reads_world(empty_url)
    long_ago = dt.datetime(2025, 1, 15, 9, 30, tzinfo=dt.UTC)
    now = dt.datetime.now(dt.UTC)
    for at, factory in ((long_ago, a), (now, a), (now, b)):
        await _execute(empty_url, OLD_READ, at=at, f=factory, o=brand)
    before = await on(empty_url, _rows("SELECT id, factory_id FROM access_event ORDER BY id"))

    await upgrade(empty_url, "0009")

    # Each read kept its id and names its one factory; the view reads as the old table did.
    moved = await on(empty_url, _rows("SELECT id, factory_ids FROM access_event ORDER BY id"))
    assert [(i, _ids(ids)) for i, ids in moved] == [(i, [f]) for i, f in before]
    assert await on(empty_url, _rows("SELECT id, factory_id FROM access_read ORDER BY id")) == (
        before
    )
    if "postgresql" in empty_url:  # the month of the oldest read got its partition
        assert "access_event_p202501" in await on(
            empty_url, lambda c: set(inspect(c).get_table_names())
        )
    # A request that read both factories with the same fields is one row ...
    both: Any = f"[{a}, {b}]" if "sqlite" in empty_url else [a, b]
    await _execute(
        empty_url,
        "INSERT INTO access_event (at, factory_ids, organization_id, operation, fields)"
        " VALUES (:at, :ids, :o, 'query:factories', 'factories factories.name')",
        at=now,
        ids=both,
        o=brand,
    )

    await downgrade(empty_url, "0008")

    # ... and one row per factory read again after the downgrade, in the same order.
    back = await on(empty_url, _rows("SELECT factory_id, operation FROM access_event ORDER BY id"))
    assert back == [
        (a, "query:factory"),
        (a, "query:factory"),
        (b, "query:factory"),
        (a, "query:factories"),
        (b, "query:factories"),
    ]


def _ids(value: Any) -> list[int]:
    """factory_ids as read back by plain SQL: a list (PostgreSQL) or JSON text (SQLite)."""
    import json

    return list(value) if isinstance(value, list) else list(json.loads(value))
