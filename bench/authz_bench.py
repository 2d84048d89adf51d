"""What authorization costs as grants grow: point decisions, the enforcer's memory, queries.

A synthetic world: 50,000 factories, 2,000 brands granting at random, and one big brand
holding a tenth of the grants (at most 25,000). For each size (10^4 and 10^6 grants;
``--quick``: 10^4 and 10^5) it measures

(a) a point decision on facts in hand, ``authz.enforcer.allows(...)``: µs per call, median
    over batches, for a brand's read (half the requests on a granted factory, half not) and
    a factory manager's write; and pycasbin's own ``enforce()`` on the same requests, which
    ``allows`` remembers by the shape of the facts;
(b) the enforcer's memory after deciding on every grant of the world (one decision per
    grant, each on its own brand and factory): tracemalloc and RSS growth, and the answers
    it remembers. The enforcer keeps no grant: both stay flat as grants grow;
(c) on PostgreSQL, with the grants in ``consent_grant`` (COPY; 10 % revoked, 5 % expired), the
    facts a point decision reads in its request (the caller's active grants on one factory,
    and on a page of 100, through ``authz.facts.grant_scopes``), and the scoped list query
    ``Scope(brand).factories()`` ordered by id with limit 100, and its count, for a typical
    brand, the big brand and a brand with no grant: ms, median. The database is a throwaway
    ``millgate_bench_<random>``, dropped at the end.

Example:
    .venv/bin/python -m bench.authz_bench --quick
    .venv/bin/python -m bench.authz_bench --url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import random
import resource
import statistics
import time
import tracemalloc
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import or_, select, text

import models as m
from authz.enforcer import Enforcer, Relation, Subject, allows
from authz.facts import factory_relation, grant_scopes
from authz.guard import scoped
from authz.paging import count
from authz.principal import Principal
from authz.scope import Scope, active_grant
from bench.pg import admin, asyncpg_url, sqlalchemy_url
from core.db import make_engine, make_sessionmaker

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
FACTORY_ORG_BASE = 1_000_000  # organisation ids: factories' 1,000,001.., brands' 1..
BIG_BRAND = 1
NO_GRANT_BRAND = 2


# --- the synthetic world ---------------------------------------------------------------------


@dataclass
class World:
    factories: int
    brands: int
    # (brand org id, factory id), distinct, in generation order: a prefix is a smaller world.
    grants: list[tuple[int, int]] = field(default_factory=list)

    def factory_org(self, factory_id: int) -> int:
        return FACTORY_ORG_BASE + factory_id


def make_world(factories: int, brands: int, size: int, seed: int) -> World:
    """``size`` distinct grants; the big brand takes a tenth of every prefix of them."""
    rng = random.Random(seed)
    world = World(factories=factories, brands=brands)
    seen: set[tuple[int, int]] = set()
    big_quota = min(25_000, size // 10, factories)
    big_factories = iter(rng.sample(range(1, factories + 1), big_quota))
    while len(world.grants) < size:
        if len(world.grants) % 10 == 0 and big_quota:
            pair = (BIG_BRAND, next(big_factories))
            big_quota -= 1
        else:
            pair = (rng.randint(NO_GRANT_BRAND + 1, brands), rng.randint(1, factories))
        if pair not in seen:
            seen.add(pair)
            world.grants.append(pair)
    return world


def brand_of(org_id: int) -> Principal:
    return Principal(
        organization_id=org_id, organization_kind=m.OrganizationKind.BRAND, role=m.Role.BRAND_VIEWER
    )


def manager(world: World, factory_id: int) -> Principal:
    return Principal(
        organization_id=world.factory_org(factory_id),
        organization_kind=m.OrganizationKind.FACTORY,
        role=m.Role.FACTORY_MANAGER,
        factory_id=factory_id,
    )


@dataclass(frozen=True)
class Row:
    """The target row of a decision: what a request holds of the factory."""

    organization_id: int
    country_code: str


def row_of(world: World, factory_id: int) -> Row:
    return Row(world.factory_org(factory_id), "ID" if factory_id % 3 else "VN")


ASSESSMENT = frozenset({m.DataScope.ASSESSMENT.value})


# --- (b) the enforcer's memory ---------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Memory:
    decisions: int
    traced_mb: float
    rss_mb: float
    remembered: int


def decide_every_grant(enforcer: Enforcer, world: World, size: int) -> int:
    """One decision per grant, as the requests of its brand would ask them."""
    allowed = 0
    for brand_id, factory_id in world.grants[:size]:
        caller = brand_of(brand_id)
        rel = factory_relation(caller, row_of(world, factory_id), ASSESSMENT)
        allowed += enforcer.decide(Subject.of(caller), caller.role_name, rel, "assessment", "read")
    assert allowed == size
    return size


def measure_memory(world: World, size: int) -> Memory:
    gc.collect()
    before = rss_mb()
    tracemalloc.start()
    enforcer = Enforcer()
    traced_before = tracemalloc.get_traced_memory()[0]
    decisions = decide_every_grant(enforcer, world, size)
    gc.collect()
    traced = (tracemalloc.get_traced_memory()[0] - traced_before) / 2**20
    tracemalloc.stop()
    return Memory(decisions, traced, rss_mb() - before, enforcer.remembered)


# --- (a) point checks ------------------------------------------------------------------------


def per_call_us(call: Callable[[], Any], *, batch: int, batches: int) -> float:
    """Median over ``batches`` of the mean µs per call in a batch of ``batch`` calls."""
    samples = []
    for _ in range(batches):
        start = time.perf_counter_ns()
        for _ in range(batch):
            call()
        samples.append((time.perf_counter_ns() - start) / batch / 1000)
    return statistics.median(samples)


@dataclass
class Checks:
    brand_read_us: float
    manager_write_us: float
    casbin_enforce_us: float
    hit_rate: float


Asked = tuple[Principal, Relation]


def measure_checks(world: World, size: int, seed: int) -> Checks:
    rng = random.Random(seed + 1)
    granted = world.grants[:size]
    reads: list[Asked] = []
    for i in range(1000):
        if i % 2 == 0:
            brand_id, factory_id = granted[rng.randrange(len(granted))]
            scopes = ASSESSMENT
        else:  # a factory it was never granted
            brand_id, factory_id = rng.randint(1, world.brands), rng.randint(1, world.factories)
            scopes = frozenset()
        caller = brand_of(brand_id)
        reads.append((caller, factory_relation(caller, row_of(world, factory_id), scopes)))
    writes: list[Asked] = []
    for factory_id in rng.sample(range(1, world.factories + 1), 1000):
        caller = manager(world, factory_id)
        writes.append((caller, factory_relation(caller, row_of(world, factory_id))))
    hits = sum(allows(p, "assessment", "read", rel) for p, rel in reads)
    assert all(allows(p, "consent", "write", rel) for p, rel in writes)

    def cycler(items: Sequence[Asked], obj: str, act: str) -> Callable[[], bool]:
        state = {"i": 0}

        def call() -> bool:
            principal, rel = items[state["i"] % len(items)]
            state["i"] += 1
            return allows(principal, obj, act, rel)

        return call

    generic = Enforcer()
    rows = [(Subject.of(p), p.role_name, rel, "assessment", "read") for p, rel in reads]
    gstate = {"i": 0}

    def generic_call() -> bool:
        row = rows[gstate["i"] % len(rows)]
        gstate["i"] += 1
        return generic.enforce(*row)

    return Checks(
        brand_read_us=per_call_us(cycler(reads, "assessment", "read"), batch=1000, batches=101),
        manager_write_us=per_call_us(cycler(writes, "consent", "write"), batch=1000, batches=51),
        casbin_enforce_us=per_call_us(generic_call, batch=20, batches=11),
        hit_rate=hits / len(reads),
    )


# --- (c) scoped list queries on PostgreSQL ---------------------------------------------------


async def create_schema(url: str) -> None:
    engine = make_engine(sqlalchemy_url(url))
    async with engine.begin() as conn:
        await conn.run_sync(m.Base.metadata.create_all)
    await engine.dispose()


async def copy_world(url: str, world: World) -> None:
    now = dt.datetime.now(dt.UTC)
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        await conn.copy_records_to_table(
            "country",
            columns=["code", "name", "betterwork_programme"],
            records=[("ID", "Indonesia", True), ("VN", "Viet Nam", True)],
        )
        orgs = [(b, f"Brand {b}", "BRAND", False, now) for b in range(1, world.brands + 1)]
        orgs += [
            (world.factory_org(f), f"Factory {f}", "FACTORY", False, now)
            for f in range(1, world.factories + 1)
        ]
        await conn.copy_records_to_table(
            "organization",
            columns=["id", "name", "kind", "labour_inspectorate", "created_at"],
            records=orgs,
        )
        await conn.copy_records_to_table(
            "factory",
            columns=["id", "organization_id", "name", "country_code", "high_performance"],
            records=[
                (f, world.factory_org(f), f"Factory {f}", "ID" if f % 3 else "VN", False)
                for f in range(1, world.factories + 1)
            ],
        )
    finally:
        await conn.close()


async def copy_grants(url: str, pairs: Sequence[tuple[int, int]], first_id: int, seed: int) -> None:
    rng = random.Random(seed + first_id)
    now = dt.datetime.now(dt.UTC)
    records = []
    for i, (brand, factory) in enumerate(pairs):
        roll = rng.random()
        granted = now - dt.timedelta(days=rng.randint(30, 700))
        revoked = granted + dt.timedelta(days=1) if roll < 0.10 else None
        expires = now - dt.timedelta(days=1) if 0.10 <= roll < 0.15 else None
        if brand == BIG_BRAND:  # the big brand's grants are all active
            revoked = expires = None
        records.append(
            (first_id + i, factory, brand, True, rng.random() < 0.5, granted, expires, revoked)
        )
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        await conn.copy_records_to_table(
            "consent_grant",
            columns=[
                "id",
                "factory_id",
                "grantee_id",
                "scope_assessment",
                "scope_self_assessment",
                "granted_at",
                "expires_at",
                "revoked_at",
            ],
            records=records,
        )
        await conn.execute("ANALYZE consent_grant")
    finally:
        await conn.close()


@dataclass
class ListTiming:
    brand: str
    grants: int
    visible: int
    list_ms: float
    count_ms: float
    merged_list_ms: float
    merged_count_ms: float
    facts_one_ms: float
    facts_page_ms: float


def merged_factories(brand: int) -> Any:
    """What ``Scope(brand).factories()`` selects, with the two grant scopes in one IN: the
    planner can then start from the brand's grants instead of filtering every factory."""
    granted = select(m.ConsentGrant.factory_id).where(
        m.ConsentGrant.grantee_id == brand,
        or_(m.ConsentGrant.scope_assessment, m.ConsentGrant.scope_self_assessment),
        active_grant(),
    )
    return scoped(select(m.Factory).where(m.Factory.id.in_(granted)), "bench:merged")


async def median_ms(session: Any, stmt: Any, *, scalar: bool, runs: int = 15) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        if scalar:
            result = await session.scalar(stmt)
        else:
            result = (await session.scalars(stmt)).all()
        times.append(time.perf_counter() - start)
        session.expunge_all()
    return statistics.median(times) * 1000, result


async def facts_ms(session: Any, scope: Scope, factory_ids: list[int], runs: int = 15) -> float:
    """The facts a point decision reads in its request: the caller's grants there."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await grant_scopes(session, scope, factory_ids)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def measure_lists(url: str, world: World, size: int) -> list[ListTiming]:
    per_brand: dict[int, int] = {}
    for brand, _ in world.grants[:size]:
        per_brand[brand] = per_brand.get(brand, 0) + 1
    ordinary = sorted((n, b) for b, n in per_brand.items() if b != BIG_BRAND)
    typical = ordinary[len(ordinary) // 2][1]
    cases = [("typical", typical), ("big", BIG_BRAND), ("no grant", NO_GRANT_BRAND)]
    engine = make_engine(sqlalchemy_url(url))
    sessions = make_sessionmaker(engine)
    out = []
    try:
        for label, brand in cases:
            scope = Scope(
                Principal(
                    organization_id=brand,
                    organization_kind=m.OrganizationKind.BRAND,
                    role=m.Role.BRAND_VIEWER,
                )
            )
            page = scope.factories().order_by(m.Factory.id).limit(100)
            total = count(scope.factories())
            merged_page = merged_factories(brand).order_by(m.Factory.id).limit(100)
            merged_total = count(merged_factories(brand))
            async with sessions() as session:
                await session.scalars(page)  # warm the connection and the plan cache
                list_ms, rows = await median_ms(session, page, scalar=False)
                count_ms, visible = await median_ms(session, total, scalar=True)
                merged_list_ms, merged_rows = await median_ms(session, merged_page, scalar=False)
                merged_count_ms, merged_visible = await median_ms(
                    session, merged_total, scalar=True
                )
                asked = [r.id for r in rows] or list(range(1, 101))
                await grant_scopes(session, scope, asked[:1])
                facts_one = await facts_ms(session, scope, asked[:1])
                facts_page = await facts_ms(session, scope, asked[:100])
            assert len(rows) == min(100, visible)
            assert [r.id for r in rows] == [r.id for r in merged_rows]
            assert visible == merged_visible
            out.append(
                ListTiming(
                    label,
                    per_brand.get(brand, 0),
                    int(visible),
                    list_ms,
                    count_ms,
                    merged_list_ms,
                    merged_count_ms,
                    facts_one,
                    facts_page,
                )
            )
    finally:
        await engine.dispose()
    return out


# --- the run ---------------------------------------------------------------------------------


def fmt_size(n: int) -> str:
    exponent = len(str(n)) - 1
    return f"10^{exponent}" if n == 10**exponent else f"{n:,}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10^4 and 10^5 grants")
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL server (admin database)")
    parser.add_argument("--no-db", action="store_true", help="skip (c), the PostgreSQL part")
    parser.add_argument("--db-only", action="store_true", help="only (c), the PostgreSQL part")
    parser.add_argument("--factories", type=int, default=50_000)
    parser.add_argument("--brands", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sizes = [10**4, 10**5] if args.quick else [10**4, 10**6]
    world = make_world(args.factories, args.brands, max(sizes), args.seed)
    print(
        f"world: {args.factories:,} factories, {args.brands:,} brands; "
        f"grants {' and '.join(map(fmt_size, sizes))}"
    )

    if args.db_only:
        asyncio.run(_database_part(args.url, world, sizes, args.seed))
        return
    print("\n(a) point decisions on facts in hand and (b) the enforcer's memory")
    header = (
        f"{'grants':>7} {'brand read':>11} {'mgr write':>10} {'casbin enf.':>12} "
        f"{'decisions':>10} {'remembered':>10} {'traced':>9} {'RSS +':>8}"
    )
    print(header)
    print("-" * len(header))
    for size in sizes:
        checks = measure_checks(world, size, args.seed)
        memory = measure_memory(world, size)
        gc.collect()
        print(
            f"{fmt_size(size):>7} {checks.brand_read_us:>8.2f} µs "
            f"{checks.manager_write_us:>7.2f} µs {checks.casbin_enforce_us:>9.1f} µs "
            f"{memory.decisions:>10,} {memory.remembered:>10} "
            f"{memory.traced_mb * 1024:>6.1f} KB {memory.rss_mb:>5.1f} MB"
        )
    print(
        "brand read: allows() for a brand, half on a granted factory; mgr write: a factory "
        "manager's consent write;\ncasbin enf.: pycasbin's own enforce() on the brand "
        "requests, which allows() remembers by the facts' shape;\ndecisions: one per grant "
        "of the world; remembered: answers the enforcer holds after them; traced: tracemalloc\n"
        "growth over those decisions; RSS +: growth of the process."
    )

    if args.no_db:
        return
    asyncio.run(_database_part(args.url, world, sizes, args.seed))


async def _database_part(url: str, world: World, sizes: list[int], seed: int) -> None:
    name = f"millgate_bench_{uuid.uuid4().hex[:10]}"
    bench_url = url.rsplit("/", 1)[0] + "/" + name
    print(f"\n(c) scoped list query on PostgreSQL ({name}, dropped afterwards)")
    await admin(url, f'CREATE DATABASE "{name}"')
    try:
        await create_schema(bench_url)
        await copy_world(bench_url, world)
        header = (
            f"{'grants':>7} {'brand':>9} {'its grants':>10} {'visible':>8} "
            f"{'facts: one':>11} {'facts: 100':>11} "
            f"{'page of 100':>12} {'count':>10} {'merged page':>12} {'merged cnt':>11} "
            f"{'load':>8}"
        )
        print(header)
        print("-" * len(header))
        loaded = 0
        for size in sizes:
            start = time.perf_counter()
            await copy_grants(bench_url, world.grants[loaded:size], loaded + 1, seed)
            load_s = time.perf_counter() - start
            loaded = size
            for i, row in enumerate(await measure_lists(bench_url, world, size)):
                print(
                    f"{fmt_size(size) if i == 0 else '':>7} {row.brand:>9} {row.grants:>10,} "
                    f"{row.visible:>8,} {row.facts_one_ms:>8.2f} ms {row.facts_page_ms:>8.2f} ms "
                    f"{row.list_ms:>9.2f} ms {row.count_ms:>7.2f} ms "
                    f"{row.merged_list_ms:>9.2f} ms {row.merged_count_ms:>8.2f} ms "
                    f"{f'{load_s:.1f} s' if i == 0 else '':>8}"
                )
        print(
            "facts: grant_scopes() for one factory and for a page of 100 (the facts of a "
            "point decision), ms median of 15;"
        )
        print(
            "page / count: Scope(brand).factories() as released, through the ORM, ms median "
            "of 15; merged: the same rows\nwith one IN over both grant scopes (asserted equal); "
            "load: COPY of the grants added at that size"
        )
        engine = make_engine(sqlalchemy_url(bench_url))
        try:
            async with engine.connect() as conn:
                scope = Scope(
                    Principal(
                        organization_id=NO_GRANT_BRAND,
                        organization_kind=m.OrganizationKind.BRAND,
                        role=m.Role.BRAND_VIEWER,
                    )
                )
                stmt = scope.factories().order_by(m.Factory.id).limit(100)
                compiled = stmt.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
                plan = await conn.execute(text(f"EXPLAIN (ANALYZE, COSTS OFF) {compiled}"))
                print("\nplan of the page of a brand with no grant (as released), largest size:")
                for (line,) in plan:
                    print(f"  {line}")
        finally:
            await engine.dispose()
    finally:
        await admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
