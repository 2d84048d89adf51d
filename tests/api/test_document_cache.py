"""The document cache (api.documents): a repeated query is parsed once and validated once;
what failed is never kept; authorization still runs for every caller; the cache is bounded.
And the orjson encoding of GraphQL payloads writes the JSON the stdlib wrote."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema
from graphql import DocumentNode, GraphQLError, parse

import api.documents as documents
from api.document_cost import validation_cost
from api.documents import DocumentCache
from api.responses import encode
from tests.api.support import error_codes, gid

VIEWER = "{ viewer { role } }"
TOTAL = "{ factories { totalCount } }"
UNKNOWN_FIELD = "{ viewer { password } }"
UNFINISHED = "{ viewer { role }"
NEST = "assessments { edges { node { factory { INNER } } } }"


def _too_deep() -> str:
    inner = "name"
    for _ in range(4):
        inner = NEST.replace("INNER", inner)
    return "{ factories { edges { node { INNER } } } }".replace("INNER", inner)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the parses (the app's, through the cache, and strawberry's) and validations.

    Spied where they are looked up at call time: module globals of api.documents and
    strawberry.schema.schema.
    """
    counted: Counter[str] = Counter()
    validate = strawberry_schema.validate_document

    def parse_in_app(*args: Any, **kwargs: Any) -> DocumentNode:
        counted["app parse"] += 1
        return parse(*args, **kwargs)

    def parse_in_strawberry(*args: Any, **kwargs: Any) -> DocumentNode:
        counted["strawberry parse"] += 1
        return parse(*args, **kwargs)

    def validate_document(*args: Any, **kwargs: Any) -> list[GraphQLError]:
        counted["validate"] += 1
        return validate(*args, **kwargs)

    monkeypatch.setattr(documents, "parse", parse_in_app)
    monkeypatch.setattr(strawberry_schema, "parse", parse_in_strawberry)
    monkeypatch.setattr(strawberry_schema, "validate_document", validate_document)
    return counted


def _cache(api: Any) -> DocumentCache:
    cache: DocumentCache = api.app.state.documents
    return cache


# -- over HTTP ----------------------------------------------------------------------------------


async def test_a_repeated_query_is_parsed_once_and_validated_once(
    api: Any, manager: Any, calls: Counter[str]
) -> None:
    first = await api.post(VIEWER, **manager.auth)
    second = await api.post(VIEWER, **manager.auth)

    assert first.status_code == second.status_code == 200
    assert first.headers["content-type"] == "application/json"
    assert "errors" not in first.json() and first.json()["data"]["viewer"]["role"]
    assert second.content == first.content
    # The app's parse is strawberry's too: one parse in all, and one validation.
    assert calls == {"app parse": 1, "validate": 1}
    entry = _cache(api).get(VIEWER)
    assert entry is not None and entry.validated


async def test_an_invalid_query_is_refused_alike_every_time_validated_once_never_flagged(
    api: Any, manager: Any, calls: Counter[str]
) -> None:
    bodies = [(await api.post(UNKNOWN_FIELD, **manager.auth)).json() for _ in range(3)]

    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["data"] is None
    assert "Cannot query field 'password'" in bodies[0]["errors"][0]["message"]
    assert error_codes(bodies[0]) == ["GRAPHQL_VALIDATION_FAILED"]
    assert calls["validate"] == 1  # the refusal is remembered with the document
    entry = _cache(api).get(UNKNOWN_FIELD)  # parsed, so kept, but not as valid
    assert entry is not None and not entry.validated and entry.errors


async def test_a_selection_repeating_a_field_is_refused_unvalidated_and_remembered(
    api: Any, manager: Any, calls: Counter[str]
) -> None:
    # given 600 fields of one name in one selection: some 1,200 tokens, inside the token
    # limit, that cost validation (pairwise field merging) 0.2-0.5 s of CPU
    repeated = "{ viewer { " + "role " * 600 + "} }"

    # when it is sent twice
    responses = [await api.post(repeated, **manager.auth) for _ in range(2)]

    # then the first is refused before validation, at a cost that spends the address's whole
    # budget, and the second is not even parsed again
    assert [r.status_code for r in responses] == [400, 429]
    assert error_codes(responses[0].json()) == ["QUERY_TOO_COMPLEX"]
    assert responses[0].headers.get("x-request-id")
    assert calls == {"app parse": 1}
    assert repeated not in _cache(api)  # only the text's hash is kept
    with pytest.raises(documents.DocumentRefused):
        _cache(api).admit(repeated)
    assert calls == {"app parse": 1}


@pytest.mark.parametrize(
    ("document", "cost"),
    [
        pytest.param("{ viewer { role } factories { totalCount } }", 4, id="no-repeat"),
        pytest.param("{ viewer { role } viewer { role } }", 8, id="merged-parents"),
        pytest.param(
            "{ viewer { role ...R } } fragment R on Viewer { role }", 1 + 4 + 1, id="spread"
        ),
        pytest.param("{ a: viewer { role } b: viewer { role } }", 4, id="aliases-differ"),
        pytest.param(
            "{ viewer { role } } fragment U on Viewer { " + "role " * 10 + "}",
            102,
            id="unused-fragment",
        ),
    ],
)
def test_validation_cost_counts_the_pairs_validation_compares(document: str, cost: int) -> None:
    assert validation_cost(parse(document)) == cost


def test_the_cache_refuses_past_its_cost_budget_and_remembers_by_hash_alone() -> None:
    cache = DocumentCache(max_tokens=1000, max_cost=99, max_refused=1)
    costly = "{ viewer { " + "role " * 10 + "} }"  # 1 + 100

    with pytest.raises(documents.DocumentRefused):
        cache.admit(costly)
    with pytest.raises(documents.DocumentRefused):
        cache.admit(costly)
    assert costly not in cache and len(cache._refused) == 1
    assert cache.admit("{ viewer { role } }").cost == 2
    with pytest.raises(documents.DocumentRefused):
        cache.admit("{ viewer { " + "role " * 11 + "} }")
    assert len(cache._refused) == 1  # bounded: the oldest refusal is forgotten


async def test_a_syntax_error_keeps_its_code_and_is_not_kept(
    api: Any, manager: Any, calls: Counter[str]
) -> None:
    bodies = [(await api.post(UNFINISHED, **manager.auth)).json() for _ in range(2)]

    assert bodies[0] == bodies[1]
    assert bodies[0]["errors"][0]["message"].startswith("Syntax Error")
    assert error_codes(bodies[0]) == ["GRAPHQL_PARSE_FAILED"]
    assert UNFINISHED not in _cache(api)
    assert calls["validate"] == 0


async def test_a_query_past_the_token_limit_is_refused_every_time(api: Any, manager: Any) -> None:
    limit = api.runtime.settings.max_query_tokens
    query = "{ " + "viewer { role } " * (limit // 4) + "}"

    bodies = [(await api.post(query, **manager.auth)).json() for _ in range(2)]

    assert bodies[0] == bodies[1]
    assert f"more than {limit} tokens" in bodies[0]["errors"][0]["message"]
    assert error_codes(bodies[0]) == ["GRAPHQL_PARSE_FAILED"]
    assert query not in _cache(api)


async def test_a_query_past_the_depth_limit_is_refused_every_time(
    api: Any, admin: Any, calls: Counter[str]
) -> None:
    query = _too_deep()

    bodies = [(await api.post(query, **admin.auth)).json() for _ in range(2)]

    for body in bodies:
        assert body["data"] is None
        assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    assert bodies[0] == bodies[1]
    assert calls["validate"] == 1  # the depth limit is a validation rule: its refusal is kept
    entry = _cache(api).get(query)
    assert entry is not None and not entry.validated


async def test_each_caller_gets_its_own_data_from_a_cached_document(
    api: Any, brand: Any, admin: Any, calls: Counter[str]
) -> None:
    callers = [brand.auth, admin.auth, {}, brand.auth, admin.auth, {}]

    totals = [(await api.gql(TOTAL, **auth))["factories"]["totalCount"] for auth in callers]

    # Northwind sees its three granting factories, the platform all, the public none.
    assert totals[:3] == totals[3:]
    assert totals[0] == 3 and totals[1] > 3 and totals[2] == 0
    assert calls["validate"] == 1


async def test_an_idempotent_mutation_is_answered_then_replayed_with_the_same_json(
    api: Any, manager: Any, calls: Counter[str]
) -> None:
    # A grant that does not exist: refused by the payload's typed errors, stored, replayed.
    mutation = "mutation($i: RevokeConsentInput!) { revokeConsent(input: $i) { errors { code } } }"
    missing = {"i": {"grantId": gid("ConsentGrant", 999_999)}}
    headers = {"idempotency-key": "document-cache-1"}

    first = await api.post(mutation, missing, **manager.auth, headers=headers)
    second = await api.post(mutation, missing, **manager.auth, headers=headers)

    assert first.status_code == second.status_code == 200
    assert first.json()["data"]["revokeConsent"]["errors"] == [{"code": "NOT_FOUND"}]
    assert second.headers["idempotency-replayed"] == "true"
    assert second.content == first.content
    assert calls == {"app parse": 1, "validate": 1}


# -- the cache itself ----------------------------------------------------------------------------


def test_the_cache_evicts_the_least_recently_used_past_its_bound() -> None:
    cache = DocumentCache(max_tokens=100, max_entries=3)
    a, b, c, d = "{ a }", "{ b }", "{ c }", "{ d }"
    for query in (a, b, c):
        cache.parse(query)

    cache.parse(a)  # used again: b is now the oldest
    cache.parse(d)

    assert len(cache) == 3
    assert b not in cache and all(query in cache for query in (a, c, d))
    assert cache.parse(a) is cache.parse(a)


def test_the_cache_is_bounded_by_the_length_of_its_texts() -> None:
    cache = DocumentCache(max_tokens=100, max_query_length=12, max_total_length=20)
    long = "{ aaaaaaaaaaaa }"

    cache.parse(long)
    for name in ("a", "b", "c"):
        cache.parse("{ " + name * 6 + " }")  # 10 characters each: two fit in 20

    assert long not in cache
    assert len(cache) == 2 and "{ aaaaaa }" not in cache


def test_the_cache_keeps_no_parse_error() -> None:
    cache = DocumentCache(max_tokens=4)

    for query in ("{ a", "{ a b c d }"):  # a syntax error; past the token limit
        with pytest.raises(GraphQLError):
            cache.parse(query)

    assert len(cache) == 0


def test_mark_validated_keeps_the_document_or_flags_the_kept_one() -> None:
    cache = DocumentCache(max_tokens=100)
    parsed = cache.parse("{ a }")

    cache.mark_validated("{ a }", parsed)
    cache.mark_validated("{ b }", cache.parse("{ b }"))
    cache.mark_validated("{ c }", DocumentNode(definitions=()))

    entries = [cache.get(query) for query in ("{ a }", "{ b }", "{ c }")]
    assert all(entry is not None and entry.validated for entry in entries)
    assert entries[0] is not None and entries[0].document is parsed


# -- the encoding -------------------------------------------------------------------------------


def test_payloads_are_encoded_as_compact_utf8_json() -> None:
    payload = {"data": {"name": 'Cà Mau — 工厂 "q" \\ \n', "n": [1, 2.5, True, None]}}

    assert (
        encode(payload) == json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    )


def test_integers_orjson_refuses_are_written_by_the_stdlib() -> None:
    payload = {"data": {"answers": {"Q1": 2**70, "Q2": -(2**65)}}}

    assert json.loads(encode(payload)) == payload
