"""Load with faults: two API processes on one PostgreSQL database, a mixed load, a killed
process and dropped database connections in the middle, and then the proofs.

    .venv/bin/python -m scripts.load_with_faults --seconds 60

What it does:

1. Creates a fresh database, migrates it, seeds the demo world, and writes one set of key
   files that both servers share (production mode; rate limits shared through Redis when
   it answers at --redis-url).
2. Starts two ``uvicorn api.main:app`` processes on two ports.
3. Drives for --seconds: brands read their factories (lists and lookups), the host pulls
   its gatewayExports, every factory's manager grants and revokes consent to the brands and
   the host (each mutation with an Idempotency-Key, retried until acknowledged), and an
   export job runs every few seconds.
4. At a third of the run it SIGKILLs one server and restarts it; at half it drops every
   database connection of the servers (``pg_terminate_backend``), twice.
5. Then it checks: no read showed a factory the reader held no grant of at any moment of the
   read (a read that began after a revocation was acknowledged never shows the factory);
   every acknowledged grant and revocation is in the database exactly once, with exactly
   one audit entry; the audit chain verifies; and after the export job, every eligible
   (host, cycle) has exactly one export.

Prints a report and exits 1 when anything leaked, was lost or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import select, text  # noqa: TID251 - reads marked with system_read

import audit
import models as m
from api.ids import from_global_id, to_global_id
from authz.guard import install_guard, system_read
from core.crypto import load_key_material
from core.runtime import Runtime
from core.settings import Settings
from demo import KEYED_HOST, DemoWorld, email_of, seed_demo, seed_reference
from exports.eligibility import gateway_eligibility
from exports.facts import facts_by_cycle
from exports.job import _pending, run_once, utc_today
from migrations import migrate

ROOT = Path(__file__).resolve().parent.parent
BRANDS = ("northwind-apparel", "harbour-outfitters", "lumen-basics")
HOST = KEYED_HOST

BRAND_READ = """{ factories(first: 100) { edges { node { id name
  assessments(first: 3) { edges { node { findings(first: 3) { edges { node { detail } } } } } }
} } } }"""
LOOKUP = "query($id: ID!) { factory(id: $id) { id name } }"
HOST_READ = "{ gatewayExports(first: 100) { edges { node { factoryGatewayId cycle } } } }"
GRANT = """mutation($i: GrantConsentInput!) { grantConsent(input: $i) {
  grant { id } errors { code message } } }"""
REVOKE = """mutation($i: RevokeConsentInput!) { revokeConsent(input: $i) {
  grant { id revokedAt } errors { code message } } }"""


# --- bookkeeping ------------------------------------------------------------------------------


@dataclass
class Pair:
    """One (factory, grantee) whose consent one writer toggles; times are monotonic."""

    factory_id: int
    grantee_id: int
    active_grant: int | None
    # Intervals during which a grant may have been in force: (first send, revoke ack).
    windows: list[list[float]] = field(default_factory=list)
    grants_acked: list[int] = field(default_factory=list)
    revokes_acked: list[int] = field(default_factory=list)
    unacknowledged: int = 0  # operations still unanswered when the run ended


@dataclass
class Read:
    reader: int  # organisation id
    start: float
    end: float
    factories: set[int]


@dataclass
class Stats:
    requests: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    reads: list[Read] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    export_passes: int = 0
    export_pass_errors: int = 0

    def count(self, outcome: str) -> None:
        self.requests += 1
        self.by_status[outcome] += 1


class Cluster:
    """The two API processes."""

    def __init__(self, env: dict[str, str], ports: list[int], logs: Path) -> None:
        self.env = env
        self.ports = ports
        self.logs = logs
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, port: int) -> None:
        log = (self.logs / f"server-{port}.log").open("ab")
        self.procs[port] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    async def ready(self, port: int, within: float = 60) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"server on port {port} did not become ready")

    def kill(self, port: int) -> None:
        self.procs[port].send_signal(signal.SIGKILL)
        self.procs[port].wait()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.poll() is None:
                proc.kill()


# --- the load -----------------------------------------------------------------------------------


class Load:
    def __init__(self, ports: list[int], deadline: float, stats: Stats) -> None:
        self.ports = ports
        self.deadline = deadline
        self.stats = stats
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=2.0))

    def url(self) -> str:
        return f"http://127.0.0.1:{random.choice(self.ports)}/graphql"  # noqa: S311

    async def post(
        self, query: str, variables: dict[str, Any] | None, headers: dict[str, str]
    ) -> tuple[int, Any]:
        try:
            response = await self.client.post(
                self.url(), json={"query": query, "variables": variables}, headers=headers
            )
        except httpx.HTTPError as error:
            self.stats.count(type(error).__name__)
            return 0, None
        self.stats.count(str(response.status_code))
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    async def mutate(
        self, query: str, variables: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any] | None:
        """Sends until the answer is known; the same Idempotency-Key every time."""
        key = uuid.uuid4().hex
        sent = {**headers, "idempotency-key": key}
        first = True
        while time.monotonic() < self.deadline + 30:  # finish what was started
            if not first:
                self.stats.retries += 1
                await asyncio.sleep(0.2)
            first = False
            status, body = await self.post(query, variables, sent)
            if status == 200 and body and "errors" not in body:
                payload: dict[str, Any] = next(iter(body["data"].values()))
                return payload
        return None

    async def brand_reader(self, org: int, token: str, factory_ids: list[int]) -> None:
        headers = {"authorization": f"Bearer {token}"}
        while time.monotonic() < self.deadline:
            start = time.monotonic()
            if random.random() < 0.6:  # noqa: S311
                status, body = await self.post(BRAND_READ, None, headers)
                seen = set()
                if status == 200 and body and body.get("data"):
                    for edge in body["data"]["factories"]["edges"]:
                        parsed = from_global_id(edge["node"]["id"], "Factory")
                        assert parsed is not None
                        seen.add(parsed[1])
            else:
                target = random.choice(factory_ids)  # noqa: S311
                status, body = await self.post(
                    LOOKUP, {"id": str(to_global_id("Factory", target))}, headers
                )
                found = status == 200 and body and body.get("data") and body["data"]["factory"]
                seen = {target} if found else set()
            if status == 200:
                self.stats.reads.append(Read(org, start, time.monotonic(), seen))

    async def host_reader(self, org: int, api_key: str, by_gateway: dict[str, int]) -> None:
        headers = {"x-api-key": api_key}
        while time.monotonic() < self.deadline:
            start = time.monotonic()
            status, body = await self.post(HOST_READ, None, headers)
            if status == 200 and body and body.get("data"):
                seen = {
                    by_gateway[e["node"]["factoryGatewayId"]]
                    for e in body["data"]["gatewayExports"]["edges"]
                }
                self.stats.reads.append(Read(org, start, time.monotonic(), seen))
            await asyncio.sleep(0.05)

    async def writer(self, token: str, pairs: list[Pair]) -> None:
        headers = {"authorization": f"Bearer {token}"}
        while time.monotonic() < self.deadline:
            pair = random.choice(pairs)  # noqa: S311
            if pair.active_grant is None:
                window = [time.monotonic(), math.inf]
                pair.windows.append(window)
                variables = {
                    "i": {
                        "factoryId": str(to_global_id("Factory", pair.factory_id)),
                        "granteeId": str(to_global_id("Organization", pair.grantee_id)),
                        "scopes": ["ASSESSMENT", "SELF_ASSESSMENT"],
                    }
                }
                payload = await self.mutate(GRANT, variables, headers)
                if payload is None:
                    pair.unacknowledged += 1
                    return
                if payload["errors"]:
                    raise RuntimeError(f"grant refused: {payload['errors']}")
                parsed = from_global_id(payload["grant"]["id"], "ConsentGrant")
                assert parsed is not None
                pair.active_grant = parsed[1]
                pair.grants_acked.append(parsed[1])
            else:
                variables = {"i": {"grantId": str(to_global_id("ConsentGrant", pair.active_grant))}}
                payload = await self.mutate(REVOKE, variables, headers)
                if payload is None:
                    pair.unacknowledged += 1
                    return
                if payload["errors"]:
                    raise RuntimeError(f"revoke refused: {payload['errors']}")
                pair.revokes_acked.append(pair.active_grant)
                pair.windows[-1][1] = time.monotonic()
                pair.active_grant = None
            await asyncio.sleep(random.uniform(0.05, 0.3))  # noqa: S311

    async def export_worker(self, runtime: Runtime) -> None:
        while time.monotonic() < self.deadline:
            try:
                await run_once(runtime.sessionmaker, runtime.keys)
                self.stats.export_passes += 1
            except Exception:  # a dropped connection: the next pass tries again
                self.stats.export_pass_errors += 1
            await asyncio.sleep(3)


# --- faults ---------------------------------------------------------------------------------------


async def drop_connections(admin_dsn: str, database: str) -> int:
    conn = await asyncpg.connect(admin_dsn)
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        return len(rows)
    finally:
        await conn.close()


async def faults(
    cluster: Cluster, admin_dsn: str, database: str, start: float, seconds: float, stats: Stats
) -> None:
    victim = cluster.ports[-1]
    await asyncio.sleep(seconds / 3)
    cluster.kill(victim)
    stats.faults.append(f"t+{time.monotonic() - start:.1f}s SIGKILL server :{victim}")
    await asyncio.sleep(2)
    cluster.start(victim)
    await cluster.ready(victim)
    stats.faults.append(f"t+{time.monotonic() - start:.1f}s server :{victim} back")
    await asyncio.sleep(max(0.0, start + seconds / 2 - time.monotonic()))
    for _ in range(2):
        dropped = await drop_connections(admin_dsn, database)
        stats.faults.append(
            f"t+{time.monotonic() - start:.1f}s pg_terminate_backend: {dropped} connections"
        )
        await asyncio.sleep(1)


# --- checks ---------------------------------------------------------------------------------------


def leaks(
    stats: Stats, pairs: dict[tuple[int, int], Pair], static: set[tuple[int, int]]
) -> list[str]:
    """Reads that showed a factory no grant of which was in force at any moment of the read."""
    found = []
    for read in stats.reads:
        for factory in read.factories:
            key = (factory, read.reader)
            if key in static:
                continue
            pair = pairs.get(key)
            windows = pair.windows if pair else []
            if not any(w[0] <= read.end and w[1] >= read.start for w in windows):
                found.append(
                    f"organisation {read.reader} saw factory {factory} in a read of "
                    f"[{read.start:.3f}, {read.end:.3f}] outside every grant window {windows}"
                )
    return found


async def database_checks(
    runtime: Runtime, pairs: dict[tuple[int, int], Pair], started_at: dt.datetime
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with runtime.sessionmaker() as session:
        grants = {
            g.id: g
            for g in (
                await session.scalars(system_read(select(m.ConsentGrant), "load: check grants"))
            ).all()
        }
        entries = Counter(
            (action, target)
            for action, target in (
                await session.execute(text("SELECT action, target FROM audit_entry"))
            ).all()
        )
        lost, duplicated = [], []
        for pair in pairs.values():
            for grant_id in pair.grants_acked:
                grant = grants.get(grant_id)
                if grant is None or (grant.factory_id, grant.grantee_id) != (
                    pair.factory_id,
                    pair.grantee_id,
                ):
                    lost.append(f"acknowledged grant {grant_id} is not in the database")
                if entries[("consent.grant", f"ConsentGrant:{grant_id}")] != 1:
                    duplicated.append(
                        f"grant {grant_id}: "
                        f"{entries[('consent.grant', f'ConsentGrant:{grant_id}')]} "
                        "audit entries"
                    )
            for grant_id in pair.revokes_acked:
                grant = grants.get(grant_id)
                if grant is None or grant.revoked_at is None:
                    lost.append(
                        f"acknowledged revocation of grant {grant_id} is not in the database"
                    )
                if entries[("consent.revoke", f"ConsentGrant:{grant_id}")] != 1:
                    duplicated.append(f"revocation of {grant_id}: not one audit entry")
            made = [
                g
                for g in grants.values()
                if (g.factory_id, g.grantee_id) == (pair.factory_id, pair.grantee_id)
                and g.granted_at >= started_at
            ]
            if (
                not len(pair.grants_acked)
                <= len(made)
                <= len(pair.grants_acked) + pair.unacknowledged
            ):
                duplicated.append(
                    f"pair {pair.factory_id}->{pair.grantee_id}: {len(made)} grants in the "
                    f"database for {len(pair.grants_acked)} acknowledged"
                )
        out["lost"] = lost
        out["duplicated"] = duplicated
        out["acknowledged"] = sum(
            len(p.grants_acked) + len(p.revokes_acked) for p in pairs.values()
        )
        breaks = await audit.verify_database(session)
        out["audit_entries"] = sum(entries.values())
        out["audit_breaks"] = [f"entry {b.seq}: {b.reason}" for b in breaks]
    return out


async def export_checks(runtime: Runtime) -> dict[str, Any]:
    first = await run_once(runtime.sessionmaker, runtime.keys)
    second = await run_once(runtime.sessionmaker, runtime.keys)
    today = utc_today()
    async with runtime.sessionmaker() as session:
        twice = (
            await session.execute(
                text(
                    "SELECT host_id, cycle_id, count(*) FROM gateway_export"
                    " GROUP BY host_id, cycle_id HAVING count(*) > 1"
                )
            )
        ).all()
        pending = (await session.execute(system_read(_pending(today), "load: check exports"))).all()
        facts = await facts_by_cycle(session, (row.cycle_id for row in pending))
        missing = [
            (row.host_id, row.cycle_id)
            for row in pending
            if row.host_public_jwk is not None
            and gateway_eligibility(facts[row.cycle_id], today).releasable(today)
        ]
        total = (await session.execute(text("SELECT count(*) FROM gateway_export"))).scalar()
    return {
        "written_after_load": first.exports_written,
        "written_by_a_second_pass": second.exports_written,
        "job_errors": first.errors + second.errors,
        "exported_twice": [tuple(r) for r in twice],
        "eligible_without_export": missing,
        "exports": total,
    }


# --- setup and main -----------------------------------------------------------------------------


async def prepare(env: dict[str, str]) -> tuple[Runtime, DemoWorld]:
    """Migrates and seeds the fresh database; the driver's own runtime (same keys)."""
    os.environ.update(env)
    settings = Settings()
    await asyncio.to_thread(migrate.upgrade, settings.effective_database_url)
    runtime = Runtime.create(settings)
    async with runtime.engine.begin() as conn:  # tables the migrations may not have yet
        await conn.run_sync(m.Base.metadata.create_all)
    async with runtime.sessionmaker() as session:
        await seed_reference(session)
        world = await seed_demo(session, runtime.keys)
        await session.commit()
    return runtime, world


async def main(args: argparse.Namespace) -> int:
    install_guard()
    random.seed(args.seed)
    database = f"millgate_load_{uuid.uuid4().hex[:10]}"
    admin_dsn = args.postgres
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    base = admin_dsn.rsplit("/", 1)[0]
    url = f"postgresql+asyncpg://{base.split('://', 1)[1]}/{database}"
    work = Path(tempfile.mkdtemp(prefix="millgate-load-"))
    keys_dir = work / "keys"
    load_key_material(None, None, None, keys_dir, create_missing=True)
    env = {
        **os.environ,
        "MILLGATE_DATABASE_URL": url,
        "MILLGATE_DATA_DIR": str(work),
        "MILLGATE_PRODUCTION": "1",
        "MILLGATE_FIELD_KEYS_FILE": str(keys_dir / "field-keys.json"),
        "MILLGATE_SIGNING_KEYS_FILE": str(keys_dir / "signing-keys.json"),
        "MILLGATE_API_KEY_PEPPER_FILE": str(keys_dir / "api-key-pepper"),
        "MILLGATE_RATE_LIMIT_PER_MINUTE": "1000000",
        "MILLGATE_REDIS_URL": args.redis_url,
    }
    print(f"database {database}, work folder {work}")
    runtime, world = await prepare({k: v for k, v in env.items() if k.startswith("MILLGATE_")})
    cluster = Cluster(env, args.ports, work)
    stats = Stats()
    try:
        for port in args.ports:
            cluster.start(port)
        for port in args.ports:
            await cluster.ready(port)
        await run_once(runtime.sessionmaker, runtime.keys)  # exports for the host to pull
        report = await drive(args, runtime, world, cluster, admin_dsn, database, stats)
    finally:
        cluster.stop_all()
        await runtime.close()
        if not args.keep_database:
            admin = await asyncpg.connect(admin_dsn)
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await admin.close()
    print(json.dumps(report, indent=2, default=str))
    failed = (
        report["leaks_found"]
        or report["mutations_lost"]
        or report["mutations_duplicated"]
        or report["audit"]["breaks"]
        or report["exports"]["exported_twice"]
        or report["exports"]["eligible_without_export"]
        or report["exports"]["job_errors"]
    )
    print("RESULT:", "FAILED" if failed else "OK")
    return 1 if failed else 0


async def drive(
    args: argparse.Namespace,
    runtime: Runtime,
    world: DemoWorld,
    cluster: Cluster,
    admin_dsn: str,
    database: str,
    stats: Stats,
) -> dict[str, Any]:
    orgs = world.organization_ids
    factory_ids = sorted(world.factory_ids.values())
    grantees = [orgs[b] for b in BRANDS] + [orgs[HOST]]
    started_at = dt.datetime.now(dt.UTC)
    now = started_at
    async with runtime.sessionmaker() as session:
        all_grants = (
            await session.scalars(system_read(select(m.ConsentGrant), "load: initial grants"))
        ).all()
        factories = (await session.scalars(system_read(select(m.Factory), "load: factories"))).all()
        users = {
            u.email: u.id
            for u in (await session.scalars(system_read(select(m.User), "load: users"))).all()
        }
    active = {(g.factory_id, g.grantee_id): g.id for g in all_grants if g.active_at(now)}
    by_gateway = {f.slcp_gateway_id: f.id for f in factories if f.slcp_gateway_id}
    slugs = {f.id: next(s for s, o in orgs.items() if o == f.organization_id) for f in factories}

    start = time.monotonic()
    pairs: dict[tuple[int, int], Pair] = {}
    for factory in factory_ids:
        for grantee in grantees:
            pair = Pair(factory, grantee, active.get((factory, grantee)))
            if pair.active_grant is not None:
                pair.windows.append([-math.inf, math.inf])
            pairs[(factory, grantee)] = pair
    static: set[tuple[int, int]] = set()  # none: every (factory, grantee) read is churned

    deadline = start + args.seconds
    load = Load(args.ports, deadline, stats)
    tokens = runtime.token_service
    tasks = []
    for slug in BRANDS:
        token = tokens.issue(users[email_of(m.Role.BRAND_VIEWER, slug)], 7200)
        for _ in range(args.readers):
            tasks.append(load.brand_reader(orgs[slug], token, factory_ids))
    tasks.append(load.host_reader(orgs[HOST], world.host_api_key, by_gateway))
    for factory in factory_ids:
        token = tokens.issue(users[email_of(m.Role.FACTORY_MANAGER, slugs[factory])], 7200)
        tasks.append(load.writer(token, [pairs[(factory, g)] for g in grantees]))
    tasks.append(load.export_worker(runtime))
    tasks.append(faults(cluster, admin_dsn, database, start, args.seconds, stats))
    print(f"driving {len(tasks)} tasks for {args.seconds:g} s on ports {args.ports}")
    results = await asyncio.gather(*tasks, return_exceptions=True)
    task_errors = [repr(r) for r in results if isinstance(r, BaseException)]
    await load.client.aclose()
    elapsed = time.monotonic() - start

    found = leaks(stats, pairs, static)
    checks = await database_checks(runtime, pairs, started_at)
    exports = await export_checks(runtime)
    errors = {k: v for k, v in stats.by_status.items() if k != "200"}
    return {
        "seconds": round(elapsed, 1),
        "requests": stats.requests,
        "requests_per_second": round(stats.requests / elapsed, 1),
        "responses": dict(stats.by_status),
        "errors": sum(errors.values()),
        "retries": stats.retries,
        "reads_checked": len(stats.reads),
        "factories_seen_in_reads": sum(len(r.factories) for r in stats.reads),
        "reads_after_a_revocation_of_a_pair": sum(
            1
            for r in stats.reads
            for p in pairs.values()
            if p.grantee_id == r.reader and any(w[1] < r.start for w in p.windows)
        ),
        "faults": stats.faults,
        "mutations_acknowledged": checks["acknowledged"],
        "grants_acknowledged": sum(len(p.grants_acked) for p in pairs.values()),
        "revocations_acknowledged": sum(len(p.revokes_acked) for p in pairs.values()),
        "mutations_unanswered_at_end": sum(p.unacknowledged for p in pairs.values()),
        "leaks_found": len(found),
        "leak_examples": found[:5],
        "mutations_lost": len(checks["lost"]),
        "lost_examples": checks["lost"][:5],
        "mutations_duplicated": len(checks["duplicated"]),
        "duplicated_examples": checks["duplicated"][:5],
        "audit": {"entries": checks["audit_entries"], "breaks": checks["audit_breaks"]},
        "export_passes_during_load": stats.export_passes,
        "export_passes_failed_during_load": stats.export_pass_errors,
        "exports": exports,
        "task_errors": task_errors,
    }


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a database to connect to for CREATE/DROP DATABASE",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--ports", type=int, nargs="+", default=[8111, 8112])
    parser.add_argument("--readers", type=int, default=2, help="reader tasks per brand")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-database", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
