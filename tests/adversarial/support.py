"""Helpers of the adversarial, audit and fuzz tests: demo names, direct reads, database dumps.

The demo world and its callers (`seed_world`, `People`, `sign_in`) are in tests/world.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from api.ids import to_global_id

# Tables whose rows a refused request must leave exactly as they were. The access log is
# left out: reading is allowed to leave a trace there.
GUARDED_TABLES = tuple(
    t.name for t in m.Base.metadata.sorted_tables if t.name not in {"access_event"}
)


SINAR = "PT Sinar Garmen Jaya"
MITRA = "PT Mitra Busana Abadi"
DHAKA = "Dhaka Knitwear Ltd."
GAZIPUR = "Gazipur Denim Mills Ltd."
HANOI = "Hanoi Fashion Garment JSC"
KAMPONG = "Kampong Speu Textiles Ltd."


def gid(kind: str, pk: int) -> str:
    return str(to_global_id(kind, pk))


async def scalar(session: AsyncSession, sql: str, **params: Any) -> Any:
    """A direct read (plain SQL is not an ORM read: the guard lets it by)."""
    value = (await session.execute(text(sql), params)).scalar()
    await session.rollback()
    return value


async def dump(session: AsyncSession, tables: tuple[str, ...] = GUARDED_TABLES) -> dict[str, Any]:
    """Every row of ``tables``, in a fresh snapshot: compare two dumps to prove nothing moved."""
    await session.rollback()
    out: dict[str, Any] = {}
    for table in tables:
        result = await session.execute(text(f'SELECT * FROM "{table}" ORDER BY 1'))  # noqa: S608
        out[table] = [tuple(row) for row in result.all()]
    await session.rollback()
    return out


async def audit_rows(session: AsyncSession) -> list[Any]:
    await session.rollback()
    rows = (
        await session.execute(
            text(
                "SELECT id, seq, action, target, factory_id, organization_id, user_id, api_key_id"
                " FROM audit_entry ORDER BY seq"
            )
        )
    ).all()
    await session.rollback()
    return list(rows)
