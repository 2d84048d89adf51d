"""The console in a real browser: Debian's Chromium driven by Playwright, the app served by
uvicorn on a loopback port in the test's own event loop, and axe-core for accessibility.

Never `playwright install`: the browser is Debian's (`apt-get install chromium`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_DIR = Path(__file__).parent / "axe"
SHOTS = Path(__file__).parents[2] / "docs" / "console"


def axe_source() -> str:
    """axe-core from npm, installed from the committed lock file the first time."""
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: the accessibility check needs axe-core")
        subprocess.run(  # noqa: S603 - a fixed command on the committed lock file
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=AXE_DIR, check=True
        )
    return script.read_text()


async def serve(app: Any) -> AsyncIterator[str]:
    """``app`` on a free loopback port; yields its base URL. The app's lifespan is the
    caller's (the `api` fixture has entered it)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # waits on the server's own flag, not on a clock
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def serious_violations(page: Any, source: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page as it is now."""
    await page.evaluate(source)
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def screenshot(page: Any, name: str) -> None:
    """docs/console/<name>.png when MILLGATE_SCREENSHOTS=1 (the pictures of docs/console.md)."""
    if os.environ.get("MILLGATE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
