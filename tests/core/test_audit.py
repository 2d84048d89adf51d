"""The audit trail: every mutation appends one entry in its own transaction, the chain
verifies, `millgate audit verify` finds an edited, removed or reordered entry, and a
factory reads the entries about its own data."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import OKPKey
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

import audit
import models as m
from api.ids import pk_of
from audit.checkpoints import (
    Checkpoint,
    CheckpointSchedule,
    CheckpointStore,
    write_checkpoint,
)
from authz.guard import system_read
from cli.main import app as cli
from core.crypto import KeyMaterial, SigningKeys, load_key_material, verify_checkpoint
from demo import KEYED_HOST, DemoWorld
from exports.job import run_forever
from tests.adversarial.support import audit_rows, dump, gid, scalar
from tests.world import Caller, kept_world, seed_world, sign_in

SINAR = "PT Sinar Garmen Jaya"
TODAY = dt.datetime.now(dt.UTC).date().isoformat()

GRANT = """mutation($input: GrantConsentInput!) {
  grantConsent(input: $input) { grant { id } errors { code field message } } }"""
REVOKE = """mutation($input: RevokeConsentInput!) {
  revokeConsent(input: $input) { grant { id } errors { code field message } } }"""
REGISTER = """mutation($input: RegisterSlcpInput!) {
  registerSlcp(input: $input) { factory { id } errors { code field message } } }"""
SUBMIT = """mutation($input: SubmitSelfAssessmentInput!) {
  submitSelfAssessment(input: $input) { selfAssessment { id } errors { code field message } } }"""
ENROLL = """mutation($input: EnrollFactoryInput!) {
  enrollFactory(input: $input) { factory { id } errors { code field message } } }"""
RECORD = """mutation($input: RecordAssessmentInput!) {
  recordAssessment(input: $input) { assessment { id } errors { code field message } } }"""
RELEASE = """mutation($input: ReleaseAssessmentInput!) {
  releaseAssessment(input: $input) { assessment { id } errors { code field message } } }"""
CREATE_ORG = """mutation($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { id } errors { code field message } } }"""
ROLLOUT = """mutation($input: SetCountryRolloutInput!) {
  setCountryRollout(input: $input) { country { code } errors { code field message } } }"""
CREATE_USER = """mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { id } errors { code field message } } }"""
DISABLE_USER = """mutation($input: DisableUserInput!) {
  disableUser(input: $input) { user { id } errors { code field message } } }"""
ISSUE_KEY = """mutation($input: IssueApiKeyInput!) {
  issueApiKey(input: $input) { apiKey { id } secret errors { code field message } } }"""
REVOKE_KEY = """mutation($input: RevokeApiKeyInput!) {
  revokeApiKey(input: $input) { apiKey { id } errors { code field message } } }"""
WEBHOOK = """mutation($input: SetHostWebhookInput!) {
  setHostWebhook(input: $input) { organization { id } errors { code field message } } }"""
HOST_KEY = """mutation($input: RegisterHostKeyInput!) {
  registerHostKey(input: $input) { organization { id } errors { code field message } } }"""
AUDIT_DETAILS = """query($id: ID!) { factory(id: $id) { auditLog(first: 50) {
  edges { node { action target details } } } } }"""
AUDIT_LOG = """query($id: ID!) { factory(id: $id) { auditLog(first: 50) {
  edges { node { seq action target } } } } }"""


@pytest.fixture
async def world(
    request: pytest.FixtureRequest, api: Any, session: AsyncSession, keys: KeyMaterial
) -> DemoWorld:
    """The demo world; for a test that asks for `chain`, the demo with its audit chain (a
    world of its own, restored in one step: see `chain`)."""
    if "chain" in request.fixturenames:
        return await _demo_with_a_chain(api, session, keys)
    return await seed_world(session, keys, api)


@pytest.fixture
def callers(
    api: Any, session: AsyncSession, world: DemoWorld
) -> Callable[[str], Awaitable[Caller]]:
    async def get(email: str) -> Caller:
        return await sign_in(api, session, email)

    return get


def _payload(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    return payload  # type: ignore[no-any-return]


class Steps:
    """Runs mutations as given callers and checks what each one adds to the chain."""

    def __init__(self, api: Any, session: AsyncSession, monkeypatch: pytest.MonkeyPatch) -> None:
        self.api = api
        self.session = session
        self.monkeypatch = monkeypatch

    async def refused_by(self, caller: Caller, document: str, variables: dict[str, Any]) -> None:
        """A caller without the right: a typed error, and not a row anywhere changes."""
        before = await dump(self.session)
        body = (await self.api.post(document, {"input": variables}, **caller.auth)).json()
        assert _payload(body)["errors"], body
        assert await dump(self.session) == before

    async def torn(self, caller: Caller, document: str, variables: dict[str, Any]) -> None:
        """The entry is written, then the transaction fails: neither effect nor entry stays."""
        real_append = audit.append

        async def append_then_fail(*args: Any, **kwargs: Any) -> Any:
            await real_append(*args, **kwargs)
            raise RuntimeError("the disk filled up just after the audit entry")

        before = await dump(self.session)
        self.monkeypatch.setattr(audit, "append", append_then_fail)
        try:
            response = await self.api.post(document, {"input": variables}, **caller.auth)
        finally:
            self.monkeypatch.setattr(audit, "append", real_append)
        assert response.json()["errors"][0]["message"] == "Unexpected error."
        assert "disk" not in response.text
        assert await dump(self.session) == before

    async def run(
        self,
        caller: Caller,
        document: str,
        variables: dict[str, Any],
        *,
        action: str,
        target: str,
        factory_id: int | Callable[[dict[str, Any]], int] | None = None,
    ) -> dict[str, Any]:
        await self.torn(caller, document, variables)
        before = await audit_rows(self.session)
        payload = _payload(
            (await self.api.post(document, {"input": variables}, **caller.auth)).json()
        )
        assert payload["errors"] == [], payload
        after = await audit_rows(self.session)
        (entry,) = after[len(before) :]
        assert entry.action == action
        assert entry.target.startswith(f"{target}:")
        expected = factory_id(payload) if callable(factory_id) else factory_id
        assert entry.factory_id == expected
        assert (entry.organization_id, entry.user_id) == (caller.organization_id, caller.user_id)
        return payload


async def test_every_mutation_appends_one_entry_in_its_own_transaction(
    api: Any,
    session: AsyncSession,
    world: DemoWorld,
    callers: Callable[[str], Awaitable[Caller]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manager = await callers(world.emails[m.Role.FACTORY_MANAGER])
    assessor = await callers(world.emails[m.Role.ASSESSOR])
    admin = await callers(world.emails[m.Role.PLATFORM_ADMIN])
    brand = await callers(world.emails[m.Role.BRAND_VIEWER])
    sinar = world.factory_ids[SINAR]
    orgs = world.organization_ids
    steps = Steps(api, session, monkeypatch)
    gateway_id = await scalar(
        session, "SELECT slcp_gateway_id FROM factory WHERE id = :id", id=sinar
    )
    next_cycle = 1 + await scalar(
        session, "SELECT max(number) FROM service_cycle WHERE factory_id = :id", id=sinar
    )
    step1_code = await scalar(
        session,
        "SELECT q.code FROM question q JOIN country c ON c.code = q.country_code"
        " WHERE q.country_code = 'ID' AND q.step = 1 AND q.overlay_version = c.overlay_version"
        " ORDER BY q.code LIMIT 1",
    )
    question = (
        await session.execute(
            text(
                "SELECT q.code, q.cluster, q.compliance_point FROM question q"
                " JOIN country c ON c.code = q.country_code WHERE q.country_code = 'ID'"
                " AND q.cluster IS NOT NULL AND q.overlay_version = c.overlay_version"
                " ORDER BY q.code LIMIT 1"
            )
        )
    ).one()
    await session.rollback()

    grant_input = {
        "factoryId": gid("Factory", sinar),
        "granteeId": gid("Organization", orgs["harbour-outfitters"]),
        "scopes": ["ASSESSMENT"],
    }
    await steps.refused_by(brand, GRANT, grant_input)
    grant = await steps.run(
        manager, GRANT, grant_input, action="consent.grant", target="ConsentGrant", factory_id=sinar
    )
    revoke_input = {"grantId": grant["grant"]["id"]}
    await steps.refused_by(brand, REVOKE, revoke_input)
    await steps.run(
        manager,
        REVOKE,
        revoke_input,
        action="consent.revoke",
        target="ConsentGrant",
        factory_id=sinar,
    )
    register_input = {
        "factoryId": gid("Factory", sinar),
        "gatewayId": gateway_id,
        "confirmAssessmentSharing": True,
    }
    await steps.refused_by(assessor, REGISTER, register_input)
    await steps.run(
        manager,
        REGISTER,
        register_input,
        action="slcp.register",
        target="Factory",
        factory_id=sinar,
    )
    submit_input = {
        "factoryId": gid("Factory", sinar),
        "cycle": next_cycle,
        "step": 1,
        "toolVersion": "CAF 1.4",
        "answers": {step1_code: "yes"},
    }
    await steps.refused_by(admin, SUBMIT, submit_input)
    await steps.run(
        manager,
        SUBMIT,
        submit_input,
        action="self_assessment.submit",
        target="SelfAssessment",
        factory_id=sinar,
    )
    enroll_input = {"name": "Audit Trail Garments", "country": "ID", "enrolledOn": TODAY}
    await steps.refused_by(manager, ENROLL, enroll_input)
    enrolled = await steps.run(
        assessor,
        ENROLL,
        enroll_input,
        action="factory.enroll",
        target="Factory",
        factory_id=lambda payload: pk_of(payload["factory"]["id"], "Factory") or 0,
    )
    new_factory = enrolled["factory"]["id"]
    new_factory_pk = pk_of(new_factory, "Factory")
    record_input = {
        "factoryId": new_factory,
        "cycle": 1,
        "kind": "ONSITE",
        "assessedOn": TODAY,
        "findings": [
            {
                "cluster": question.cluster,
                "compliancePoint": question.compliance_point,
                "questionCode": question.code,
                "nonCompliant": True,
                "publicReporting": False,
                "zeroTolerance": False,
                "detail": "a named worker",
            }
        ],
    }
    await steps.refused_by(brand, RECORD, record_input)
    recorded = await steps.run(
        assessor,
        RECORD,
        record_input,
        action="assessment.record",
        target="Assessment",
        factory_id=new_factory_pk,
    )
    release_input = {"assessmentId": recorded["assessment"]["id"], "releasedOn": TODAY}
    await steps.refused_by(manager, RELEASE, release_input)
    await steps.run(
        assessor,
        RELEASE,
        release_input,
        action="assessment.release",
        target="Assessment",
        factory_id=new_factory_pk,
    )
    org_input = {"name": "Audit Brand", "kind": "BRAND"}
    await steps.refused_by(assessor, CREATE_ORG, org_input)
    created = await steps.run(
        admin, CREATE_ORG, org_input, action="organization.create", target="Organization"
    )
    rollout_input = {"code": "KH", "slcpRolloutOn": "2026-01-01"}
    await steps.refused_by(brand, ROLLOUT, rollout_input)
    await steps.run(admin, ROLLOUT, rollout_input, action="country.rollout", target="Country")
    user_input = {
        "organizationId": created["organization"]["id"],
        "email": "viewer@audit-brand.test",
        "role": "BRAND_VIEWER",
    }
    await steps.refused_by(manager, CREATE_USER, user_input)
    user = await steps.run(admin, CREATE_USER, user_input, action="user.create", target="User")
    disable_input = {"userId": user["user"]["id"]}
    await steps.refused_by(brand, DISABLE_USER, disable_input)
    await steps.run(admin, DISABLE_USER, disable_input, action="user.disable", target="User")
    key_input = {"organizationId": gid("Organization", orgs[KEYED_HOST])}
    await steps.refused_by(manager, ISSUE_KEY, key_input)
    issued = await steps.run(admin, ISSUE_KEY, key_input, action="api_key.issue", target="ApiKey")
    revoke_key_input = {"apiKeyId": issued["apiKey"]["id"]}
    await steps.refused_by(assessor, REVOKE_KEY, revoke_key_input)
    await steps.run(admin, REVOKE_KEY, revoke_key_input, action="api_key.revoke", target="ApiKey")
    webhook_input = {
        "organizationId": gid("Organization", orgs[KEYED_HOST]),
        "url": "https://hooks.example.com/millgate",
    }
    await steps.refused_by(brand, WEBHOOK, webhook_input)
    await steps.run(admin, WEBHOOK, webhook_input, action="host_webhook.set", target="Organization")
    host_key_input = {
        "organizationId": gid("Organization", orgs["fairtrace-platform"]),
        "publicJwk": OKPKey.generate_key("X25519").as_dict(private=False),
    }
    await steps.refused_by(manager, HOST_KEY, host_key_input)
    await steps.run(
        admin, HOST_KEY, host_key_input, action="host_key.register", target="Organization"
    )

    rows = await audit_rows(session)
    assert [r.seq for r in rows] == list(range(1, 16))
    assert await audit.verify_database(session) == []


# --- tampering ------------------------------------------------------------------------------


async def _demo_with_a_chain(api: Any, session: AsyncSession, keys: KeyMaterial) -> DemoWorld:
    """The demo world and six entries made through the API: grant and revoke, three times.
    Made once per database, then kept (tests/world.py)."""

    async def build() -> DemoWorld:
        world = await seed_world(session, keys, api)  # the demo world, under the chain
        manager = await sign_in(api, session, world.emails[m.Role.FACTORY_MANAGER])
        grant_input = {
            "factoryId": gid("Factory", world.factory_ids[SINAR]),
            "granteeId": gid("Organization", world.organization_ids["harbour-outfitters"]),
            "scopes": ["ASSESSMENT", "SELF_ASSESSMENT"],
        }
        for _ in range(3):
            grant = (await api.gql(GRANT, {"input": grant_input}, **manager.auth))["grantConsent"]
            await api.gql(REVOKE, {"input": {"grantId": grant["grant"]["id"]}}, **manager.auth)
        return world

    made = await kept_world(api.runtime.engine, "demo with an audit chain", build)
    await session.rollback()  # a fresh snapshot: the copy was written on another connection
    return made


@pytest.fixture
def chain(world: DemoWorld) -> int:
    """The number of entries of the audit chain on the demo world (`world` restores the two
    together): six, grant and revoke three times."""
    return 6


def _invoke(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["audit", "verify", *args], env={"MILLGATE_DATABASE_URL": database_url}
    )


async def verify_cli(database_url: str, *args: str) -> Result:
    # Typer runs its own event loop: a thread of its own.
    return await asyncio.to_thread(_invoke, database_url, *args)


async def test_the_cli_says_the_chain_is_intact(chain: int, database_url: str) -> None:
    result = await verify_cli(database_url)

    assert result.exit_code == 0, result.output
    assert f"audit chain intact: {chain} entries" in result.output
    assert f"head: {chain}:" in result.output


async def test_an_empty_chain_is_intact(world: DemoWorld, database_url: str) -> None:
    result = await verify_cli(database_url)

    assert result.exit_code == 0, result.output
    assert "audit chain intact: 0 entries" in result.output


SWAP_SEQ = (
    "UPDATE audit_entry SET seq = -1 WHERE seq = 3",
    "UPDATE audit_entry SET seq = 3 WHERE seq = 4",
    "UPDATE audit_entry SET seq = 4 WHERE seq = -1",
)


@pytest.mark.parametrize(
    ("statements", "broken_at"),
    [
        pytest.param(
            ["UPDATE audit_entry SET action = 'consent.grant' WHERE seq = 2"], 2, id="edited-action"
        ),
        pytest.param(
            ["UPDATE audit_entry SET target = 'ConsentGrant:999' WHERE seq = 3"],
            3,
            id="edited-target",
        ),
        pytest.param(
            ["UPDATE audit_entry SET organization_id = NULL, user_id = NULL WHERE seq = 4"],
            4,
            id="actor-erased",
        ),
        pytest.param(
            [
                'UPDATE audit_entry SET details = \'{"grantee": 1, "scopes": ["ASSESSMENT"],'
                ' "expiresAt": null}\' WHERE seq = 1'
            ],
            1,
            id="edited-details",
        ),
        pytest.param(["DELETE FROM audit_entry WHERE seq = 3"], 4, id="removed-middle"),
        pytest.param(["DELETE FROM audit_entry WHERE seq = 1"], 2, id="removed-first"),
        pytest.param(list(SWAP_SEQ), 4, id="reordered"),
        pytest.param(
            ["UPDATE audit_entry SET entry_hash = '" + "f" * 64 + "' WHERE seq = 5"],
            5,
            id="hash-overwritten",
        ),
    ],
)
async def test_tampering_is_found_at_the_first_broken_entry(
    chain: int, session: AsyncSession, database_url: str, statements: list[str], broken_at: int
) -> None:
    for statement in statements:
        await session.execute(text(statement))
    await session.commit()

    result = await verify_cli(database_url)

    assert result.exit_code == 1, result.output
    assert f"audit chain broken at entry {broken_at}:" in result.output
    assert (await audit.verify_database(session))[0].seq == broken_at


async def test_an_edit_with_its_own_hash_recomputed_still_breaks_the_next_entry(
    chain: int, session: AsyncSession, database_url: str
) -> None:
    """Recomputing the edited entry's hash is not enough: the next one names the old hash."""
    second = (
        await session.scalars(
            system_read(select(m.AuditEntry).where(m.AuditEntry.seq == 2), "test: tamper")
        )
    ).one()
    second.action = "consent.grant"
    new_hash = audit._digest(second.prev_hash, second)
    await session.rollback()
    await session.execute(
        text("UPDATE audit_entry SET action = 'consent.grant', entry_hash = :h WHERE seq = 2"),
        {"h": new_hash},
    )
    await session.commit()

    result = await verify_cli(database_url)

    assert result.exit_code == 1
    assert "audit chain broken at entry 3: previous hash does not match" in result.output


async def test_a_cut_off_tail_is_found_with_an_anchor(
    chain: int, session: AsyncSession, database_url: str
) -> None:
    """Removing the newest entries leaves a valid shorter chain: only a head noted outside
    the database (the `head:` line of an earlier verify) shows the cut."""
    earlier = await verify_cli(database_url)
    anchor = earlier.output.strip().splitlines()[-1].removeprefix("head: ")
    await session.execute(text("DELETE FROM audit_entry WHERE seq >= 5"))
    await session.commit()

    without_anchor = await verify_cli(database_url)
    with_anchor = await verify_cli(database_url, "--anchor", anchor)

    assert without_anchor.exit_code == 0
    assert "audit chain intact: 4 entries" in without_anchor.output
    assert with_anchor.exit_code == 1
    assert "anchored entry 6 is missing" in with_anchor.output


async def test_a_wrong_anchor_argument_is_refused(chain: int, database_url: str) -> None:
    result = await verify_cli(database_url, "--anchor", "six:abc")

    assert result.exit_code == 2


# --- the factory's own view -----------------------------------------------------------------


async def test_a_factory_reads_the_entries_about_its_own_data_and_nobody_else_does(
    api: Any,
    chain: int,
    world: DemoWorld,
    callers: Callable[[str], Awaitable[Caller]],
) -> None:
    sinar = gid("Factory", world.factory_ids[SINAR])
    manager = await callers(world.emails[m.Role.FACTORY_MANAGER])
    worker_rep = await callers(world.emails[m.Role.WORKER_REPRESENTATIVE])

    own = await api.gql(AUDIT_LOG, {"id": sinar}, **manager.auth)
    rep = await api.gql(AUDIT_LOG, {"id": sinar}, **worker_rep.auth)

    actions = [e["node"]["action"] for e in own["factory"]["auditLog"]["edges"]]
    assert actions == ["consent.revoke", "consent.grant"] * 3
    assert rep == own
    for role in (m.Role.BRAND_VIEWER, m.Role.ASSESSOR, m.Role.PLATFORM_ADMIN):
        other = await callers(world.emails[role])
        seen = await api.gql(AUDIT_LOG, {"id": sinar}, **other.auth)
        assert seen["factory"] is None or seen["factory"]["auditLog"]["edges"] == [], role
    host = await api.gql(AUDIT_LOG, {"id": sinar}, api_key=world.host_api_key)
    assert host["factory"] is None or host["factory"]["auditLog"]["edges"] == []


async def test_a_factory_does_not_learn_of_a_draft_assessment_through_its_audit_log(
    api: Any, session: AsyncSession, world: DemoWorld, callers: Callable[[str], Awaitable[Caller]]
) -> None:
    """Drafts are the programme's alone (the access table): their audit entries too."""
    assessor = await callers(world.emails[m.Role.ASSESSOR])
    manager = await callers(world.emails[m.Role.FACTORY_MANAGER])
    sinar = world.factory_ids[SINAR]
    question = (
        await session.execute(
            text(
                "SELECT q.code, q.cluster, q.compliance_point FROM question q"
                " JOIN country c ON c.code = q.country_code WHERE q.country_code = 'ID'"
                " AND q.cluster IS NOT NULL AND q.overlay_version = c.overlay_version"
                " ORDER BY q.code LIMIT 1"
            )
        )
    ).one()
    next_cycle = 1 + await scalar(
        session, "SELECT max(number) FROM service_cycle WHERE factory_id = :id", id=sinar
    )
    recorded = await api.gql(
        RECORD,
        {
            "input": {
                "factoryId": gid("Factory", sinar),
                "cycle": next_cycle,
                "kind": "ONSITE",
                "assessedOn": TODAY,
                "findings": [
                    {
                        "cluster": question.cluster,
                        "compliancePoint": question.compliance_point,
                        "questionCode": question.code,
                        "nonCompliant": True,
                        "publicReporting": False,
                        "zeroTolerance": False,
                    }
                ],
            }
        },
        **assessor.auth,
    )
    assert recorded["recordAssessment"]["errors"] == []

    seen = await api.gql(AUDIT_LOG, {"id": gid("Factory", sinar)}, **manager.auth)

    actions = [e["node"]["action"] for e in seen["factory"]["auditLog"]["edges"]]
    assert "assessment.record" not in actions


async def test_a_factory_does_not_learn_of_a_future_release_through_its_audit_log(
    api: Any, session: AsyncSession, world: DemoWorld, callers: Callable[[str], Awaitable[Caller]]
) -> None:
    """Rule 5: nothing of an assessment before its release date, not even the date."""
    assessor = await callers(world.emails[m.Role.ASSESSOR])
    manager = await callers(world.emails[m.Role.FACTORY_MANAGER])
    sinar = world.factory_ids[SINAR]
    question = (
        await session.execute(
            text(
                "SELECT q.code, q.cluster, q.compliance_point FROM question q"
                " JOIN country c ON c.code = q.country_code WHERE q.country_code = 'ID'"
                " AND q.cluster IS NOT NULL AND q.overlay_version = c.overlay_version"
                " ORDER BY q.code LIMIT 1"
            )
        )
    ).one()
    next_cycle = 1 + await scalar(
        session, "SELECT max(number) FROM service_cycle WHERE factory_id = :id", id=sinar
    )
    finding = {
        "cluster": question.cluster,
        "compliancePoint": question.compliance_point,
        "questionCode": question.code,
        "nonCompliant": True,
        "publicReporting": False,
        "zeroTolerance": False,
    }
    recorded = await api.gql(
        RECORD,
        {
            "input": {
                "factoryId": gid("Factory", sinar),
                "cycle": next_cycle,
                "kind": "ONSITE",
                "assessedOn": TODAY,
                "findings": [finding],
            }
        },
        **assessor.auth,
    )
    assessment_id = recorded["recordAssessment"]["assessment"]["id"]
    later = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=10)).isoformat()
    released = await api.gql(
        RELEASE, {"input": {"assessmentId": assessment_id, "releasedOn": later}}, **assessor.auth
    )
    assert released["releaseAssessment"]["errors"] == []

    seen = await api.gql(AUDIT_DETAILS, {"id": gid("Factory", sinar)}, **manager.auth)

    entries = seen["factory"]["auditLog"]["edges"]
    assert [e for e in entries if e["node"]["target"].startswith("Assessment:")] == []
    assert later not in json.dumps(seen)


# --- signed checkpoints, kept outside the database -----------------------------------------

FACTORY_CHECKPOINT = """query($id: ID!) { factory(id: $id) {
  auditCheckpoint { seq headHash signedAt jws } } }"""


def _run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, ["audit", *args], env=env)


@pytest.fixture
def installation(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of an installation whose keys and checkpoints live under tmp_path."""
    return {"MILLGATE_DATABASE_URL": database_url, "MILLGATE_DATA_DIR": str(tmp_path)}


async def audit_cli(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(_run, env, *args)


async def _checkpointed(env: dict[str, str]) -> Path:
    made = await audit_cli(env, "checkpoint")
    assert made.exit_code == 0, made.output
    return Path(env["MILLGATE_DATA_DIR"]) / "checkpoints"


async def test_a_checkpoint_signs_the_head_once_and_verifies_with_the_served_jwks(
    chain: int, installation: dict[str, str], api: Any
) -> None:
    folder = await _checkpointed(installation)
    again = await audit_cli(installation, "checkpoint")

    [path] = sorted(folder.iterdir())
    assert path.name == f"{chain:012d}.jws"
    assert path.stat().st_mode & 0o777 == 0o644
    assert "no new checkpoint" in again.output
    keys = load_key_material(
        None, None, None, Path(installation["MILLGATE_DATA_DIR"]) / "keys", create_missing=False
    )
    served = keys.signing.public_jwks()  # what /.well-known/jwks.json serves for these keys
    assert "d" not in served["keys"][0]
    claims = verify_checkpoint(path.read_text().strip(), served)
    head = (await audit_cli(installation, "verify")).output.strip().splitlines()[-1]
    assert f"head: {claims['seq']}:{claims['head']}" == head


async def test_a_cut_off_tail_is_found_against_a_checkpoint(
    chain: int, session: AsyncSession, installation: dict[str, str]
) -> None:
    folder = await _checkpointed(installation)
    await session.execute(text("DELETE FROM audit_entry WHERE seq >= 5"))
    await session.commit()

    plain = await audit_cli(installation, "verify")
    checked = await audit_cli(installation, "verify", "--checkpoints", str(folder))

    assert plain.exit_code == 0, plain.output  # the shorter chain is intact by itself
    assert checked.exit_code == 1
    assert f"entry {chain} is missing: the chain was cut or rewritten" in checked.output


async def test_a_rewritten_and_rehashed_chain_is_found_against_a_checkpoint(
    chain: int, session: AsyncSession, installation: dict[str, str]
) -> None:
    folder = await _checkpointed(installation)
    # whoever writes the database edits entry 2 and hashes the chain again after it
    entries = list(
        (
            await session.scalars(
                system_read(select(m.AuditEntry).order_by(m.AuditEntry.seq), "test: tamper")
            )
        ).all()
    )
    entries[1].action = "consent.grant"
    prev = entries[0].entry_hash
    rewritten = []
    for entry in entries[1:]:
        entry.prev_hash = prev
        prev = audit._digest(prev, entry)
        rewritten.append((entry.seq, entry.prev_hash, prev))
    await session.rollback()
    await session.execute(text("UPDATE audit_entry SET action = 'consent.grant' WHERE seq = 2"))
    for seq, prev_hash, entry_hash in rewritten:
        await session.execute(
            text("UPDATE audit_entry SET prev_hash = :p, entry_hash = :h WHERE seq = :s"),
            {"p": prev_hash, "h": entry_hash, "s": seq},
        )
    await session.commit()

    plain = await audit_cli(installation, "verify")
    checked = await audit_cli(installation, "verify", "--checkpoints", str(folder))

    assert plain.exit_code == 0, plain.output
    assert checked.exit_code == 1
    assert f"entry {chain} has another hash: the chain was rewritten" in checked.output


def _forged_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    return f"{header}.{payload}.{flipped}"


def _moved_head(token: str) -> str:
    """The claims changed (an earlier, shorter head), the signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["seq"] = 4
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


@pytest.mark.parametrize("tamper", [_forged_signature, _moved_head], ids=["signature", "claims"])
async def test_a_tampered_checkpoint_is_refused(
    chain: int, installation: dict[str, str], tamper: Callable[[str], str]
) -> None:
    folder = await _checkpointed(installation)
    [path] = list(folder.iterdir())
    path.chmod(0o600)
    path.write_text(tamper(path.read_text().strip()))

    result = await audit_cli(installation, "verify", "--checkpoints", str(folder))

    assert result.exit_code == 1
    assert f"checkpoint {path.name}: refused:" in result.output


async def test_a_checkpoint_of_another_key_is_refused_and_the_published_jwks_is_used(
    chain: int, installation: dict[str, str], tmp_path: Path
) -> None:
    folder = await _checkpointed(installation)
    other = load_key_material(None, None, None, tmp_path / "other-keys", create_missing=True)
    published = tmp_path / "jwks.json"
    published.write_text(json.dumps(other.signing.public_jwks()))

    foreign = await audit_cli(
        installation, "verify", "--checkpoints", str(folder), "--jwks", str(published)
    )
    own = await audit_cli(installation, "verify", "--checkpoints", str(folder))

    assert foreign.exit_code == 1 and "refused" in foreign.output
    assert own.exit_code == 0, own.output
    assert "checkpoints: 1 held" in own.output


async def test_the_worker_signs_when_the_head_moved_and_the_last_one_is_old_enough(
    chain: int, session: AsyncSession, keys: KeyMaterial, tmp_path: Path
) -> None:
    store = CheckpointStore(tmp_path)
    t0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    every = dt.timedelta(minutes=10)

    async def due_at(now: dt.datetime) -> int | None:
        made = await write_checkpoint(
            session, keys.signing, store, issuer="millgate", now=now, min_age=every
        )
        return None if made is None else made.seq

    first = await due_at(t0)
    same_head = await due_at(t0 + 2 * every)
    await audit.append(session, None, "test.entry", "Test:1")
    await session.commit()
    too_soon = await due_at(t0 + every / 2)
    moved = await due_at(t0 + 2 * every)

    assert (first, same_head, too_soon, moved) == (chain, None, None, chain + 1)
    assert [seq for seq, _ in store.paths()] == [chain, chain + 1]


async def test_the_factory_alone_reads_its_latest_checkpoint(
    api: Any,
    chain: int,
    session: AsyncSession,
    world: DemoWorld,
    callers: Callable[[str], Awaitable[Caller]],
) -> None:
    sinar = gid("Factory", world.factory_ids[SINAR])
    manager = await callers(world.emails[m.Role.FACTORY_MANAGER])
    before = await api.gql(FACTORY_CHECKPOINT, {"id": sinar}, **manager.auth)
    store = CheckpointStore(api.runtime.settings.effective_checkpoint_dir)
    made = await write_checkpoint(session, api.runtime.keys.signing, store, issuer="millgate")
    assert made is not None

    own = await api.gql(FACTORY_CHECKPOINT, {"id": sinar}, **manager.auth)

    assert before["factory"]["auditCheckpoint"] is None
    got = own["factory"]["auditCheckpoint"]
    assert (got["seq"], got["headHash"], got["jws"]) == (chain, made.head_hash, made.jws)
    served = (await api.client.get("/.well-known/jwks.json")).json()
    assert verify_checkpoint(got["jws"], served)["head"] == made.head_hash
    for role in (m.Role.BRAND_VIEWER, m.Role.ASSESSOR, m.Role.PLATFORM_ADMIN):
        other = await callers(world.emails[role])
        seen = await api.gql(FACTORY_CHECKPOINT, {"id": sinar}, **other.auth)
        assert seen["factory"] is None or seen["factory"]["auditCheckpoint"] is None, role
    host = await api.gql(FACTORY_CHECKPOINT, {"id": sinar}, api_key=world.host_api_key)
    assert host["factory"] is None or host["factory"]["auditCheckpoint"] is None


async def test_the_export_worker_signs_the_head_on_its_schedule(
    chain: int, sessionmaker: async_sessionmaker[AsyncSession], keys: KeyMaterial, tmp_path: Path
) -> None:
    stop = asyncio.Event()

    class StopAfterIt(CheckpointSchedule):
        async def run(self, session: AsyncSession, signer: SigningKeys) -> Checkpoint | None:
            try:
                return await super().run(session, signer)
            finally:
                stop.set()

    schedule = StopAfterIt(CheckpointStore(tmp_path), "millgate", dt.timedelta(0))

    await run_forever(sessionmaker, keys, interval=3600, stop=stop, checkpoints=schedule)

    [(seq, path)] = schedule.store.paths()
    assert seq == chain
    assert verify_checkpoint(path.read_text().strip(), keys.signing.public_jwks())["seq"] == chain
