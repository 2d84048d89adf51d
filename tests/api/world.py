"""The demo world for the API tests and tests/test_schema.py: seeded once, copied after."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import models as m
from core.crypto import KeyMaterial
from demo import DemoWorld, seed_demo, seed_reference


@dataclass(frozen=True)
class _Snapshot:
    world: DemoWorld
    rows: dict[str, list[dict[str, Any]]]


_SNAPSHOTS: dict[str, _Snapshot] = {}  # by backend, for the whole test run


async def demo_world(session: AsyncSession, keys: KeyMaterial, api: Any, backend: str) -> DemoWorld:
    """The demo world, committed.

    Seeded by `demo` once per backend; later tests get a row-for-row copy of that seed
    (the database is emptied after every test), which takes a tenth of the time.
    """
    snapshot = _SNAPSHOTS.get(backend)
    if snapshot is None:
        await seed_reference(session)
        seeded = await seed_demo(session, keys)
        await session.commit()
        _SNAPSHOTS[backend] = _Snapshot(seeded, await _copy_rows(api.runtime.engine))
        seeded_world = seeded
    else:
        await _restore_rows(api.runtime.engine, snapshot.rows)
        seeded_world = snapshot.world
    return seeded_world


async def _copy_rows(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    async with engine.connect() as conn:  # Core reads: no ORM, nothing for the guard to vet
        return {
            table.name: [dict(row._mapping) for row in await conn.execute(table.select())]
            for table in m.Base.metadata.sorted_tables
        }


async def _restore_rows(engine: AsyncEngine, rows: dict[str, list[dict[str, Any]]]) -> None:
    async with engine.begin() as conn:
        for table in m.Base.metadata.sorted_tables:
            if rows[table.name]:
                await conn.execute(table.insert(), rows[table.name])
        if engine.dialect.name == "postgresql":  # the ids were given: move the sequences on
            for table in m.Base.metadata.sorted_tables:
                if (
                    "id" in table.c
                    and rows[table.name]
                    and isinstance(rows[table.name][0]["id"], int)
                ):
                    name = table.name
                    sequence = f"pg_get_serial_sequence('\"{name}\"', 'id')"
                    moved = f'SELECT setval({sequence}, (SELECT max(id) FROM "{name}"))'  # noqa: S608
                    await conn.execute(text(moved))
