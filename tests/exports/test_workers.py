"""Several workers, and a worker that dies: each export is written once, or not at all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

import models as m
from authz.guard import system_read
from core.crypto import KeyMaterial
from core.db import make_engine, make_sessionmaker
from exports import job
from exports.job import run_once
from tests.builders import (
    GATEWAY_ON,
    make_catalogue,
    make_export_country,
    make_export_factory,
    make_export_grant,
    make_host,
    make_released_cycle,
)

FACTORIES = 6
HOSTS = 3


async def count(session: AsyncSession, *columns: Any) -> int:
    stmt = select(func.count()).select_from(select(*columns).distinct().subquery())
    return int(await session.scalar(system_read(stmt, "test")) or 0)


async def make_many(session: AsyncSession, keys: KeyMaterial) -> None:
    """FACTORIES eligible factories, each granting HOSTS hosts, and one host without a key."""
    country = await make_export_country(session)
    await make_catalogue(session, country)
    hosts = [
        await make_host(
            session,
            keys,
            f"Host {n}",
            webhook_url=f"https://h{n}.example/hook",
            webhook_secret="s3cret",
        )
        for n in range(HOSTS)
    ]
    keyless = await make_host(session, keys, "Keyless Host", with_key=False)
    for n in range(FACTORIES):
        factory = await make_export_factory(
            session, country, f"Factory {n}", gateway_id=f"SLCP-{n}"
        )
        await make_released_cycle(session, keys.fields, factory)
        for host in [*hosts, keyless]:
            await make_export_grant(session, factory, host.organization)
    await session.commit()


def test_claim_skips_cycles_other_workers_hold() -> None:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    sql = str(job._claim(GATEWAY_ON, [1], [1]).compile(dialect=dialect))

    assert "FOR UPDATE OF assessment SKIP LOCKED" in sql
    assert "LIMIT" in sql


@pytest.fixture
async def worker_sessionmakers(
    backend: str, database_url: str
) -> AsyncIterator[list[async_sessionmaker[AsyncSession]]]:
    """Three workers, each with an engine (a connection pool) of its own."""
    if backend != "postgres":
        pytest.skip("row locks and concurrent writers need PostgreSQL")
    engines = [make_engine(database_url) for _ in range(3)]
    yield [make_sessionmaker(engine) for engine in engines]
    for engine in engines:
        await engine.dispose()


async def test_concurrent_workers_write_each_export_exactly_once(
    worker_sessionmakers: list[async_sessionmaker[AsyncSession]],
    session: AsyncSession,
    keys: KeyMaterial,
) -> None:
    # given six releasable cycles, each granted to three hosts with keys and one without
    await make_many(session, keys)

    # when three workers run a pass at the same time
    reports = await asyncio.gather(
        *(run_once(sm, keys, today=GATEWAY_ON) for sm in worker_sessionmakers)
    )

    # then every (cycle, host) pair has exactly one export, and nobody saw a conflict
    expected = FACTORIES * HOSTS
    assert sum(r.exports_written for r in reports) == expected
    assert [r.errors for r in reports] == [[], [], []]
    assert await count(session, m.GatewayExport.id) == expected
    assert await count(session, m.GatewayExport.host_id, m.GatewayExport.cycle_id) == expected
    assert {r.waiting_for_host_key for r in reports} <= {0, FACTORIES}

    # and a second round of all three finds nothing left
    again = await asyncio.gather(
        *(run_once(sm, keys, today=GATEWAY_ON) for sm in worker_sessionmakers)
    )
    assert sum(r.exports_written for r in again) == 0


class CrashingSession(Session):
    """Dies (as a cancelled task does) once the export and its outbox row reached the database,
    before the commit."""


@event.listens_for(CrashingSession, "after_flush")
def _die_before_commit(session: Session, _context: Any) -> None:
    if any(isinstance(row, m.WebhookDelivery) for row in session.new):
        raise asyncio.CancelledError("worker killed mid-export")


async def test_worker_killed_mid_export_leaves_nothing_half_written(
    db: Any, session: AsyncSession, keys: KeyMaterial
) -> None:
    await make_many(session, keys)
    dying = async_sessionmaker(db, expire_on_commit=False, sync_session_class=CrashingSession)
    healthy = make_sessionmaker(db)

    with pytest.raises(asyncio.CancelledError):
        await run_once(dying, keys, today=GATEWAY_ON)

    assert await count(session, m.GatewayExport.id) == 0
    assert await count(session, m.WebhookDelivery.id) == 0
    report = await run_once(healthy, keys, today=GATEWAY_ON)
    assert report.exports_written == FACTORIES * HOSTS
