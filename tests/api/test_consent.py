"""grantConsent and revokeConsent: the factory decides, nobody else (rule 1)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from demo import DemoWorld
from tests.api.support import (
    BW_INDONESIA,
    FAIRTRACE,
    HARBOUR,
    LUMEN,
    MITRA,
    NORTHWIND,
    SINAR,
    codes,
    factory_gid,
    gid,
    org_gid,
    refused,
    row_counts,
    scalar,
)

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

GRANT = """
mutation Grant($input: GrantConsentInput!) {
  grantConsent(input: $input) {
    grant { id active scopes expiresAt revokedAt grantee { name kind } factory { name } }
    errors { code message field }
  }
}
"""

REVOKE = """
mutation Revoke($input: RevokeConsentInput!) {
  revokeConsent(input: $input) {
    grant { id active revokedAt grantee { name } }
    errors { code message field }
  }
}
"""

FACTORY_NAME = "query($id: ID!) { factory(id: $id) { name } }"
GRANTEES = "query($id: ID!) { factory(id: $id) { consentGrants { active grantee { name } } } }"

IN_A_YEAR = (dt.datetime.now(dt.UTC) + dt.timedelta(days=365)).replace(microsecond=0)


def grant_input(
    world: DemoWorld,
    grantee: str,
    *,
    factory: str = SINAR,
    scopes: tuple[str, ...] = ("ASSESSMENT",),
    **extra: Any,
) -> dict[str, Any]:
    return {
        "input": {
            "factoryId": factory_gid(world, factory),
            "granteeId": org_gid(world, grantee),
            "scopes": list(scopes),
            **extra,
        }
    }


async def grant_id(session: AsyncSession, world: DemoWorld, factory: str, grantee: str) -> str:
    pk = await scalar(
        session,
        "SELECT max(id) FROM consent_grant WHERE factory_id = :f AND grantee_id = :g",
        f=world.factory_ids[factory],
        g=world.organization_ids[grantee],
    )
    return gid("ConsentGrant", pk)


# -- grantConsent ----------------------------------------------------------------------------


@pytest.mark.writes
async def test_a_factory_grants_a_brand_which_then_sees_it(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any, login: Any
) -> None:
    # given Lumen Basics, whose earlier grant from Sinar Garmen was revoked
    lumen = await login(f"viewer@{LUMEN}.demo")
    sinar = {"id": factory_gid(world, SINAR)}
    assert (await api.gql(FACTORY_NAME, sinar, **lumen.auth))["factory"] is None
    before = await row_counts(session)

    # when Sinar Garmen's manager grants it the ASSESSMENT scope for a year
    data = await api.gql(
        GRANT, grant_input(world, LUMEN, expiresAt=IN_A_YEAR.isoformat()), **manager.auth
    )

    # then the grant is active, one row and one audit entry are written, and Lumen sees Sinar
    payload = data["grantConsent"]
    assert payload["errors"] == []
    assert payload["grant"]["active"] is True
    assert payload["grant"]["scopes"] == ["ASSESSMENT"]
    assert dt.datetime.fromisoformat(payload["grant"]["expiresAt"]) == IN_A_YEAR
    assert payload["grant"]["grantee"] == {"name": "Lumen Basics", "kind": "BRAND"}
    assert payload["grant"]["factory"] == {"name": SINAR}
    after = await row_counts(session)
    assert after["consent_grant"] == before["consent_grant"] + 1
    assert after["audit_entry"] == before["audit_entry"] + 1
    assert (await api.gql(FACTORY_NAME, sinar, **lumen.auth))["factory"] == {"name": SINAR}


@pytest.mark.writes
async def test_a_factory_grants_a_host(api: Any, world: DemoWorld, manager: Any) -> None:
    data = await api.gql(
        GRANT,
        grant_input(world, FAIRTRACE, scopes=("ASSESSMENT", "SELF_ASSESSMENT")),
        **manager.auth,
    )

    grant = data["grantConsent"]["grant"]
    assert grant["grantee"]["kind"] == "HOST"
    assert grant["scopes"] == ["ASSESSMENT", "SELF_ASSESSMENT"]
    assert grant["expiresAt"] is None


@pytest.mark.writes
async def test_an_expired_grant_can_be_given_again(api: Any, world: DemoWorld, login: Any) -> None:
    # given Mitra Busana, whose grant to Harbour & Field expired in March 2025
    mitra = await login("manager@mitra-busana.demo")

    data = await api.gql(GRANT, grant_input(world, HARBOUR, factory=MITRA), **mitra.auth)

    assert data["grantConsent"]["errors"] == []
    assert data["grantConsent"]["grant"]["active"] is True


@pytest.mark.parametrize(
    ("make_input", "code", "field"),
    [
        pytest.param(
            lambda w: grant_input(w, NORTHWIND),
            "ALREADY_EXISTS",
            "granteeId",
            id="active-pair-exists",
        ),
        pytest.param(
            lambda w: grant_input(w, BW_INDONESIA),
            "NOT_FOUND",
            "granteeId",
            id="grantee-is-a-programme",
        ),
        pytest.param(
            lambda w: {
                "input": {**grant_input(w, NORTHWIND)["input"], "granteeId": factory_gid(w, MITRA)}
            },
            "NOT_FOUND",
            "granteeId",
            id="grantee-is-not-an-organization-id",
        ),
        pytest.param(
            lambda w: {
                "input": {
                    **grant_input(w, NORTHWIND)["input"],
                    "granteeId": org_gid(w, "mitra-busana"),
                }
            },
            "NOT_FOUND",
            "granteeId",
            id="grantee-is-a-factory",
        ),
        pytest.param(
            lambda w: grant_input(w, LUMEN, scopes=()), "INVALID", "scopes", id="no-scope"
        ),
        pytest.param(
            lambda w: grant_input(w, LUMEN, expiresAt="2024-01-01T00:00:00+00:00"),
            "INVALID",
            "expiresAt",
            id="expiry-in-the-past",
        ),
        pytest.param(
            lambda w: grant_input(w, LUMEN, expiresAt="2099-01-01T00:00:00"),
            "INVALID",
            "expiresAt",
            id="expiry-without-time-zone",
        ),
        pytest.param(
            lambda w: grant_input(w, LUMEN, expiresAt="9999-12-31T23:59:59-12:00"),
            "INVALID",
            "expiresAt",
            id="expiry-past-the-calendar-in-UTC",
        ),
        pytest.param(
            lambda w: grant_input(w, LUMEN, factory=MITRA),
            "NOT_FOUND",
            "factoryId",
            id="another-factory",
        ),
    ],
)
async def test_grant_consent_refuses_bad_input_and_changes_nothing(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    manager: Any,
    make_input: Any,
    code: str,
    field: str,
) -> None:
    payload = await refused(api, session, GRANT, make_input(world), manager.auth)

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]


async def test_re_granting_an_active_pair_is_not_duplicated(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any
) -> None:
    for _ in range(2):
        await api.gql(GRANT, grant_input(world, NORTHWIND), **manager.auth)

    active = await scalar(
        session,
        "SELECT count(*) FROM consent_grant WHERE factory_id = :f AND grantee_id = :g "
        "AND revoked_at IS NULL",
        f=world.factory_ids[SINAR],
        g=world.organization_ids[NORTHWIND],
    )
    assert active == 1


@pytest.mark.parametrize(
    ("caller", "code"),
    [
        pytest.param("worker_rep", "FORBIDDEN", id="worker-representative-reads-only"),
        pytest.param("brand", "FORBIDDEN", id="grantee-brand"),
        pytest.param("assessor", "FORBIDDEN", id="programme"),
        pytest.param("admin", "FORBIDDEN", id="platform-never-acts-for-a-factory"),
        pytest.param("host_key", "FORBIDDEN", id="host"),
        pytest.param("constituent", "NOT_FOUND", id="constituent-cannot-see-it"),
        pytest.param("anonymous", "NOT_FOUND", id="public"),
    ],
)
async def test_only_the_factory_manager_grants(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    auth_of: dict[str, dict[str, str]],
    caller: str,
    code: str,
) -> None:
    payload = await refused(api, session, GRANT, grant_input(world, LUMEN), auth_of[caller])

    assert codes(payload) == [code]


# -- revokeConsent ---------------------------------------------------------------------------


@pytest.mark.writes
async def test_revoking_ends_the_brands_view_at_once(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any, brand: Any
) -> None:
    # given Northwind reads Sinar Garmen under its grant
    sinar = {"id": factory_gid(world, SINAR)}
    assert (await api.gql(FACTORY_NAME, sinar, **brand.auth))["factory"] == {"name": SINAR}
    target = await grant_id(session, world, SINAR, NORTHWIND)

    # when the factory revokes it
    data = await api.gql(REVOKE, {"input": {"grantId": target}}, **manager.auth)

    # then the grant is inactive, kept as history, and the brand sees nothing from now on
    grant = data["revokeConsent"]["grant"]
    assert data["revokeConsent"]["errors"] == []
    assert (grant["id"], grant["active"], grant["grantee"]["name"]) == (
        target,
        False,
        "Northwind Apparel",
    )
    assert grant["revokedAt"] is not None
    assert (await api.gql(FACTORY_NAME, sinar, **brand.auth))["factory"] is None
    kept = await scalar(
        session,
        "SELECT count(*) FROM consent_grant WHERE factory_id = :f AND grantee_id = :g",
        f=world.factory_ids[SINAR],
        g=world.organization_ids[NORTHWIND],
    )
    assert kept == 1


@pytest.mark.writes
async def test_a_revoked_pair_can_be_granted_again_and_history_stays(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any, brand: Any
) -> None:
    # given Sinar Garmen revoked Northwind's grant
    await api.gql(
        REVOKE,
        {"input": {"grantId": await grant_id(session, world, SINAR, NORTHWIND)}},
        **manager.auth,
    )

    # when it grants Northwind again
    data = await api.gql(GRANT, grant_input(world, NORTHWIND), **manager.auth)

    # then a new grant is active beside the revoked one, and the brand sees the factory again
    assert data["grantConsent"]["errors"] == []
    grants = (
        await api.gql(
            GRANTEES,
            {"id": factory_gid(world, SINAR)},
            **manager.auth,
        )
    )["factory"]["consentGrants"]
    northwind = [g["active"] for g in grants if g["grantee"]["name"] == "Northwind Apparel"]
    assert sorted(northwind) == [False, True]
    assert (await api.gql(FACTORY_NAME, {"id": factory_gid(world, SINAR)}, **brand.auth))[
        "factory"
    ] == {"name": SINAR}


@pytest.mark.writes
async def test_a_second_revoke_is_not_active(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any
) -> None:
    target = {"input": {"grantId": await grant_id(session, world, SINAR, NORTHWIND)}}
    await api.gql(REVOKE, target, **manager.auth)

    payload = await refused(api, session, REVOKE, target, manager.auth)

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_ACTIVE", "grantId")]


async def test_revoking_a_grant_revoked_long_ago_is_not_active(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any
) -> None:
    target = {"input": {"grantId": await grant_id(session, world, SINAR, LUMEN)}}

    payload = await refused(api, session, REVOKE, target, manager.auth)

    assert codes(payload) == ["NOT_ACTIVE"]


@pytest.mark.parametrize(
    ("caller", "code"),
    [
        pytest.param("brand", "FORBIDDEN", id="the-grantee-itself"),
        pytest.param("worker_rep", "FORBIDDEN", id="worker-representative"),
        pytest.param("assessor", "FORBIDDEN", id="programme"),
        pytest.param("admin", "FORBIDDEN", id="platform"),
        pytest.param("other_brand", "NOT_FOUND", id="another-brand"),
        pytest.param("anonymous", "NOT_FOUND", id="public"),
    ],
)
async def test_only_the_factory_manager_revokes(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    auth_of: dict[str, dict[str, str]],
    caller: str,
    code: str,
) -> None:
    target = {"input": {"grantId": await grant_id(session, world, SINAR, NORTHWIND)}}

    payload = await refused(api, session, REVOKE, target, auth_of[caller])

    assert codes(payload) == [code]


@pytest.mark.parametrize(
    "grant_id_of",
    [
        pytest.param(lambda w: gid("ConsentGrant", 999_999), id="no-such-grant"),
        pytest.param(lambda w: factory_gid(w, SINAR), id="id-of-another-type"),
        pytest.param(lambda w: "garbage", id="garbage"),
    ],
)
async def test_revoke_of_no_grant_is_not_found(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any, grant_id_of: Any
) -> None:
    payload = await refused(
        api, session, REVOKE, {"input": {"grantId": grant_id_of(world)}}, manager.auth
    )

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "grantId")]


async def test_another_factorys_grant_is_not_found(
    api: Any, world: DemoWorld, session: AsyncSession, login: Any
) -> None:
    mitra = await login("manager@mitra-busana.demo")
    target = {"input": {"grantId": await grant_id(session, world, SINAR, NORTHWIND)}}

    payload = await refused(api, session, REVOKE, target, mitra.auth)

    assert codes(payload) == ["NOT_FOUND"]
