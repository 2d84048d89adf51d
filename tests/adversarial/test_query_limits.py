"""Documents built to cost: aliases, fragments, depth and tokens; page sizes and cursors;
and requests that are not one JSON operation (batches, GET, forms). Each is refused, fast,
with a stable code, and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from api.ids import encode_cursor
from demo import DemoWorld
from tests.adversarial.support import SINAR, dump, gid
from tests.world import People

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

GRANT = """mutation { grantConsent(input: {factoryId: "%s", granteeId: "%s",
  scopes: [ASSESSMENT]}) { grant { id } errors { code } } }"""


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def _statements(api: Any, query: str, **auth: str) -> tuple[Any, int]:
    """The answer, and the SQL statements the request ran."""
    ran: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        ran.append(statement)

    engine = api.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = await api.post(query, **auth)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return response, len(ran)


async def _refused_before_anything_ran(api: Any, query: str, **auth: str) -> Any:
    """The answer to `query`, checked to have run no more SQL than a document that does not
    parse (the caller's authentication): refused before anything ran, whatever its size.
    (Not a wall-clock bound, which a loaded machine breaks.)"""
    _, unparsed = await _statements(api, "{", **auth)
    response, ran = await _statements(api, query, **auth)
    assert ran <= unparsed, f"{ran} statements ran, {unparsed} for a document that does not parse"
    return response


# --- aliases, fragments, depth, tokens -------------------------------------------------------


async def test_aliases_past_the_limit_are_refused_before_anything_runs(
    api: Any, world: DemoWorld, people: People
) -> None:
    allowed = "{ " + " ".join(f"a{i}: viewer {{ role }}" for i in range(30)) + " }"
    refused = "{ " + " ".join(f"a{i}: factories {{ totalCount }}" for i in range(31)) + " }"

    ok = await api.post(allowed, **people.brand.auth)
    too_many = await api.post(refused, **people.brand.auth)

    assert ok.status_code == 200 and "errors" not in ok.json()
    assert too_many.json()["data"] is None
    assert "31 aliases found" in too_many.json()["errors"][0]["message"]


async def test_aliases_hidden_in_a_fragment_spread_many_times_count_every_time(
    api: Any, world: DemoWorld, people: People
) -> None:
    fragment = (
        "fragment F on Query { " + " ".join(f"x{i}: viewer {{ role }}" for i in range(8)) + " }"
    )
    query = "{ ...F a: viewer { ...G } b: viewer { ...G } c: viewer { ...G } d: viewer { ...G } }"
    query += (
        " fragment G on Viewer { r1: role r2: role r3: role r4: role r5: role r6: role } "
        + fragment
    )

    response = await api.post(query, **people.brand.auth)

    assert response.json()["data"] is None
    assert "aliases found" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("levels", [14, 30, 150])
async def test_a_fragment_bomb_is_refused_at_once(
    api: Any, world: DemoWorld, people: People, levels: int
) -> None:
    """Each fragment spreads the previous one twice: 2**levels fields once expanded. Walking
    that naively (as the depth and alias limiters do) stalls the process for minutes."""
    fragments = ["fragment F0 on Query { viewer { role } }"]
    fragments += [
        f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)
    ]
    query = f"query {{ ...F{levels} }} " + " ".join(fragments)

    response = await _refused_before_anything_ran(api, query, **people.brand.auth)

    assert response.status_code == 400
    assert codes(response.json()) == ["QUERY_TOO_COMPLEX"]


async def test_fragments_that_spread_each_other_are_refused(
    api: Any, world: DemoWorld, people: People
) -> None:
    query = "{ ...A } fragment A on Query { viewer { role } ...B } fragment B on Query { ...A }"

    response = await _refused_before_anything_ran(api, query, **people.brand.auth)

    assert response.json()["data"] is None
    assert any("Cannot spread fragment" in e["message"] for e in response.json()["errors"])


NEST = "assessments { edges { node { factory { INNER } } } }"


@pytest.mark.parametrize("through_fragments", [False, True], ids=["inline", "fragments"])
async def test_a_depth_bomb_is_refused(
    api: Any, world: DemoWorld, people: People, through_fragments: bool
) -> None:
    inner = "name"
    for _ in range(6):
        inner = NEST.replace("INNER", inner)
    query = "{ factories { edges { node { INNER } } } }".replace("INNER", inner)
    if through_fragments:
        query = (
            "{ factories { edges { node { ...D1 } } } }"
            " fragment D1 on Factory { assessments { edges { node { factory { ...D2 } } } } }"
            " fragment D2 on Factory { assessments { edges { node { factory { ...D3 } } } } }"
            " fragment D3 on Factory { assessments { edges { node { factory { ...D4 } } } } }"
            " fragment D4 on Factory { assessments { edges { node { factory { name } } } } }"
        )

    response = await _refused_before_anything_ran(api, query, **people.admin.auth)

    assert response.json()["data"] is None
    assert "exceeds maximum operation depth" in response.json()["errors"][0]["message"]


async def test_a_token_bomb_is_refused_while_parsing(
    api: Any, world: DemoWorld, people: People
) -> None:
    query = "{ viewer { " + "role " * 3000 + "} }"

    response = await _refused_before_anything_ran(api, query, **people.brand.auth)

    assert response.json()["data"] is None
    assert "more than 2000 tokens" in response.json()["errors"][0]["message"]


async def test_a_body_past_256_kib_is_refused_unread(api: Any, world: DemoWorld) -> None:
    body = json.dumps({"query": "{ viewer { role } }", "variables": {"x": "y" * 300_000}})

    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert codes(response.json()) == ["TOO_LARGE"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 50_000 + "]" * 50_000, id="nested-arrays"),
        pytest.param('{"a":' * 40_000 + "1" + "}" * 40_000, id="nested-objects"),
        pytest.param("{'query': '{ viewer { role } }'}", id="single-quotes"),
        pytest.param("", id="empty"),
        pytest.param('"{ viewer { role } }"', id="a-bare-string"),
        pytest.param('{"query": 42}', id="query-not-a-string"),
        pytest.param('{"query": "{ viewer { role } }", "variables": [1]}', id="variables-a-list"),
        pytest.param('{"query": "{ viewer { role } }", "operationName": 7}', id="name-a-number"),
    ],
)
async def test_a_body_that_is_not_one_operation_is_a_bad_request(
    api: Any, world: DemoWorld, body: str
) -> None:
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]


# --- page sizes and cursors ------------------------------------------------------------------

SINAR_PAGES = """query($id: ID!, $first: Int, $after: String) { factory(id: $id) {
  assessments(first: $first, after: $after) { edges { cursor } }
  accessLog(first: $first, after: $after) { edges { cursor } }
  auditLog(first: $first, after: $after) { edges { cursor } } } }"""
ROOT_PAGES = {
    "factories": "query($first: Int, $after: String) { factories(first: $first, after: $after) "
    "{ edges { cursor } } }",
    "gatewayExports": "query($first: Int, $after: String) { gatewayExports(first: $first, "
    "after: $after) { edges { cursor } } }",
    "enrolledFactories": "query($first: Int, $after: String) { enrolledFactories(first: $first, "
    "after: $after) { cursor } }",
}
GARBAGE_CURSORS = [
    "!!!",
    "",
    "A" * 5000,
    encode_cursor("x"),
    encode_cursor("1", "2", "3", "4"),
    encode_cursor("9" * 40),
    encode_cursor("-1"),
    encode_cursor("2026-13-45", "1"),
    encode_cursor("2026-01-01T00:00:00", "9" * 40),
    encode_cursor("1' OR '1'='1"),
    encode_cursor("\u0661\u0662"),
]


@pytest.mark.parametrize("first", [-1, 101, 10**6])
async def test_a_page_size_out_of_range_is_a_bad_argument(
    api: Any, world: DemoWorld, people: People, first: int
) -> None:
    sinar = gid("Factory", world.factory_ids[SINAR])
    for query in ROOT_PAGES.values():
        body = (await api.post(query, {"first": first}, **people.admin.auth)).json()
        assert "BAD_ARGUMENT" in codes(body), body
    body = (
        await api.post(SINAR_PAGES, {"id": sinar, "first": first}, **people.manager.auth)
    ).json()
    assert set(codes(body)) == {"BAD_ARGUMENT"}, body
    public = await api.post(
        "query($f: Int) { publicFindings(first: $f) { country } }", {"f": first}
    )
    assert "BAD_ARGUMENT" in codes(public.json())


async def test_a_page_size_past_32_bits_is_refused_by_the_type(
    api: Any, world: DemoWorld, people: People
) -> None:
    body = (await api.post(ROOT_PAGES["factories"], {"first": 2**31}, **people.admin.auth)).json()

    assert body["data"] is None if "data" in body else True
    assert "non 32-bit signed integer" in body["errors"][0]["message"]


async def test_a_garbage_cursor_is_a_bad_argument_never_an_internal_error(
    api: Any, world: DemoWorld, people: People
) -> None:
    sinar = gid("Factory", world.factory_ids[SINAR])
    for after in GARBAGE_CURSORS:
        for name, query in ROOT_PAGES.items():
            body = (await api.post(query, {"after": after}, **people.admin.auth)).json()
            assert set(codes(body)) <= {"BAD_ARGUMENT"}, (name, after, body)
        variables = {"id": sinar, "after": after}
        body = (await api.post(SINAR_PAGES, variables, **people.manager.auth)).json()
        assert set(codes(body)) <= {"BAD_ARGUMENT"}, (after, body)


# --- requests that are not one JSON operation ------------------------------------------------


async def test_a_batch_is_refused_and_runs_nothing(
    api: Any, session: AsyncSession, world: DemoWorld, people: People
) -> None:
    grant = GRANT % (
        gid("Factory", world.factory_ids[SINAR]),
        gid("Organization", world.organization_ids["harbour-outfitters"]),
    )
    before = await dump(session)

    response = await api.client.post(
        "/graphql",
        json=[{"query": grant}, {"query": "{ viewer { role } }"}],
        headers={"authorization": f"Bearer {people.manager.token}"},
    )

    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]
    assert await dump(session) == before


async def test_get_never_runs_an_operation(
    api: Any, session: AsyncSession, world: DemoWorld, people: People
) -> None:
    grant = GRANT % (
        gid("Factory", world.factory_ids[SINAR]),
        gid("Organization", world.organization_ids["harbour-outfitters"]),
    )
    before = await dump(session)
    auth = {"authorization": f"Bearer {people.manager.token}"}

    as_query = await api.client.get("/graphql", params={"query": grant}, headers=auth)
    read = await api.client.get("/graphql", params={"query": "{ viewer { role } }"}, headers=auth)
    ide = await api.client.get("/graphql")

    assert as_query.status_code == read.status_code == 405
    assert codes(as_query.json()) == ["METHOD_NOT_ALLOWED"]
    assert ide.status_code == 200 and "graphiql" in ide.text.lower()  # development only
    assert await dump(session) == before


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        pytest.param("application/x-www-form-urlencoded", "query={q}", id="form"),
        pytest.param(
            "multipart/form-data; boundary=xx",
            '--xx\r\nContent-Disposition: form-data; name="query"\r\n\r\n{q}\r\n--xx--\r\n',
            id="multipart",
        ),
        pytest.param("text/plain", '{{"query": {qj}}}', id="text-plain-json"),
        pytest.param("text/plain;charset=UTF-8", '{{"query": {qj}}}', id="text-plain-charset"),
        pytest.param("application/graphql", "{q}", id="application-graphql"),
        pytest.param("", '{{"query": {qj}}}', id="no-content-type"),
        pytest.param("application/jsonx", '{{"query": {qj}}}', id="look-alike-type"),
    ],
)
async def test_a_cross_origin_form_post_is_refused_and_changes_nothing(
    api: Any,
    session: AsyncSession,
    world: DemoWorld,
    people: People,
    content_type: str,
    content: str,
) -> None:
    """What a page on another site can make a browser send without a preflight."""
    grant = GRANT % (
        gid("Factory", world.factory_ids[SINAR]),
        gid("Organization", world.organization_ids["harbour-outfitters"]),
    )
    before = await dump(session)
    headers = {
        "origin": "https://evil.example",
        "authorization": f"Bearer {people.manager.token}",
    }
    if content_type:
        headers["content-type"] = content_type

    response = await api.client.post(
        "/graphql",
        content=content.format(q=grant, qj=json.dumps(grant)).encode(),
        headers=headers,
    )

    assert response.status_code == 415
    assert codes(response.json()) == ["UNSUPPORTED_MEDIA_TYPE"]
    assert "access-control-allow-origin" not in response.headers
    assert await dump(session) == before


async def test_no_cross_origin_reads_are_allowed(
    api: Any, world: DemoWorld, people: People
) -> None:
    preflight = await api.client.options(
        "/graphql",
        headers={
            "origin": "https://evil.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    read = await api.post(
        "{ viewer { role } }", headers={"origin": "https://evil.example"}, **people.brand.auth
    )

    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in read.headers
    assert "access-control-allow-credentials" not in read.headers


async def test_a_failing_field_beside_running_ones_breaks_no_connection(
    api: Any, world: DemoWorld, people: People
) -> None:
    """When a field fails, GraphQL cancels its siblings, some in the middle of a statement.
    A statement cancelled inside the SQLite driver used to leave a dead connection in the
    pool, and every later request that drew it failed with 500."""
    query = (
        '{ node(id: "%s") { ... on Factory { name consentGrants { grantee { name } } } }'
        ' enrolledFactories(first: 0, after: "") { cursor } }'
    ).replace("%s", gid("Factory", world.factory_ids[SINAR]))

    for _ in range(12):
        failing = await api.post(query, api_key=people.host_key)
        after = await api.post("{ factories { totalCount } }", api_key=people.host_key)
        assert failing.status_code == 400 and codes(failing.json()) == ["BAD_ARGUMENT"]
        assert after.status_code == 200, after.text


async def test_a_failing_field_does_not_cancel_a_sibling_sharing_its_loader(
    api: Any, world: DemoWorld, people: People
) -> None:
    sinar = gid("Factory", world.factory_ids[SINAR])
    query = (
        '{ a: factory(id: "ID") { consentGrants { id } assessments(first: 1000) { totalCount } }'
        ' b: factory(id: "ID") { consentGrants { id } } }'
    ).replace("ID", sinar)

    response = await api.post(query, **people.manager.auth)

    assert response.status_code == 200, response.text
    body = response.json()
    assert codes(body) == ["BAD_ARGUMENT"]
    assert body["data"]["a"] is None
    assert len(body["data"]["b"]["consentGrants"]) == 3
