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

BOOKKEEPING = {"alembic_version"}


# Alembic's environment runs its own event loop, so the sync commands go to a thread.
async def upgrade(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(migrate.upgrade, url, revision)


async def downgrade(url: str, revision: str = "base") -> None:
    await asyncio.to_thread(migrate.downgrade, url, revision)


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
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
