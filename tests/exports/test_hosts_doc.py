"""docs/hosts.md tells the truth: its example pulls, opens and checks a real export."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import WebhookVerificationError

from core.crypto import KeyMaterial, new_webhook_secret, standard_webhook_headers
from exports.job import run_once
from exports.webhooks import notice_body
from tests.builders import EXPORT_SCHEMA, GATEWAY_ON, host_exports_query
from tests.world import make_world

DOC = (Path(__file__).parents[2] / "docs" / "hosts.md").read_text()
API_KEY = "mg_0123abcd_secret"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)


def load_example() -> dict[str, Any]:
    """The module of the complete example, without running its main()."""
    [example] = [b for b in code_blocks("python") if "def main()" in b]
    namespace: dict[str, Any] = {"__name__": "pull_exports"}
    exec(compile(example, "docs/hosts.md", "exec"), namespace)  # noqa: S102 - our own doc
    return namespace


def test_documented_sample_payload_matches_the_schema() -> None:
    [sample] = [b for b in code_blocks("json") if "schemaVersion" in b]

    checker = jsonschema.FormatChecker()
    jsonschema.validate(json.loads(sample), EXPORT_SCHEMA, format_checker=checker)


def test_documented_notice_has_the_shape_we_send() -> None:
    [sample] = [b for b in code_blocks("json") if "export.created" in b]
    documented = json.loads(sample)

    sent = json.loads(notice_body("export.created", "e", "ab"))
    assert documented.keys() == sent.keys() and documented["data"].keys() == sent["data"].keys()
    assert list(json.loads(sample)) == sorted(documented)  # RFC 8785 orders the keys


def test_documented_webhook_check_accepts_our_signature_once_and_no_other() -> None:
    [snippet] = [b for b in code_blocks("python") if "def receive(" in b]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - our own doc
    receive = namespace["receive"]
    secret, other = new_webhook_secret(), new_webhook_secret()
    body = notice_body("export.created", "e", "ab")
    headers = standard_webhook_headers(secret, "msg_e", dt.datetime.now(dt.UTC), body)
    forged = standard_webhook_headers(other, "msg_f", dt.datetime.now(dt.UTC), body)
    stale = standard_webhook_headers(
        secret, "msg_g", dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10), body
    )

    assert receive(body, headers, secret) == json.loads(body)
    assert receive(body, headers, secret) is None  # the second copy of one notice
    for refused in (forged, stale):
        with pytest.raises(WebhookVerificationError):
            receive(body, refused, secret)


async def test_complete_example_pulls_decrypts_and_verifies(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    # given a host with one export waiting, behind a server that answers like Millgate
    world = await make_world(session, keys)
    await run_once(sessionmaker, keys, today=GATEWAY_ON)
    stmt = host_exports_query(world.host.organization.id)
    [export] = list(await session.scalars(stmt))

    def millgate(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/jwks.json":
            return httpx.Response(200, json=keys.signing.public_jwks())
        assert request.url.path == "/graphql"
        assert request.headers["X-Api-Key"] == API_KEY
        node = {
            "id": "R2F0ZXdheUV4cG9ydDox",
            "factoryGatewayId": export.factory_gateway_id,
            "cycle": export.cycle_number,
            "createdAt": export.created_at.isoformat(),
            "releaseOn": export.release_on.isoformat(),
            "contentSha256": export.content_sha256,
            "envelope": export.envelope,
        }
        page = {"edges": [{"node": node}], "pageInfo": {"hasNextPage": False, "endCursor": "c"}}
        return httpx.Response(200, json={"data": {"gatewayExports": page}})

    example = load_example()

    # when the example's own functions run against it
    with httpx.Client(
        base_url="https://millgate.test", transport=httpx.MockTransport(millgate)
    ) as client:
        signers = example["platform_keys"](client)
        nodes = list(example["pull"](client, API_KEY))
        payloads = [example["open_export"](n, world.host.private_key, signers) for n in nodes]

    # then it reads the export, and refuses it once its hash is off
    assert [p["exportId"] for p in payloads] == [export.export_uid]
    tampered = {**nodes[0], "contentSha256": "0" * 64}
    with pytest.raises(ValueError, match="content hash does not match"):
        example["open_export"](tampered, world.host.private_key, signers)
