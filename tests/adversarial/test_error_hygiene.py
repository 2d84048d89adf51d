"""No error tells more than "no": a battery of bad requests, and failures forced deep in the
stack, and not one message carries SQL, a stack trace, a table name, a file path or a line
of policy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from api.ids import encode_cursor
from authz.scope import Scope
from demo import DemoWorld
from tests.adversarial.support import GAZIPUR, MITRA, SINAR, gid
from tests.world import People

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

LEAKS = re.compile(
    r"\bSELECT\b|\bINSERT\b|\bUPDATE\b|\bDELETE\b|\bWHERE\b|\bJOIN\b|sqlalchemy|asyncpg|sqlite"
    r"|psycopg|Traceback|File \"|\.py\b|line \d+,"
    r"|consent_grant|audit_entry|app_user|access_event|policy_change|policy_revision"
    r"|service_cycle|gateway_export|webhook_delivery|idempotency_record|\bfinding\.\w+|factory\.id"
    r"|r\.sub|r\.rel|r\.obj|r\.act|p\.eft|\bg\(|matchers|casbin|org:\d|factory:\d|country:[A-Z]{2}"
    r"|millgate_scope|UnscopedRead|KeyError|TypeError|ValueError|AttributeError|Exception",
    re.IGNORECASE,
)


def messages(value: Any) -> Iterator[str]:
    """Every "message" anywhere in a GraphQL answer."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "message" and isinstance(item, str):
                yield item
            else:
                yield from messages(item)
    elif isinstance(value, list):
        for item in value:
            yield from messages(item)


def battery(world: DemoWorld) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(caller, document, variables) that each go wrong in their own way."""
    sinar = gid("Factory", world.factory_ids[SINAR])
    mitra = gid("Factory", world.factory_ids[MITRA])
    brand = gid("Organization", world.organization_ids["harbour-outfitters"])
    return [
        ("brand", "{ factories { ", None),
        ("brand", "{ factories { nope } }", None),
        ("brand", '{ factories(first: "x") { totalCount } }', None),
        ("brand", "query($a: Int!) { factories(first: $a) { totalCount } }", {"a": "x"}),
        ("brand", "query($a: Int!) { factories(first: $a) { totalCount } }", {}),
        ("brand", "{ factories(first: 100000) { totalCount } }", None),
        ("brand", '{ factories(after: "%%%") { totalCount } }', None),
        (
            "brand",
            "query($c: String) { factories(after: $c) { totalCount } }",
            {"c": encode_cursor("9" * 30)},
        ),
        ("brand", '{ factories(country: "XYZ") { totalCount } }', None),
        ("brand", '{ countryStatistics(country: "1") { factories } }', None),
        ("brand", '{ zeroToleranceFindings(country: "") { factoryName } }', None),
        ("admin", '{ gatewayExports(after: "abc") { edges { cursor } } }', None),
        (
            "manager",
            'query($id: ID!) { factory(id: $id) { auditLog(after: "zz") { edges { cursor } } } }',
            {"id": sinar},
        ),
        (
            "manager",
            "query($id: ID!) { factory(id: $id) { accessLog(first: -5) { edges { cursor } } } }",
            {"id": sinar},
        ),
        (
            "manager",
            "mutation($i: GrantConsentInput!) { grantConsent(input: $i) "
            "{ errors { code message field } } }",
            {"i": {"factoryId": mitra, "granteeId": brand, "scopes": ["ASSESSMENT"]}},
        ),
        (
            "manager",
            "mutation($i: GrantConsentInput!) { grantConsent(input: $i) "
            "{ errors { code message field } } }",
            {
                "i": {
                    "factoryId": sinar,
                    "granteeId": brand,
                    "scopes": [],
                    "expiresAt": "2001-01-01T00:00:00+00:00",
                }
            },
        ),
        (
            "manager",
            "mutation($i: SubmitSelfAssessmentInput!) { submitSelfAssessment(input: $i) "
            "{ errors { code message field } } }",
            {
                "i": {
                    "factoryId": sinar,
                    "cycle": 99,
                    "step": 7,
                    "toolVersion": "x",
                    "answers": ["not", "an", "object"],
                }
            },
        ),
        (
            "manager",
            "mutation($i: RegisterSlcpInput!) { registerSlcp(input: $i) "
            "{ errors { code message field } } }",
            {
                "i": {
                    "factoryId": sinar,
                    "gatewayId": "OTHER-GATEWAY-9",
                    "confirmAssessmentSharing": False,
                }
            },
        ),
        (
            "assessor",
            "mutation($i: RecordAssessmentInput!) { recordAssessment(input: $i) "
            "{ errors { code message field } } }",
            {
                "i": {
                    "factoryId": sinar,
                    "cycle": 1,
                    "kind": "ONSITE",
                    "assessedOn": "2099-01-01",
                    "findings": [],
                }
            },
        ),
        (
            "assessor",
            "mutation($i: ReleaseAssessmentInput!) { releaseAssessment(input: $i) "
            "{ errors { code message field } } }",
            {"i": {"assessmentId": gid("Assessment", 1), "releasedOn": "1999-01-01"}},
        ),
        (
            "bd_assessor",
            "mutation($i: EnrollFactoryInput!) { enrollFactory(input: $i) "
            "{ errors { code message field } } }",
            {"i": {"name": "x" * 500, "country": "ZZ", "enrolledOn": "2026-01-01"}},
        ),
        (
            "admin",
            "mutation($i: CreateUserInput!) { createUser(input: $i) "
            "{ errors { code message field } } }",
            {
                "i": {
                    "organizationId": gid("Organization", world.organization_ids["bw-id"]),
                    "email": "manager@sinar-garmen.demo",
                    "role": "PLATFORM_ADMIN",
                }
            },
        ),
        (
            "admin",
            "mutation($i: RegisterHostKeyInput!) { registerHostKey(input: $i) "
            "{ errors { code message field } } }",
            {
                "i": {
                    "organizationId": gid("Organization", world.organization_ids["open-audit-hub"]),
                    "publicJwk": {"kty": "RSA", "n": "AQAB", "d": "secret"},
                }
            },
        ),
        (
            "admin",
            "mutation($i: SetHostWebhookInput!) { setHostWebhook(input: $i) "
            "{ errors { code message field } } }",
            {
                "i": {
                    "organizationId": gid("Organization", world.organization_ids["open-audit-hub"]),
                    "url": "http://169.254.169.254/latest/meta-data",
                }
            },
        ),
        (
            "admin",
            "mutation($i: RevokeApiKeyInput!) { revokeApiKey(input: $i) "
            "{ errors { code message field } } }",
            {"i": {"apiKeyId": "garbage"}},
        ),
        (
            "lumen",
            "query($id: ID!) { factory(id: $id) { assessments { edges { node "
            "{ findings(cluster: NOPE) { totalCount } } } } } }",
            {"id": gid("Factory", world.factory_ids[GAZIPUR])},
        ),
        (
            "anonymous",
            'mutation { createOrganization(input: {name: "x", kind: BRAND}) '
            "{ errors { code message field } } }",
            None,
        ),
        ("anonymous", '{ node(id: "Zm9v") { id } viewer { user { nope } } }', None),
    ]


async def test_no_message_of_a_bad_request_tells_how_the_system_is_built(
    api: Any, world: DemoWorld, people: People
) -> None:
    for caller, document, variables in battery(world):
        response = await api.post(document, variables, **people.by_name(caller))
        assert response.status_code < 500, (document, response.text)
        said = list(messages(response.json()))
        assert said, (document, response.text)  # each of them goes wrong
        for message in said:
            assert not LEAKS.search(message), (document, message)
    for headers in (
        {"authorization": "Bearer x.y.z"},
        {"x-api-key": "mg_12345678_" + "x" * 43},
        {"authorization": "Bearer " + "A" * 5000},
    ):
        response = await api.client.post(
            "/graphql", json={"query": "{ viewer { role } }"}, headers=headers
        )
        assert response.status_code == 401
        assert not LEAKS.search(response.text), response.text
    for content_type, body in (("text/plain", "{}"), ("application/json", "{nope")):
        response = await api.client.post(
            "/graphql", content=body, headers={"content-type": content_type}
        )
        assert not LEAKS.search(response.text), response.text


async def test_a_database_failure_deep_in_a_read_is_masked(
    api: Any, world: DemoWorld, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Scope, obj: str = "factory") -> Any:
        raise OperationalError(
            "SELECT factory.id FROM factory JOIN consent_grant ON g(r.sub, 'owner', r.factory)",
            {"pepper": "s3cr3t"},
            Exception("could not connect to server: /var/run/postgresql/.s.PGSQL.5432"),
        )

    monkeypatch.setattr(Scope, "factories", broken)

    response = await api.post("{ factories { totalCount } }", **people.brand.auth)

    body = response.json()
    assert [m for m in messages(body)] == ["Unexpected error."]
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL"
    assert not LEAKS.search(response.text)
    assert "s3cr3t" not in response.text and "PGSQL" not in response.text


async def test_a_failure_inside_a_mutation_is_masked_and_leaves_nothing(
    api: Any, world: DemoWorld, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    import audit

    async def broken(*_: Any, **__: Any) -> Any:
        raise KeyError(
            "audit_entry.entry_hash UNIQUE constraint failed: SELECT seq FROM audit_entry"
        )

    monkeypatch.setattr(audit, "append", broken)

    response = await api.post(
        "mutation($i: GrantConsentInput!) { grantConsent(input: $i) { errors { code } } }",
        {
            "i": {
                "factoryId": gid("Factory", world.factory_ids[SINAR]),
                "granteeId": gid("Organization", world.organization_ids["harbour-outfitters"]),
                "scopes": ["ASSESSMENT"],
            }
        },
        **people.manager.auth,
    )

    assert [m for m in messages(response.json())] == ["Unexpected error."]
    assert not LEAKS.search(response.text)
