"""GraphQL over HTTP: which operation runs (the spec's GetOperation), and request errors.

A request that does not name exactly one operation of its document is a request error: a
400 with a stable code, nothing executed. Every answer of the endpoint carries the request
id, the refusals included.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from demo import DemoWorld
from tests.api.support import LUMEN, SINAR, error_codes, factory_gid, org_gid, row_counts

GRANT_THEN_READ = """
mutation Grant($input: GrantConsentInput!) { grantConsent(input: $input) { errors { code } } }
query Read { viewer { role } }
"""
READ_THEN_GRANT = """
query Read { viewer { role } }
mutation Grant($input: GrantConsentInput!) { grantConsent(input: $input) { errors { code } } }
"""
VIEWER = "query Viewer { viewer { role } }"
FRAGMENT_ONLY = "fragment F on Query { viewer { role } }"


def grant_to_lumen(world: DemoWorld) -> dict[str, Any]:
    return {
        "input": {
            "factoryId": factory_gid(world, SINAR),
            "granteeId": org_gid(world, LUMEN),
            "scopes": ["ASSESSMENT"],
        }
    }


async def post(api: Any, body: dict[str, Any], auth: dict[str, str]) -> Any:
    return await api.client.post(
        "/graphql", json=body, headers={"authorization": f"Bearer {auth['token']}"}
    )


@pytest.mark.parametrize("document", [GRANT_THEN_READ, READ_THEN_GRANT], ids=["first", "second"])
async def test_two_operations_without_a_name_run_neither(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any, document: str
) -> None:
    # given a document of a query and a mutation that the manager may run
    before = await row_counts(session)

    # when it is sent without operationName
    response = await post(
        api, {"query": document, "variables": grant_to_lumen(world)}, manager.auth
    )

    # then it is a request error and no grant was written
    assert response.status_code == 400
    assert error_codes(response.json()) == ["OPERATION_NAME_REQUIRED"]
    assert "data" not in response.json()
    assert response.headers.get("x-request-id")
    assert await row_counts(session) == before


async def test_the_named_operation_of_several_runs_alone(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any
) -> None:
    before = await row_counts(session)

    response = await post(
        api,
        {"query": GRANT_THEN_READ, "variables": grant_to_lumen(world), "operationName": "Read"},
        manager.auth,
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"role": "FACTORY_MANAGER"}}}
    assert await row_counts(session) == before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(
            {"query": VIEWER, "operationName": "Elsewhere"}, 400, "UNKNOWN_OPERATION", id="unknown"
        ),
        pytest.param({"query": ""}, 400, "BAD_REQUEST", id="empty-query"),
        pytest.param({"query": "  \n "}, 400, "BAD_REQUEST", id="blank-query"),
        pytest.param({"query": FRAGMENT_ONLY}, 400, "NO_OPERATION", id="no-operation"),
        pytest.param({"variables": {}}, 400, "BAD_REQUEST", id="no-query"),
    ],
)
async def test_a_request_error_is_a_400_with_a_code_and_a_request_id(
    api: Any, world: DemoWorld, manager: Any, body: dict[str, Any], status: int, code: str
) -> None:
    response = await post(api, body, manager.auth)

    assert response.status_code == status
    assert error_codes(response.json()) == [code]
    assert response.headers.get("x-request-id")


async def test_every_answer_carries_a_request_id(api: Any, world: DemoWorld) -> None:
    unauthenticated = await api.client.post(
        "/graphql", json={"query": VIEWER}, headers={"authorization": "Bearer nope"}
    )
    not_json = await api.client.post(
        "/graphql", content=b"{", headers={"content-type": "application/json"}
    )

    assert unauthenticated.status_code == 401 and unauthenticated.headers.get("x-request-id")
    assert not_json.status_code == 400 and not_json.headers.get("x-request-id")
