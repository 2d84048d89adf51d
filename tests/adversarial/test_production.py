"""In production mode the schema is not for browsing: no introspection, no GraphiQL, and no
error message that suggests a name the caller did not already know."""

from __future__ import annotations

from typing import Any

import pytest

Client = Any  # tests.adversarial.conftest.Client: the app in production mode

INTROSPECTION = [
    pytest.param("{ __schema { types { name } } }", id="schema"),
    pytest.param('{ __type(name: "Factory") { fields { name } } }', id="type"),
    pytest.param(
        "query { ...F } fragment F on Query { __schema { queryType { name } } }", id="in-fragment"
    ),
    pytest.param("{ a: __schema { mutationType { fields { name } } } }", id="aliased"),
]


@pytest.mark.parametrize("query", INTROSPECTION)
async def test_introspection_is_refused(production: Client, query: str) -> None:
    response = await production.post(query)
    body = response.json()

    assert body.get("data") is None
    assert any("introspection" in e["message"].lower() for e in body["errors"]), body


async def test_typename_is_still_answered(production: Client) -> None:
    body = (await production.post("{ __typename }")).json()

    assert body == {"data": {"__typename": "Query"}}


async def test_graphiql_is_not_served(production: Client) -> None:
    response = await production.client.get("/graphql")

    assert response.status_code == 405
    assert "graphiql" not in response.text.lower()


SUGGESTED = [
    pytest.param("{ factorie { name } }", id="root-field"),
    pytest.param("{ factories { edges { node { nam } } } }", id="nested-field"),
    pytest.param("{ factories(firts: 1) { totalCount } }", id="argument"),
    pytest.param(
        'mutation { grantConsent(input: {factoryId: "x", granteeId: "y", scopes: [ASSESMENT]}) '
        "{ errors { code } } }",
        id="enum-value",
    ),
    pytest.param(
        'mutation { grantConsent(input: {factoryid: "x", granteeId: "y", scopes: []}) '
        "{ errors { code } } }",
        id="input-field",
    ),
    pytest.param("query { ...F } fragment F on Factry { name }", id="type-name"),
    pytest.param("query($x: DataScop) { viewer { role } }", id="variable-type"),
]


@pytest.mark.parametrize("query", SUGGESTED)
async def test_no_error_suggests_a_name(production: Client, query: str) -> None:
    body = (await production.post(query)).json()

    assert body["errors"], body
    for error in body["errors"]:
        assert "Did you mean" not in error["message"], error["message"]
