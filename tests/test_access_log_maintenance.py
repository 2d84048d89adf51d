"""The access log's maintenance: partitions ahead, retention, and who runs it.

Each test gets an empty database of its own, migrated to head (on PostgreSQL a database
created for the test), since maintenance drops partitions the shared one's tests write to:
a copy of one migrated once for the run (`migrated_url`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from typer.testing import CliRunner

import models as m
from cli.main import app
from core.db import make_engine
from exports import job
from models.access_log import is_partition, maintain
from tests.builders import make_org

TODAY = dt.date(2027, 3, 10)


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=12, tzinfo=dt.UTC)


async def _partitions(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        return {name for name in names if is_partition(name)}
    finally:
        await engine.dispose()


async def _maintain(url: str, retention: int, today: dt.date = TODAY) -> Any:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            return await maintain(conn, retention_months=retention, today=today)
    finally:
        await engine.dispose()


async def _log_reads(url: str, days: list[str]) -> None:
    engine = make_engine(url)
    try:
        async with async_sessionmaker(engine)() as session:
            brand = await make_org(session, m.OrganizationKind.BRAND)
            rows = [
                {
                    "at": at(day),
                    "factory_ids": [1, 2],
                    "organization_id": brand.id,
                    "operation": "q",
                }
                for day in days
            ]
            await session.execute(insert(m.AccessEvent), rows)
            await session.commit()
    finally:
        await engine.dispose()


async def _days_logged(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(select(m.AccessEvent.at).order_by(m.AccessEvent.at))
            return [value.date().isoformat() for (value,) in found]
    finally:
        await engine.dispose()


async def test_maintenance_makes_the_months_ahead_once(migrated_url: str, backend: str) -> None:
    first = await _maintain(migrated_url, retention=0)
    again = await _maintain(migrated_url, retention=0)

    if backend == "postgres":
        assert first.created == [
            "access_event_p202703",
            "access_event_p202704",
            "access_event_p202705",
        ]
        assert {"access_event_p202703", "access_event_p202705"} <= await _partitions(migrated_url)
    else:  # one plain table: nothing to make
        assert first.created == []
    assert (again.created, again.dropped, again.deleted_rows) == ([], [], 0)


async def test_retention_drops_only_the_months_before_the_cutoff(
    migrated_url: str, backend: str
) -> None:
    await _maintain(migrated_url, retention=0, today=dt.date(2026, 11, 1))  # November's partition
    await _maintain(migrated_url, retention=0)  # and March to May
    await _log_reads(migrated_url, ["2026-11-30", "2026-12-15", "2027-01-01", "2027-03-02"])

    # Two whole months kept before March: January and February; November and December go.
    done = await _maintain(migrated_url, retention=2)
    again = await _maintain(migrated_url, retention=2)

    assert await _days_logged(migrated_url) == ["2027-01-01", "2027-03-02"]
    if backend == "postgres":
        assert done.dropped == ["access_event_p202611", "access_event_p202612"]
        left = await _partitions(migrated_url)
        assert not {"access_event_p202611", "access_event_p202612"} & left
        assert {"access_event_p202701", "access_event_p202703", "access_event_p202705"} <= left
    else:
        assert done.deleted_rows == 2
    assert (again.created, again.dropped, again.deleted_rows) == ([], [], 0)


async def test_no_retention_keeps_every_month(migrated_url: str) -> None:
    await _maintain(migrated_url, retention=0, today=dt.date(2025, 1, 1))
    await _log_reads(migrated_url, ["2025-01-20"])

    done = await _maintain(migrated_url, retention=0)

    assert done.dropped == [] and done.deleted_rows == 0
    assert await _days_logged(migrated_url) == ["2025-01-20"]


async def test_the_command_maintains_with_the_configured_retention(migrated_url: str) -> None:
    await _maintain(migrated_url, retention=0, today=dt.date(2020, 1, 1))
    await _log_reads(migrated_url, ["2020-01-15"])  # more than 24 months ago

    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["access-log", "maintain"],
        env={"MILLGATE_DATABASE_URL": migrated_url, "MILLGATE_ACCESS_LOG_RETENTION_MONTHS": "24"},
    )

    assert result.exit_code == 0, result.output
    assert "access log:" in result.output
    assert await _days_logged(migrated_url) == []


async def test_the_worker_maintains_the_access_log_on_its_pass(
    monkeypatch: pytest.MonkeyPatch, migrated_url: str
) -> None:
    stop = asyncio.Event()
    seen: list[int] = []
    real = job.maintain_access_log

    async def maintained(sessionmaker: Any, retention_months: int) -> Any:
        seen.append(retention_months)
        done = await real(sessionmaker, retention_months)
        stop.set()
        return done

    monkeypatch.setattr(job, "maintain_access_log", maintained)
    engine = make_engine(migrated_url)
    try:
        await job.run_forever(
            async_sessionmaker(engine),
            None,  # type: ignore[arg-type] - no cycle is due: the pass never signs
            interval=3600,
            stop=stop,
            access_log_retention_months=6,
        )
    finally:
        await engine.dispose()

    assert seen == [6]


async def test_a_read_of_a_month_without_a_partition_is_kept_and_moved_into_it_later(
    migrated_url: str, backend: str
) -> None:
    # given a database whose maintenance stopped in March (partitions up to May)
    await _maintain(migrated_url, retention=0)

    # when reads are logged in September, long after the last partition
    await _log_reads(migrated_url, ["2027-09-03", "2027-09-20"])

    # then they are kept (the default partition on PostgreSQL), and the next maintenance
    # makes September's partition and moves them into it
    assert await _days_logged(migrated_url) == ["2027-09-03", "2027-09-20"]
    done = await _maintain(migrated_url, retention=0, today=dt.date(2027, 9, 25))
    assert await _days_logged(migrated_url) == ["2027-09-03", "2027-09-20"]
    if backend == "postgres":
        assert done.moved_rows == 2
        assert "access_event_p202709" in done.created
        engine = make_engine(migrated_url)
        try:
            async with engine.connect() as conn:
                left = await conn.scalar(text("SELECT count(*) FROM access_event_default"))
                in_month = await conn.scalar(text("SELECT count(*) FROM access_event_p202709"))
        finally:
            await engine.dispose()
        assert (left, in_month) == (0, 2)
    again = await _maintain(migrated_url, retention=0, today=dt.date(2027, 9, 25))
    assert (again.created, again.moved_rows) == ([], 0)
