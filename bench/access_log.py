"""The access log at 10^8 logged factory reads: a factory's page, sizes, a partition drop.

On a scratch PostgreSQL database (``millgate_access_<random>``, migrated to head, dropped at
the end unless ``--keep``) it loads ``--rows`` access-log rows (default 10^6), each a brand
page naming 100 factories, so 10^8 factory reads by default, spread over the last
``--days`` days (default 120: five monthly partitions), with one INSERT … SELECT over
``generate_series``. The factories read follow a brand world at 50,000 factories: 500 brands
with Zipf-sized supplier lists (100 to 5,000 factories), suppliers drawn with a Zipf weight
(a few factories supply many brands), page views Zipf over brands and mostly their first
pages. It then

- times a factory's access-log page (the first 20, newest first) with the statement the API
  runs (``api.loaders.access_page_statement`` over ``Scope(factory manager)``), for the most
  read factory, factories at several percentiles of reads and the least read one: median
  and max over repeated runs, wall-clock through asyncpg, and prints ``EXPLAIN (ANALYZE,
  BUFFERS)`` of the most read and of the median factory;
- times the next page (the cursor of the first) and ``totalCount`` for the same factories;
- prints the table's and its indexes' size, bytes per row and per factory read;
- times a partition drop, as the worker does it (``models.access_log.maintain``).

Example:
    .venv/bin/python -m bench.access_log
    .venv/bin/python -m bench.access_log --rows 100000 --keep
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import random
import statistics
import time
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

import models as m
from api.loaders import access_page_statement
from api.pagination import PageArgs
from authz.principal import Principal
from authz.scope import Scope
from bench.pg import admin, asyncpg_url, sqlalchemy_url
from core.db import make_engine
from migrations import migrate
from models.access_log import add_months, create_partition_sql, maintain, month_of

FACTORIES = 50_000
BRANDS = 500
PAGE = 100
FIELDS = (
    "factories factories.assessments factories.assessments.assessedOn "
    "factories.assessments.cycle factories.assessments.findings "
    "factories.assessments.findings.cluster factories.assessments.findings.nonCompliant "
    "factories.assessments.kind factories.country factories.id factories.name"
)
REPEATS = 15


def brand_pages(seed: int) -> tuple[list[tuple[int, list[int]]], list[float]]:
    """Every brand's pages of 100 supplier ids (with the brand), and how often each page is
    viewed: a brand's first page most, the brands' activity Zipf by rank."""
    rng = random.Random(seed)
    ids = list(range(1, FACTORIES + 1))
    rng.shuffle(ids)  # popularity is not the id order
    weights = list(itertools.accumulate(1 / (rank**0.6) for rank in range(1, FACTORIES + 1)))
    pages: list[tuple[int, list[int]]] = []
    views: list[float] = []
    for rank in range(1, BRANDS + 1):
        size = max(PAGE, min(5_000, int(5_000 / rank**0.8) // PAGE * PAGE))
        chosen: set[int] = set()
        while len(chosen) < size:
            chosen.update(rng.choices(ids, cum_weights=weights, k=size - len(chosen)))
        suppliers = sorted(chosen)
        for number in range(size // PAGE):
            pages.append((rank, suppliers[number * PAGE : (number + 1) * PAGE]))
            views.append((0.6 if number == 0 else 0.4 / 2**number) / rank)
    return pages, views


async def load(url: str, rows: int, days: int, seed: int) -> dict[str, float]:
    """The world's brands and users, then ``rows`` page views in one INSERT … SELECT."""
    timings: dict[str, float] = {}
    pages, views = brand_pages(seed)
    rng = random.Random(seed + 1)
    slots = 100_000
    picks = rng.choices(range(len(pages)), views, k=slots)
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        now = dt.datetime.now(dt.UTC)
        first = month_of((now - dt.timedelta(days=days)).date())
        month = first
        while month <= month_of(now.date()):
            await conn.execute(create_partition_sql(month))
            month = add_months(month, 1)
        await conn.execute(
            "INSERT INTO organization (id, name, kind, labour_inspectorate, created_at) "
            "SELECT g, 'Brand ' || g, 'BRAND', false, now() FROM generate_series(1, $1) g",
            BRANDS,
        )
        # The factories and their organisations (ids 100,000 + factory id).
        await conn.execute(
            "INSERT INTO organization (id, name, kind, labour_inspectorate, created_at) "
            "SELECT 100000 + g, 'Factory ' || g, 'FACTORY', false, now() "
            "FROM generate_series(1, $1) g",
            FACTORIES,
        )
        await conn.execute(
            "INSERT INTO factory (id, organization_id, name, country_code, high_performance) "
            "SELECT g, 100000 + g, 'Factory ' || g, 'ID', false FROM generate_series(1, $1) g",
            FACTORIES,
        )
        await conn.execute(
            "INSERT INTO app_user (id, email, organization_id, role, created_at) "
            "SELECT g, 'u' || g || '@example.test', g, 'BRAND_VIEWER', now() "
            "FROM generate_series(1, $1) g",
            BRANDS,
        )
        await conn.execute(
            "CREATE UNLOGGED TABLE bench_page (id int PRIMARY KEY, brand int, ids int[])"
        )
        await conn.copy_records_to_table(
            "bench_page",
            records=[(i, brand, ids) for i, (brand, ids) in enumerate(pages)],
            columns=["id", "brand", "ids"],
        )
        await conn.execute("CREATE UNLOGGED TABLE bench_slot (slot int PRIMARY KEY, page int)")
        await conn.copy_records_to_table(
            "bench_slot", records=list(enumerate(picks)), columns=["slot", "page"]
        )
        # Loaded as the API writes them, indexes built after (as a restore would).
        await conn.execute("DROP INDEX ix_access_event_factory_ids")
        await conn.execute("DROP INDEX ix_access_event_at")
        start = time.perf_counter()
        await conn.execute(
            "INSERT INTO access_event"
            " (at, factory_ids, organization_id, user_id, operation, fields) "
            "SELECT $2::timestamptz - (($1 - v.g) * $3::float8 / $1) * interval '1 second', "
            "p.ids, p.brand, p.brand, 'query:factories', $4 "
            "FROM (SELECT g, floor(random() * $5::int)::int AS slot"
            " FROM generate_series(1, $1) g) v "
            "JOIN bench_slot s ON s.slot = v.slot JOIN bench_page p ON p.id = s.page "
            "ORDER BY v.g",
            rows,
            now,
            float(days * 86400),
            FIELDS,
            slots,
        )
        timings["insert_s"] = time.perf_counter() - start
        await conn.execute("SET maintenance_work_mem = '1GB'")
        start = time.perf_counter()
        await conn.execute("CREATE INDEX ix_access_event_at ON access_event (at)")
        timings["btree_s"] = time.perf_counter() - start
        start = time.perf_counter()
        await conn.execute(
            "CREATE INDEX ix_access_event_factory_ids ON access_event USING gin (factory_ids)"
        )
        timings["gin_s"] = time.perf_counter() - start
        start = time.perf_counter()
        await conn.execute("VACUUM ANALYZE access_event")
        timings["vacuum_s"] = time.perf_counter() - start
        await conn.execute("DROP TABLE bench_page, bench_slot")
    finally:
        await conn.close()
    return timings


def sql_of(factory_id: int, args: PageArgs) -> str:
    """The API's statement for a factory manager's access-log page, with literal values."""
    scope = Scope(
        Principal(
            organization_id=100_000 + factory_id,
            organization_kind=m.OrganizationKind.FACTORY,
            role=m.Role.FACTORY_MANAGER,
            factory_id=factory_id,
        )
    )
    stmt = access_page_statement(scope, [factory_id], args, m.utcnow(), windows=True)
    return str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def readers_sql_of(factory_id: int, event_ids: list[int]) -> str:
    """The readers (organisations) of a page's events, as the API loads them."""
    scope = Scope(
        Principal(
            organization_id=100_000 + factory_id,
            organization_kind=m.OrganizationKind.FACTORY,
            role=m.Role.FACTORY_MANAGER,
            factory_id=factory_id,
        )
    )
    stmt = scope.access_event_readers(factory_id, event_ids)
    return str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def count_sql_of(factory_id: int) -> str:
    from authz.paging import count_each

    scope = Scope(
        Principal(
            organization_id=100_000 + factory_id,
            organization_kind=m.OrganizationKind.FACTORY,
            role=m.Role.FACTORY_MANAGER,
            factory_id=factory_id,
        )
    )
    stmt = count_each([(factory_id, scope.access_events(factory_id))])
    return str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


async def timed(conn: asyncpg.Connection, sql: str) -> tuple[list[float], list[Any]]:
    """Wall-clock ms of ``REPEATS`` runs after a first one (planning, cold pages) that is
    the first element."""
    times = []
    rows: list[Any] = []
    for _ in range(REPEATS + 1):
        start = time.perf_counter()
        rows = await conn.fetch(sql)
        times.append((time.perf_counter() - start) * 1000)
    return times, rows


async def server_ms(conn: asyncpg.Connection, sql: str) -> tuple[list[float], int, float]:
    """Planning + execution ms as the server reports them (EXPLAIN ANALYZE), ``REPEATS``
    runs after a first, and the 8 KiB pages the last run touched (hit or read): the work,
    whatever else the machine does; and the ms the last run spent compiling it (JIT)."""
    times = []
    pages = 0
    jit = 0.0
    for _ in range(REPEATS + 1):
        plan = await conn.fetchval("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
        found = json.loads(plan)[0] if isinstance(plan, str) else plan[0]
        times.append(float(found["Planning Time"]) + float(found["Execution Time"]))
        top = found["Plan"]
        pages = int(top.get("Shared Hit Blocks", 0)) + int(top.get("Shared Read Blocks", 0))
        jit = float(found.get("JIT", {}).get("Timing", {}).get("Total", 0.0))
    return times[1:], pages, jit


async def measure(url: str) -> None:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        counted = await conn.fetch(
            "SELECT f, count(*) AS n FROM access_event, unnest(factory_ids) f "
            "GROUP BY f ORDER BY n DESC"
        )
        reads = [(r["f"], r["n"]) for r in counted]
        total_reads = sum(n for _, n in reads)
        print(
            f"factory reads: {total_reads:,} over {len(reads):,} factories; per factory: "
            f"max {reads[0][1]:,}, median {reads[len(reads) // 2][1]:,}, min {reads[-1][1]:,}"
        )
        chosen = {
            "most read": reads[0],
            "p1 (1 % most read)": reads[len(reads) // 100],
            "p10": reads[len(reads) // 10],
            "median": reads[len(reads) // 2],
            "p90": reads[len(reads) * 9 // 10],
            "least read": reads[-1],
        }
        # As the server is configured (JIT on by default), then with JIT off, as an OLTP
        # installation runs it (docs/operations.md).
        for jit_setting in ("default", "off"):
            if jit_setting == "off":
                await conn.execute("SET jit = off")
            print(f"\njit: {jit_setting}")
            header = (
                f"{'factory':<20} {'reads':>9} {'first':>9} {'page med':>9} {'page max':>9} "
                f"{'db med':>9} {'db max':>9} {'pages':>6} {'JIT':>9} "
                f"{'next med':>9} {'readers':>10} {'count med':>10}"
            )
            print("\n" + header + "\n" + "-" * len(header))
            medians: list[float] = []
            maxima: list[float] = []
            server_medians: list[float] = []
            for name, (factory_id, n) in chosen.items():
                page_times, found = await timed(conn, sql_of(factory_id, PageArgs(20, None)))
                rows = found[:21]  # newest first; an older window may add some the API drops
                assert len(rows) == min(21, n), (factory_id, len(rows), n)
                last = rows[19] if len(rows) > 20 else rows[-1]
                after = PageArgs(20, (last["at"], last["id"]))
                next_times, _ = await timed(conn, sql_of(factory_id, after))
                count_times, counts = await timed(conn, count_sql_of(factory_id))
                events = [r["id"] for r in rows[:20]]
                reader_times, named = await timed(conn, readers_sql_of(factory_id, events))
                assert len(named) == len(events)
                assert counts[0][1] == n
                on_server, pages, jit = await server_ms(
                    conn, sql_of(factory_id, PageArgs(20, None))
                )
                server_medians.append(statistics.median(on_server))
                cold, warm = page_times[0], page_times[1:]
                medians.append(statistics.median(warm))
                maxima.append(max(warm))
                print(
                    f"{name:<20} {n:>9,} {cold:>6.2f} ms {statistics.median(warm):>6.2f} ms "
                    f"{max(warm):>6.2f} ms {statistics.median(on_server):>6.2f} ms "
                    f"{max(on_server):>6.2f} ms {pages:>6,} {jit:>6.1f} ms "
                    f"{statistics.median(next_times[1:]):>6.2f} ms "
                    f"{statistics.median(reader_times[1:]):>7.2f} ms "
                    f"{statistics.median(count_times[1:]):>7.2f} ms"
                )
            print(
                "first page, all factories above: median of medians "
                f"{statistics.median(medians):.2f} ms, max {max(maxima):.2f} ms "
                f"({REPEATS} runs each after a first, wall-clock "
                "through asyncpg; first: the first run, cold)"
            )
            print(
                "db: planning + execution as the server reports them (EXPLAIN ANALYZE), median "
                f"{statistics.median(server_medians):.2f} ms of the factories' medians"
            )
        for name in ("most read", "median", "least read"):
            factory_id = chosen[name][0]
            plan = await conn.fetch(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql_of(factory_id, PageArgs(20, None))
            )
            print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the first page, {name} factory:")
            for row in plan:
                print("  " + row[0])

        sizes = await conn.fetchrow(
            "SELECT sum(pg_table_size(relid)) AS heap, sum(pg_indexes_size(relid)) AS idx, "
            "(SELECT sum(pg_relation_size(c.oid)) FROM pg_partition_tree("
            "'ix_access_event_factory_ids') t JOIN pg_class c ON c.oid = t.relid) AS gin "
            "FROM pg_partition_tree('access_event') WHERE isleaf"
        )
        count = await conn.fetchval("SELECT count(*) FROM access_event")
        row_bytes = await conn.fetchval(
            "SELECT avg(pg_column_size(e.*)) FROM access_event e TABLESAMPLE SYSTEM (1)"
        )
        heap, idx, gin = int(sizes["heap"]), int(sizes["idx"]), int(sizes["gin"])
        print(
            f"\nsize: table {heap / 2**20:,.0f} MiB + indexes {idx / 2**20:,.0f} MiB "
            f"(GIN {gin / 2**20:,.0f} MiB) = {(heap + idx) / 2**20:,.0f} MiB for {count:,} rows"
        )
        print(
            f"per page view (row): {float(row_bytes):.0f} B the row itself, "
            f"{(heap + idx) / count:,.0f} B with its share of table and indexes; "
            f"per factory read: {(heap + idx) / total_reads:.1f} B"
        )
    finally:
        await conn.close()


async def drop_a_month(url: str) -> None:
    engine = make_engine(sqlalchemy_url(url))
    try:
        async with engine.connect() as conn:
            oldest = await conn.scalar(text("SELECT min(at) FROM access_event"))
            rows = await conn.scalar(
                text("SELECT count(*) FROM access_event WHERE at < :end"),
                {
                    "end": dt.datetime.combine(
                        add_months(month_of(oldest.date()), 1), dt.time(), dt.UTC
                    )
                },
            )
        # The retention that drops the oldest month alone, as the worker runs it.
        today = dt.datetime.now(dt.UTC).date()
        months = (today.year * 12 + today.month) - (oldest.year * 12 + oldest.month) - 1
        start = time.perf_counter()
        async with engine.begin() as conn:
            done = await maintain(conn, retention_months=months, today=today)
        took = (time.perf_counter() - start) * 1000
        print(
            f"\npartition drop: {', '.join(done.dropped)} ({rows:,} rows) in {took:.0f} ms "
            f"(maintain with retention {months} months: lock, catalogue, DROP TABLE, commit)"
        )
    finally:
        await engine.dispose()


async def run(url: str, rows: int, days: int, seed: int, keep: bool) -> None:
    name = f"millgate_access_{uuid.uuid4().hex[:10]}"
    bench_url = url.rsplit("/", 1)[0] + "/" + name
    print(f"scratch database {name} ({'kept' if keep else 'dropped at the end'})")
    await admin(url, f'CREATE DATABASE "{name}"')
    try:
        await asyncio.to_thread(migrate.upgrade, sqlalchemy_url(bench_url))
        timings = await load(bench_url, rows, days, seed)
        print(
            f"loaded {rows:,} rows over {days} days: INSERT … SELECT {timings['insert_s']:.0f} s, "
            f"btree on at {timings['btree_s']:.0f} s, GIN {timings['gin_s']:.0f} s, "
            f"VACUUM ANALYZE {timings['vacuum_s']:.0f} s"
        )
        await measure(bench_url)
        await drop_a_month(bench_url)
    finally:
        if not keep:
            await admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rows", type=int, default=1_000_000, help="page views (rows)")
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    asyncio.run(run(args.url, args.rows, args.days, args.seed, args.keep))


if __name__ == "__main__":
    main()
