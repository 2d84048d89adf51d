"""Idempotent mutations: a retry with the same Idempotency-Key is answered, not run again."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import audit
import models as m
from api.app import create_app
from api.ids import to_global_id
from authz.enforcer import allows
from authz.facts import NO_GRANTS, factory_relation, grant_scopes
from authz.principal import Principal
from authz.scope import Scope
from tests.builders import make_org, make_user

GRANT = """
mutation Grant($input: GrantConsentInput!) {
  grantConsent(input: $input) { grant { id scopes grantee { name } } errors { code field } }
}
"""
GRANT_AND_REVOKE = """
mutation Both($grant: GrantConsentInput!, $revoke: RevokeConsentInput!) {
  a: grantConsent(input: $grant) { grant { id } errors { code } }
  b: revokeConsent(input: $revoke) { grant { id } errors { code } }
}
"""
REVOKE = """
mutation Revoke($input: RevokeConsentInput!) {
  revokeConsent(input: $input) { grant { id } errors { code field } }
}
"""
VIEWER = "{ viewer { role } }"
COUNTED = ("consent_grant", "audit_entry", "idempotency_record")


@dataclass
class World:
    factory: m.Factory
    brand: m.Organization
    other_brand: m.Organization
    manager_token: str
    second_manager_token: str
    brand_token: str

    def grant_input(self, *scopes: str, brand: m.Organization | None = None) -> dict[str, Any]:
        return {
            "input": {
                "factoryId": to_global_id("Factory", self.factory.id),
                "granteeId": to_global_id("Organization", (brand or self.brand).id),
                "scopes": list(scopes or ("ASSESSMENT",)),
            }
        }


@pytest.fixture
async def world(api: Any, session: AsyncSession) -> World:
    session.add(m.Country(code="ID", name="Indonesia", betterwork_programme=True))
    owner = await make_org(session, m.OrganizationKind.FACTORY, name="Idempotent Garments")
    factory = m.Factory(organization_id=owner.id, name=owner.name, country_code="ID")
    session.add(factory)
    brand = await make_org(session, m.OrganizationKind.BRAND, name="Retry Brand")
    other_brand = await make_org(session, m.OrganizationKind.BRAND, name="Other Brand")
    manager = await make_user(session, owner, m.Role.FACTORY_MANAGER)
    second = await make_user(session, owner, m.Role.FACTORY_MANAGER)
    viewer = await make_user(session, brand, m.Role.BRAND_VIEWER)
    await session.commit()
    return World(
        factory, brand, other_brand, api.token(manager), api.token(second), api.token(viewer)
    )


async def counts(session: AsyncSession) -> dict[str, int]:
    await session.rollback()  # a fresh snapshot
    return {
        t: int((await session.execute(text(f'SELECT count(*) FROM "{t}"'))).scalar() or 0)  # noqa: S608
        for t in COUNTED
    }


async def send(
    api: Any, query: str, variables: dict[str, Any], token: str | None, key: str | None
) -> httpx.Response:
    headers = {} if key is None else {"idempotency-key": key}
    return await api.post(query, variables, token=token, headers=headers)


async def test_a_retry_returns_the_first_answer_without_a_second_effect(
    api: Any, world: World, session: AsyncSession
) -> None:
    before = await counts(session)

    first = await send(api, GRANT, world.grant_input(), world.manager_token, "key-1")
    retry = await send(api, GRANT, world.grant_input(), world.manager_token, "key-1")

    assert first.status_code == retry.status_code == 200
    assert first.json()["data"]["grantConsent"]["errors"] == []
    assert retry.json() == first.json()
    assert "idempotency-replayed" not in first.headers
    assert retry.headers["idempotency-replayed"] == "true"
    after = await counts(session)
    assert after["consent_grant"] == before["consent_grant"] + 1
    assert after["audit_entry"] == before["audit_entry"] + 1
    assert after["idempotency_record"] == before["idempotency_record"] + 1
    assert await audit.verify_database(session) == []


async def test_without_a_key_a_retry_is_a_second_request(
    api: Any, world: World, session: AsyncSession
) -> None:
    first = await send(api, GRANT, world.grant_input(), world.manager_token, None)
    second = await send(api, GRANT, world.grant_input(), world.manager_token, None)

    assert first.json()["data"]["grantConsent"]["errors"] == []
    assert second.json()["data"]["grantConsent"]["errors"] == [
        {"code": "ALREADY_EXISTS", "field": "granteeId"}
    ]
    assert (await counts(session))["idempotency_record"] == 0


async def test_the_same_key_with_another_request_is_refused(
    api: Any, world: World, session: AsyncSession
) -> None:
    await send(api, GRANT, world.grant_input("ASSESSMENT"), world.manager_token, "key-2")
    before = await counts(session)

    other = await send(
        api, GRANT, world.grant_input("SELF_ASSESSMENT"), world.manager_token, "key-2"
    )

    assert other.status_code == 409
    assert other.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await counts(session) == before


async def test_keys_belong_to_the_caller(api: Any, world: World, session: AsyncSession) -> None:
    """Another user's key of the same name answers nothing of the first user's request."""
    first = await send(api, GRANT, world.grant_input(), world.manager_token, "shared-name")

    colleague = await send(
        api, GRANT, world.grant_input(), world.second_manager_token, "shared-name"
    )
    brand = await send(api, GRANT, world.grant_input(), world.brand_token, "shared-name")

    assert first.json()["data"]["grantConsent"]["errors"] == []
    assert "idempotency-replayed" not in colleague.headers
    assert colleague.json()["data"]["grantConsent"]["errors"] == [
        {"code": "ALREADY_EXISTS", "field": "granteeId"}
    ]
    assert "idempotency-replayed" not in brand.headers
    # The brand now holds the grant, so it sees the factory, but may not manage its consent.
    assert brand.json()["data"]["grantConsent"] == {
        "grant": None,
        "errors": [{"code": "FORBIDDEN", "field": None}],
    }
    assert (await counts(session))["consent_grant"] == 1


async def test_a_refused_mutation_is_answered_the_same_way_again(
    api: Any, world: World, session: AsyncSession
) -> None:
    missing = {"input": {"grantId": str(to_global_id("ConsentGrant", 999_999))}}

    first = await send(api, REVOKE, missing, world.manager_token, "key-3")
    retry = await send(api, REVOKE, missing, world.manager_token, "key-3")

    assert first.json()["data"]["revokeConsent"]["errors"][0]["code"] == "NOT_FOUND"
    assert retry.json() == first.json()
    assert retry.headers["idempotency-replayed"] == "true"


async def test_concurrent_retries_have_one_effect_and_one_answer(
    api: Any, world: World, session: AsyncSession
) -> None:
    before = await counts(session)

    responses = await asyncio.gather(
        *(send(api, GRANT, world.grant_input(), world.manager_token, "key-4") for _ in range(6))
    )

    bodies = [r.json() for r in responses]
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["data"]["grantConsent"]["errors"] == []
    assert sum(1 for r in responses if "idempotency-replayed" not in r.headers) == 1
    after = await counts(session)
    assert after["consent_grant"] == before["consent_grant"] + 1
    assert after["audit_entry"] == before["audit_entry"] + 1


async def test_an_unexpected_failure_rolls_everything_back_and_a_retry_runs_afresh(
    api: Any, world: World, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two mutations in one request: the first commits its savepoint, the second fails by
    surprise; nothing of either stays, nothing is stored, and the retry does both once."""
    first = await send(api, GRANT, world.grant_input(), world.manager_token, None)
    grant_id = first.json()["data"]["grantConsent"]["grant"]["id"]
    variables = {**world.grant_input(brand=world.other_brand), "revoke": {"grantId": grant_id}}
    variables["grant"] = variables.pop("input")
    before = await counts(session)
    real_append = audit.append

    async def failing_append(
        s: AsyncSession, p: Principal | None, action: str, *a: Any, **k: Any
    ) -> Any:
        if action == "consent.revoke":
            raise RuntimeError("disk on fire")
        return await real_append(s, p, action, *a, **k)

    monkeypatch.setattr(audit, "append", failing_append)
    failed = await send(api, GRANT_AND_REVOKE, variables, world.manager_token, "key-5")
    monkeypatch.setattr(audit, "append", real_append)

    assert failed.status_code == 500
    assert failed.json()["errors"][0]["extensions"]["code"] == "INTERNAL"
    assert "disk on fire" not in failed.text
    assert await counts(session) == before

    retried = await send(api, GRANT_AND_REVOKE, variables, world.manager_token, "key-5")

    assert retried.status_code == 200
    assert "idempotency-replayed" not in retried.headers
    data = retried.json()["data"]
    assert data["a"]["errors"] == [] and data["b"]["errors"] == []
    after = await counts(session)
    assert after["consent_grant"] == before["consent_grant"] + 1
    assert after["audit_entry"] == before["audit_entry"] + 2


async def test_another_process_replays_the_stored_answer(
    api: Any, world: World, session: AsyncSession
) -> None:
    """The record is in the database: a second app on the same database answers the retry."""
    first = await send(api, GRANT, world.grant_input(), world.manager_token, "key-6")

    other_app = create_app(api.runtime)
    async with other_app.router.lifespan_context(other_app):
        transport = httpx.ASGITransport(app=other_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://other.test") as client:
            retry = await client.post(
                "/graphql",
                json={"query": GRANT, "variables": world.grant_input()},
                headers={
                    "authorization": f"Bearer {world.manager_token}",
                    "idempotency-key": "key-6",
                },
            )

    assert retry.headers["idempotency-replayed"] == "true"
    assert retry.json() == first.json()
    assert (await counts(session))["consent_grant"] == 1


async def brand_may_read(api: Any, world: World) -> bool:
    """The point decision a brand's read gets, on the facts committed by then."""
    brand = Principal(
        organization_id=world.brand.id,
        organization_kind=m.OrganizationKind.BRAND,
        role=m.Role.BRAND_VIEWER,
        user_id=1,
    )
    async with api.runtime.sessionmaker() as fresh:
        granted = await grant_scopes(fresh, Scope(brand), [world.factory.id])
    rel = factory_relation(brand, world.factory, granted.get(world.factory.id, NO_GRANTS))
    return allows(brand, "assessment", "read", rel)


async def test_a_grant_holds_for_decisions_once_the_outer_transaction_commits(
    api: Any, world: World
) -> None:
    assert not await brand_may_read(api, world)
    granted = await send(api, GRANT, world.grant_input(), world.manager_token, "key-7")
    assert granted.json()["data"]["grantConsent"]["errors"] == []
    assert await brand_may_read(api, world)

    grant_id = granted.json()["data"]["grantConsent"]["grant"]["id"]
    revoked = await send(api, REVOKE, {"input": {"grantId": grant_id}}, world.manager_token, "k8")
    assert revoked.json()["data"]["revokeConsent"]["errors"] == []
    assert not await brand_may_read(api, world)


async def test_a_rolled_back_request_grants_nothing(
    api: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_append(*_: Any, **__: Any) -> Any:
        raise RuntimeError("audit store away")

    monkeypatch.setattr(audit, "append", failing_append)
    failed = await send(api, GRANT, world.grant_input(), world.manager_token, "key-9")

    assert failed.status_code == 500
    assert not await brand_may_read(api, world)


async def test_an_answer_older_than_a_day_is_forgotten(
    api: Any, world: World, session: AsyncSession
) -> None:
    await send(api, GRANT, world.grant_input(), world.manager_token, "key-10")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    await session.execute(text("UPDATE idempotency_record SET created_at = :at"), {"at": long_ago})
    await session.commit()

    again = await send(api, GRANT, world.grant_input(), world.manager_token, "key-10")

    assert "idempotency-replayed" not in again.headers
    assert again.json()["data"]["grantConsent"]["errors"][0]["code"] == "ALREADY_EXISTS"


async def test_queries_and_anonymous_callers_ignore_the_key(
    api: Any, world: World, session: AsyncSession
) -> None:
    read = await send(api, VIEWER, {}, world.brand_token, "key-11")
    anonymous = await send(api, GRANT, world.grant_input(), None, "key-12")
    anonymous_again = await send(api, GRANT, world.grant_input(), None, "key-12")

    assert read.status_code == 200 and read.json()["data"]["viewer"]["role"] == "BRAND_VIEWER"
    assert anonymous.json()["data"]["grantConsent"]["errors"][0]["code"] == "NOT_FOUND"
    assert "idempotency-replayed" not in anonymous_again.headers
    assert (await counts(session))["idempotency_record"] == 0


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param("x" * 201, id="too-long"),
        pytest.param("clé", id="not-ascii"),
        pytest.param("a b", id="space"),
    ],
)
async def test_a_malformed_key_is_refused(api: Any, world: World, key: str) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": GRANT, "variables": world.grant_input()},
        headers={
            "authorization": f"Bearer {world.manager_token}",
            "idempotency-key": key.encode(),
        },
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_an_invalid_document_with_a_key_is_not_stored(
    api: Any, world: World, session: AsyncSession
) -> None:
    bad = "mutation { grantConsent(input: {}) { nope } }"

    response = await send(api, bad, {}, world.manager_token, "key-13")

    assert response.status_code == 400
    assert (await counts(session))["idempotency_record"] == 0
