"""Helpers of the adversarial, audit and fuzz tests: the demo world, callers, database dumps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from api.ids import to_global_id
from core.crypto import KeyMaterial
from demo import DemoWorld, seed_demo, seed_reference

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


@dataclass(frozen=True)
class Caller:
    email: str
    user_id: int
    organization_id: int
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"token": self.token}


@dataclass(frozen=True)
class People:
    manager: Caller  # Sinar's manager
    worker_rep: Caller  # Sinar's worker representative
    mitra_manager: Caller
    brand: Caller  # Northwind
    lumen: Caller  # Lumen Basics
    assessor: Caller  # Better Work Indonesia
    bd_assessor: Caller  # Better Work Bangladesh
    constituent: Caller
    inspectorate: Caller
    admin: Caller
    host_key: str  # Open Audit Hub's API key

    def by_name(self, name: str) -> dict[str, str]:
        """Credentials for `api.post(..., **people.by_name("brand"))`."""
        if name == "host":
            return {"api_key": self.host_key}
        if name == "anonymous":
            return {}
        caller: Caller = getattr(self, name)
        return caller.auth


@dataclass(frozen=True)
class Rows:
    """Primary keys of rows in the demo world, read straight from the database."""

    grants: dict[tuple[str, str], int]  # (factory slug, grantee slug) -> grant id
    assessments: dict[tuple[str, int], int]  # (factory name, cycle) -> assessment id
    drafts: set[int]
    finding_of: dict[int, int]  # assessment id -> one of its findings
    self_assessments: dict[str, int]  # factory name -> one self-assessment
    users: dict[str, int]  # email -> id
    api_key: int


async def seed_world(session: AsyncSession, keys: KeyMaterial, api: Any) -> DemoWorld:
    await seed_reference(session)
    world = await seed_demo(session, keys)
    await session.commit()
    return world


async def sign_in(api: Any, session: AsyncSession, email: str) -> Caller:
    row = (
        await session.execute(
            text("SELECT id, organization_id FROM app_user WHERE email = :email"),
            {"email": email},
        )
    ).one()
    await session.rollback()
    return Caller(email, row.id, row.organization_id, api.runtime.token_service.issue(row.id, 600))


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
