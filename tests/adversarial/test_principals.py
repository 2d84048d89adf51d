"""Who asks is the token's (or the API key's) alone: a principal named in arguments or
headers is ignored, callers without a right are refused every mutation that needs it and
nothing changes, and dead or unknown credentials get 401.

(Token forgery, algorithms and expiry are in tests/authz/test_tokens.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from joserfc.jwk import OKPKey
from sqlalchemy.ext.asyncio import AsyncSession

from demo import KEYED_HOST, DemoWorld
from tests.adversarial.support import DHAKA, MITRA, SINAR, audit_rows, dump, gid, scalar
from tests.world import People, Rows

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

VIEWER = "{ viewer { role organization { name } user { email } } factories { totalCount } }"
PAYLOAD = "errors { code field }"


def mutations(world: DemoWorld, rows: Rows) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every mutation with input that is valid for its rightful caller."""
    sinar = gid("Factory", world.factory_ids[SINAR])
    orgs = world.organization_ids
    host = gid("Organization", orgs[KEYED_HOST])
    brand = gid("Organization", orgs["northwind-apparel"])
    draft = rows.assessments[("Dong Nai Apparel Co., Ltd.", 1)]  # Viet Nam's draft
    return {
        "grantConsent": (
            f"mutation($i: GrantConsentInput!) {{ grantConsent(input: $i) {{ {PAYLOAD} }} }}",
            {
                "factoryId": sinar,
                "granteeId": gid("Organization", orgs["harbour-outfitters"]),
                "scopes": ["ASSESSMENT", "SELF_ASSESSMENT"],
            },
        ),
        "revokeConsent": (
            f"mutation($i: RevokeConsentInput!) {{ revokeConsent(input: $i) {{ {PAYLOAD} }} }}",
            {"grantId": gid("ConsentGrant", rows.grants[("sinar-garmen", "northwind-apparel")])},
        ),
        "registerSlcp": (
            f"mutation($i: RegisterSlcpInput!) {{ registerSlcp(input: $i) {{ {PAYLOAD} }} }}",
            {"factoryId": sinar, "gatewayId": "SLCP-ID-000101", "confirmAssessmentSharing": True},
        ),
        "submitSelfAssessment": (
            "mutation($i: SubmitSelfAssessmentInput!) { submitSelfAssessment(input: $i) "
            f"{{ {PAYLOAD} }} }}",
            {
                "factoryId": sinar,
                "cycle": 3,
                "step": 1,
                "toolVersion": "CAF 1.4",
                "answers": {"CL.01.1": "yes"},
            },
        ),
        "enrollFactory": (
            f"mutation($i: EnrollFactoryInput!) {{ enrollFactory(input: $i) {{ {PAYLOAD} }} }}",
            {"name": "Mole Garments", "country": "ID", "enrolledOn": "2026-01-05"},
        ),
        "recordAssessment": (
            "mutation($i: RecordAssessmentInput!) { recordAssessment(input: $i) "
            f"{{ {PAYLOAD} }} }}",
            {
                "factoryId": sinar,
                "cycle": 3,
                "kind": "ONSITE",
                "assessedOn": "2026-01-05",
                "findings": [],
            },
        ),
        "releaseAssessment": (
            "mutation($i: ReleaseAssessmentInput!) { releaseAssessment(input: $i) "
            f"{{ {PAYLOAD} }} }}",
            {
                "assessmentId": gid("Assessment", draft),
                "releasedOn": "2026-11-01",
                "overrideDeadline": True,
            },
        ),
        "createOrganization": (
            "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) "
            f"{{ {PAYLOAD} }} }}",
            {"name": "Shadow Platform", "kind": "BRAND"},
        ),
        "setCountryRollout": (
            "mutation($i: SetCountryRolloutInput!) { setCountryRollout(input: $i) "
            f"{{ {PAYLOAD} }} }}",
            {"code": "KH", "slcpRolloutOn": "2020-01-01"},
        ),
        "createUser": (
            f"mutation($i: CreateUserInput!) {{ createUser(input: $i) {{ {PAYLOAD} }} }}",
            {"organizationId": brand, "email": "second@northwind.test", "role": "BRAND_VIEWER"},
        ),
        "disableUser": (
            f"mutation($i: DisableUserInput!) {{ disableUser(input: $i) {{ {PAYLOAD} }} }}",
            {"userId": gid("User", rows.users["admin@millgate.demo"])},
        ),
        "issueApiKey": (
            f"mutation($i: IssueApiKeyInput!) {{ issueApiKey(input: $i) {{ secret {PAYLOAD} }} }}",
            {"organizationId": host},
        ),
        "revokeApiKey": (
            f"mutation($i: RevokeApiKeyInput!) {{ revokeApiKey(input: $i) {{ {PAYLOAD} }} }}",
            {"apiKeyId": gid("ApiKey", rows.api_key)},
        ),
        "setHostWebhook": (
            "mutation($i: SetHostWebhookInput!) { setHostWebhook(input: $i) "
            f"{{ secret {PAYLOAD} }} }}",
            {"organizationId": host, "url": "https://evil.example.com/hook"},
        ),
        "registerHostKey": (
            f"mutation($i: RegisterHostKeyInput!) {{ registerHostKey(input: $i) {{ {PAYLOAD} }} }}",
            {
                "organizationId": host,
                "publicJwk": OKPKey.generate_key("X25519").as_dict(private=False),
            },
        ),
    }


FACTORY_OWN = {"grantConsent", "revokeConsent", "registerSlcp", "submitSelfAssessment"}
PROGRAMME = {"enrollFactory", "recordAssessment", "releaseAssessment"}
ADMIN = {
    "createOrganization",
    "setCountryRollout",
    "createUser",
    "disableUser",
    "issueApiKey",
    "revokeApiKey",
    "setHostWebhook",
    "registerHostKey",
}

REFUSED = [
    pytest.param("brand", FACTORY_OWN | PROGRAMME | ADMIN, id="brand"),
    pytest.param("host", FACTORY_OWN | PROGRAMME | ADMIN, id="host"),
    pytest.param("constituent", FACTORY_OWN | PROGRAMME | ADMIN, id="constituent"),
    pytest.param("inspectorate", FACTORY_OWN | PROGRAMME | ADMIN, id="inspectorate"),
    pytest.param("anonymous", FACTORY_OWN | PROGRAMME | ADMIN, id="anonymous"),
    pytest.param("worker_rep", FACTORY_OWN | PROGRAMME | ADMIN, id="worker-representative"),
    pytest.param("manager", PROGRAMME | ADMIN, id="factory-manager"),
    pytest.param("bd_assessor", FACTORY_OWN | PROGRAMME | ADMIN, id="other-countrys-assessor"),
    pytest.param("assessor", FACTORY_OWN | ADMIN, id="assessor"),
    pytest.param("admin", FACTORY_OWN, id="platform-admin-never-acts-for-a-factory"),
]


@pytest.mark.parametrize(("caller", "names"), REFUSED)
async def test_every_mutation_without_the_right_is_refused_and_changes_nothing(
    api: Any,
    session: AsyncSession,
    world: DemoWorld,
    people: People,
    rows: Rows,
    caller: str,
    names: set[str],
) -> None:
    auth = people.by_name(caller)
    before = await dump(session)
    entries = len(await audit_rows(session))

    for name, (document, variables) in sorted(mutations(world, rows).items()):
        if name not in names:
            continue
        response = await api.post(document, {"i": variables}, **auth)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, (name, body)
        refused = [e["code"] for e in body["data"][name]["errors"]]
        assert refused in (["FORBIDDEN"], ["NOT_FOUND"]), (name, refused)
        assert body["data"][name].get("secret") is None

    assert await dump(session) == before
    assert len(await audit_rows(session)) == entries


@pytest.mark.writes
async def test_the_rightful_callers_can_run_them(
    api: Any, session: AsyncSession, world: DemoWorld, people: People, rows: Rows
) -> None:
    """The positive control: the same inputs work for the callers they belong to."""
    all_ = mutations(world, rows)
    owners = {
        **dict.fromkeys(FACTORY_OWN, "manager"),
        **dict.fromkeys(PROGRAMME, "assessor"),
        **dict.fromkeys(ADMIN, "admin"),
    }
    # The draft of the fixtures lies in another country; pick one of Indonesia's own.
    cycle = 1 + await scalar(
        session,
        "SELECT max(number) FROM service_cycle WHERE factory_id = :f",
        f=world.factory_ids[SINAR],
    )
    all_["submitSelfAssessment"][1]["cycle"] = cycle
    all_["recordAssessment"][1]["cycle"] = cycle
    skip = {"releaseAssessment", "disableUser", "revokeApiKey", "revokeConsent"}  # shown below

    for name, owner in sorted(owners.items()):
        if name in skip:
            continue
        document, variables = all_[name]
        body = (await api.post(document, {"i": variables}, **people.by_name(owner))).json()
        assert "errors" not in body and body["data"][name]["errors"] == [], (name, body)


async def test_a_principal_named_in_arguments_or_headers_is_ignored(
    api: Any, session: AsyncSession, world: DemoWorld, people: People
) -> None:
    sinar_org = world.organization_ids["sinar-garmen"]
    admin_org = world.organization_ids["millgate"]
    spoofed = {
        "x-organization-id": str(admin_org),
        "x-user-id": str(people.admin.user_id),
        "x-forwarded-user": people.admin.email,
        "x-forwarded-for": "10.0.0.1",
        "x-real-ip": "127.0.0.1",
        "x-role": "PLATFORM_ADMIN",
        "x-factory-id": gid("Factory", world.factory_ids[SINAR]),
        "forwarded": "for=10.0.0.1;by=millgate",
    }

    plain = (await api.post(VIEWER, **people.brand.auth)).json()
    with_headers = (await api.post(VIEWER, headers=spoofed, **people.brand.auth)).json()
    with_variables = (
        await api.post(
            VIEWER,
            {"principal": {"organizationId": sinar_org}, "role": "PLATFORM_ADMIN"},
            **people.brand.auth,
        )
    ).json()
    anonymous = (await api.post(VIEWER, headers=spoofed)).json()

    assert plain["data"]["viewer"]["role"] == "BRAND_VIEWER"
    assert with_headers == plain
    assert with_variables == plain
    assert anonymous["data"] == {
        "viewer": {"role": None, "organization": None, "user": None},
        "factories": {"totalCount": 0},
    }


async def test_a_factory_id_in_the_input_never_makes_another_factory_act(
    api: Any, session: AsyncSession, world: DemoWorld, people: People
) -> None:
    """Sinar's manager names Mitra, Dhaka: NOT_FOUND, as for a factory that does not exist."""
    document = (
        "mutation($i: GrantConsentInput!) { grantConsent(input: $i) { errors { code field } } }"
    )
    before = await dump(session)

    for name in (MITRA, DHAKA):
        variables = {
            "factoryId": gid("Factory", world.factory_ids[name]),
            "granteeId": gid("Organization", world.organization_ids["northwind-apparel"]),
            "scopes": ["ASSESSMENT"],
        }
        body = (await api.post(document, {"i": variables}, **people.manager.auth)).json()
        assert body["data"]["grantConsent"]["errors"] == [
            {"code": "NOT_FOUND", "field": "factoryId"}
        ]

    extra_field = await api.post(
        'mutation { grantConsent(input: {factoryId: "x", granteeId: "y", scopes: [],'
        ' grantedBy: "admin"}) { errors { code } } }',
        **people.manager.auth,
    )
    assert extra_field.json()["data"] is None  # an unknown input field is a validation error
    assert await dump(session) == before


# --- credentials -------------------------------------------------------------------------------


async def _status(api: Any, **headers: str) -> int:
    response = await api.client.post(
        "/graphql", json={"query": "{ viewer { role } }"}, headers=headers
    )
    if response.status_code == 401:
        assert response.json() == {
            "errors": [{"message": "unauthorized", "extensions": {"code": "UNAUTHENTICATED"}}]
        }
    return int(response.status_code)


async def test_unknown_malformed_and_mixed_credentials_are_refused(
    api: Any, world: DemoWorld, people: People
) -> None:
    real = world.host_api_key
    prefix = real.split("_")[1]
    cases = {
        "unknown key": "mg_0badc0de_" + "A" * 43,
        "known prefix, wrong secret": f"mg_{prefix}_" + "B" * 43,
        "malformed key": "not-a-key",
        "empty key": " ",
        "key with a newline": real + "\n" + real,
        "key with extra part": real + "_x",
    }
    for label, key in cases.items():
        assert await _status(api, **{"x-api-key": key}) == 401, label

    assert await _status(api, **{"x-api-key": real}) == 200
    assert await _status(api, authorization=f"Bearer {real}") == 401
    # Two credentials, or a bearer header without a token: malformed (RFC 6750 invalid_request).
    assert (
        await _status(api, authorization=f"Bearer {people.brand.token}", **{"x-api-key": real})
        == 400
    )
    assert await _status(api, authorization=f"Basic {people.brand.token}") == 401
    assert await _status(api, authorization="Bearer ") == 400
    assert await _status(api, authorization="Bearer") == 400


@pytest.mark.writes
async def test_a_revoked_api_key_stops_working_at_once(
    api: Any, session: AsyncSession, world: DemoWorld, people: People, rows: Rows
) -> None:
    assert await _status(api, **{"x-api-key": world.host_api_key}) == 200

    revoked = await api.gql(
        "mutation($i: RevokeApiKeyInput!) { revokeApiKey(input: $i) { errors { code } } }",
        {"i": {"apiKeyId": gid("ApiKey", rows.api_key)}},
        **people.admin.auth,
    )

    assert revoked["revokeApiKey"]["errors"] == []
    assert await _status(api, **{"x-api-key": world.host_api_key}) == 401


@pytest.mark.writes
async def test_a_disabled_users_token_stops_working_at_once(
    api: Any, world: DemoWorld, people: People, rows: Rows
) -> None:
    assert await _status(api, authorization=f"Bearer {people.brand.token}") == 200

    disabled = await api.gql(
        "mutation($i: DisableUserInput!) { disableUser(input: $i) { errors { code } } }",
        {"i": {"userId": gid("User", people.brand.user_id)}},
        **people.admin.auth,
    )

    assert disabled["disableUser"]["errors"] == []
    assert await _status(api, authorization=f"Bearer {people.brand.token}") == 401
