"""The benchmark: a fresh database, the generated world, the real server, the floor beside it.

Steps: create a database, generate the world into it (:mod:`bench.generate`), run the
export job once so hosts have something to pull, count the SQL statements of one request
of each kind in-process, then start ``uvicorn api.main:app --workers <cores>`` and
``uvicorn bench.floor:app`` the same way on the same data and drive both over HTTP at each
concurrency. For each scenario: requests/s, p50/p99 latency, server and database CPU per
request (``/proc/<pid>/stat`` of the uvicorn workers and of the PostgreSQL backends of the
benchmark database), peak RSS of a worker, and SQL statements per request. The last line
is ``brand_page_ratio=<x> light_page_ratio=<y>``: Millgate's throughput over the floor's at
concurrency 8.

Example:
    .venv/bin/python -m bench.run --quick
    .venv/bin/python -m bench.run                      # 5,000 factories
    .venv/bin/python -m bench.run --factories 50000 --scenarios brand
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import queries as q
from bench.generate import Manifest, Sizes, generate

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("MILLGATE_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
TICK = os.sysconf("SC_CLK_TCK")
MAIN_SCENARIOS = ("brand", "light", "factory", "exports", "statistics", "grant")
FLOOR_SCENARIOS = ("brand", "light")


# --- processes and /proc -------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0


def _peak_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/task/{current}/children") as handle:
                kids = [int(k) for k in handle.read().split()]
        except FileNotFoundError:
            kids = []
        out += kids
        todo += kids
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """``workers`` uvicorn processes of one app, each on its own port.

    Not ``uvicorn --workers N``: its processes share one listening socket, and asyncio
    accepts every pending connection at once, so one process often takes all of a client's
    keep-alive connections while the others idle (seen here: 13 against 22 requests/s for
    the same brand pages, depending on the draw). A client spreads its connections over
    the ports instead, as a load balancer in front of the processes would.
    """

    name: str
    app: str
    ports: list[int]
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, log: Path) -> None:
        for port in self.ports:
            cmd = [
                str(ROOT / ".venv/bin/uvicorn"),
                self.app,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ]
            self.procs.append(
                subprocess.Popen(  # noqa: S603 - our own venv's uvicorn
                    cmd,
                    cwd=ROOT,
                    env=self.env,
                    stdout=log.open("ab"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    @property
    def url(self) -> str:
        return self.urls[0]

    def worker_pids(self) -> list[int]:
        return [pid for proc in self.procs for pid in [proc.pid, *_descendants(proc.pid)]]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


async def _wait_ready(url: str, path: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                response = await client.request("GET" if path != "/light" else "POST", url + path)
                if response.status_code < 500:
                    return
            await asyncio.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


# --- load ----------------------------------------------------------------------------------


@dataclass
class Result:
    target: str
    scenario: str
    concurrency: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    db_cpu: float = 0.0
    client_cpu: float = 0.0
    peak_rss_mb: float = 0.0
    statements: int | None = None
    first_error: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    def per_request_ms(self, cpu: float) -> float:
        return cpu / self.requests * 1000 if self.requests else 0.0


Request = Callable[[httpx.AsyncClient, int, int], Awaitable[tuple[bool, str]]]


class Driver:
    """Sends requests of one scenario at a given concurrency for a while."""

    def __init__(self, manifest: Manifest, db_name: str) -> None:
        self.manifest = manifest
        self.db_name = db_name
        from core.runtime import Runtime
        from core.settings import Settings

        runtime = Runtime.create(
            Settings(database_url=manifest.database_url, data_dir=Path(manifest.data_dir))
        )
        issue = runtime.token_service.issue
        self.brand_tokens = [issue(u, 7200) for u in manifest.brand_user_ids]
        self.brand_factory = [(issue(int(u), 7200), f) for u, f in manifest.brand_factory.items()]
        self.constituents = [(issue(u, 7200), c) for c, u in manifest.constituent_user_ids.items()]
        self.managers = [(issue(u, 7200), f, b) for u, f, b in manifest.factory_managers]
        self.runtime = runtime

    async def backend_pids(self) -> list[int]:
        conn = await asyncpg.connect(ADMIN_URL)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                self.db_name,
            )
        finally:
            await conn.close()
        return [r["pid"] for r in rows]

    def graphql(
        self,
        doc: str,
        variables: Callable[[int], dict[str, Any]] | None,
        auth: Callable[[int], dict[str, str]],
    ) -> Request:
        async def send(client: httpx.AsyncClient, worker: int, i: int) -> tuple[bool, str]:
            body = {"query": doc, "variables": variables(worker + i) if variables else None}
            response = await client.post("/graphql", json=body, headers=auth(worker + i))
            ok = response.status_code == 200 and b'"errors"' not in response.content
            return ok, "" if ok else response.text[:300]

        return send

    def scenario(self, target: str, name: str) -> Request:
        def bearer(token: str) -> dict[str, str]:
            return {"authorization": f"Bearer {token}"}

        tokens = self.brand_tokens
        if target == "floor":
            path = {"brand": "/brand?first=100", "light": "/light"}[name]

            async def send(client: httpx.AsyncClient, worker: int, i: int) -> tuple[bool, str]:
                token = tokens[(worker + i) % len(tokens)]
                response = await client.post(path, headers=bearer(token))
                ok = response.status_code == 200
                return ok, "" if ok else response.text[:300]

            return send
        if name == "brand":
            return self.graphql(
                q.BRAND_PAGE, lambda i: {"first": 100}, lambda i: bearer(tokens[i % len(tokens)])
            )
        if name == "light":
            return self.graphql(q.LIGHT_PAGE, None, lambda i: bearer(tokens[i % len(tokens)]))
        if name == "factory":
            from api.ids import to_global_id

            pairs = self.brand_factory
            return self.graphql(
                q.ONE_FACTORY,
                lambda i: {"id": to_global_id("Factory", pairs[i % len(pairs)][1])},
                lambda i: bearer(pairs[i % len(pairs)][0]),
            )
        if name == "exports":
            keys = self.manifest.host_api_keys
            return self.graphql(q.EXPORTS_PAGE, None, lambda i: {"x-api-key": keys[i % len(keys)]})
        if name == "statistics":
            cons = self.constituents
            return self.graphql(
                q.STATISTICS,
                lambda i: {"country": cons[i % len(cons)][1]},
                lambda i: bearer(cons[i % len(cons)][0]),
            )
        if name == "grant":
            return self._grant_revoke()
        raise ValueError(name)

    def _grant_revoke(self) -> Request:
        from api.ids import to_global_id

        managers = self.managers

        async def send(client: httpx.AsyncClient, worker: int, i: int) -> tuple[bool, str]:
            # Each concurrent worker owns one factory, so no two grant the same pair at once.
            token, factory, brand = managers[worker % len(managers)]
            headers = {"authorization": f"Bearer {token}"}
            grant = {
                "factoryId": to_global_id("Factory", factory),
                "granteeId": to_global_id("Organization", brand),
                "scopes": ["ASSESSMENT"],
            }
            r1 = await client.post(
                "/graphql", headers=headers, json={"query": q.GRANT, "variables": {"input": grant}}
            )
            body = r1.json()
            payload = (body.get("data") or {}).get("grantConsent") or {}
            if r1.status_code != 200 or payload.get("errors") or not payload.get("grant"):
                return False, r1.text[:300]
            revoke = {"grantId": payload["grant"]["id"]}
            r2 = await client.post(
                "/graphql",
                headers=headers,
                json={"query": q.REVOKE, "variables": {"input": revoke}},
            )
            ok = r2.status_code == 200 and not (r2.json()["data"]["revokeConsent"]["errors"])
            return ok, "" if ok else r2.text[:300]

        return send

    async def measure(
        self, server: Server, name: str, concurrency: int, seconds: float, warmup: float
    ) -> Result:
        send = self.scenario(server.name, name)
        result = Result(server.name, name, concurrency)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=url, limits=limits, timeout=60)
                )
                for url in server.urls
            ]
            await self._run(clients, send, concurrency, warmup, None)
            workers = server.worker_pids()
            backends = await self.backend_pids()
            cpu0 = sum(_cpu_seconds(p) for p in workers)
            db0 = {p: _cpu_seconds(p) for p in backends}
            client0 = time.process_time()
            started = time.perf_counter()
            await self._run(clients, send, concurrency, seconds, result)
            result.seconds = time.perf_counter() - started
            result.client_cpu = time.process_time() - client0
            result.server_cpu = sum(_cpu_seconds(p) for p in workers) - cpu0
            backends = await self.backend_pids()
            result.db_cpu = sum(_cpu_seconds(p) - db0.get(p, 0.0) for p in backends)
            result.peak_rss_mb = max((_peak_rss_mb(p) for p in workers), default=0.0)
        return result

    async def _run(
        self,
        clients: Sequence[httpx.AsyncClient],
        send: Request,
        concurrency: int,
        seconds: float,
        result: Result | None,
    ) -> None:
        deadline = time.perf_counter() + seconds

        async def worker(w: int) -> None:
            client = clients[w % len(clients)]  # the concurrent clients, spread over processes
            i = 0
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                ok, error = await send(client, w * 7919, i)
                i += 1
                if result is not None:
                    result.latencies.append(time.perf_counter() - t0)
                    result.requests += 1
                    if not ok:
                        result.errors += 1
                        result.first_error = result.first_error or error

        await asyncio.gather(*(worker(w) for w in range(concurrency)))


# --- statements per request, in-process -------------------------------------------------------


async def count_statements(manifest: Manifest, driver: Driver) -> dict[str, int]:
    """SQL statements of one request of each kind (the second of two: warm caches)."""
    from sqlalchemy import event

    from api.app import create_app

    runtime = driver.runtime
    app = create_app(runtime)
    counted = [0]

    def before(*_: Any) -> None:
        counted[0] += 1

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", before)
    out: dict[str, int] = {}
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for name in MAIN_SCENARIOS:
                    send = driver.scenario("millgate", name)
                    await send(client, 0, 0)
                    counted[0] = 0
                    ok, error = await send(client, 0, 1)
                    out[name] = counted[0] // (2 if name == "grant" else 1)
                    if not ok:
                        print(f"  in-process {name} failed: {error}", file=sys.stderr)
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", before)
    return out


async def check_floor_matches(
    manifest: Manifest, driver: Driver, millgate: Server, floor: Server
) -> None:
    """The floor must answer exactly what Millgate answers, or the ratio means nothing."""
    async with httpx.AsyncClient(timeout=60) as client:
        for token in driver.brand_tokens[:3]:
            auth = {"authorization": f"Bearer {token}"}
            for doc, variables, path in (
                (q.BRAND_PAGE, {"first": 100}, "/brand?first=100"),
                (q.LIGHT_PAGE, None, "/light"),
            ):
                real = await client.post(
                    millgate.url + "/graphql",
                    headers=auth,
                    json={"query": doc, "variables": variables},
                )
                hand = await client.post(floor.url + path, headers=auth)
                if real.json() != hand.json():
                    where = Path(millgate.env["MILLGATE_DATA_DIR"]) / "floor-mismatch.json"
                    where.write_text(
                        json.dumps({"millgate": real.json(), "floor": hand.json()}, indent=1)
                    )
                    raise SystemExit(
                        f"the floor's {path} differs from Millgate's answer (see {where})"
                    )


# --- the run ----------------------------------------------------------------------------------


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def prepare(
    db_name: str, data_dir: Path, sizes: Sizes, reuse: bool, exports: bool = True
) -> Manifest:
    manifest_path = data_dir / "manifest.json"
    if reuse and manifest_path.exists():
        print(f"reusing {db_name}")
        return Manifest.load(manifest_path)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
    asyncio.run(_admin(f'CREATE DATABASE "{db_name}"'))
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + db_name
    t0 = time.perf_counter()
    manifest = generate(url, data_dir, sizes)
    print(f"generated in {time.perf_counter() - t0:.1f}s: {json.dumps(manifest.counts)}")
    if exports:  # slow (each export is signed and encrypted): only when hosts will pull
        t0 = time.perf_counter()
        report = asyncio.run(_exports(manifest))
        print(f"export job in {time.perf_counter() - t0:.1f}s: {report}")
    manifest.save(manifest_path)
    return manifest


async def _exports(manifest: Manifest) -> str:
    from core.runtime import Runtime
    from core.settings import Settings
    from exports.job import run_once

    runtime = Runtime.create(
        Settings(database_url=manifest.database_url, data_dir=Path(manifest.data_dir))
    )
    try:
        return (await run_once(runtime.sessionmaker, runtime.keys)).summary()
    finally:
        await runtime.close()


@contextlib.asynccontextmanager
async def servers(
    manifest: Manifest, workers: int, log_dir: Path, extra_env: dict[str, str]
) -> AsyncIterator[tuple[Server, Server]]:
    env = {
        **os.environ,
        "MILLGATE_DATABASE_URL": manifest.database_url,
        "MILLGATE_DATA_DIR": manifest.data_dir,
        **extra_env,
    }
    millgate = Server("millgate", "api.main:app", [_free_port() for _ in range(workers)], env)
    floor = Server("floor", "bench.floor:app", [_free_port() for _ in range(workers)], env)
    try:
        millgate.start(log_dir / "millgate.log")
        floor.start(log_dir / "floor.log")
        await _wait_ready(millgate.url, "/readyz")
        await _wait_ready(floor.url, "/light")
        yield millgate, floor
    finally:
        millgate.stop()
        floor.stop()


def table(results: Sequence[Result]) -> str:
    head = (
        f"{'target':9} {'scenario':11} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'srv ms/req':>10} {'db ms/req':>9} {'cli ms/req':>10} {'rss MB':>7} {'stmts':>5} "
        f"{'errors':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.target:9} {r.scenario:11} {r.concurrency:>4} {r.rps:>8.1f} {r.pct(0.5):>8.1f} "
            f"{r.pct(0.99):>8.1f} {r.per_request_ms(r.server_cpu):>10.2f} "
            f"{r.per_request_ms(r.db_cpu):>9.2f} {r.per_request_ms(r.client_cpu):>10.2f} "
            f"{r.peak_rss_mb:>7.0f} {'-' if r.statements is None else r.statements:>5} "
            f"{r.errors:>6}"
        )
    return "\n".join(lines)


async def drive(manifest: Manifest, db_name: str, args: argparse.Namespace) -> list[Result]:
    driver = Driver(manifest, db_name)
    extra_env = {} if args.fast_executor is None else {"MILLGATE_FAST_EXECUTOR": args.fast_executor}
    os.environ.update(extra_env)
    stmts = await count_statements(manifest, driver)
    print("SQL statements per request (in-process):", json.dumps(stmts))
    scenarios = args.scenarios.split(",")
    results: list[Result] = []
    log_dir = Path(manifest.data_dir)
    async with servers(manifest, args.workers, log_dir, extra_env) as (millgate, floor):
        await check_floor_matches(manifest, driver, millgate, floor)
        for name in scenarios:
            for concurrency in args.concurrency:
                targets = [millgate, floor] if name in FLOOR_SCENARIOS else [millgate]
                for server in targets:
                    result = await driver.measure(
                        server, name, concurrency, args.seconds, args.warmup
                    )
                    result.statements = 1 if server is floor else stmts.get(name)
                    results.append(result)
                    print(
                        f"  {server.name:8} {name:10} c={concurrency:<3} {result.rps:8.1f} req/s"
                        f"  p50 {result.pct(0.5):7.1f} ms  errors {result.errors}"
                        + (f"  first error: {result.first_error[:200]}" if result.errors else ""),
                        flush=True,
                    )
    await driver.runtime.close()
    return results


def ratio(results: Sequence[Result], scenario: str, concurrency: int = 8) -> float | None:
    found = {
        r.target: r.rps for r in results if r.scenario == scenario and r.concurrency == concurrency
    }
    if found.get("floor") and "millgate" in found:
        return found["millgate"] / found["floor"]
    return None


def world_sizes(factories: int) -> Sizes:
    """The world of ``factories``: a brand sees ~150 factories at the default sizes; keep
    that share in smaller worlds, so that the brand page is a full page of 100 there too."""
    return Sizes(factories=factories, brands=min(Sizes.brands, max(10, factories // 25)))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Millgate's read path against its floor.")
    parser.add_argument(
        "--quick", action="store_true", help="1,000 factories and 2-second runs: under two minutes"
    )
    parser.add_argument("--factories", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None, help="measured time per run")
    parser.add_argument("--warmup", type=float, default=None)
    parser.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32]
    )
    parser.add_argument("--scenarios", default=",".join(MAIN_SCENARIOS))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database of an earlier run of the same size"
    )
    parser.add_argument("--keep", action="store_true", help="do not drop the database after")
    parser.add_argument(
        "--fast-executor",
        choices=["true", "false"],
        default=None,
        help="MILLGATE_FAST_EXECUTOR for the server (default: its setting)",
    )
    args = parser.parse_args(argv)
    factories = args.factories or (1000 if args.quick else Sizes.factories)
    args.seconds = args.seconds or (2.0 if args.quick else 8.0)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 2.0)
    db_name = f"millgate_bench_{factories}"
    data_dir = ROOT / "var" / "bench" / str(factories)
    started = time.perf_counter()
    manifest = prepare(
        db_name,
        data_dir,
        world_sizes(factories),
        args.reuse,
        exports="exports" in args.scenarios.split(","),
    )
    try:
        results = asyncio.run(drive(manifest, db_name, args))
    finally:
        if not args.keep and not args.reuse:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
            shutil.rmtree(data_dir, ignore_errors=True)
    print()
    print(
        f"{factories} factories, {args.workers} workers, {args.seconds:g}s a run, "
        f"total {time.perf_counter() - started:.0f}s"
    )
    print(table(results))
    brand, light = ratio(results, "brand"), ratio(results, "light")
    print(
        f"brand_page_ratio={'n/a' if brand is None else f'{brand:.2f}'} "
        f"light_page_ratio={'n/a' if light is None else f'{light:.2f}'}"
    )


if __name__ == "__main__":
    main()
