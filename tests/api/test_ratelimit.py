"""Abuse limits: a budget per principal (anonymous callers by address), 429 with Retry-After,
shared between processes through Redis; and PostgreSQL's statement timeout."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import redis.asyncio as redis
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

import api.documents as documents
import models as m
from api.app import create_app
from api.ratelimit import (
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    build_limiter,
    principal_key,
    request_cost,
)
from authz.principal import Principal
from core.db import make_engine
from core.runtime import Runtime
from core.settings import Settings
from tests.builders import make_org, make_user

REDIS_URL = os.environ.get("MILLGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
VIEWER = "{ viewer { role } }"
# 23 fields of one name: 1 + 23 * 23 = 530 pairs for validation to compare, six units.
COSTLY = "{ viewer { " + "role " * 23 + "} }"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis_client() -> AsyncIterator[Any]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception:
        await client.aclose()
        pytest.skip(f"no Redis at {REDIS_URL}")
    yield client
    await client.aclose()


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A Redis key prefix of this test alone; its keys are deleted afterwards."""
    name = f"millgate-test:{uuid.uuid4().hex}:"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=name + "*")]
        if keys:
            await client.delete(*keys)
    except redis.ConnectionError:
        pass
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def make_limiter(
    request: pytest.FixtureRequest, prefix: str
) -> AsyncIterator[Callable[[int], RateLimiter]]:
    """Limiters of one store; with Redis, every limiter made here shares one budget store."""
    made: list[RateLimiter] = []
    if request.param == "redis":
        probe = redis.Redis.from_url(REDIS_URL)
        try:
            await probe.ping()
        except redis.ConnectionError:
            pytest.skip(f"no Redis at {REDIS_URL}")
        finally:
            await probe.aclose()

    def make(per_minute: int) -> RateLimiter:
        if request.param == "redis":
            made.append(RedisRateLimiter.from_url(REDIS_URL, per_minute, prefix=prefix))
        else:
            made.append(MemoryRateLimiter(per_minute))
        return made[-1]

    yield make
    for limiter in made:
        await limiter.close()


# --- the limiters on their own ------------------------------------------------------------


async def test_a_full_budget_passes_then_the_next_request_waits_its_turn() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(3, clock=clock)

    passed = [await limiter.hit("user:1") for _ in range(3)]
    refused = await limiter.hit("user:1")

    assert all(d.allowed for d in passed)
    assert [d.remaining for d in passed] == [2, 1, 0]
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(20.0)  # one request every 20 s refills
    assert refused.retry_after_header == "20"

    clock.now += 19.9
    assert not (await limiter.hit("user:1")).allowed
    clock.now += 0.1
    assert (await limiter.hit("user:1")).allowed


async def test_budgets_are_per_key() -> None:
    limiter = MemoryRateLimiter(1, clock=Clock())

    assert (await limiter.hit("user:1")).allowed
    assert not (await limiter.hit("user:1")).allowed
    assert (await limiter.hit("user:2")).allowed
    assert (await limiter.hit("ip:198.51.100.7")).allowed


async def test_the_memory_store_forgets_idle_callers_first() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(60, clock=clock, max_keys=10)

    for i in range(10):
        await limiter.hit(f"idle:{i}")
    clock.now += 61  # every idle bucket is full again
    for i in range(5):
        await limiter.hit(f"busy:{i}")
        await limiter.hit(f"busy:{i}")
    await limiter.hit("busy:5")

    assert len(limiter._tat) <= 10
    assert all(key.startswith("busy:") for key in limiter._tat)


async def test_redis_budget_refuses_past_the_limit_with_a_retry_time(prefix: str) -> None:
    limiter = RedisRateLimiter.from_url(REDIS_URL, 3, prefix=prefix)
    try:
        passed = [await limiter.hit("user:1") for _ in range(3)]
        refused = await limiter.hit("user:1")
    finally:
        await limiter.close()

    assert all(d.allowed for d in passed)
    assert [d.remaining for d in passed] == [2, 1, 0]
    assert not refused.allowed
    assert 19.0 < refused.retry_after <= 20.0


async def test_two_processes_share_one_redis_budget(prefix: str) -> None:
    """Two limiters stand for two API processes: together they get the budget once."""
    first = RedisRateLimiter.from_url(REDIS_URL, 4, prefix=prefix)
    second = RedisRateLimiter.from_url(REDIS_URL, 4, prefix=prefix)
    try:
        decisions = [await limiter.hit("org:1:user:1") for limiter in (first, second) * 3]
    finally:
        await first.close()
        await second.close()

    assert [d.allowed for d in decisions] == [True, True, True, True, False, False]


async def test_redis_keys_expire_once_the_bucket_is_full_again(
    prefix: str, redis_client: Any
) -> None:
    limiter = RedisRateLimiter.from_url(REDIS_URL, 600, prefix=prefix)
    try:
        await limiter.hit("user:9")
        ttl_ms = await redis_client.pttl(prefix + "user:9")
    finally:
        await limiter.close()

    assert 0 < ttl_ms <= 200  # one request of 600 a minute is 100 ms of budget


async def test_without_redis_the_process_falls_back_to_its_memory(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RedisRateLimiter.from_url("redis://127.0.0.1:1/0", 2, prefix="unused:")
    try:
        with caplog.at_level(logging.WARNING, logger="millgate.ratelimit"):
            decisions = [await limiter.hit("user:1") for _ in range(3)]
    finally:
        await limiter.close()

    assert [d.allowed for d in decisions] == [True, True, False]
    assert "Redis unreachable" in caplog.text


async def test_settings_choose_the_store(tmp_path: Any) -> None:
    assert isinstance(build_limiter(Settings(data_dir=tmp_path)), MemoryRateLimiter)
    shared = build_limiter(Settings(data_dir=tmp_path, redis_url=REDIS_URL))
    assert isinstance(shared, RedisRateLimiter)
    await shared.close()


def test_whose_budget_a_request_spends() -> None:
    user = Principal(organization_id=3, user_id=7)
    key = Principal(organization_id=4, api_key_id=2)

    assert principal_key(user, "203.0.113.1") == "org:3:user:7"
    assert principal_key(key, "203.0.113.1") == "org:4:key:2"
    assert principal_key(Principal.anonymous(), "203.0.113.1") == "ip:203.0.113.1"


async def test_a_request_spends_its_cost_of_the_budget(
    make_limiter: Callable[[int], RateLimiter],
) -> None:
    limiter = make_limiter(10)

    passed = [await limiter.hit("user:1", cost=4) for _ in range(2)]
    refused = await limiter.hit("user:1", cost=4)
    cheap = await limiter.hit("user:1")

    assert [d.allowed for d in passed] == [True, True]
    assert [d.remaining for d in passed] == [6, 2]
    assert not refused.allowed
    assert cheap.allowed and cheap.remaining == 1


async def test_a_cost_past_the_whole_budget_spends_the_whole_budget() -> None:
    limiter = MemoryRateLimiter(3, clock=Clock())

    assert (await limiter.hit("user:1", cost=50)).allowed
    assert not (await limiter.hit("user:1")).allowed


def test_a_request_costs_one_and_one_more_per_unit_of_validation() -> None:
    assert [request_cost(c) for c in (0, 31, 99, 100, 530, 5_000)] == [1, 1, 1, 2, 6, 51]
    assert request_cost(31, length=2_500) == 3


# --- the HTTP endpoint ------------------------------------------------------------------


@asynccontextmanager
async def _client(runtime: Runtime, limiter: RateLimiter) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime, rate_limiter=limiter)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://millgate.test") as c:
            yield c


async def _post(client: httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": VIEWER}, headers=headers)


async def test_http_answers_429_with_retry_after_past_the_budget(
    runtime: Runtime, make_limiter: Callable[[int], RateLimiter]
) -> None:
    async with _client(runtime, make_limiter(2)) as client:
        statuses = [(await _post(client)).status_code for _ in range(2)]
        refused = await _post(client)

    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_a_costly_document_spends_more_of_the_budget(
    runtime: Runtime, make_limiter: Callable[[int], RateLimiter]
) -> None:
    async with _client(runtime, make_limiter(10)) as client:
        costly = await client.post("/graphql", json={"query": COSTLY})
        refused = await client.post("/graphql", json={"query": COSTLY})

    assert costly.status_code == 200 and "errors" not in costly.json()
    assert refused.status_code == 429


async def test_a_document_refused_as_too_costly_spends_the_address_budget(
    runtime: Runtime, make_limiter: Callable[[int], RateLimiter]
) -> None:
    too_costly = "{ viewer { " + "role " * 600 + "} }"
    async with _client(runtime, make_limiter(10)) as client:
        refused = await client.post("/graphql", json={"query": too_costly})
        limited = await client.post("/graphql", json={"query": VIEWER})

    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert limited.status_code == 429


async def test_an_anonymous_address_out_of_budget_is_refused_before_parsing(
    runtime: Runtime, make_limiter: Callable[[int], RateLimiter], monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    parse = documents.parse

    def counted(query: str, **kwargs: Any) -> Any:
        parsed.append(query)
        return parse(query, **kwargs)

    monkeypatch.setattr(documents, "parse", counted)
    async with _client(runtime, make_limiter(2)) as client:
        answers = [
            await client.post("/graphql", json={"query": f"{VIEWER} # {i}"}) for i in range(4)
        ]

    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    assert len(parsed) == 3  # the fourth new text was refused unparsed


async def test_each_principal_has_its_own_budget(
    runtime: Runtime, session: AsyncSession, make_limiter: Callable[[int], RateLimiter]
) -> None:
    brand = await make_org(session, m.OrganizationKind.BRAND)
    alice = await make_user(session, brand, m.Role.BRAND_VIEWER)
    bob = await make_user(session, brand, m.Role.BRAND_VIEWER)
    await session.commit()
    tokens = {u.email: runtime.token_service.issue(u.id, 600) for u in (alice, bob)}

    async with _client(runtime, make_limiter(1)) as client:
        alice_first = await _post(client, authorization=f"Bearer {tokens[alice.email]}")
        alice_again = await _post(client, authorization=f"Bearer {tokens[alice.email]}")
        bob_first = await _post(client, authorization=f"Bearer {tokens[bob.email]}")
        anonymous = await _post(client)  # same address, but not a signed-in user's budget

    statuses = [r.status_code for r in (alice_first, alice_again, bob_first, anonymous)]
    assert statuses == [200, 429, 200, 200], [r.text for r in (alice_first, bob_first)]


async def test_failed_sign_ins_spend_the_address_budget(
    runtime: Runtime, make_limiter: Callable[[int], RateLimiter]
) -> None:
    async with _client(runtime, make_limiter(2)) as client:
        statuses = [
            (await _post(client, authorization="Bearer not-a-token")).status_code for _ in range(3)
        ]
        guessed_key = await _post(client, **{"x-api-key": "mg_00000000_guess"})

    assert statuses == [401, 401, 429]
    assert guessed_key.status_code == 429


async def test_two_app_processes_share_the_budget_through_redis(
    runtime: Runtime, prefix: str
) -> None:
    first = RedisRateLimiter.from_url(REDIS_URL, 3, prefix=prefix)
    second = RedisRateLimiter.from_url(REDIS_URL, 3, prefix=prefix)
    statuses = []
    async with _client(runtime, first) as one, _client(runtime, second) as other:
        for client in (one, other, one, other):
            statuses.append((await _post(client)).status_code)

    assert statuses == [200, 200, 200, 429]


async def test_the_settings_redis_url_makes_the_app_share_budgets(
    runtime: Runtime, prefix: str
) -> None:
    settings = runtime.settings.model_copy(
        update={"redis_url": REDIS_URL, "rate_limit_per_minute": 1}
    )
    shared = Runtime(settings, runtime.engine, runtime.sessionmaker, runtime.keys)
    app = create_app(shared)
    limiter = app.state.rate_limiter
    assert isinstance(limiter, RedisRateLimiter)
    limiter.prefix = prefix  # this test's keys only

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("198.51.100.23", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://millgate.test") as c:
            statuses = [(await _post(c)).status_code for _ in range(2)]

    assert statuses == [200, 429]


# --- the statement timeout ------------------------------------------------------------------


async def test_postgres_cancels_a_statement_past_the_timeout(
    backend: str, database_url: str, tmp_path: Any
) -> None:
    if backend != "postgres":
        pytest.skip("statement_timeout is a PostgreSQL setting")
    settings = Settings(database_url=database_url, data_dir=tmp_path, statement_timeout_ms=200)
    runtime = Runtime.create(settings)
    try:
        async with runtime.engine.connect() as conn:
            shown = (await conn.execute(text("SHOW statement_timeout"))).scalar()
            quick = (await conn.execute(text("SELECT pg_sleep(0.05), 1"))).one()[1]
            with pytest.raises(DBAPIError) as cancelled:
                await conn.execute(text("SELECT pg_sleep(2)"))
    finally:
        await runtime.close()

    assert shown == "200ms"
    assert quick == 1
    assert "statement timeout" in str(cancelled.value.orig)


async def test_the_default_engine_has_a_statement_timeout(backend: str, database_url: str) -> None:
    if backend != "postgres":
        pytest.skip("statement_timeout is a PostgreSQL setting")
    engine = make_engine(database_url, statement_timeout_ms=Settings().statement_timeout_ms)
    try:
        async with engine.connect() as conn:
            shown = (await conn.execute(text("SHOW statement_timeout"))).scalar()
    finally:
        await engine.dispose()

    assert shown == "5s"
