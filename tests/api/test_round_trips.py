"""Database round trips per page on PostgreSQL, counted on the wire.

Statements are not round trips: a pool ping, BEGIN and COMMIT, and a statement prepared
for the first time each cost one more. A relay in front of PostgreSQL (tests/pg_wire.py)
counts every exchange the app waits for; the pages are the benchmark's light and brand
pages, authentication and the access-log write included. PostgreSQL only: SQLite has no
wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench.queries import BRAND_PAGE, GRANT, LIGHT_PAGE, REVOKE
from core.crypto import KeyMaterial
from core.db import make_engine, make_sessionmaker
from core.runtime import Runtime
from core.settings import Settings
from demo import DemoWorld
from tests.api.support import LUMEN, SINAR, factory_gid, org_gid
from tests.pg_wire import RoundTripCounter
from tests.world import Caller

pytestmark = pytest.mark.reads_only

# One a statement: authentication, the planned page's reads (the light page: factories with
# their count and their assessment pages, with those pages' finding counts, in one; the
# brand page: factories with their assessment pages, then findings), and the access-log
# write in the last of those (authz.logged); no ping, no BEGIN, no COMMIT, no prepare.
LIGHT_PAGE_ROUND_TRIPS = 2
BRAND_PAGE_ROUND_TRIPS = 3


class CountedApi:
    def __init__(
        self, client: httpx.AsyncClient, relay: RoundTripCounter, engine: AsyncEngine
    ) -> None:
        self.client, self.relay = client, relay
        self.last = ""  # the last request's messages ("BES": a bound execution, ...)
        # Per statement sent: was its compiled form taken from SQLAlchemy's cache?
        self.compiled: list[tuple[bool, str]] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._note_compiled)

    def _note_compiled(
        self, _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        self.compiled.append((context.cache_hit is CacheStats.CACHE_HIT, statement[:80]))

    async def post(
        self, document: str, variables: dict[str, Any], token: str
    ) -> tuple[dict[str, Any], int]:
        """The data of one request that succeeded, and its round trips."""
        before, sent = self.relay.round_trips, len(self.relay.messages)
        self.compiled.clear()
        response = await self.client.post(
            "/graphql",
            json={"query": document, "variables": variables},
            headers={"authorization": f"Bearer {token}"},
        )
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        self.last = "".join(self.relay.messages[sent:])
        return body["data"], self.relay.round_trips - before

    async def round_trips(self, document: str, variables: dict[str, Any], token: str) -> int:
        """The round trips of one page, and checks that it shows factories."""
        data, trips = await self.post(document, variables, token)
        assert data["factories"]["edges"], "the page must show factories"
        return trips


@pytest.fixture
async def counted(
    backend: str, database_url: str, world: DemoWorld, keys: KeyMaterial, tmp_path: Path
) -> AsyncIterator[CountedApi]:
    """The app on an engine of its own, production's settings, through the relay."""
    if backend != "postgres":
        pytest.skip("round trips are counted on PostgreSQL's wire")
    from api.app import create_app

    target = urlsplit(database_url)
    async with RoundTripCounter(target.hostname or "127.0.0.1", target.port or 5432) as relay:
        settings = Settings(database_url=database_url, data_dir=tmp_path)
        engine = make_engine(
            relay.url_for(database_url), statement_timeout_ms=settings.statement_timeout_ms
        )
        runtime = Runtime(settings, engine, make_sessionmaker(engine), keys)
        app = create_app(runtime)
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://millgate.test"
                ) as client:
                    yield CountedApi(client, relay, engine)
        finally:
            await engine.dispose()


@pytest.mark.parametrize(
    ("document", "variables", "bound"),
    [
        (LIGHT_PAGE, {}, LIGHT_PAGE_ROUND_TRIPS),
        (BRAND_PAGE, {"first": 100}, BRAND_PAGE_ROUND_TRIPS),
    ],
    ids=["light", "brand"],
)
async def test_a_page_costs_one_round_trip_a_statement(
    counted: CountedApi, brand: Caller, document: str, variables: dict[str, Any], bound: int
) -> None:
    # given warm caches: the first request compiles and prepares its statements; the
    # second compiles the page's count once more (its first cache key differs from every
    # later one), and from then on nothing is compiled or prepared again
    for _ in range(2):
        await counted.round_trips(document, variables, brand.token)

    # when the same page is asked again
    trips = await counted.round_trips(document, variables, brand.token)

    # then it costs one round trip a statement: no ping, no BEGIN or COMMIT, no prepare
    # (Parse), and every statement's SQL came from SQLAlchemy's compiled cache
    assert trips <= bound, counted.last
    assert "P" not in counted.last, counted.last
    assert counted.compiled, "statements were sent"
    assert [sql for hit, sql in counted.compiled if not hit] == []


async def _terminate_backends(session: AsyncSession, ports: list[int]) -> int:
    """Ends the PostgreSQL backends serving these client ports; how many there were."""
    pids = (
        await session.execute(
            text("SELECT pid FROM pg_stat_activity WHERE client_port = ANY(:ports)"),
            {"ports": ports},
        )
    ).scalars()
    ended = [
        (await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})).scalar()
        for pid in pids
    ]
    await session.commit()
    return len(ended)


async def test_a_connection_the_server_ended_fails_no_request(
    counted: CountedApi, brand: Caller, session: AsyncSession
) -> None:
    # given the app's pooled connections, each ended by the server (pg_terminate_backend)
    await counted.round_trips(LIGHT_PAGE, {}, brand.token)
    ended = await _terminate_backends(session, counted.relay.upstream_ports())
    assert ended >= 1
    await counted.relay.wait_closed_by_server(ended)
    opened = counted.relay.connections

    # when the next request comes, then it succeeds (round_trips checks), on a new connection
    await counted.round_trips(LIGHT_PAGE, {}, brand.token)
    assert counted.relay.connections > opened


async def test_a_connection_lost_unnoticed_fails_no_request(
    counted: CountedApi, brand: Caller
) -> None:
    # given pooled connections whose server went away while the app did not notice (no
    # close reached it): the pool hands one out, and its first statement fails
    await counted.round_trips(LIGHT_PAGE, {}, brand.token)
    counted.relay.sever()
    opened = counted.relay.connections

    # when the next request comes, then it succeeds on a new connection
    await counted.round_trips(LIGHT_PAGE, {}, brand.token)
    assert counted.relay.connections > opened


@pytest.mark.writes
async def test_a_mutation_pays_round_trips_for_its_transaction_only(
    counted: CountedApi, world: DemoWorld, manager: Caller
) -> None:
    grant = {
        "input": {
            "factoryId": factory_gid(world, SINAR),
            "granteeId": org_gid(world, LUMEN),
            "scopes": ["ASSESSMENT"],
        }
    }

    async def grant_and_revoke() -> tuple[int, int, str]:
        """The grant's round trips, statements and messages."""
        data, trips = await counted.post(GRANT, grant, manager.token)
        assert data["grantConsent"]["errors"] == []
        statements, messages = len(counted.compiled), counted.last
        revoke = {"input": {"grantId": data["grantConsent"]["grant"]["id"]}}
        data, _ = await counted.post(REVOKE, revoke, manager.token)
        assert data["revokeConsent"]["errors"] == []
        return trips, statements, messages

    # given statements prepared by a first grant and revocation
    await grant_and_revoke()

    # when the factory grants again
    trips, statements, messages = await grant_and_revoke()

    # then the grant costs one round trip a statement, BEGIN and COMMIT: authentication
    # runs before the transaction, not inside one that is then rolled back
    assert "P" not in messages, messages
    assert trips == statements + 2, messages


REFUSE_ACCESS_LOG = {
    "postgres": [
        "CREATE FUNCTION refuse_access_log() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'the access log refuses this row'; END $$",
        "CREATE TRIGGER refuse_access_log BEFORE INSERT ON access_event"
        " FOR EACH ROW EXECUTE FUNCTION refuse_access_log()",
    ],
    "sqlite": [
        "CREATE TRIGGER refuse_access_log BEFORE INSERT ON access_event"
        " BEGIN SELECT RAISE(ABORT, 'the access log refuses this row'); END",
    ],
}
ALLOW_ACCESS_LOG = {
    "postgres": [
        "DROP TRIGGER refuse_access_log ON access_event",
        "DROP FUNCTION refuse_access_log()",
    ],
    "sqlite": ["DROP TRIGGER refuse_access_log"],
}


@pytest.mark.writes
async def test_a_query_whose_access_log_write_fails_shows_nothing(
    api: Any, backend: str, brand: Caller, session: AsyncSession
) -> None:
    # given an access log that refuses every row (a query runs in autocommit on PostgreSQL)
    for sql in REFUSE_ACCESS_LOG[backend]:
        await session.execute(text(sql))
    await session.commit()
    try:
        # when the brand asks for a page of factories
        response = await api.post(LIGHT_PAGE, token=brand.token)
    finally:
        for sql in ALLOW_ACCESS_LOG[backend]:
            await session.execute(text(sql))
        await session.commit()

    # then the request fails and shows none of what it read
    assert response.status_code == 500
    assert "data" not in response.json()
    # and the same page is shown once the log takes rows again
    assert (await api.gql(LIGHT_PAGE, token=brand.token))["factories"]["edges"]
