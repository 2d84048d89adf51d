"""A small, realistic world to try Millgate with, drawn from the Better Work / SLCP FAQ.

``seed_demo`` adds the organisations, users, a dozen factories with their cycles,
self-assessments, assessments and findings, and consent grants in every state, over the
countries and catalogue that the migrations load (``seed_reference`` loads the same into a
database built with ``create_all``). Neither commits. Example:

    if await is_empty(session):
        world = await seed_demo(session, runtime.keys)
        await session.commit()
"""

from __future__ import annotations

from sqlalchemy import select  # noqa: TID251  the one read is marked as a system read
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from authz.guard import system_read
from core.crypto import ANSWERS_PURPOSE, DETAIL_PURPOSE
from demo.observations import known_plaintexts
from demo.people import KEYED_HOST, LABOUR_INSPECTORATE, email_of
from demo.reference import OVERLAY_VERSION, seed_reference
from demo.world import DemoWorld, seed_demo

__all__ = [
    "ANSWERS_PURPOSE",
    "DETAIL_PURPOSE",
    "KEYED_HOST",
    "LABOUR_INSPECTORATE",
    "OVERLAY_VERSION",
    "DemoWorld",
    "email_of",
    "is_empty",
    "known_plaintexts",
    "seed_demo",
    "seed_reference",
]


async def is_empty(session: AsyncSession) -> bool:
    """True when no organisation exists yet: the demo only seeds into an empty database."""
    stmt = system_read(select(m.Organization.id).limit(1), "demo seed: is the database empty")
    return (await session.scalar(stmt)) is None
