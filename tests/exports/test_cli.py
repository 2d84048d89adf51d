"""`millgate exports run` and `millgate exports worker`, as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

import models as m
from authz.guard import system_read
from core.crypto import load_key_material
from core.db import make_engine, make_sessionmaker
from tests.builders import make_export_grant
from tests.world import make_world

ROOT = Path(__file__).parents[2]


@pytest.fixture
async def data_dir(backend: str, tmp_path: Path) -> Path:
    """An embedded (SQLite) installation with one export due, as `millgate` finds it."""
    if backend != "sqlite":
        pytest.skip("the embedded installation is SQLite")
    keys = load_key_material(None, None, None, tmp_path / "keys", create_missing=True)
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'millgate.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(m.Base.metadata.create_all)
    async with make_sessionmaker(engine)() as session:
        await make_world(session, keys)
    await engine.dispose()
    return tmp_path


async def millgate(data_dir: Path, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "MILLGATE_DATA_DIR": str(data_dir), "MILLGATE_DATABASE_URL": ""}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "exports",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_run_writes_what_is_due_and_says_so(data_dir: Path) -> None:
    first = await millgate(data_dir, "run")
    out, err = await first.communicate()
    assert first.returncode == 0, err.decode()
    assert out.decode().splitlines() == [
        "1 exports written, 0 waiting for a host key, 0 cycles not releasable, "
        "0 done by another worker, 0 errors",
        "webhooks: 0 delivered, 0 to retry, 0 failed",
    ]


async def test_worker_stops_on_sigterm(data_dir: Path) -> None:
    worker = await millgate(data_dir, "worker", "--interval", "1")
    assert worker.stdout is not None
    assert b"a pass every 1 s" in await asyncio.wait_for(worker.stdout.readline(), 30)

    worker.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(worker.communicate(), 30)

    assert worker.returncode == 0, err.decode()
    assert b"export worker stopped" in out


async def test_run_names_a_host_with_an_unusable_key_and_still_succeeds(data_dir: Path) -> None:
    # given a second host granted the same cycle, its all-zero key written past validation
    engine = make_engine(f"sqlite+aiosqlite:///{data_dir / 'millgate.db'}")
    async with make_sessionmaker(engine)() as session:
        factory = (await session.scalars(system_read(select(m.Factory), "test"))).one()
        broken = m.Organization(
            kind=m.OrganizationKind.HOST,
            name="Zero Key Host",
            host_public_jwk={"kty": "OKP", "crv": "X25519", "x": "A" * 43},
        )
        session.add(broken)
        await session.flush()
        await make_export_grant(session, factory, broken)
        await session.commit()
        broken_id = broken.id
    await engine.dispose()

    run = await millgate(data_dir, "run")
    out, err = await run.communicate()

    assert run.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines[0].startswith("1 exports written,") and lines[0].endswith(", 1 errors")
    assert f"host {broken_id} failed: publicJwk 'x' is not a valid X25519 public key" in lines[2]
