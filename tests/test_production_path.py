"""A production install from nothing, on PostgreSQL, through the CLI and the HTTP API only.

Given an empty PostgreSQL database and an empty folder, when the operator generates the key
files, migrates, bootstraps the first admin and serves (`serve --no-demo`, production mode,
a real server on a free loopback port), then the admin creates a programme, a brand and a
host; the programme enrols a factory; the factory registers with the Gateway and submits its
self-assessment; the programme records and releases an assessment; the factory grants the
brand and the host; the brand reads the assessment; `exports run` writes the host's export,
which the host pulls with its API key and opens with its private key.

One step leaves the API, and says so: a cycle registered today can be assessed tomorrow at
the earliest and exported 15 days after its release (rules 3 and 5), so the factory's
registration and self-assessment are moved 90 days back in the database, as if made then.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import OKPKey
from sqlalchemy import text

from core.crypto import TokenService, decrypt_and_verify, load_key_material
from core.db import make_engine
from migrations import migrate

POSTGRES_URL = os.environ.get("MILLGATE_TEST_POSTGRES_URL", "")
ROOT = Path(__file__).resolve().parents[1]
JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
TODAY = dt.date.today()

pytestmark = [
    pytest.mark.skipif(not POSTGRES_URL, reason="needs MILLGATE_TEST_POSTGRES_URL"),
    pytest.mark.long,  # seconds: run first (tests/conftest.py), so that no process ends on it
]

CREATE_ORG = """mutation($i: CreateOrganizationInput!) {
  createOrganization(input: $i) { organization { id } errors { code field } } }"""
CREATE_USER = """mutation($i: CreateUserInput!) {
  createUser(input: $i) { user { id } errors { code field } } }"""
HOST_KEY = """mutation($i: RegisterHostKeyInput!) {
  registerHostKey(input: $i) { organization { hasHostKey } errors { code field } } }"""
API_KEY = """mutation($i: IssueApiKeyInput!) {
  issueApiKey(input: $i) { secret errors { code field } } }"""
QUESTIONS = """query { questions(country: "ID", first: 100) { code step } }"""
ENROLL = """mutation($i: EnrollFactoryInput!) {
  enrollFactory(input: $i) { factory { id organization { id } } errors { code field } } }"""
REGISTER = """mutation($i: RegisterSlcpInput!) {
  registerSlcp(input: $i) { factory { id } errors { code field } } }"""
SUBMIT = """mutation($i: SubmitSelfAssessmentInput!) {
  submitSelfAssessment(input: $i) { selfAssessment { id } errors { code field } } }"""
RECORD = """mutation($i: RecordAssessmentInput!) {
  recordAssessment(input: $i) { assessment { id } errors { code field message } } }"""
RELEASE = """mutation($i: ReleaseAssessmentInput!) {
  releaseAssessment(input: $i) { assessment { status } errors { code field } } }"""
GRANT = """mutation($i: GrantConsentInput!) {
  grantConsent(input: $i) { grant { active } errors { code field } } }"""
BRAND_READS = """query { factories(first: 10) { edges { node { name
  assessments(first: 1) { edges { node { releasedOn
    findings { edges { node { questionCode detail } } } } } } } } } }"""
ELIGIBILITY = """query($id: ID!) { factory(id: $id) {
  gatewayEligibility(cycle: 1) { eligible reasons } } }"""
HOST_PULLS = """query { gatewayExports(first: 10) { edges { node {
  factoryGatewayId cycle envelope } } } }"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _admin_sql(sql: str) -> None:
    engine = make_engine(
        "postgresql+asyncpg://" + POSTGRES_URL.split("://", 1)[1], isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture
async def database() -> AsyncIterator[str]:
    name = f"millgate_production_{uuid.uuid4().hex[:12]}"
    await _admin_sql(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        await _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Install:
    """The operator's shell: production settings, and `millgate` as a subprocess."""

    def __init__(self, folder: Path, database_url: str) -> None:
        keys = folder / "keys"
        base = {k: v for k, v in os.environ.items() if not k.startswith("MILLGATE_")}
        self.keys = keys
        self.env = {
            **base,
            "MILLGATE_PRODUCTION": "true",
            "MILLGATE_DATABASE_URL": database_url,
            "MILLGATE_DATA_DIR": str(folder / "data"),
            "MILLGATE_FIELD_KEYS_FILE": str(keys / "field-keys.json"),
            "MILLGATE_SIGNING_KEYS_FILE": str(keys / "signing-keys.json"),
            "MILLGATE_API_KEY_PEPPER_FILE": str(keys / "api-key-pepper"),
        }

    async def refused(self, *args: str) -> str:
        """What a refused `millgate` command says; it must exit non-zero."""
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "cli.main", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode != 0, done.stdout
        return done.stdout + done.stderr

    async def millgate(self, *args: str) -> str:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "cli.main", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"millgate {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    async def token(self, email: str) -> str:
        return (await self.millgate("token", "issue", "--user", email)).strip()

    async def signed_in(self, email: str, database_url: str) -> str:
        """The access token a factory's user gets by signing in.

        In production the operator issues none to a factory's users (rule 1: `token issue`
        refuses them); they sign in at their organisation's OpenID Provider, which must be
        https://. The test stands in for that provider, signing with the installation's own
        key the token its verifier accepts.
        """
        engine = make_engine(database_url.replace("postgresql://", "postgresql+asyncpg://", 1))
        try:
            async with engine.connect() as conn:
                user_id = (
                    await conn.execute(
                        text("SELECT id FROM app_user WHERE email = :e"), {"e": email}
                    )
                ).scalar_one()
        finally:
            await engine.dispose()
        keys = load_key_material(
            self.keys / "field-keys.json",
            self.keys / "signing-keys.json",
            self.keys / "api-key-pepper",
            self.keys,
            create_missing=False,
        )
        return TokenService(keys.signing, "millgate", "millgate-api").issue(user_id, 600)


class Client:
    def __init__(self, base: str) -> None:
        self.base = base

    async def post(self, query: str, variables: dict[str, Any] | None = None, **auth: str) -> Any:
        headers = {}
        if "token" in auth:
            headers["authorization"] = f"Bearer {auth['token']}"
        if "api_key" in auth:
            headers["x-api-key"] = auth["api_key"]
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as client:
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        return body["data"]

    async def mutate(self, query: str, field: str, i: dict[str, Any], token: str) -> Any:
        payload = (await self.post(query, {"i": i}, token=token))[field]
        assert payload["errors"] == [], payload
        return payload


# The newest revision: what `db upgrade` must reach.
[HEAD] = migrate.head_revisions()


@pytest.fixture
async def installed(database: str, tmp_path: Path) -> AsyncIterator[tuple[Install, Client, str]]:
    install = Install(tmp_path, database)
    generated = await install.millgate("keys", "generate", "--out", str(install.keys))
    assert "MILLGATE_SIGNING_KEYS_FILE=" in generated
    upgraded = await install.millgate("db", "upgrade")
    assert upgraded.strip().endswith(f"is at {HEAD}")
    boot = await install.millgate("bootstrap", "--admin-email", "ops@millgate.test")
    admin = boot.strip().splitlines()[-1]
    assert JWT.match(admin)

    port = _free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", "serve", "--no-demo", "--port", str(port),
        cwd=ROOT, env=install.env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    drain: asyncio.Task[bytes] | None = None
    try:
        assert server.stderr is not None
        seen: list[bytes] = []
        while (
            "Application startup complete" not in (line := await server.stderr.readline()).decode()
        ):
            assert line, f"the server stopped: {b''.join(seen).decode()}"
            seen.append(line)
        # Nothing else reads the pipe from here: let it drain into nowhere.
        drain = asyncio.create_task(server.stderr.read())
        yield install, Client(f"http://127.0.0.1:{port}"), admin
    finally:
        server.terminate()
        await server.wait()
        if drain is not None:
            drain.cancel()


async def test_the_whole_production_path(installed: tuple[Install, Client, str]) -> None:
    install, api, admin = installed

    async def org(kind: str, name: str, **extra: Any) -> str:
        made = await api.mutate(
            CREATE_ORG, "createOrganization", {"kind": kind, "name": name, **extra}, admin
        )
        return str(made["organization"]["id"])

    async def user(organization: str, email: str, role: str) -> str:
        await api.mutate(
            CREATE_USER,
            "createUser",
            {"organizationId": organization, "email": email, "role": role},
            admin,
        )
        return await install.token(email)

    # The platform: a programme in Indonesia, a brand, a host with its key.
    programme = await org("PROGRAMME", "Better Work Indonesia", country="ID")
    brand = await org("BRAND", "Northwind Apparel")
    host = await org("HOST", "Open Audit Hub")
    host_key = OKPKey.generate_key("X25519")
    public = {k: v for k, v in host_key.as_dict(private=False).items() if k in ("kty", "crv", "x")}
    await api.mutate(
        HOST_KEY, "registerHostKey", {"organizationId": host, "publicJwk": public}, admin
    )
    host_api_key = (await api.mutate(API_KEY, "issueApiKey", {"organizationId": host}, admin))[
        "secret"
    ]
    assessor = await user(programme, "assessor@betterwork.test", "ASSESSOR")
    viewer = await user(brand, "viewer@northwind.test", "BRAND_VIEWER")

    # The catalogue came with the schema: anyone reads it.
    questions = (await api.post(QUESTIONS))["questions"]
    step_one = [q["code"] for q in questions if q["step"] == 1]
    assert len(step_one) > 10

    # The programme enrols a factory and names its first manager (rule 1: after that the
    # factory's managers alone add its users); the manager signs in.
    enrolled = await api.mutate(
        ENROLL,
        "enrollFactory",
        {
            "name": "PT Production Path",
            "country": "ID",
            "enrolledOn": str(TODAY - dt.timedelta(days=120)),
            "managerEmail": "manager@production-path.test",
        },
        assessor,
    )
    factory = enrolled["factory"]["id"]
    refused = await install.refused("token", "issue", "--user", "manager@production-path.test")
    assert "factory" in refused
    manager = await install.signed_in(
        "manager@production-path.test", install.env["MILLGATE_DATABASE_URL"]
    )

    # The factory registers with the Gateway and submits its step 1 self-assessment.
    await api.mutate(
        REGISTER,
        "registerSlcp",
        {"factoryId": factory, "gatewayId": "SLCP-ID-990001", "confirmAssessmentSharing": True},
        manager,
    )
    await api.mutate(
        SUBMIT,
        "submitSelfAssessment",
        {
            "factoryId": factory,
            "cycle": 1,
            "step": 1,
            "toolVersion": "CAF 1.4",
            "answers": {code: "yes" for code in step_one},
        },
        manager,
    )
    engine = make_engine(
        "postgresql+asyncpg://" + install.env["MILLGATE_DATABASE_URL"].split("://", 1)[1]
    )
    try:
        async with engine.begin() as conn:  # the one step outside the API: see the docstring
            await conn.execute(
                text(
                    "UPDATE factory SET slcp_registered_on = slcp_registered_on - 90,"
                    " slcp_sharing_confirmed_on = slcp_sharing_confirmed_on - 90"
                )
            )
            await conn.execute(
                text("UPDATE self_assessment SET submitted_at = submitted_at - interval '90 days'")
            )
    finally:
        await engine.dispose()

    # The programme records an assessment and releases it; the factory grants brand and host.
    recorded = await api.mutate(
        RECORD,
        "recordAssessment",
        {
            "factoryId": factory,
            "cycle": 1,
            "kind": "ONSITE",
            "assessedOn": str(TODAY - dt.timedelta(days=40)),
            "findings": [
                {
                    "cluster": "WORKING_TIME",
                    "compliancePoint": "Overtime",
                    "questionCode": "WT.02.1",
                    "nonCompliant": True,
                    "publicReporting": False,
                    "zeroTolerance": False,
                    "detail": "Overtime above 60 hours a week in the cutting section.",
                }
            ],
        },
        assessor,
    )
    await api.mutate(
        RELEASE,
        "releaseAssessment",
        {
            "assessmentId": recorded["assessment"]["id"],
            "releasedOn": str(TODAY - dt.timedelta(days=35)),
        },
        assessor,
    )
    for grantee, scopes in ((brand, ["ASSESSMENT"]), (host, ["ASSESSMENT", "SELF_ASSESSMENT"])):
        await api.mutate(
            GRANT,
            "grantConsent",
            {"factoryId": factory, "granteeId": grantee, "scopes": scopes},
            manager,
        )
    eligibility = await api.post(ELIGIBILITY, {"id": factory}, token=manager)
    assert eligibility["factory"]["gatewayEligibility"] == {"eligible": True, "reasons": []}

    # The brand reads the released assessment, its finding detail decrypted for it.
    seen = (await api.post(BRAND_READS, token=viewer))["factories"]["edges"]
    assert [e["node"]["name"] for e in seen] == ["PT Production Path"]
    findings = seen[0]["node"]["assessments"]["edges"][0]["node"]["findings"]["edges"]
    assert [f["node"] for f in findings] == [
        {
            "questionCode": "WT.02.1",
            "detail": "Overtime above 60 hours a week in the cutting section.",
        }
    ]

    # The export job writes the host's export; the host pulls it and opens it.
    ran = await install.millgate("exports", "run")
    assert ran.startswith("1 exports written"), ran
    pulled = (await api.post(HOST_PULLS, api_key=host_api_key))["gatewayExports"]["edges"]
    assert [(e["node"]["factoryGatewayId"], e["node"]["cycle"]) for e in pulled] == [
        ("SLCP-ID-990001", 1)
    ]
    async with httpx.AsyncClient(base_url=api.base) as client:
        jwks = (await client.get("/.well-known/jwks.json")).json()
    payload = json.loads(decrypt_and_verify(pulled[0]["node"]["envelope"], host_key, jwks))
    assert "SLCP-ID-990001" in json.dumps(payload)
