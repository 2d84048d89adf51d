"""The reference data under a demo or test world built without the migrations.

A migrated database already holds it (revision 0003 loads it with the schema); a database
made with ``metadata.create_all`` gets the same rows from the same loader.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.crypto import FieldCipher
from reference import DEFAULT_OVERLAY_VERSION, catalogue
from reference.loader import load_reference

OVERLAY_VERSION = DEFAULT_OVERLAY_VERSION


def _load(session: Session) -> None:
    load_reference(session.connection(), catalogue())


async def seed_reference(session: AsyncSession, fields: FieldCipher | None = None) -> None:
    """Adds the countries and the shipped catalogue where missing (idempotent), and flushes.

    Countries whose overlay is not signed off yet (Cambodia, Ethiopia) have no roll-out date
    and no overlay version; their catalogue is loaded all the same, for Better Work's own
    assessments there. ``fields`` is accepted so that every seed function takes the same
    arguments, and is not used: reference data holds no secret.
    """
    del fields
    await session.flush()
    await session.run_sync(_load)
