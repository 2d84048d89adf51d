"""The `millgate` command as an operator first meets it, on the embedded SQLite default.

Given an empty data folder (MILLGATE_DATA_DIR), when the operator upgrades the database,
bootstraps the first admin, issues tokens and prints the schema, then each command exits 0
and prints what it promises; mistakes exit non-zero with a message that says what is wrong.
The commands run in a worker thread, as each starts its own event loop.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from cli.main import app as cli
from core.crypto import TokenService, load_key_material
from migrations import migrate

JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
ADMIN = "a@x.test"


def run(data_dir: Path, *args: str) -> Result:
    env = {
        "MILLGATE_DATA_DIR": str(data_dir),
        "MILLGATE_DATABASE_URL": "",
        "MILLGATE_PRODUCTION": None,
        "MILLGATE_FIELD_KEYS_FILE": None,
        "MILLGATE_SIGNING_KEYS_FILE": None,
        "MILLGATE_API_KEY_PEPPER_FILE": None,
    }
    return CliRunner().invoke(cli, list(args), env=env)


async def millgate(data_dir: Path, *args: str) -> Result:
    return await asyncio.to_thread(run, data_dir, *args)


def said(result: Result) -> str:
    """The output as one line of words, whatever box and wrapping rich drew around it."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())


def token_in(output: str) -> str:
    tokens = [line.strip() for line in output.splitlines() if JWT.match(line.strip())]
    assert len(tokens) == 1, output
    return tokens[0]


def user_of(data_dir: Path, token: str) -> int:
    """The user a token names, verified with the installation's own key files."""
    keys = load_key_material(None, None, None, data_dir / "keys", create_missing=False)
    return TokenService(keys.signing, "millgate", "millgate-api").verify(token).user_id


def query(data_dir: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(data_dir / "millgate.db") as conn:
        return conn.execute(sql, params).fetchall()


# Folders as a command left them, made once for the module (each command takes some 0.25 s);
# a test that starts from one gets a copy of its own as its `tmp_path`, and the command's
# result, which it checks as if it had run the command itself.


async def _made_once(tmp_path_factory: pytest.TempPathFactory, *args: str) -> tuple[Path, Result]:
    data_dir = tmp_path_factory.mktemp("data")  # empty, as a test's tmp_path
    return data_dir, await millgate(data_dir, *args)


def _copy(made: tuple[Path, Result], tmp_path: Path) -> Result:
    shutil.copytree(made[0], tmp_path, dirs_exist_ok=True)
    return made[1]


@pytest.fixture(scope="module")
async def upgraded_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """An empty data folder after `millgate db upgrade`."""
    return await _made_once(tmp_path_factory, "db", "upgrade")


@pytest.fixture
def upgraded(upgraded_once: tuple[Path, Result], tmp_path: Path) -> Result:
    """`tmp_path` as `millgate db upgrade` left an empty folder; that command's result."""
    return _copy(upgraded_once, tmp_path)


@pytest.fixture(scope="module")
async def bootstrapped_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """An empty data folder after `millgate bootstrap --admin-email ADMIN`."""
    return await _made_once(tmp_path_factory, "bootstrap", "--admin-email", ADMIN)


@pytest.fixture
def bootstrapped(bootstrapped_once: tuple[Path, Result], tmp_path: Path) -> Result:
    """`tmp_path` as `millgate bootstrap --admin-email ADMIN` left an empty folder; that
    command's result."""
    return _copy(bootstrapped_once, tmp_path)


@pytest.fixture(scope="module")
async def demo_seeded_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """An empty data folder after `millgate demo seed`."""
    return await _made_once(tmp_path_factory, "demo", "seed")


@pytest.fixture
def demo_seeded(demo_seeded_once: tuple[Path, Result], tmp_path: Path) -> Result:
    """`tmp_path` as `millgate demo seed` left an empty folder; that command's result."""
    return _copy(demo_seeded_once, tmp_path)


async def test_db_upgrade_creates_the_schema_at_head(tmp_path: Path, upgraded: Result) -> None:
    result = upgraded

    assert result.exit_code == 0, result.output
    heads = sorted(migrate.head_revisions())
    assert result.output.strip().endswith(f"is at {', '.join(heads)}")
    tables = {row[0] for row in query(tmp_path, "SELECT name FROM sqlite_master")}
    assert {"organization", "app_user", "api_key", "consent_grant", "alembic_version"} <= tables
    assert query(tmp_path, "SELECT version_num FROM alembic_version") == [(h,) for h in heads]


async def test_db_upgrade_twice_changes_nothing(tmp_path: Path, upgraded: Result) -> None:
    assert upgraded.exit_code == 0, upgraded.output

    again = await millgate(tmp_path, "db", "upgrade")

    assert again.exit_code == 0, again.output


async def test_bootstrap_is_idempotent_and_prints_a_token_each_time(tmp_path: Path) -> None:
    first = await millgate(tmp_path, "bootstrap", "--admin-email", ADMIN)
    assert first.exit_code == 0, first.output

    second = await millgate(tmp_path, "bootstrap", "--admin-email", ADMIN)

    assert second.exit_code == 0, second.output
    first_token, second_token = token_in(first.output), token_in(second.output)
    assert first_token != second_token
    users = query(tmp_path, "SELECT id, role FROM app_user WHERE email = ?", ADMIN)
    assert users == [(users[0][0], "PLATFORM_ADMIN")]
    assert user_of(tmp_path, first_token) == user_of(tmp_path, second_token) == users[0][0]
    assert query(tmp_path, "SELECT count(*) FROM organization WHERE kind = 'PLATFORM'") == [(1,)]


async def test_bootstrap_stores_the_email_in_lower_case(tmp_path: Path) -> None:
    await millgate(tmp_path, "bootstrap", "--admin-email", "Admin@X.Test")

    again = await millgate(tmp_path, "bootstrap", "--admin-email", "admin@x.test")

    assert again.exit_code == 0, again.output
    assert query(tmp_path, "SELECT email FROM app_user") == [("admin@x.test",)]


async def test_bootstrap_creates_the_platform_once(tmp_path: Path, bootstrapped: Result) -> None:
    await millgate(tmp_path, "bootstrap", "--admin-email", ADMIN)

    platforms = query(tmp_path, "SELECT kind FROM organization WHERE kind = 'PLATFORM'")

    assert platforms == [("PLATFORM",)]  # once: the second run finds the platform


async def test_token_issue_prints_a_token_of_the_user(tmp_path: Path, bootstrapped: Result) -> None:
    boot = bootstrapped
    admin_id = user_of(tmp_path, token_in(boot.output))

    result = await millgate(tmp_path, "token", "issue", "--user", ADMIN.upper(), "--ttl", "120")

    assert result.exit_code == 0, result.output
    token = token_in(result.output)
    assert user_of(tmp_path, token) == admin_id
    keys = load_key_material(None, None, None, tmp_path / "keys", create_missing=False)
    claims = TokenService(keys.signing, "millgate", "millgate-api").verify(token)
    assert 100 <= claims.expires_at - int(time.time()) <= 120


async def test_token_issue_for_an_unknown_email_fails_clearly(
    tmp_path: Path, bootstrapped: Result
) -> None:
    result = await millgate(tmp_path, "token", "issue", "--user", "nobody@x.test")

    assert result.exit_code != 0
    assert "no active user with this email" in said(result)
    assert "--user" in result.output
    assert not any(JWT.match(line.strip()) for line in result.output.splitlines())
    assert "Traceback" not in result.output


async def test_token_issue_for_a_disabled_user_fails(tmp_path: Path, bootstrapped: Result) -> None:
    with sqlite3.connect(tmp_path / "millgate.db") as conn:
        conn.execute(
            "UPDATE app_user SET disabled_at = '2024-01-01 00:00:00' WHERE email = ?", (ADMIN,)
        )

    result = await millgate(tmp_path, "token", "issue", "--user", ADMIN)

    assert result.exit_code != 0
    assert "no active user with this email" in said(result)


@pytest.mark.parametrize("ttl", ["0", "59", "99999999"], ids=["zero", "below-a-minute", "years"])
async def test_token_issue_refuses_an_unreasonable_ttl(
    tmp_path: Path, bootstrapped: Result, ttl: str
) -> None:
    result = await millgate(tmp_path, "token", "issue", "--user", ADMIN, "--ttl", ttl)

    assert result.exit_code == 2
    assert "--ttl" in result.output


async def test_token_issue_needs_a_user(tmp_path: Path) -> None:
    result = await millgate(tmp_path, "token", "issue")

    assert result.exit_code == 2
    assert "--user" in result.output


async def test_schema_prints_the_sdl(tmp_path: Path) -> None:
    result = await millgate(tmp_path, "schema")

    assert result.exit_code == 0, result.output
    assert "type Query {" in result.output
    assert "type Mutation {" in result.output
    assert "viewer: Viewer!" in result.output
    assert not (tmp_path / "millgate.db").exists()  # printing the schema touches no database


def _has_demo_seed() -> bool:
    import typer.main

    group = typer.main.get_command(cli)
    demo = getattr(group, "commands", {}).get("demo")
    return demo is not None and "seed" in getattr(demo, "commands", {})


@pytest.mark.skipif(not _has_demo_seed(), reason="no `millgate demo seed` command")
async def test_demo_seed_then_a_demo_user_signs_in(tmp_path: Path, demo_seeded: Result) -> None:
    seeded = demo_seeded
    assert seeded.exit_code == 0, seeded.output
    emails = re.findall(r"\b[\w.+-]+@[\w-]+\.demo\b", seeded.output)
    assert emails, seeded.output

    issued = await millgate(tmp_path, "token", "issue", "--user", emails[0])

    assert issued.exit_code == 0, issued.output
    user_id = user_of(tmp_path, token_in(issued.output))
    assert query(tmp_path, "SELECT email FROM app_user WHERE id = ?", user_id) == [(emails[0],)]


@pytest.mark.skipif(not _has_demo_seed(), reason="no `millgate demo seed` command")
async def test_bootstrap_refuses_an_email_of_another_organisation(
    tmp_path: Path, demo_seeded: Result
) -> None:
    seeded = demo_seeded
    brand_user = query(
        tmp_path,
        "SELECT u.email FROM app_user u JOIN organization o "
        "ON o.id = u.organization_id WHERE o.kind = 'BRAND' LIMIT 1",
    )
    assert brand_user, seeded.output

    result = await millgate(tmp_path, "bootstrap", "--admin-email", str(brand_user[0][0]))

    assert result.exit_code != 0
    assert "belongs to a user of another organisation" in said(result)
    assert not any(JWT.match(line.strip()) for line in result.output.splitlines())


def _add_factory_user(data_dir: Path, email: str) -> None:
    """A factory organisation and one manager, written as the programme's enrolment would."""
    with sqlite3.connect(data_dir / "millgate.db") as conn:
        org = conn.execute(
            "INSERT INTO organization (name, kind, labour_inspectorate, created_at)"
            " VALUES ('A Factory', 'FACTORY', 0, '2024-01-01 00:00:00')"
        ).lastrowid
        conn.execute(
            "INSERT INTO app_user (email, organization_id, role, created_at)"
            " VALUES (?, ?, 'FACTORY_MANAGER', '2024-01-01 00:00:00')",
            (email, org),
        )


def run_in_production(data_dir: Path, *args: str) -> Result:
    keys = data_dir / "keys"
    env = {
        "MILLGATE_DATA_DIR": str(data_dir),
        "MILLGATE_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'millgate.db'}",
        "MILLGATE_PRODUCTION": "true",
        "MILLGATE_FIELD_KEYS_FILE": str(keys / "field-keys.json"),
        "MILLGATE_SIGNING_KEYS_FILE": str(keys / "signing-keys.json"),
        "MILLGATE_API_KEY_PEPPER_FILE": str(keys / "api-key-pepper"),
    }
    return CliRunner().invoke(cli, list(args), env=env)


async def test_token_issue_in_production_refuses_a_factory_user(
    tmp_path: Path, bootstrapped: Result
) -> None:
    """The operator never acts as a factory (rule 1): factory users sign in themselves."""
    _add_factory_user(tmp_path, "manager@factory.test")

    refused = await asyncio.to_thread(
        run_in_production, tmp_path, "token", "issue", "--user", "manager@factory.test"
    )
    admin = await asyncio.to_thread(run_in_production, tmp_path, "token", "issue", "--user", ADMIN)

    assert refused.exit_code != 0
    assert "the operator never acts as a factory" in said(refused)
    assert not any(JWT.match(line.strip()) for line in refused.output.splitlines())
    assert admin.exit_code == 0, admin.output
    assert user_of(tmp_path, token_in(admin.output))
