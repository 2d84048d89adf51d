"""The logs, captured at DEBUG from every logger while callers use tokens and API keys, read
decrypted details and answers, get new secrets and make requests fail: not one token, key,
secret or decrypted text appears in them, neither in the records nor in the JSON lines the
served process writes (core.logs)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc.jwk import OKPKey

import audit
from core.logs import configure_logging
from demo import DemoWorld, known_plaintexts
from exports.job import run_once
from tests.adversarial.support import DHAKA, SINAR, gid
from tests.world import People

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

READ_ALL = """query($id: ID!) { factory(id: $id) { name
  assessments { edges { node { findings { edges { node { detail } } } } } }
  selfAssessments { answers } consentGrants { id } } }"""
SECRET_DETAIL = "Worker Siti Rahayu, 15, found on the night shift by the assessor"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the root handler of a served process writes, at DEBUG, during the test."""
    stream = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    configure_logging("json", level="DEBUG", stream=stream)
    try:
        yield stream
    finally:
        root.handlers, _ = before
        root.setLevel(before[1])


def _captured(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(repr(record.__dict__))
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(repr(record.exc_info[1].args))
    return "\n".join(parts)


@pytest.mark.writes
async def test_no_credential_secret_or_decrypted_text_is_logged(
    api: Any,
    world: DemoWorld,
    people: People,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    json_lines: io.StringIO,
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every library's debug output too
    sinar = gid("Factory", world.factory_ids[SINAR])
    host = gid("Organization", world.organization_ids["open-audit-hub"])
    said: list[str] = []

    # Reads of encrypted data, as the factory, a granted brand and the platform.
    for caller in ("manager", "brand", "admin", "assessor"):
        body = await api.gql(READ_ALL, {"id": sinar}, **people.by_name(caller))
        said.append(repr(body))
    await api.gql(READ_ALL, {"id": gid("Factory", world.factory_ids[DHAKA])}, **people.brand.auth)
    await api.gql('{ zeroToleranceFindings(country: "ID") { detail } }', **people.inspectorate.auth)

    # The host pulls its exports with its API key.
    await run_once(api.runtime.sessionmaker, api.runtime.keys)
    exports = await api.gql(
        "{ gatewayExports { edges { node { envelope } } } }", api_key=people.host_key
    )
    assert exports["gatewayExports"]["edges"]

    # New secrets, shown once to the admin.
    issued = await api.gql(
        "mutation($i: IssueApiKeyInput!) { issueApiKey(input: $i) { secret errors { code } } }",
        {"i": {"organizationId": host}},
        **people.admin.auth,
    )
    hook = await api.gql(
        "mutation($i: SetHostWebhookInput!) { setHostWebhook(input: $i) "
        "{ secret errors { code } } }",
        {"i": {"organizationId": host, "url": "https://hooks.example.com/in"}},
        **people.admin.auth,
    )
    new_key, hook_secret = issued["issueApiKey"]["secret"], hook["setHostWebhook"]["secret"]
    assert new_key and hook_secret
    assert (await api.post("{ viewer { role } }", api_key=new_key)).status_code == 200

    # A detail written, with an idempotency key, then a write that fails by surprise.
    cycle_input = {
        "factoryId": sinar,
        "cycle": 3,
        "kind": "ONSITE",
        "assessedOn": "2026-01-05",
        "findings": [
            {
                "cluster": "COMPENSATION",
                "compliancePoint": "Minimum wages",
                "questionCode": "CO.01.1",
                "nonCompliant": True,
                "publicReporting": False,
                "zeroTolerance": False,
                "detail": SECRET_DETAIL,
            }
        ],
    }
    record = (
        "mutation($i: RecordAssessmentInput!) { recordAssessment(input: $i) { errors { code } } }"
    )
    await api.post(
        record, {"i": cycle_input}, headers={"idempotency-key": "log-1"}, **people.assessor.auth
    )
    real = audit.append

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the audit store is away")

    monkeypatch.setattr(audit, "append", broken)
    cycle_input["cycle"] = 4
    await api.post(record, {"i": cycle_input}, **people.assessor.auth)
    await api.post(
        record, {"i": cycle_input}, headers={"idempotency-key": "log-2"}, **people.assessor.auth
    )
    monkeypatch.setattr(audit, "append", real)

    # Bad credentials of every kind.
    bad_token = people.brand.token[:-4] + "AAAA"
    for headers in (
        {"authorization": f"Bearer {bad_token}"},
        {"x-api-key": new_key + "x"},
        {"authorization": f"Bearer {people.brand.token}", "x-api-key": new_key},
    ):
        await api.client.post("/graphql", json={"query": "{ viewer { role } }"}, headers=headers)

    written = json_lines.getvalue()
    logged = _captured(caplog) + "\n" + written
    # Proof the capture works: the masked failures were logged, tracebacks and all, and
    # every request got its line, each line one JSON object.
    names = {r.name for r in caplog.records}
    assert "millgate.graphql" in names, names
    lines = [json.loads(line) for line in written.splitlines() if line.strip()]
    requests = [line for line in lines if line.get("logger") == "millgate.access"]
    assert len(requests) >= 10 and {r["status"] for r in requests} >= {200, 401}
    assert any("exception" in line for line in lines)
    secrets = {
        "brand token": people.brand.token,
        "manager token": people.manager.token,
        "admin token": people.admin.token,
        "assessor token": people.assessor.token,
        "forged token": bad_token,
        "host API key": people.host_key,
        "issued API key": new_key,
        "webhook secret": hook_secret,
        "submitted detail": SECRET_DETAIL,
        "host private key": world.host_private_jwk["d"],
    }
    # The signature half of a token alone would do to replay it.
    secrets |= {f"{k} signature": v.rsplit(".", 1)[-1] for k, v in secrets.items() if "token" in k}
    secrets |= {f"demo plaintext {i}": text for i, text in enumerate(known_plaintexts())}
    for what, secret in secrets.items():
        assert secret not in logged, f"{what} appears in the logs"
    # The reads above did show the plaintexts: the test saw them where they belong.
    assert any(text in "".join(said) for text in known_plaintexts())


async def test_a_host_key_pair_is_not_logged_when_registered(
    api: Any, world: DemoWorld, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = OKPKey.generate_key("X25519")
    private = key.as_dict(private=True)

    # A careless admin pastes the private half: it is refused, and not echoed anywhere.
    response = await api.post(
        "mutation($i: RegisterHostKeyInput!) { registerHostKey(input: $i) "
        "{ errors { code message } } }",
        {
            "i": {
                "organizationId": gid("Organization", world.organization_ids["open-audit-hub"]),
                "publicJwk": private,
            }
        },
        **people.admin.auth,
    )

    assert response.json()["data"]["registerHostKey"]["errors"]
    assert private["d"] not in response.text
    assert private["d"] not in _captured(caplog)
