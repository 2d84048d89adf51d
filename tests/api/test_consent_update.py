"""updateConsent: new scopes or expiry for an active grant, without a gap (rule 1)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from demo import DemoWorld
from tests.api.support import (
    DHAKA,
    LUMEN,
    NORTHWIND,
    OPEN_AUDIT_HUB,
    SINAR,
    codes,
    factory_gid,
    gid,
    refused,
    row_counts,
    scalar,
)

UPDATE = """
mutation Update($input: UpdateConsentInput!) {
  updateConsent(input: $input) {
    grant { id active scopes expiresAt replacesId grantee { name } factory { name } }
    errors { code message field }
  }
}
"""

NODE_GRANT = "query($id: ID!) { node(id: $id) { ... on ConsentGrant { active revokedAt } } }"
BRAND_SELF_ASSESSMENTS = (
    "query($id: ID!) { factory(id: $id) { name selfAssessments { cycle step } } }"
)
AUDIT = """
query($id: ID!) { factory(id: $id) { auditLog(first: 1) { edges { node { action details } } } } }
"""

IN_A_YEAR = (dt.datetime.now(dt.UTC) + dt.timedelta(days=365)).replace(microsecond=0)


async def active_grant(session: AsyncSession, world: DemoWorld, factory: str, grantee: str) -> int:
    return int(
        await scalar(
            session,
            "SELECT max(id) FROM consent_grant WHERE factory_id = :f AND grantee_id = :g"
            " AND revoked_at IS NULL",
            f=world.factory_ids[factory],
            g=world.organization_ids[grantee],
        )
    )


async def test_narrowing_a_grant_ends_it_and_starts_its_successor_at_once(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any, brand: Any
) -> None:
    # given Northwind, granted both scopes by Sinar Garmen, reading its self-assessments
    old = await active_grant(session, world, SINAR, NORTHWIND)
    sinar = {"id": factory_gid(world, SINAR)}
    assert (await api.gql(BRAND_SELF_ASSESSMENTS, sinar, **brand.auth))["factory"][
        "selfAssessments"
    ]
    before = await row_counts(session)

    # when the manager narrows the grant to ASSESSMENT, with an expiry
    data = await api.gql(
        UPDATE,
        {
            "input": {
                "grantId": gid("ConsentGrant", old),
                "scopes": ["ASSESSMENT"],
                "expiresAt": IN_A_YEAR.isoformat(),
            }
        },
        **manager.auth,
    )

    # then a successor grant names its predecessor, which has ended; one audit entry
    payload = data["updateConsent"]
    assert payload["errors"] == []
    grant = payload["grant"]
    assert (grant["active"], grant["scopes"], grant["replacesId"]) == (
        True,
        ["ASSESSMENT"],
        gid("ConsentGrant", old),
    )
    assert dt.datetime.fromisoformat(grant["expiresAt"]) == IN_A_YEAR
    assert grant["grantee"] == {"name": "Northwind Apparel"}
    after = await row_counts(session)
    assert after["consent_grant"] == before["consent_grant"] + 1
    assert after["audit_entry"] == before["audit_entry"] + 1
    predecessor = (await api.gql(NODE_GRANT, {"id": gid("ConsentGrant", old)}, **manager.auth))[
        "node"
    ]
    assert predecessor["active"] is False and predecessor["revokedAt"] is not None
    ended = await scalar(session, "SELECT revoked_at FROM consent_grant WHERE id = :id", id=old)
    began = await scalar(
        session, "SELECT granted_at FROM consent_grant WHERE replaces_id = :id", id=old
    )
    assert ended == began  # no instant without a grant
    # and the brand keeps the factory but loses the self-assessments at once
    seen = (await api.gql(BRAND_SELF_ASSESSMENTS, sinar, **brand.auth))["factory"]
    assert seen == {"name": SINAR, "selfAssessments": []}
    audit = (await api.gql(AUDIT, sinar, **manager.auth))["factory"]["auditLog"]["edges"]
    assert audit[0]["node"]["action"] == "consent.update"
    assert audit[0]["node"]["details"]["replaces"] == old
    assert audit[0]["node"]["details"]["scopes"] == ["ASSESSMENT"]


async def test_widening_a_grant_shows_the_new_scope_at_once(
    api: Any, world: DemoWorld, session: AsyncSession, login: Any
) -> None:
    # given Northwind, granted ASSESSMENT only by Dhaka Knitwear
    manager = await login("manager@dhaka-knitwear.demo")
    brand = await login(f"viewer@{NORTHWIND}.demo")
    old = await active_grant(session, world, DHAKA, NORTHWIND)

    # when Dhaka's manager adds SELF_ASSESSMENT, keeping the expiry
    data = await api.gql(
        UPDATE,
        {
            "input": {
                "grantId": gid("ConsentGrant", old),
                "scopes": ["ASSESSMENT", "SELF_ASSESSMENT"],
            }
        },
        **manager.auth,
    )

    # then the brand reads Dhaka's self-assessments in the next request
    assert data["updateConsent"]["errors"] == []
    seen = await api.gql(BRAND_SELF_ASSESSMENTS, {"id": factory_gid(world, DHAKA)}, **brand.auth)
    assert seen["factory"]["selfAssessments"] != []


async def test_a_host_keeps_its_exports_through_an_expiry_change(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any, host_key: dict[str, str]
) -> None:
    from exports.job import run_once

    await run_once(api.runtime.sessionmaker, api.runtime.keys)
    exports = "{ gatewayExports(first: 50) { edges { node { factoryGatewayId } } } }"
    before = (await api.gql(exports, **host_key))["gatewayExports"]["edges"]
    assert {"node": {"factoryGatewayId": "SLCP-ID-000101"}} in before
    old = await active_grant(session, world, SINAR, OPEN_AUDIT_HUB)

    data = await api.gql(
        UPDATE,
        {"input": {"grantId": gid("ConsentGrant", old), "expiresAt": IN_A_YEAR.isoformat()}},
        **manager.auth,
    )

    assert data["updateConsent"]["errors"] == []
    assert (await api.gql(exports, **host_key))["gatewayExports"]["edges"] == before


async def test_an_updated_grant_can_be_updated_again_and_then_revoked(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any
) -> None:
    first = gid("ConsentGrant", await active_grant(session, world, SINAR, NORTHWIND))
    second = (
        await api.gql(
            UPDATE, {"input": {"grantId": first, "scopes": ["ASSESSMENT"]}}, **manager.auth
        )
    )["updateConsent"]["grant"]
    third = (
        await api.gql(
            UPDATE,
            {"input": {"grantId": second["id"], "scopes": ["SELF_ASSESSMENT"]}},
            **manager.auth,
        )
    )["updateConsent"]["grant"]

    assert third["replacesId"] == second["id"] and second["replacesId"] == first
    # the ended grant cannot be changed again: the chain has one head
    again = await refused(
        api,
        session,
        UPDATE,
        {"input": {"grantId": second["id"], "scopes": ["ASSESSMENT"]}},
        manager.auth,
    )
    assert [(e["code"], e["field"]) for e in again["errors"]] == [("NOT_ACTIVE", "grantId")]


async def test_expiry_can_be_removed_with_null(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any
) -> None:
    old = gid("ConsentGrant", await active_grant(session, world, SINAR, NORTHWIND))
    dated = (
        await api.gql(
            UPDATE, {"input": {"grantId": old, "expiresAt": IN_A_YEAR.isoformat()}}, **manager.auth
        )
    )["updateConsent"]["grant"]

    data = await api.gql(
        UPDATE, {"input": {"grantId": dated["id"], "expiresAt": None}}, **manager.auth
    )

    grant = data["updateConsent"]["grant"]
    assert grant["expiresAt"] is None and grant["scopes"] == ["ASSESSMENT", "SELF_ASSESSMENT"]


IN_THE_PAST = "2020-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"scopes": ["ASSESSMENT", "SELF_ASSESSMENT"]}, ("NO_CHANGE", None)),
        ({}, ("NO_CHANGE", None)),
        ({"expiresAt": None}, ("NO_CHANGE", None)),
        ({"scopes": []}, ("INVALID", "scopes")),
        ({"expiresAt": IN_THE_PAST}, ("INVALID", "expiresAt")),
        ({"expiresAt": "2020-01-01T00:00:00"}, ("INVALID", "expiresAt")),
        ({"expiresAt": "2990-01-01T00:00:00+00:00"}, ("INVALID", "expiresAt")),
    ],
    ids=["same-scopes", "nothing", "same-expiry", "no-scope", "past", "naive", "too-far"],
)
async def test_a_bad_change_is_refused_with_a_code_and_writes_nothing(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    manager: Any,
    change: dict[str, Any],
    expected: tuple[str, str | None],
) -> None:
    old = gid("ConsentGrant", await active_grant(session, world, SINAR, NORTHWIND))

    payload = await refused(
        api, session, UPDATE, {"input": {"grantId": old, **change}}, manager.auth
    )

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [expected]


async def test_an_ended_grant_is_not_active(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any
) -> None:
    # Lumen's grant from Sinar Garmen was revoked
    revoked = await scalar(
        session,
        "SELECT id FROM consent_grant WHERE factory_id = :f AND grantee_id = :g",
        f=world.factory_ids[SINAR],
        g=world.organization_ids[LUMEN],
    )

    payload = await refused(
        api,
        session,
        UPDATE,
        {"input": {"grantId": gid("ConsentGrant", revoked), "scopes": ["ASSESSMENT"]}},
        manager.auth,
    )

    assert codes(payload) == ["NOT_ACTIVE"]


@pytest.mark.parametrize("caller", ["worker_rep", "admin", "assessor"])
async def test_only_the_factory_manager_updates_a_grant(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    auth_of: dict[str, dict[str, str]],
    caller: str,
) -> None:
    # these callers see Sinar's grants (its worker, the platform, its country's programme)
    old = gid("ConsentGrant", await active_grant(session, world, SINAR, NORTHWIND))

    payload = await refused(
        api, session, UPDATE, {"input": {"grantId": old, "scopes": ["ASSESSMENT"]}}, auth_of[caller]
    )

    assert codes(payload) == ["FORBIDDEN"]


@pytest.mark.parametrize(
    ("caller", "code"),
    [
        ("brand", "FORBIDDEN"),  # the grantee sees its own grant, yet it is not its to change
        ("other_brand", "NOT_FOUND"),
        ("host_key", "NOT_FOUND"),
        ("anonymous", "NOT_FOUND"),
    ],
)
async def test_nobody_but_the_factory_changes_a_grant(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    auth_of: dict[str, dict[str, str]],
    caller: str,
    code: str,
) -> None:
    old = gid("ConsentGrant", await active_grant(session, world, SINAR, NORTHWIND))

    payload = await refused(
        api, session, UPDATE, {"input": {"grantId": old, "scopes": ["ASSESSMENT"]}}, auth_of[caller]
    )

    assert codes(payload) == [code]


async def test_a_grant_of_another_factory_is_not_found_for_a_manager(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any
) -> None:
    dhaka = await active_grant(session, world, DHAKA, NORTHWIND)

    for grant_id in (gid("ConsentGrant", dhaka), gid("ConsentGrant", 999_999), "garbage"):
        payload = await refused(
            api,
            session,
            UPDATE,
            {"input": {"grantId": grant_id, "scopes": ["ASSESSMENT"]}},
            manager.auth,
        )
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "grantId")]
