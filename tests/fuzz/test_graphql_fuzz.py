"""Random valid operations against the printed schema, as random principals of the demo world.

Every query hypothesis-graphql builds from ``api.schema.sdl()`` goes over HTTP as one of
fourteen callers; then no answer is a server error, every error is one we wrote on purpose
(a known code or limiter message), and no answer holds a name, Gateway ID, finding detail or
self-assessment answer that the oracle (tests/fuzz/oracle.py) says the caller must not read.

Bounded: ``MILLGATE_FUZZ_EXAMPLES`` examples a test (default 120) and no deadline, a few
seconds a backend.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from typing import Any

import graphql
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries
from sqlalchemy.ext.asyncio import AsyncSession

import audit
from api.schema import sdl
from tests.adversarial.test_error_hygiene import LEAKS, messages
from tests.fuzz.conftest import FuzzWorld, Principal

EXAMPLES = int(os.environ.get("MILLGATE_FUZZ_EXAMPLES", "120"))
SDL = sdl()

ALLOWED_CODES = {"BAD_ARGUMENT", "QUERY_TOO_COMPLEX"}
ALLOWED_MESSAGES = re.compile(
    r"^\d+ aliases found\. Allowed: \d+$"
    r"|exceeds maximum operation depth of \d+$"
    r"|^Syntax Error: Document contains more than \d+ tokens"
    r"|^Int cannot represent non 32-bit signed integer value"
)

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
    derandomize=os.environ.get("MILLGATE_FUZZ_RANDOM", "") == "",
    database=None,
    # No shrinking: the world under test is shared by the examples, so a shrunk example can
    # meet another state; the first failing example is reported as it was.
    phases=(Phase.explicit, Phase.generate),
)


def _scalars(ids: list[str]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    id_values = st.one_of(st.sampled_from(ids), st.text(max_size=20))
    return {
        "ID": id_values.map(nodes.String),
        "Date": st.dates(dt.date(2019, 1, 1), dt.date(2028, 12, 31)).map(nodes.String),
        "DateTime": st.datetimes(
            dt.datetime(2019, 1, 1), dt.datetime(2028, 12, 31), timezones=st.just(dt.UTC)
        ).map(lambda d: nodes.String(d.isoformat())),
        "JSON": st.one_of(
            st.text(max_size=10).map(nodes.String),
            st.integers(-5, 5).map(nodes.Int),
            st.builds(
                lambda k, v: graphql.ObjectValueNode(
                    fields=(
                        graphql.ObjectFieldNode(
                            name=graphql.NameNode(value=k), value=graphql.StringValueNode(value=v)
                        ),
                    )
                ),
                st.sampled_from(["kty", "crv", "x", "answer"]),
                st.text(max_size=8),
            ),
        ),
    }


def _strategy(fuzz: FuzzWorld, kind: str) -> st.SearchStrategy[str]:
    cache: dict[str, st.SearchStrategy[str]] = fuzz.__dict__.setdefault("_strategies", {})
    if kind not in cache:
        build = queries if kind == "query" else mutations
        cache[kind] = build(SDL, custom_scalars=_scalars(fuzz.ids))  # type: ignore[assignment]
    return cache[kind]


async def _send(fuzz: FuzzWorld, principal: Principal, query: str) -> tuple[int, Any]:
    response = await fuzz.client.post("/graphql", json={"query": query}, headers=principal.headers)
    return response.status_code, response.json()


def _fail(why: str) -> None:
    # Also on stderr: when the world changed under it, hypothesis cannot replay the example
    # and reports only that; pytest still shows what was captured.
    print(why, file=sys.stderr)
    raise AssertionError(why)


def _check_errors(query: str, principal: Principal, status: int, body: Any) -> None:
    where = f"{principal.who.name} sent:\n{query}\ngot {status}: {body}"
    if status >= 500:
        _fail(where)
    if status == 401:  # a user disabled by an earlier mutation
        return
    for error in body.get("errors", []):
        code = (error.get("extensions") or {}).get("code")
        if code not in ALLOWED_CODES and not ALLOWED_MESSAGES.search(error["message"]):
            _fail(where)
    for message in messages(body):
        if LEAKS.search(message):
            _fail(where)


def _check_no_leak(query: str, principal: Principal, body: Any) -> None:
    answer = repr(body)
    for value, why in principal.forbidden.items():
        if value in answer:
            _fail(f"{principal.who.name} read {why} ({value!r}) with:\n{query}\nanswer: {body}")


@FUZZ_SETTINGS
@given(data=st.data())
async def test_random_queries_as_random_principals_leak_nothing(
    fuzz: FuzzWorld, data: st.DataObject
) -> None:
    principal = data.draw(st.sampled_from(fuzz.principals), label="principal")
    query = data.draw(_strategy(fuzz, "query"), label="query")

    status, body = await _send(fuzz, principal, query)

    _check_errors(query, principal, status, body)
    _check_no_leak(query, principal, body)


@FUZZ_SETTINGS
@given(data=st.data())
async def test_random_mutations_as_random_principals_fail_only_on_purpose(
    fuzz: FuzzWorld, data: st.DataObject, session: AsyncSession
) -> None:
    """Mutations change the world, so the oracle is not applied; but every answer is still
    a typed error or a success, never a crash, and the audit chain stays whole."""
    principal = data.draw(st.sampled_from(fuzz.principals), label="principal")
    query = data.draw(_strategy(fuzz, "mutation"), label="mutation")

    status, body = await _send(fuzz, principal, query)

    _check_errors(query, principal, status, body)
    assert await audit.verify_database(session) == []
    await session.rollback()


async def test_the_oracle_is_not_empty(fuzz: FuzzWorld) -> None:
    """A fuzz run against an oracle that forbids nothing would prove nothing."""
    by_name = {p.who.name: p for p in fuzz.principals}
    assert len(by_name["public"].forbidden) > 40
    assert any(v.startswith("SLCP-") for v in by_name["northwind"].forbidden)  # rule 8
    assert "PT Sinar Garmen Jaya" not in by_name["northwind"].forbidden
    assert "PT Mitra Busana Abadi" in by_name["northwind"].forbidden
    assert by_name["platform"].forbidden  # drafts, even for the platform
    # And a granted caller does read what the oracle allows: the markers are live.
    status, body = await _send(
        fuzz,
        by_name["northwind"],
        "{ factories { edges { node { name assessments { edges { node { findings "
        "{ edges { node { detail } } } } } } } } } }",
    )
    assert status == 200 and "FZD" in repr(body)
    _check_no_leak("(fixed)", by_name["northwind"], body)
