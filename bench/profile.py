"""Where one brand page's time goes, in-process through the ASGI app (httpx.ASGITransport).

Reuses the database of ``bench.run --keep`` of the same size (or generates it), times the
brand page without a profiler, then samples it with pyinstrument and files every sample
under the innermost frame that names a category: authentication, authorization, SQL
(statement building, compiling, the driver), ORM object loading, decryption of details,
GraphQL execution (graphql-core and strawberry), resolvers and object building (api/),
JSON encoding, and the HTTP/ASGI layers with the event loop. The httpx client's own frames
are left out: they are the caller's, not the server's.

Example:
    .venv/bin/python -m bench.profile --factories 5000 --requests 40
    .venv/bin/python -m bench.profile --fast-executor false   # the standard executor
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench import queries as q
from bench.generate import Manifest, Sizes
from bench.run import ROOT, prepare, world_sizes

ORM_LOADING = (
    "orm/loading.py",
    "orm/state.py",
    "orm/instrumentation.py",
    "orm/attributes.py",
    "orm/identity.py",
    "engine/row.py",
    "engine/result.py",
    "orm/strategies.py",
    "sql/sqltypes.py",
    "engine/processors.py",
    "models/base.py",
)

# (category, test on (file path, function)); the innermost frame that passes one decides.
RULES: list[tuple[str, Any]] = [
    ("client (httpx, not server)", lambda f, fn: "/httpx/" in f and "_transports/asgi" not in f),
    (
        "decryption",
        lambda f, fn: ("core/crypto.py" in f and fn == "decrypt") or "cryptography/" in f,
    ),
    (
        "authentication",
        lambda f, fn: (
            "joserfc/" in f or "api/auth.py" in f or ("core/crypto.py" in f and fn == "verify")
        ),
    ),
    ("authorization", lambda f, fn: "/authz/" in f),
    ("ORM object loading", lambda f, fn: "sqlalchemy/" in f and any(p in f for p in ORM_LOADING)),
    ("SQL (build, compile, driver)", lambda f, fn: "sqlalchemy/" in f or "asyncpg/" in f),
    (
        "JSON encoding",
        lambda f, fn: (
            "/json/" in f
            or "orjson" in f
            or ("starlette/responses.py" in f and fn in ("render", "__init__"))
        ),
    ),
    (
        "GraphQL execution",
        lambda f, fn: "/graphql/" in f or "/strawberry/" in f or "api/fastpath" in f,
    ),
    ("planned reads (api/planner)", lambda f, fn: "/api/planner/" in f or "<api.planner>" in f),
    ("resolvers, object building (api/)", lambda f, fn: "/api/" in f),
    ("HTTP/ASGI, event loop", lambda f, fn: True),
]


def _category(file_path: str, function: str) -> str | None:
    for name, test in RULES[:-1]:
        if test(file_path, function):
            return name
    return None


def breakdown(root: Any) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)

    def walk(frame: Any, inherited: str) -> None:
        category = _category(frame.file_path or "", frame.function or "") or inherited
        out[category] += frame.time - sum(c.time for c in frame.children)
        for child in frame.children:
            walk(child, category)

    walk(root, RULES[-1][0])
    return dict(out)


BODIES: dict[str, dict[str, Any]] = {
    "brand": {"query": q.BRAND_PAGE, "variables": {"first": 100}},
    "light": {"query": q.LIGHT_PAGE},
}


async def _profile(
    manifest: Manifest, requests: int, warm: int, scenario: str = "brand"
) -> tuple[list[float], Any]:
    from pyinstrument import Profiler

    from api.app import create_app
    from core.gc_tuning import tune_for_serving
    from core.runtime import Runtime
    from core.settings import Settings

    runtime = Runtime.create(
        Settings(database_url=manifest.database_url, data_dir=Path(manifest.data_dir))
    )
    app = create_app(runtime)
    tune_for_serving(runtime.settings.gc_young_threshold)  # as api.main does for the server
    tokens = [runtime.token_service.issue(u, 3600) for u in manifest.brand_user_ids]
    body = BODIES[scenario]
    timings: list[float] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def one(i: int) -> None:
                auth = {"authorization": f"Bearer {tokens[i % len(tokens)]}"}
                r = await client.post("/graphql", json=body, headers=auth)
                assert r.status_code == 200 and b'"errors"' not in r.content, r.text[:300]

            for i in range(warm):
                await one(i)
            for i in range(requests):
                t0 = time.perf_counter()
                await one(i)
                timings.append(time.perf_counter() - t0)
            profiler = Profiler(interval=0.001, async_mode="disabled")
            profiler.start()
            for i in range(requests):
                await one(i)
            profiler.stop()
    await runtime.close()
    return timings, profiler


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Profile of one brand page, by category.")
    parser.add_argument("--factories", type=int, default=Sizes.factories)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--scenario", choices=sorted(BODIES), default="brand")
    parser.add_argument("--fast-executor", choices=["true", "false"], default=None)
    parser.add_argument("--tree", type=Path, default=None, help="write pyinstrument's tree here")
    args = parser.parse_args(argv)
    if args.fast_executor is not None:
        os.environ["MILLGATE_FAST_EXECUTOR"] = args.fast_executor
    db_name = f"millgate_bench_{args.factories}"
    manifest = prepare(
        db_name,
        ROOT / "var" / "bench" / str(args.factories),
        world_sizes(args.factories),
        reuse=True,
    )
    timings, profiler = asyncio.run(_profile(manifest, args.requests, 5, args.scenario))
    session = profiler.last_session
    parts = breakdown(session.root_frame())
    client = parts.pop("client (httpx, not server)", 0.0)
    total = sum(parts.values())
    from core.settings import Settings

    executor = "fast" if Settings().fast_executor else "standard"
    print(
        f"{args.scenario} page, {args.factories} factories, in-process, one request at a time, "
        f"executor={executor}"
    )
    print(
        f"wall time per request (no profiler): median {statistics.median(timings) * 1000:.1f} ms,"
        f" min {min(timings) * 1000:.1f} ms over {len(timings)}"
    )
    print(
        f"profiled server time per request: {total / args.requests * 1000:.1f} ms "
        f"(client frames left out: {client / args.requests * 1000:.1f} ms)"
    )
    for name, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {name:36} {seconds / args.requests * 1000:7.1f} ms  {seconds / total:6.1%}")
    if args.tree:
        args.tree.write_text(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
