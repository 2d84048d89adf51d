"""Helpers of the API tests: global ids, payload errors, direct reads, row counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.ids import to_global_id
from demo import DemoWorld

# Demo factories by the part they play in the tests (see demo/factories.py and grants.py).
SINAR = "PT Sinar Garmen Jaya"  # ID; SLCP; grants: Northwind (both), Open Audit Hub; Lumen revoked
MITRA = "PT Mitra Busana Abadi"  # ID; outside SLCP; its one grant (Harbour) has expired
CAHAYA = (
    "PT Cahaya Tekstil Nusantara"  # ID; SLCP; cycle 1 self-assessed late; a zero-tolerance case
)
DHAKA = "Dhaka Knitwear Ltd."  # BD; SLCP; Northwind has ASSESSMENT scope only
CHATTOGRAM = "Chattogram Apparels Ltd."  # BD; registered after its assessment
GAZIPUR = "Gazipur Denim Mills Ltd."  # BD; cycle 2 is a draft
SAIGON = "Saigon Stitch Co., Ltd."  # VN; Harbour has SELF_ASSESSMENT scope only
HANOI = "Hanoi Fashion Garment JSC"  # VN; cycle 2 released, with a release date ahead
DONG_NAI = "Dong Nai Apparel Co., Ltd."  # VN; a draft assessment, a step 1 being filled in
PHNOM_PENH = "Phnom Penh Garment Co., Ltd."  # KH; ready, but Cambodia has not rolled out
KAMPONG = "Kampong Speu Textiles Ltd."  # KH; Northwind has ASSESSMENT scope only
HAWASSA = "Hawassa Apparel PLC"  # ET; no grants

NORTHWIND = "northwind-apparel"
HARBOUR = "harbour-outfitters"
LUMEN = "lumen-basics"
OPEN_AUDIT_HUB = "open-audit-hub"
FAIRTRACE = "fairtrace-platform"
BW_INDONESIA = "bw-id"
BW_BANGLADESH = "bw-bd"
PLATFORM = "millgate"

COUNTED_TABLES = (
    "organization",
    "app_user",
    "api_key",
    "factory",
    "service_cycle",
    "assessment",
    "finding",
    "self_assessment",
    "consent_grant",
    "country",
    "audit_entry",
)


def gid(kind: str, pk: int) -> str:
    return str(to_global_id(kind, pk))


def factory_gid(world: DemoWorld, name: str) -> str:
    return gid("Factory", world.factory_ids[name])


def org_gid(world: DemoWorld, slug: str) -> str:
    return gid("Organization", world.organization_ids[slug])


def codes(payload: dict[str, Any]) -> list[str]:
    """The codes of a mutation payload's typed errors."""
    return [error["code"] for error in payload["errors"]]


def error_codes(body: dict[str, Any]) -> list[str | None]:
    """The `extensions.code` of each GraphQL error of a response body."""
    return [(e.get("extensions") or {}).get("code") for e in body.get("errors", [])]


async def scalar(session: AsyncSession, sql: str, **params: Any) -> Any:
    """A direct read as plain SQL: not an ORM read, so the unscoped-read guard lets it by."""
    return (await session.execute(text(sql), params)).scalar()


async def row_counts(session: AsyncSession) -> dict[str, int]:
    """Rows per table, to show that a refused mutation wrote nothing."""
    await session.rollback()  # read what is committed now, not an older snapshot
    return {
        t: int(await scalar(session, f'SELECT count(*) FROM "{t}"'))  # noqa: S608 - our names
        for t in COUNTED_TABLES
    }


async def gql_named(
    api: Any, document: str, operation: str, variables: dict[str, Any] | None = None, *, token: str
) -> dict[str, Any]:
    """Like `api.gql`, sending `operationName` too (the access log records it)."""
    response = await api.client.post(
        "/graphql",
        json={"query": document, "variables": variables, "operationName": operation},
        headers={"authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def refused(
    api: Any, session: AsyncSession, document: str, variables: dict[str, Any], auth: dict[str, str]
) -> dict[str, Any]:
    """Runs a mutation that must fail: returns its one payload, after checking that it has
    no result, at least one typed error, and that no table gained or lost a row."""
    before = await row_counts(session)
    data = await api.gql(document, variables, **auth)
    (payload,) = data.values()
    assert payload["errors"], payload
    assert all(value is None for key, value in payload.items() if key != "errors"), payload
    assert await row_counts(session) == before
    return payload  # type: ignore[no-any-return]
