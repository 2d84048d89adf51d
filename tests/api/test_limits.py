"""The HTTP endpoint's limits: page sizes, cursors, query size, transport, masked errors."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import api.factories.queries as factory_queries
import api.statistics.queries as statistics
from demo import DemoWorld
from tests.api.support import error_codes, gid

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

VIEWER = "{ viewer { role } }"
UNFINISHED = "{ viewer { role }"
NO_SUCH_FIELD = "{ viewer { password } }"
PUBLIC_FINDINGS = "{ publicFindings { cluster } }"
NODE = "query($id: ID!) { node(id: $id) { id } }"
VIEWER_AND_FACTORY = "query($id: ID!) { viewer { role } factory(id: $id) { name } }"


def cursor(text: str) -> str:
    """A cursor the server could have made (base64url), around any text."""
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


# One document per paginated field, each taking $first and $after.
PAGED = {
    "factories": """
query Paged($first: Int, $after: String) {
  factories(first: $first, after: $after) { totalCount }
}
""",
    "assessments": """
query Paged($first: Int, $after: String) {
  factories(first: 1) { edges { node {
    assessments(first: $first, after: $after) { totalCount }
  } } }
}
""",
    "findings": """
query Paged($first: Int, $after: String) {
  factories(first: 1) { edges { node { assessments(first: 1) { edges { node {
    findings(first: $first, after: $after) { totalCount }
  } } } } } }
}
""",
    "accessLog": """
query Paged($first: Int, $after: String) {
  factories(first: 1) { edges { node {
    accessLog(first: $first, after: $after) { edges { cursor } }
  } } }
}
""",
    "gatewayExports": """
query Paged($first: Int, $after: String) {
  gatewayExports(first: $first, after: $after) { edges { cursor } }
}
""",
    "enrolledFactories": """
query Paged($first: Int, $after: String) {
  enrolledFactories(first: $first, after: $after) { name }
}
""",
}

FACTORIES_AFTER = """
query($after: String) { factories(after: $after) { edges { cursor } pageInfo { hasNextPage } } }
"""


# -- page size -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", list(PAGED))
@pytest.mark.parametrize("first", [101, -1, 10_000], ids=["over-the-cap", "negative", "huge"])
async def test_every_connection_refuses_a_page_size_out_of_range(
    api: Any, admin: Any, field: str, first: int
) -> None:
    response = await api.post(PAGED[field], {"first": first}, **admin.auth)

    assert error_codes(response.json()) == ["BAD_ARGUMENT"]
    assert "between 0 and 100" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("field", list(PAGED))
async def test_every_connection_takes_the_largest_page(api: Any, admin: Any, field: str) -> None:
    response = await api.post(PAGED[field], {"first": 100}, **admin.auth)

    assert response.status_code == 200 and "errors" not in response.json()


# -- cursors ---------------------------------------------------------------------------------

GARBAGE_CURSORS = [
    pytest.param("factories", "!!not base64!!", id="factories-not-base64"),
    pytest.param("factories", cursor("xyz"), id="factories-not-a-number"),
    pytest.param("factories", cursor("1|2"), id="factories-two-parts"),
    pytest.param("factories", cursor("9" * 30), id="factories-number-too-large"),
    pytest.param("assessments", cursor("xyz"), id="assessments-one-part"),
    pytest.param("assessments", cursor("not-a-date|1"), id="assessments-not-a-date"),
    pytest.param("assessments", cursor("2024-01-01|abc"), id="assessments-id-not-a-number"),
    pytest.param("findings", cursor("xyz"), id="findings-not-a-number"),
    pytest.param("findings", cursor("1|2"), id="findings-two-parts"),
    pytest.param("accessLog", cursor("xyz"), id="accessLog-not-a-number"),
    pytest.param("gatewayExports", cursor("xyz"), id="gatewayExports-one-part"),
    pytest.param("gatewayExports", cursor("yesterday|1"), id="gatewayExports-not-a-time"),
    pytest.param(
        "gatewayExports",
        cursor("2024-01-01T00:00:00+00:00|" + "9" * 30),
        id="gatewayExports-id-too-large",
    ),
    pytest.param("enrolledFactories", cursor("xyz"), id="enrolledFactories-not-a-number"),
    pytest.param(
        "enrolledFactories",
        cursor("9" * 30),
        id="enrolledFactories-number-too-large",
    ),
]


@pytest.mark.parametrize(("field", "after"), GARBAGE_CURSORS)
async def test_a_garbage_cursor_is_a_bad_argument(
    api: Any, auth_of: dict[str, dict[str, str]], field: str, after: str
) -> None:
    # the host reads exports; the factory its access log; the platform the rest
    caller = {"gatewayExports": "host_key", "accessLog": "manager"}.get(field, "admin")

    response = await api.post(PAGED[field], {"after": after}, **auth_of[caller])

    assert error_codes(response.json()) == ["BAD_ARGUMENT"]


async def test_a_cursor_past_the_end_gives_an_empty_page(api: Any, admin: Any) -> None:
    data = await api.gql(
        FACTORIES_AFTER,
        {"after": cursor("1000000")},
        **admin.auth,
    )

    assert data["factories"] == {"edges": [], "pageInfo": {"hasNextPage": False}}


@pytest.mark.parametrize("kind", ["Factory", "Finding", "User"])
async def test_an_id_beyond_any_row_names_nothing_on_every_backend(
    api: Any,
    world: DemoWorld,
    admin: Any,
    kind: str,
) -> None:
    response = await api.post(NODE, {"id": gid(kind, 3_000_000_000)}, **admin.auth)

    assert response.json() == {"data": {"node": None}}


# -- query size ------------------------------------------------------------------------------

DEEP = (
    "{ factories { edges { node { "
    + "assessments { edges { node { factory { " * 3
    + "id"
    + " } } } }" * 3
    + " } } } }"
)
ALIASES = "{ " + " ".join(f"a{i}: viewer {{ role }}" for i in range(31)) + " }"
TOKENS = "{ viewer { " + "role " * 2001 + "} }"

LIMITS = [
    pytest.param(
        DEEP, "exceeds maximum operation depth of 12", "GRAPHQL_VALIDATION_FAILED", id="depth"
    ),
    pytest.param(
        ALIASES, "31 aliases found. Allowed: 30", "GRAPHQL_VALIDATION_FAILED", id="aliases"
    ),
    pytest.param(
        TOKENS, "Document contains more than 2000 tokens", "GRAPHQL_PARSE_FAILED", id="tokens"
    ),
]


@pytest.mark.parametrize(("document", "message", "code"), LIMITS)
async def test_queries_past_a_limit_are_refused_before_running(
    api: Any, admin: Any, document: str, message: str, code: str
) -> None:
    response = await api.post(document, **admin.auth)

    body = response.json()
    assert response.status_code == 400
    assert body["data"] is None
    assert [message in e["message"] for e in body["errors"]] == [True]
    assert error_codes(body) == [code]


async def test_queries_within_the_limits_run(api: Any, admin: Any) -> None:
    at_the_limit = "{ " + " ".join(f"a{i}: viewer {{ role }}" for i in range(30)) + " }"

    data = await api.gql(at_the_limit, **admin.auth)

    assert len(data) == 30


# -- transport -------------------------------------------------------------------------------


async def test_a_batch_is_refused(api: Any, world: DemoWorld) -> None:
    response = await api.client.post("/graphql", json=[{"query": VIEWER}, {"query": VIEWER}])

    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_REQUEST"]


async def test_a_get_with_a_query_string_is_refused(api: Any, world: DemoWorld) -> None:
    response = await api.client.get("/graphql", params={"query": VIEWER})

    assert response.status_code == 405
    assert error_codes(response.json()) == ["METHOD_NOT_ALLOWED"]


async def test_a_form_post_is_refused(api: Any, world: DemoWorld) -> None:
    response = await api.client.post("/graphql", data={"query": VIEWER})

    assert response.status_code == 415
    assert error_codes(response.json()) == ["UNSUPPORTED_MEDIA_TYPE"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(b"{not json", 400, "BAD_REQUEST", id="not-json"),
        pytest.param(b'{"query": 42}', 400, "BAD_REQUEST", id="query-not-a-string"),
        pytest.param(
            b'{"query": "{ viewer { role } }", "variables": [1]}',
            400,
            "BAD_REQUEST",
            id="variables-not-an-object",
        ),
        pytest.param(b'"{ viewer { role } }"', 400, "BAD_REQUEST", id="a-bare-string"),
        pytest.param(
            json.dumps({"query": "{ viewer { role } }", "pad": "x" * 300_000}).encode(),
            413,
            "TOO_LARGE",
            id="too-large",
        ),
    ],
)
async def test_malformed_bodies_are_refused(
    api: Any, world: DemoWorld, body: bytes, status: int, code: str
) -> None:
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == status
    assert error_codes(response.json()) == [code]


async def test_a_json_post_with_a_charset_is_accepted(api: Any, world: DemoWorld) -> None:
    response = await api.client.post(
        "/graphql",
        content=json.dumps({"query": VIEWER}).encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"role": None}}}


async def test_a_syntax_error_is_reported_without_running(api: Any, world: DemoWorld) -> None:
    response = await api.post(UNFINISHED)

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("Syntax Error")
    assert error_codes(response.json()) == ["GRAPHQL_PARSE_FAILED"]


async def test_an_unknown_field_is_a_validation_error(api: Any, world: DemoWorld) -> None:
    response = await api.post(NO_SUCH_FIELD)

    assert response.status_code == 400
    assert error_codes(response.json()) == ["GRAPHQL_VALIDATION_FAILED"]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"authorization": "Bearer not-a-token"}, id="garbage-token"),
        pytest.param({"authorization": "Basic dXNlcjpwYXNz"}, id="wrong-scheme"),
        pytest.param({"x-api-key": "mg_00000000_nothing"}, id="unknown-api-key"),
    ],
)
async def test_bad_credentials_get_a_bare_401(
    api: Any, world: DemoWorld, headers: dict[str, str]
) -> None:
    response = await api.post(VIEWER, headers=headers)

    assert response.status_code == 401
    assert response.json() == {
        "errors": [{"message": "unauthorized", "extensions": {"code": "UNAUTHENTICATED"}}]
    }


# -- unexpected errors -----------------------------------------------------------------------


async def test_an_unexpected_error_is_masked(
    api: Any, world: DemoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a resolver that fails by surprise, with internals in its message
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("connection to db-internal-7:5432 lost; secret=hunter2")

    monkeypatch.setattr(statistics, "public_findings", broken)

    # when anyone asks for it
    response = await api.post(PUBLIC_FINDINGS)

    # then the answer says only that something unexpected happened
    body = response.json()
    assert body["errors"][0]["message"] == "Unexpected error."
    assert body["errors"][0]["path"] == ["publicFindings"]
    assert error_codes(body) == ["INTERNAL"]
    assert "hunter2" not in response.text and "db-internal" not in response.text
    assert response.headers["x-request-id"]


async def test_an_unexpected_error_spares_its_siblings(
    api: Any, world: DemoWorld, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given factory(id), a nullable field, fails by surprise
    async def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("internal")

    monkeypatch.setattr(factory_queries, "load_factory", broken)

    # when it is asked beside another field
    response = await api.post(
        VIEWER_AND_FACTORY,
        {"id": gid("Factory", 1)},
        **admin.auth,
    )

    # then the sibling answers, the failed field is null, and the error is masked
    body = response.json()
    assert response.status_code == 200
    assert body["data"] == {"viewer": {"role": "PLATFORM_ADMIN"}, "factory": None}
    assert [(e["message"], e["path"]) for e in body["errors"]] == [
        ("Unexpected error.", ["factory"])
    ]
    assert error_codes(body) == ["INTERNAL"]
