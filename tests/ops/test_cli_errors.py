"""An operator's mistakes, as `millgate` tells them: one line each on stderr, exit 1, no
traceback (unless --debug), and nothing printed as if the server were up."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import errors
from cli.main import app
from tests.conftest import POSTGRES_URL

HEAVY = (
    "asyncio",
    "sqlalchemy",
    "uvicorn",
    "strawberry",
    "alembic",
    "pydantic_settings",
    "prometheus_client",
    "opentelemetry",
    "structlog",
    "models",
    "api",
    "core",
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A clean environment on an empty data folder; the root logger as it was, after."""
    for name in list(os.environ):
        if name.startswith("MILLGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MILLGATE_DATA_DIR", str(tmp_path))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield monkeypatch
    root.handlers = handlers
    root.setLevel(level)


def fails(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[list[str], str]:
    """Runs `millgate ARGS`, which must exit 1: its stderr lines and its stdout."""
    with pytest.raises(SystemExit) as exited:
        errors.run(app, list(args))
    assert exited.value.code == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out
    return err.strip().splitlines(), out


def test_production_without_its_settings_names_each_missing_variable(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("MILLGATE_PRODUCTION", "1")

    lines, _ = fails(capsys, "db", "upgrade")

    assert len(lines) == 1
    for name in ("FIELD_KEYS_FILE", "SIGNING_KEYS_FILE", "API_KEY_PEPPER_FILE", "DATABASE_URL"):
        assert f"MILLGATE_{name}" in lines[0]


def test_each_invalid_setting_gets_its_own_line(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("MILLGATE_MAX_PAGE_SIZE", "many")
    env.setenv("MILLGATE_DATABASE_URL", "mysql://db/x")

    lines, _ = fails(capsys, "db", "upgrade")

    assert len(lines) == 2, lines
    assert any(line.startswith("error: invalid setting: MILLGATE_MAX_PAGE_SIZE") for line in lines)
    assert any("MILLGATE_DATABASE_URL" in line for line in lines)


def test_an_unreachable_database_is_one_line(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as closed:  # a port that nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env.setenv("MILLGATE_DATABASE_URL", f"postgresql://postgres:pw@127.0.0.1:{port}/millgate")

    (line,), _ = fails(capsys, "db", "upgrade")

    assert "unreachable" in line and "MILLGATE_DATABASE_URL" in line
    assert "pw" not in line.replace("***", "")


@pytest.mark.skipif(not POSTGRES_URL, reason="needs MILLGATE_TEST_POSTGRES_URL")
def test_a_missing_database_says_how_to_create_it(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("MILLGATE_DATABASE_URL", POSTGRES_URL.rsplit("/", 1)[0] + "/no_such_database_x")

    (line,), _ = fails(capsys, "db", "upgrade")

    assert "does not exist" in line and "millgate db upgrade" in line


def test_an_unreadable_key_file_is_named(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "field-keys.json"
    broken.write_text("{not json")
    env.setenv("MILLGATE_FIELD_KEYS_FILE", str(broken))

    (line,), _ = fails(capsys, "token", "issue", "--user", "a@x.test")

    assert str(broken) in line and "MILLGATE_FIELD_KEYS_FILE" in line
    assert "not json" not in line  # a key file's text is never repeated


def test_a_port_in_use_is_told_before_the_server_claims_to_be_up(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        (line,), out = fails(capsys, "serve", "--port", str(port))

    assert f"127.0.0.1:{port} is in use" in line
    assert out == ""  # neither "serves at" nor a token


def test_debug_shows_the_traceback(env: pytest.MonkeyPatch) -> None:
    env.setenv("MILLGATE_MAX_PAGE_SIZE", "many")

    with pytest.raises(Exception, match="max_page_size"):
        errors.run(app, ["--debug", "db", "upgrade"])


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["serve"],
        ["db", "upgrade"],
        ["exports", "worker"],
        ["audit", "checkpoint"],
        ["keys", "rotate-field-key"],
        ["catalogue", "load"],
    ],
)
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    probe = (
        "import sys\n"
        "from cli.main import main\n"
        f"sys.argv = ['millgate', *{args!r}, '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('\\n' + __import__('json').dumps(sorted(m for m in {HEAVY!r} "
        "if m in sys.modules)))\n"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert "Usage: millgate" in done.stdout
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


@pytest.mark.skipif(not POSTGRES_URL, reason="needs MILLGATE_TEST_POSTGRES_URL")
def test_serving_a_non_empty_postgres_database_logs_no_closed_event_loop(
    env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import asyncio
    import uuid

    import uvicorn
    from sqlalchemy import text

    from core.db import make_engine

    admin_url = "postgresql+asyncpg://" + POSTGRES_URL.split("://", 1)[1]
    name = f"millgate_serve_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    env.setenv("MILLGATE_DATABASE_URL", admin_url.rsplit("/", 1)[0] + "/" + name)
    env.setattr(uvicorn, "run", lambda *args, **kwargs: None)  # start-up only
    caplog.set_level(logging.INFO)
    try:
        for _ in range(2):  # the second start finds the demo world there
            with pytest.raises(SystemExit) as exited:
                errors.run(app, ["serve", "--port", "0"])
            assert exited.value.code == 0
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    out, err = capsys.readouterr()
    assert "The database is not empty" in out
    assert "Event loop is closed" not in caplog.text + err
    assert "Traceback" not in caplog.text + err
