"""`millgate keys ...`: production key files and their rotation.

Given an installation, when the operator generates key files, they are private (0600) and
never overwritten; when the operator rotates the signing key, tokens signed by the older key
keep verifying (and its public half stays in the JWKS) until it is retired; when the operator
rotates the field key, every encrypted value ends under the new key with its plaintext
unchanged — also when the command is killed midway and run again.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.app import create_app
from core.crypto import FieldCipher
from core.db import make_engine
from core.rekey import ENCRYPTED_COLUMNS
from core.runtime import Runtime
from core.settings import Settings
from tests.cli.test_main import ADMIN, millgate, said, token_in

POSTGRES_URL = os.environ.get("MILLGATE_TEST_POSTGRES_URL", "")
ROOT = Path(__file__).resolve().parents[1]
NAMES = ("field-keys.json", "signing-keys.json", "api-key-pepper")
VIEWER = "{ viewer { user { email } } }"


def kid_of(token: str) -> str:
    header = token.split(".", 1)[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


async def test_generate_writes_private_files_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "keys"

    result = await millgate(tmp_path, "keys", "generate", "--out", str(out))

    assert result.exit_code == 0, result.output
    for name in NAMES:
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
        assert f"={(out / name).resolve()}" in result.output
    assert "MILLGATE_FIELD_KEYS_FILE=" in result.output
    written = {name: (out / name).read_bytes() for name in NAMES}

    (out / "field-keys.json").unlink()  # one missing, two present: still nothing is written
    again = await millgate(tmp_path, "keys", "generate", "--out", str(out))

    assert again.exit_code == 1
    assert "exists; key files are never overwritten" in said(again)
    assert not (out / "field-keys.json").exists()
    assert {n: (out / n).read_bytes() for n in NAMES[1:]} == {n: written[n] for n in NAMES[1:]}


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """An installation on SQLite with its keys generated and its first admin."""

    async def setup() -> None:
        for args in (
            ("keys", "generate", "--out", str(tmp_path / "keys")),
            ("bootstrap", "--admin-email", ADMIN),
        ):
            result = await millgate(tmp_path, *args)
            assert result.exit_code == 0, result.output

    asyncio.run(setup())
    return tmp_path


async def serving(data_dir: Path) -> Any:
    runtime = Runtime.create(Settings(data_dir=data_dir, database_url=""))
    app = create_app(runtime)
    return runtime, app


async def answers(data_dir: Path, *tokens: str) -> tuple[list[str], list[int]]:
    """The JWKS kids and the status of a viewer query with each token, from a fresh app."""
    runtime, app = await serving(data_dir)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                jwks = (await client.get("/.well-known/jwks.json")).json()
                statuses = [
                    (
                        await client.post(
                            "/graphql",
                            json={"query": VIEWER},
                            headers={"authorization": f"Bearer {token}"},
                        )
                    ).status_code
                    for token in tokens
                ]
    finally:
        await runtime.close()
    return [k["kid"] for k in jwks["keys"]], statuses


def test_rotate_signing_keeps_older_tokens_valid_until_retired(installed: Path) -> None:
    asyncio.run(_rotate_signing(installed))


async def _rotate_signing(data_dir: Path) -> None:
    old = token_in((await millgate(data_dir, "token", "issue", "--user", ADMIN)).output)

    rotated = await millgate(data_dir, "keys", "rotate-signing")

    assert rotated.exit_code == 0, rotated.output
    new = token_in((await millgate(data_dir, "token", "issue", "--user", ADMIN)).output)
    assert kid_of(new) != kid_of(old)
    kids, statuses = await answers(data_dir, old, new)
    assert kids == [kid_of(old), kid_of(new)]
    assert statuses == [200, 200]

    refused = await millgate(data_dir, "keys", "retire-signing", kid_of(new))
    assert refused.exit_code == 1
    assert "is the key that signs" in said(refused)

    retired = await millgate(data_dir, "keys", "retire-signing", kid_of(old))

    assert retired.exit_code == 0, retired.output
    kids, statuses = await answers(data_dir, old, new)
    assert kids == [kid_of(new)]
    assert statuses == [401, 200]


# -- the field key ---------------------------------------------------------------------------


def _values(rows: Iterator[tuple[str, int, str | None]]) -> dict[tuple[str, int], str]:
    return {(table, pk): value for table, pk, value in rows if value is not None}


def sqlite_values(data_dir: Path) -> dict[tuple[str, int], str]:
    with sqlite3.connect(data_dir / "millgate.db") as conn:
        return _values(
            (c.table, pk, value)
            for c in ENCRYPTED_COLUMNS
            for pk, value in conn.execute(f"SELECT id, {c.column} FROM {c.table}")  # noqa: S608
        )


def plaintexts(cipher: FieldCipher, values: dict[tuple[str, int], str]) -> dict[Any, str]:
    purposes = {c.table: c.purpose for c in ENCRYPTED_COLUMNS}
    return {key: cipher.decrypt(value, purposes[key[0]]) for key, value in values.items()}


def ring(data_dir: Path) -> dict[str, Any]:
    return json.loads((data_dir / "keys" / "field-keys.json").read_text())  # type: ignore[no-any-return]


async def test_rotate_field_key_re_encrypts_every_value(tmp_path: Path) -> None:
    seeded = await millgate(tmp_path, "demo", "seed")
    assert seeded.exit_code == 0, seeded.output
    before = sqlite_values(tmp_path)
    old_kid = ring(tmp_path)["current"]
    originals = plaintexts(FieldCipher.from_file(tmp_path / "keys" / "field-keys.json"), before)
    assert {table for table, _ in before} == {"finding", "self_assessment"}

    result = await millgate(tmp_path, "keys", "rotate-field-key", "--batch-size", "3")

    assert result.exit_code == 0, result.output
    assert f"re-encrypted {len(before)} of {len(before)} values" in result.output
    after = sqlite_values(tmp_path)
    new_ring = ring(tmp_path)
    assert new_ring["current"] != old_kid and set(new_ring["keys"]) == {
        old_kid,
        new_ring["current"],
    }
    assert "rewrapPending" not in new_ring
    assert all(v.startswith(new_ring["current"] + ".") for v in after.values())
    cipher = FieldCipher.from_file(tmp_path / "keys" / "field-keys.json")
    assert plaintexts(cipher, after) == originals
    assert stat.S_IMODE((tmp_path / "keys" / "field-keys.json").stat().st_mode) == 0o600


# -- killed midway, on PostgreSQL (a row lock holds the run at a known place) --------------------


async def _admin(sql: str) -> None:
    engine = make_engine(
        "postgresql+asyncpg://" + POSTGRES_URL.split("://", 1)[1], isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    name = f"millgate_keys_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        base = POSTGRES_URL.rsplit("/", 1)[0]
        yield "postgresql+asyncpg://" + base.split("://", 1)[1] + "/" + name
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


async def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        command(*args),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def environment(url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MILLGATE_")}
    return {**env, "MILLGATE_DATABASE_URL": url, "MILLGATE_DATA_DIR": str(data_dir)}


async def pg_values(url: str) -> dict[tuple[str, int], str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            found: dict[tuple[str, int], str] = {}
            for c in ENCRYPTED_COLUMNS:
                rows = await conn.execute(text(f"SELECT id, {c.column} FROM {c.table}"))  # noqa: S608
                found |= _values((c.table, pk, value) for pk, value in rows)
            return found
    finally:
        await engine.dispose()


@pytest.mark.skipif(not POSTGRES_URL, reason="needs MILLGATE_TEST_POSTGRES_URL")
@pytest.mark.long  # seconds: run first (tests/conftest.py), so that no process ends on it
async def test_a_rotation_killed_midway_loses_nothing_and_resumes(
    postgres_url: str, tmp_path: Path
) -> None:
    env = environment(postgres_url, tmp_path)
    seeded = await cli(env, "demo", "seed")
    assert seeded.returncode == 0, seeded.stderr
    keys_file = tmp_path / "keys" / "field-keys.json"
    before = await pg_values(postgres_url)
    originals = plaintexts(FieldCipher.from_file(keys_file), before)
    old_kid = ring(tmp_path)["current"]

    # Given the last finding locked by another transaction, the run commits the batches
    # before it and then waits there: killed then, it is midway by construction.
    engine = make_engine(postgres_url)
    lock = await engine.connect()
    await lock.begin()
    await lock.execute(
        text(
            "SELECT id FROM finding WHERE id = (SELECT max(id) FROM finding"
            " WHERE detail_encrypted IS NOT NULL) FOR UPDATE"
        )
    )
    errors = (tmp_path / "rotate.err").open("w")
    process = await asyncio.create_subprocess_exec(
        *command("keys", "rotate-field-key", "--batch-size", "1"),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=errors,
    )
    try:
        assert process.stdout is not None
        while not (line := (await process.stdout.readline()).decode()).startswith("re-encrypted"):
            assert line, f"exited before any progress: {(tmp_path / 'rotate.err').read_text()}"
        process.send_signal(signal.SIGKILL)
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        errors.close()
        await lock.rollback()
        await lock.close()
        await engine.dispose()

    assert process.returncode == -signal.SIGKILL
    new_kid = ring(tmp_path)["current"]
    assert new_kid != old_kid and ring(tmp_path).get("rewrapPending") is True
    midway = await pg_values(postgres_url)
    under = {
        kid: sum(v.startswith(kid + ".") for v in midway.values()) for kid in (old_kid, new_kid)
    }
    assert under[new_kid] >= 1 and under[old_kid] >= 1 and sum(under.values()) == len(before)
    assert plaintexts(FieldCipher.from_file(keys_file), midway) == originals

    resumed = await cli(env, "keys", "rotate-field-key")

    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming with field key {new_kid}" in resumed.stdout
    after = await pg_values(postgres_url)
    assert all(v.startswith(new_kid + ".") for v in after.values())
    assert plaintexts(FieldCipher.from_file(keys_file), after) == originals
    assert "rewrapPending" not in ring(tmp_path)
