"""Does a costly anonymous client slow another user down? Prints figures; not a test.

One app in-process (one event loop: one worker). A brand user sends the light page one
request at a time and its latencies are measured, first alone, then while an anonymous
client sends, at a steady rate, the costliest documents the bounds let through: each a new
text (so no cache helps), half of them failing validation (never cached before). With
``--audit`` it sends the audit's 600-field selection and new texts over the budget too (each
refused before validation at a cost that spends the whole budget: a milder attack).
The anonymous client's 429s are what its budget allows: it spends ``request_cost`` units
a request. The last line is ``p90_ratio=<x>``: the brand user's p90 under attack over its
p90 alone (the bound asked for is below 2).

Example:
    .venv/bin/python -m bench.validation_load --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench import queries as q
from bench.generate import Manifest
from bench.run import ROOT, prepare, world_sizes


def costly(i: int, limit: int) -> str:
    """A new text just within the budget: n fields of one name cost n * n pairs."""
    n = int(limit**0.5) - 1
    fields = "__typename " * n
    if i % 2:
        fields += "noSuchField "  # fails validation: was never cached
    return f"# {i}\n{{ {fields}}}"


def attack_text(i: int, limit: int, audit: bool) -> str:
    if not audit:
        return costly(i, limit)
    if i % 5 == 4:
        return "{ viewer { " + "role " * 600 + "} }"  # the audit's document: refused, remembered
    if i % 5 == 3:
        return f"# {i}\n{{ viewer {{ " + "role " * 600 + "} }"  # new over-budget texts
    return costly(i, limit)


def p90(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


async def run(manifest: Manifest, seconds: float, rate: float, audit: bool) -> None:
    from api.app import create_app
    from core.runtime import Runtime
    from core.settings import Settings

    settings = Settings(database_url=manifest.database_url, data_dir=Path(manifest.data_dir))
    runtime = Runtime.create(settings)
    app = create_app(runtime)
    token = runtime.token_service.issue(manifest.brand_user_ids[0], 3600)
    victim_headers = {"authorization": f"Bearer {token}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def victim(until: float) -> list[float]:
                timings = []
                while time.perf_counter() < until:
                    t0 = time.perf_counter()
                    r = await client.post(
                        "/graphql", json={"query": q.LIGHT_PAGE}, headers=victim_headers
                    )
                    timings.append(time.perf_counter() - t0)
                    assert r.status_code == 200, r.text[:200]
                return timings

            async def attacker(until: float, statuses: Counter[int]) -> None:
                i = 0
                start = time.perf_counter()
                while time.perf_counter() < until:
                    text = attack_text(i, settings.max_validation_cost, audit)
                    r = await client.post("/graphql", json={"query": text})
                    statuses[r.status_code] += 1
                    i += 1
                    await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))

            await victim(time.perf_counter() + 2)  # warm up
            alone = await victim(time.perf_counter() + seconds)
            statuses: Counter[int] = Counter()
            until = time.perf_counter() + seconds
            attacked, _ = await asyncio.gather(victim(until), attacker(until, statuses))
    await runtime.close()
    print(f"anonymous client: {rate:.1f} requests/s for {seconds:.0f} s, answers {dict(statuses)}")
    for label, timings in (("alone", alone), ("under attack", attacked)):
        print(
            f"brand user {label}: {len(timings)} requests, p50 "
            f"{statistics.median(timings) * 1000:.1f} ms, p90 {p90(timings) * 1000:.1f} ms, "
            f"max {max(timings) * 1000:.1f} ms"
        )
    print(f"p90_ratio={p90(attacked) / p90(alone):.2f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A costly anonymous client beside a user.")
    parser.add_argument("--factories", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=10.0, help="anonymous requests a second")
    parser.add_argument("--audit", action="store_true", help="send over-budget texts too")
    args = parser.parse_args(argv)
    db_name = f"millgate_bench_{args.factories}"
    manifest = prepare(
        db_name,
        ROOT / "var" / "bench" / str(args.factories),
        world_sizes(args.factories),
        reuse=True,
        exports=False,
    )
    asyncio.run(run(manifest, args.seconds, args.rate, args.audit))


if __name__ == "__main__":
    main()
