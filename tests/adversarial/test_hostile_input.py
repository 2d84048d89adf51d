"""Hostile strings in every text input: commas, quotes, newlines, '*', and 'p, ' / 'g, '
sequences that would add Casbin policy lines if anything concatenated them into policy text.
They are stored as data or refused; the enforcer holds no policy lines and no links at all
(the facts of a decision are typed values of the request, never text), and no caller gains
a right."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from authz.enforcer import ENFORCER, allows
from authz.principal import Principal
from demo import DemoWorld
from tests.adversarial.support import SINAR, gid
from tests.world import People

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

HOSTILE = [
    "Evil, platform, *",
    "x\ng, org:1, platform, *",
    "x\r\np, anonymous, admin, write",
    "g, org:7, owner, factory:1",
    "quote \" and ' and `",
    "*",
    "org:1",
    "a,b,,c",
    "line\nbreak",
    "tab\there",
    "uni\u2028code\u0000nul",
    "' OR 1=1 --",
    "r.sub == r.sub",
    "\\u0022; eval('1')",
]


def assert_no_policy_state() -> None:
    """The model alone: no `p` line, no `g` section, nothing any input could have added."""
    model = ENFORCER.casbin.get_model()
    assert ENFORCER.casbin.get_policy() == []
    assert "g" not in set(model.keys())


def mutations_with(value: str, world: DemoWorld) -> list[tuple[str, str, dict[str, Any]]]:
    """(caller, document, variables): the value in every text input a caller may send."""
    sinar = gid("Factory", world.factory_ids[SINAR])
    host = gid("Organization", world.organization_ids["open-audit-hub"])
    out = [
        (
            "admin",
            "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) "
            "{ organization { id name } errors { code } } }",
            {"name": value, "kind": "BRAND"},
        ),
        (
            "admin",
            "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) "
            "{ organization { id } errors { code } } }",
            {"name": "Ministry", "kind": "CONSTITUENT", "country": value},
        ),
        (
            "admin",
            "mutation($i: CreateUserInput!) { createUser(input: $i) "
            "{ user { id } errors { code } } }",
            {"organizationId": host, "email": f"{value}@example.com", "role": "HOST_INTEGRATION"},
        ),
        (
            "admin",
            "mutation($i: SetCountryRolloutInput!) { setCountryRollout(input: $i) "
            "{ country { code } errors { code } } }",
            {"code": value, "slcpRolloutOn": "2020-01-01"},
        ),
        (
            "admin",
            "mutation($i: SetHostWebhookInput!) { setHostWebhook(input: $i) "
            "{ organization { id } errors { code } } }",
            {"organizationId": host, "url": f"https://hooks.example.com/{value}"},
        ),
        (
            "admin",
            "mutation($i: RegisterHostKeyInput!) { registerHostKey(input: $i) "
            "{ organization { id } errors { code } } }",
            {
                "organizationId": host,
                "publicJwk": {"kty": "OKP", "crv": "X25519", "x": value, "kid": value},
            },
        ),
        (
            "assessor",
            "mutation($i: EnrollFactoryInput!) { enrollFactory(input: $i) "
            "{ factory { id name } errors { code } } }",
            {"name": value, "country": "ID", "enrolledOn": "2026-01-05"},
        ),
        (
            "assessor",
            "mutation($i: EnrollFactoryInput!) { enrollFactory(input: $i) "
            "{ factory { id } errors { code } } }",
            {"name": "Plain", "country": value, "enrolledOn": "2026-01-05"},
        ),
        (
            "assessor",
            "mutation($i: RecordAssessmentInput!) { recordAssessment(input: $i) "
            "{ assessment { id } errors { code } } }",
            {
                "factoryId": sinar,
                "cycle": 3,
                "kind": "VIRTUAL_COMPLIANCE_CHECK",
                "assessedOn": "2026-01-05",
                "virtualScope": [value],
                "verifierBody": value,
                "findings": [
                    {
                        "cluster": "CHILD_LABOUR",
                        "compliancePoint": value,
                        "questionCode": value,
                        "nonCompliant": True,
                        "publicReporting": False,
                        "zeroTolerance": False,
                        "detail": value,
                    }
                ],
            },
        ),
        (
            "manager",
            "mutation($i: RegisterSlcpInput!) { registerSlcp(input: $i) "
            "{ factory { id } errors { code } } }",
            {"factoryId": sinar, "gatewayId": value, "confirmAssessmentSharing": True},
        ),
        (
            "manager",
            "mutation($i: SubmitSelfAssessmentInput!) { submitSelfAssessment(input: $i) "
            "{ selfAssessment { id } errors { code } } }",
            {
                "factoryId": sinar,
                "cycle": 3,
                "step": 1,
                "toolVersion": value,
                "answers": {value: value},
            },
        ),
        (
            "manager",
            "mutation($i: SubmitSelfAssessmentInput!) { submitSelfAssessment(input: $i) "
            "{ selfAssessment { id } errors { code } } }",
            {
                "factoryId": sinar,
                "cycle": 3,
                "step": 1,
                "toolVersion": "CAF 1.4",
                "answers": {"CL.01.1": value},
                "importedFrom": value,
            },
        ),
        (
            "manager",
            "mutation($i: GrantConsentInput!) { grantConsent(input: $i) "
            "{ grant { id } errors { code } } }",
            {"factoryId": value, "granteeId": value, "scopes": ["ASSESSMENT"]},
        ),
        (
            "manager",
            "mutation($i: RevokeConsentInput!) { revokeConsent(input: $i) "
            "{ grant { id } errors { code } } }",
            {"grantId": value},
        ),
    ]
    return out


READS = [
    "query($v: String!) { factories(country: $v) { totalCount } }",
    "query($v: String!) { countryStatistics(country: $v) { factories } }",
    "query($v: String!) { publicFindings(country: $v) { country } }",
    "query($v: String!) { zeroToleranceFindings(country: $v) { factoryName } }",
    "query($v: ID!) { node(id: $v) { id } }",
    "query($v: String!) { factories(after: $v) { totalCount } }",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.writes
async def test_hostile_strings_never_reach_the_policy(
    api: Any,
    session: AsyncSession,
    world: DemoWorld,
    people: People,
    value: str,
) -> None:
    for caller, document, variables in mutations_with(value, world):
        response = await api.post(document, {"i": variables}, **people.by_name(caller))
        assert response.status_code in (200, 400), (document, response.text)
        assert "INTERNAL" not in response.text and "Unexpected error" not in response.text, (
            document,
            response.text,
        )
    for document in READS:
        for caller in ("anonymous", "brand", "inspectorate"):
            response = await api.post(document, {"v": value}, **people.by_name(caller))
            assert "Unexpected error" not in response.text, (document, response.text)

    assert_no_policy_state()


@pytest.mark.writes
async def test_an_organisation_named_like_a_policy_line_gains_nothing(
    api: Any, session: AsyncSession, world: DemoWorld, people: People
) -> None:
    multiline = await api.gql(
        "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) "
        "{ organization { id } errors { code field } } }",
        {"i": {"name": "Mole\ng, org:1, platform, *", "kind": "BRAND"}},
        **people.admin.auth,
    )
    assert multiline["createOrganization"]["errors"] == [{"code": "INVALID", "field": "name"}]
    name = "Mole, platform, * g, org:1, platform, * p, anonymous, admin, write"
    created = await api.gql(
        "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) "
        "{ organization { id name kind } errors { code } } }",
        {"i": {"name": name, "kind": "BRAND"}},
        **people.admin.auth,
    )
    org = created["createOrganization"]["organization"]
    assert org["name"] == name.strip()  # stored as data, verbatim
    user = await api.gql(
        "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } errors { code } } }",
        {"i": {"organizationId": org["id"], "email": "mole@example.com", "role": "BRAND_VIEWER"}},
        **people.admin.auth,
    )
    assert user["createUser"]["errors"] == []
    mole_id = await _scalar(session, "SELECT id FROM app_user WHERE email = 'mole@example.com'")
    token = api.runtime.token_service.issue(mole_id, 600)

    seen = await api.gql("{ factories { totalCount } organizations { id } }", token=token)
    admin_try = await api.post(
        'mutation { setCountryRollout(input: {code: "KH", slcpRolloutOn: "2020-01-01"})'
        " { errors { code } } }",
        token=token,
    )
    mole = Principal(
        organization_id=int(
            await _scalar(session, "SELECT organization_id FROM app_user WHERE id = :i", i=mole_id)
        ),
        organization_kind=m.OrganizationKind.BRAND,
        role=m.Role.BRAND_VIEWER,
        user_id=mole_id,
    )

    assert seen["factories"]["totalCount"] == 0
    assert [o["id"] for o in seen["organizations"]] == [org["id"]]
    assert admin_try.json()["data"]["setCountryRollout"]["errors"] == [{"code": "FORBIDDEN"}]
    assert not allows(mole, "admin", "write")
    assert not allows(mole, "admin", "read")
    assert not allows(Principal.anonymous(), "admin", "write")
    assert_no_policy_state()


async def test_unknown_scopes_and_kinds_are_refused_by_the_schema(
    api: Any, world: DemoWorld, people: People
) -> None:
    sinar = gid("Factory", world.factory_ids[SINAR])
    brand = gid("Organization", world.organization_ids["harbour-outfitters"])
    for scopes in (["ADMIN"], ["ASSESSMENT", "*"], ["assessment"], ["ASSESSMENT, SELF_ASSESSMENT"]):
        response = await api.post(
            "mutation($i: GrantConsentInput!) { grantConsent(input: $i) { errors { code } } }",
            {"i": {"factoryId": sinar, "granteeId": brand, "scopes": scopes}},
            **people.manager.auth,
        )
        assert response.json()["data"] is None, scopes
    for kind in ("PLATFORM", "FACTORY"):
        body = await api.gql(
            'mutation($k: OrganizationKind!) { createOrganization(input: {name: "X", kind: $k})'
            " { errors { code field } } }",
            {"k": kind},
            **people.admin.auth,
        )
        assert body["createOrganization"]["errors"] == [{"code": "INVALID", "field": "kind"}]
    assert_no_policy_state()


async def _scalar(session: AsyncSession, sql: str, **params: Any) -> Any:
    await session.rollback()
    value = (await session.execute(text(sql), params)).scalar()
    await session.rollback()
    return value
