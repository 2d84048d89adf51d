"""PostgreSQL helpers the benchmarks share: one URL in either driver's form, admin SQL."""

from __future__ import annotations

import asyncpg


def asyncpg_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def sqlalchemy_url(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


async def admin(url: str, sql: str) -> None:
    """One statement outside a transaction (CREATE or DROP DATABASE)."""
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
