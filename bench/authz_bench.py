"""What authorization costs as grants grow: point checks, enforcer load, scoped list queries.

A synthetic world: 50,000 factories, 2,000 brands granting at random, and one big brand
holding a tenth of the grants (at most 25,000). For each size (10^4 and 10^6 grants;
``--quick``: 10^4 and 10^5) it measures

(a) a point decision, ``PolicyEnforcer.allows(...)``: µs per call, median over batches, for a
    brand's read (half the requests on a granted factory, half not), a factory manager's
    write, and pycasbin's generic ``enforce()`` on the same requests for reference; and the
    first decision after a load (pycasbin's default role manager, before the flat one, built
    the "*" domain there with a pairwise scan: seconds);
(b) loading the links into an enforcer (``PolicyEnforcer.add`` of each, as ``load()`` does
    after its reads): seconds, and memory (tracemalloc and RSS growth);
(c) on PostgreSQL, with the grants in ``consent_grant`` (COPY; 10 % revoked, 5 % expired), the
    scoped list query ``Scope(brand).factories()`` ordered by id with limit 100, and its
    count, for a typical brand, the big brand and a brand with no grant: ms, median. The
    database is a throwaway ``millgate_bench_<random>``, dropped at the end.

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
from authz.enforcer import Link, PolicyEnforcer, factory_domain, org, standing_links
from authz.guard import scoped
from authz.paging import count
from authz.principal import Principal
from authz.scope import Scope, active_grant
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


def grant_link(pair: tuple[int, int]) -> Link:
    return (org(pair[0]), m.DataScope.ASSESSMENT.value, factory_domain(pair[1]))


def standing(world: World) -> list[tuple[Link, str]]:
    links = [
        ((org(world.factory_org(f)), "owner", factory_domain(f)), f"factory:{f}")
        for f in range(1, world.factories + 1)
    ]
    for brand in range(1, world.brands + 1):
        links += [(link, org(brand)) for link in
                  standing_links(brand, m.OrganizationKind.BRAND, None, False)]
    return links


# --- (b) loading the links -------------------------------------------------------------------


def build(world: World, size: int) -> PolicyEnforcer:
    enforcer = PolicyEnforcer()
    for link, source in standing(world):
        enforcer.add(link, source)
    for i, pair in enumerate(world.grants[:size]):
        enforcer.add(grant_link(pair), f"grant:{i + 1}")
    return enforcer


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Load:
    seconds: float
    traced_mb: float
    rss_mb: float


def measure_load(world: World, size: int) -> tuple[PolicyEnforcer, Load]:
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    enforcer = build(world, size)
    seconds = time.perf_counter() - start
    grown = rss_mb() - before
    # tracemalloc slows the build several times: a second, traced pass
    gc.collect()
    tracemalloc.start()
    traced_one = build(world, size)
    traced = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    del traced_one
    return enforcer, Load(seconds, traced, grown)


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
    first_check_s: float
    brand_read_us: float
    manager_write_us: float
    casbin_enforce_us: float
    hit_rate: float


def measure_checks(enforcer: PolicyEnforcer, world: World, size: int, seed: int) -> Checks:
    rng = random.Random(seed + 1)
    granted = world.grants[:size]
    requests: list[tuple[Principal, int]] = []
    for i in range(1000):
        if i % 2 == 0:
            brand, factory = granted[rng.randrange(len(granted))]
        else:
            brand, factory = rng.randint(1, world.brands), rng.randint(1, world.factories)
        requests.append((Principal(organization_id=brand,
                                   organization_kind=m.OrganizationKind.BRAND,
                                   role=m.Role.BRAND_VIEWER), factory))
    managers = [
        (Principal(organization_id=world.factory_org(f),
                   organization_kind=m.OrganizationKind.FACTORY,
                   role=m.Role.FACTORY_MANAGER, factory_id=f), f)
        for f in rng.sample(range(1, world.factories + 1), 1000)
    ]
    start = time.perf_counter()
    enforcer.allows(requests[0][0], "assessment", "read", factory_id=requests[0][1])
    first = time.perf_counter() - start  # pycasbin builds a domain's role manager on first use
    hits = sum(enforcer.allows(p, "assessment", "read", factory_id=f) for p, f in requests)
    assert all(enforcer.allows(p, "consent", "write", factory_id=f) for p, f in managers)

    def cycler(items: Sequence[tuple[Principal, int]], obj: str, act: str) -> Callable[[], bool]:
        state = {"i": 0}

        def call() -> bool:
            principal, factory = items[state["i"] % len(items)]
            state["i"] += 1
            return enforcer.allows(principal, obj, act, factory_id=factory)

        return call

    generic = enforcer.matcher.casbin
    rows = [(p.subject, p.role_name, factory_domain(f), "", "assessment", "read")
            for p, f in requests]
    gstate = {"i": 0}

    def generic_call() -> bool:
        row = rows[gstate["i"] % len(rows)]
        gstate["i"] += 1
        return bool(generic.enforce(*row))

    return Checks(
        first_check_s=first,
        brand_read_us=per_call_us(cycler(requests, "assessment", "read"), batch=1000, batches=101),
        manager_write_us=per_call_us(cycler(managers, "consent", "write"), batch=1000, batches=51),
        casbin_enforce_us=per_call_us(generic_call, batch=200, batches=21),
        hit_rate=hits / len(requests),
    )


# --- (c) scoped list queries on PostgreSQL ---------------------------------------------------


def asyncpg_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def sqlalchemy_url(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


async def admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


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
            "country", columns=["code", "name", "betterwork_programme"],
            records=[("ID", "Indonesia", True), ("VN", "Viet Nam", True)])
        orgs = [(b, f"Brand {b}", "BRAND", False, now) for b in range(1, world.brands + 1)]
        orgs += [(world.factory_org(f), f"Factory {f}", "FACTORY", False, now)
                 for f in range(1, world.factories + 1)]
        await conn.copy_records_to_table(
            "organization", columns=["id", "name", "kind", "labour_inspectorate", "created_at"],
            records=orgs)
        await conn.copy_records_to_table(
            "factory", columns=["id", "organization_id", "name", "country_code",
                                "high_performance"],
            records=[(f, world.factory_org(f), f"Factory {f}", "ID" if f % 3 else "VN", False)
                     for f in range(1, world.factories + 1)])
    finally:
        await conn.close()


async def copy_grants(url: str, pairs: Sequence[tuple[int, int]], first_id: int,
                      seed: int) -> None:
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
        records.append((first_id + i, factory, brand, True, rng.random() < 0.5, granted,
                        expires, revoked))
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        await conn.copy_records_to_table(
            "consent_grant",
            columns=["id", "factory_id", "grantee_id", "scope_assessment",
                     "scope_self_assessment", "granted_at", "expires_at", "revoked_at"],
            records=records)
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
            scope = Scope(Principal(organization_id=brand,
                                    organization_kind=m.OrganizationKind.BRAND,
                                    role=m.Role.BRAND_VIEWER))
            page = scope.factories().order_by(m.Factory.id).limit(100)
            total = count(scope.factories())
            merged_page = merged_factories(brand).order_by(m.Factory.id).limit(100)
            merged_total = count(merged_factories(brand))
            async with sessions() as session:
                await session.scalars(page)  # warm the connection and the plan cache
                list_ms, rows = await median_ms(session, page, scalar=False)
                count_ms, visible = await median_ms(session, total, scalar=True)
                merged_list_ms, merged_rows = await median_ms(session, merged_page, scalar=False)
                merged_count_ms, merged_visible = await median_ms(session, merged_total,
                                                                  scalar=True)
            assert len(rows) == min(100, visible)
            assert [r.id for r in rows] == [r.id for r in merged_rows]
            assert visible == merged_visible
            out.append(ListTiming(label, per_brand.get(brand, 0), int(visible), list_ms, count_ms,
                                  merged_list_ms, merged_count_ms))
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
    standing_count = len(standing(world))
    print(f"world: {args.factories:,} factories, {args.brands:,} brands, "
          f"{standing_count:,} standing links; grants {' and '.join(map(fmt_size, sizes))}")

    if args.db_only:
        asyncio.run(_database_part(args.url, world, sizes, args.seed))
        return
    print("\n(a) point checks and (b) enforcer load")
    header = (f"{'grants':>7} {'links':>9} {'1st check':>10} {'brand read':>11} "
              f"{'mgr write':>10} {'casbin enf.':>11} {'load':>8} {'per link':>9} {'traced':>8} "
              f"{'RSS +':>8}")
    print(header)
    print("-" * len(header))
    for size in sizes:
        enforcer, load = measure_load(world, size)
        checks = measure_checks(enforcer, world, size, args.seed)
        links = enforcer.link_count
        del enforcer
        gc.collect()
        print(f"{fmt_size(size):>7} {links:>9,} {checks.first_check_s * 1e6:>7.0f} µs "
              f"{checks.brand_read_us:>8.2f} µs {checks.manager_write_us:>7.2f} µs "
              f"{checks.casbin_enforce_us:>8.1f} µs {load.seconds:>6.2f} s "
              f"{load.seconds / links * 1e6:>6.1f} µs {load.traced_mb:>5.0f} MB "
              f"{load.rss_mb:>5.0f} MB")
    print("1st check: the first allows() after the load; brand read: allows() for a brand, half "
          "on a granted factory;\nmgr write: a factory manager's consent write; casbin enf.: "
          "pycasbin's generic enforce() on the brand requests;\nload: PolicyEnforcer.add of "
          "every link; traced: tracemalloc after the load; RSS +: growth of the process.")

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
        header = (f"{'grants':>7} {'brand':>9} {'its grants':>10} {'visible':>8} "
                  f"{'page of 100':>12} {'count':>10} {'merged page':>12} {'merged cnt':>11} "
                  f"{'load':>8}")
        print(header)
        print("-" * len(header))
        loaded = 0
        for size in sizes:
            start = time.perf_counter()
            await copy_grants(bench_url, world.grants[loaded:size], loaded + 1, seed)
            load_s = time.perf_counter() - start
            loaded = size
            for i, row in enumerate(await measure_lists(bench_url, world, size)):
                print(f"{fmt_size(size) if i == 0 else '':>7} {row.brand:>9} {row.grants:>10,} "
                      f"{row.visible:>8,} {row.list_ms:>9.2f} ms {row.count_ms:>7.2f} ms "
                      f"{row.merged_list_ms:>9.2f} ms {row.merged_count_ms:>8.2f} ms "
                      f"{f'{load_s:.1f} s' if i == 0 else '':>8}")
        print("page / count: Scope(brand).factories() as released, through the ORM, ms median "
              "of 15; merged: the same rows\nwith one IN over both grant scopes (asserted equal); "
              "load: COPY of the grants added at that size")
        engine = make_engine(sqlalchemy_url(bench_url))
        try:
            async with engine.connect() as conn:
                scope = Scope(Principal(organization_id=NO_GRANT_BRAND,
                                        organization_kind=m.OrganizationKind.BRAND,
                                        role=m.Role.BRAND_VIEWER))
                stmt = scope.factories().order_by(m.Factory.id).limit(100)
                compiled = stmt.compile(engine.sync_engine,
                                        compile_kwargs={"literal_binds": True})
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
