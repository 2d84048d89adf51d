"""The platform's mutations: organisations, users, API keys, host keys, country roll-out.

The platform administers; it never acts for a factory (rule 1): those refusals are in
test_consent.py and test_slcp_and_self_assessments.py.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

import pytest
from joserfc.jwk import OKPKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.ids import pk_of
from demo import DemoWorld
from tests.api.support import (
    BW_INDONESIA,
    CAHAYA,
    FAIRTRACE,
    NORTHWIND,
    OPEN_AUDIT_HUB,
    PHNOM_PENH,
    SINAR,
    codes,
    factory_gid,
    gid,
    org_gid,
    refused,
    row_counts,
    scalar,
)

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

CREATE_ORGANIZATION = """
mutation CreateOrganization($input: CreateOrganizationInput!) {
  createOrganization(input: $input) {
    organization { id name kind labourInspectorate country { code } }
    errors { code message field }
  }
}
"""

CREATE_USER = """
mutation CreateUser($input: CreateUserInput!) {
  createUser(input: $input) {
    user { id email role organization { name } }
    errors { code message field }
  }
}
"""

DISABLE_USER = """
mutation DisableUser($input: DisableUserInput!) {
  disableUser(input: $input) { user { id email } errors { code message field } }
}
"""

ISSUE_KEY = """
mutation IssueKey($input: IssueApiKeyInput!) {
  issueApiKey(input: $input) {
    apiKey { id prefix createdAt revokedAt }
    secret
    errors { code message field }
  }
}
"""

REVOKE_KEY = """
mutation RevokeKey($input: RevokeApiKeyInput!) {
  revokeApiKey(input: $input) { apiKey { id revokedAt } secret errors { code message field } }
}
"""

REGISTER_HOST_KEY = """
mutation RegisterHostKey($input: RegisterHostKeyInput!) {
  registerHostKey(input: $input) { organization { name hasHostKey } errors { code message field } }
}
"""

SET_ROLLOUT = """
mutation SetRollout($input: SetCountryRolloutInput!) {
  setCountryRollout(input: $input) {
    country { code name slcpRolloutOn }
    errors { code message field }
  }
}
"""

VIEWER = "{ viewer { role user { email } organization { name } } }"
ORGANIZATIONS = "{ organizations { name kind } }"
ZERO_TOLERANCE = '{ zeroToleranceFindings(country: "ID") { factoryName } }'
ELIGIBILITY = "query($id: ID!) { factory(id: $id) { gatewayEligibility(cycle: 1) { reasons } } }"
API_KEY_FIELDS = '{ __type(name: "ApiKey") { fields { name } } }'

NOT_ADMINS = pytest.mark.parametrize(
    "caller",
    ["manager", "brand", "assessor", "constituent", "host_key", "anonymous"],
    ids=["factory", "brand", "programme", "constituent", "host", "public"],
)


def x25519_public() -> dict[str, str]:
    return {k: str(v) for k, v in OKPKey.generate_key("X25519").as_dict(private=False).items()}


# -- createOrganization ----------------------------------------------------------------------


@pytest.mark.writes
async def test_the_platform_creates_a_brand(api: Any, session: AsyncSession, admin: Any) -> None:
    before = await row_counts(session)

    data = await api.gql(
        CREATE_ORGANIZATION,
        {"input": {"name": "Seabird Sportswear", "kind": "BRAND"}},
        **admin.auth,
    )

    organization = data["createOrganization"]["organization"]
    assert data["createOrganization"]["errors"] == []
    assert {k: organization[k] for k in ("name", "kind", "labourInspectorate", "country")} == {
        "name": "Seabird Sportswear",
        "kind": "BRAND",
        "labourInspectorate": False,
        "country": None,
    }
    after = await row_counts(session)
    for table in ("organization", "audit_entry"):
        assert after[table] == before[table] + 1, table
    listed = (await api.gql(ORGANIZATIONS, **admin.auth))["organizations"]
    assert {"name": "Seabird Sportswear", "kind": "BRAND"} in listed


@pytest.mark.writes
async def test_a_new_labour_inspectorate_receives_zero_tolerance_findings_at_once(
    api: Any, admin: Any
) -> None:
    # given the platform creates a second Indonesian inspectorate and a user in it
    created = await api.gql(
        CREATE_ORGANIZATION,
        {
            "input": {
                "name": "Provincial Labour Office, West Java",
                "kind": "CONSTITUENT",
                "country": "ID",
                "labourInspectorate": True,
            }
        },
        **admin.auth,
    )
    organization = created["createOrganization"]["organization"]
    assert (organization["labourInspectorate"], organization["country"]) == (True, {"code": "ID"})
    user = await api.gql(
        CREATE_USER,
        {
            "input": {
                "organizationId": organization["id"],
                "email": "inspector@westjava.example",
                "role": "CONSTITUENT_VIEWER",
            }
        },
        **admin.auth,
    )

    # when that user asks for Indonesia's zero-tolerance findings
    token = user_token(api, user["createUser"]["user"]["id"])
    rows = (await api.gql(ZERO_TOLERANCE, token=token))["zeroToleranceFindings"]

    # then the policy already knows it (no restart, no reload)
    assert rows == [{"factoryName": CAHAYA}]


@pytest.mark.parametrize(
    ("given", "code", "field"),
    [
        pytest.param({"kind": "FACTORY"}, "INVALID", "kind", id="factories-are-enrolled"),
        pytest.param({"kind": "PLATFORM"}, "INVALID", "kind", id="one-platform"),
        pytest.param({"kind": "PROGRAMME"}, "INVALID", "country", id="programme-without-country"),
        pytest.param(
            {"kind": "CONSTITUENT"}, "INVALID", "country", id="constituent-without-country"
        ),
        pytest.param(
            {"kind": "PROGRAMME", "country": "ZZ"}, "NOT_FOUND", "country", id="no-such-country"
        ),
        pytest.param(
            {"kind": "BRAND", "labourInspectorate": True},
            "INVALID",
            "labourInspectorate",
            id="brand-as-inspectorate",
        ),
        pytest.param({"kind": "BRAND", "name": " "}, "INVALID", "name", id="blank-name"),
    ],
)
async def test_create_organization_refuses_bad_input_and_changes_nothing(
    api: Any, session: AsyncSession, admin: Any, given: dict[str, Any], code: str, field: str
) -> None:
    payload = await refused(
        api, session, CREATE_ORGANIZATION, {"input": {"name": "Someone", **given}}, admin.auth
    )

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]


@NOT_ADMINS
async def test_only_the_platform_creates_organizations(
    api: Any, session: AsyncSession, auth_of: dict[str, dict[str, str]], caller: str
) -> None:
    payload = await refused(
        api,
        session,
        CREATE_ORGANIZATION,
        {"input": {"name": "Seabird Sportswear", "kind": "BRAND"}},
        auth_of[caller],
    )

    assert codes(payload) == ["FORBIDDEN"]


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        pytest.param("brand", [{"name": "Northwind Apparel", "kind": "BRAND"}], id="brand-itself"),
        pytest.param("anonymous", [], id="public-nothing"),
    ],
)
async def test_organizations_are_listed_for_the_platform_only(
    api: Any, auth_of: dict[str, dict[str, str]], caller: str, expected: list[dict[str, str]]
) -> None:
    assert (await api.gql(ORGANIZATIONS, **auth_of[caller]))["organizations"] == expected


async def test_organizations_list_everyone_for_the_platform(
    api: Any, session: AsyncSession, admin: Any
) -> None:
    listed = (await api.gql(ORGANIZATIONS, **admin.auth))["organizations"]

    assert len(listed) == await scalar(session, "SELECT count(*) FROM organization") == 26


# -- createUser and disableUser --------------------------------------------------------------


def user_token(api: Any, user_global_id: str) -> str:
    pk = pk_of(user_global_id, "User")
    assert pk is not None
    return str(api.runtime.token_service.issue(pk, 600))


@pytest.mark.writes
async def test_the_platform_creates_a_user_who_can_then_sign_in(
    api: Any, world: DemoWorld, session: AsyncSession, admin: Any
) -> None:
    before = await row_counts(session)

    data = await api.gql(
        CREATE_USER,
        {
            "input": {
                "organizationId": org_gid(world, NORTHWIND),
                "email": " New.Viewer@Northwind.example ",
                "role": "BRAND_VIEWER",
            }
        },
        **admin.auth,
    )

    user = data["createUser"]["user"]
    assert data["createUser"]["errors"] == []
    assert (user["email"], user["role"], user["organization"]) == (
        "new.viewer@northwind.example",
        "BRAND_VIEWER",
        {"name": "Northwind Apparel"},
    )
    assert (await row_counts(session))["app_user"] == before["app_user"] + 1
    token = user_token(api, user["id"])
    viewer = (await api.gql(VIEWER, token=token))["viewer"]
    assert viewer["user"]["email"] == "new.viewer@northwind.example"


@pytest.mark.parametrize(
    ("given", "code", "field"),
    [
        pytest.param({"role": "ASSESSOR"}, "INVALID", "role", id="assessor-at-a-brand"),
        pytest.param({"role": "FACTORY_MANAGER"}, "INVALID", "role", id="manager-at-a-brand"),
        pytest.param({"role": "PLATFORM_ADMIN"}, "INVALID", "role", id="admin-at-a-brand"),
        pytest.param({"email": "not-an-email"}, "INVALID", "email", id="malformed-email"),
        pytest.param(
            {"email": "viewer@northwind-apparel.demo"}, "ALREADY_EXISTS", "email", id="email-taken"
        ),
        pytest.param(
            {"email": "VIEWER@northwind-apparel.demo"},
            "ALREADY_EXISTS",
            "email",
            id="email-taken-other-case",
        ),
        pytest.param(
            {"email": "a" * 64 + "@" + "b" * 200 + "." + "c" * 63},
            "INVALID",
            "email",
            id="email-longer-than-its-column",
        ),
        pytest.param(
            {"organizationId": gid("Organization", 999_999)},
            "NOT_FOUND",
            "organizationId",
            id="no-such-organization",
        ),
    ],
)
async def test_create_user_refuses_bad_input_and_changes_nothing(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    admin: Any,
    given: dict[str, Any],
    code: str,
    field: str,
) -> None:
    variables = {
        "input": {
            "organizationId": org_gid(world, NORTHWIND),
            "email": "someone@example.com",
            "role": "BRAND_VIEWER",
            **given,
        }
    }

    payload = await refused(api, session, CREATE_USER, variables, admin.auth)

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]


@pytest.mark.parametrize(
    ("kind_slug", "role"),
    [
        # A factory's users are its managers' to add (tests/api/test_factory_membership.py).
        pytest.param(BW_INDONESIA, "ASSESSOR", id="programme"),
        pytest.param(OPEN_AUDIT_HUB, "HOST_INTEGRATION", id="host"),
        pytest.param("id-labour-inspectorate", "CONSTITUENT_VIEWER", id="constituent"),
        pytest.param("millgate", "PLATFORM_ADMIN", id="platform"),
    ],
)
@pytest.mark.writes
async def test_each_kind_of_organization_takes_its_role(
    api: Any, world: DemoWorld, admin: Any, kind_slug: str, role: str
) -> None:
    data = await api.gql(
        CREATE_USER,
        {
            "input": {
                "organizationId": org_gid(world, kind_slug),
                "email": f"new@{kind_slug}.example",
                "role": role,
            }
        },
        **admin.auth,
    )

    assert data["createUser"]["errors"] == []


@NOT_ADMINS
async def test_only_the_platform_creates_users(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    auth_of: dict[str, dict[str, str]],
    caller: str,
) -> None:
    variables = {
        "input": {
            "organizationId": org_gid(world, NORTHWIND),
            "email": "someone@example.com",
            "role": "BRAND_VIEWER",
        }
    }

    payload = await refused(api, session, CREATE_USER, variables, auth_of[caller])

    assert codes(payload) == ["FORBIDDEN"]


@pytest.mark.writes
async def test_a_disabled_users_token_stops_working_at_once(
    api: Any, admin: Any, brand: Any
) -> None:
    # given the brand's viewer, signed in
    assert (await api.post(VIEWER, token=brand.token)).status_code == 200

    # when the platform disables it
    data = await api.gql(
        DISABLE_USER, {"input": {"userId": gid("User", brand.user_id)}}, **admin.auth
    )
    assert data["disableUser"]["errors"] == []

    # then its token, still unexpired, gets a bare 401
    response = await api.post(VIEWER, token=brand.token)
    assert response.status_code == 401
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNAUTHENTICATED"]


async def test_disable_user_of_no_user_is_not_found(
    api: Any, session: AsyncSession, admin: Any
) -> None:
    payload = await refused(
        api, session, DISABLE_USER, {"input": {"userId": gid("User", 999_999)}}, admin.auth
    )

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "userId")]


# A factory's users are removed by its managers alone (tests/api/test_factory_membership.py).
@pytest.mark.parametrize(
    "caller",
    ["worker_rep", "brand", "assessor"],
    ids=["factory-worker-representative", "brand", "programme"],
)
async def test_only_the_platform_disables_users(
    api: Any,
    session: AsyncSession,
    auth_of: dict[str, dict[str, str]],
    worker_rep: Any,
    caller: str,
) -> None:
    payload = await refused(
        api,
        session,
        DISABLE_USER,
        {"input": {"userId": gid("User", worker_rep.user_id)}},
        auth_of[caller],
    )

    assert codes(payload) == ["FORBIDDEN"]
    assert (await api.post(VIEWER, token=worker_rep.token)).status_code == 200


# -- issueApiKey and revokeApiKey ------------------------------------------------------------


@pytest.mark.writes
async def test_an_issued_key_is_shown_once_and_authenticates(
    api: Any, world: DemoWorld, session: AsyncSession, admin: Any
) -> None:
    # when the platform issues a key to FairTrace
    data = await api.gql(
        ISSUE_KEY, {"input": {"organizationId": org_gid(world, FAIRTRACE)}}, **admin.auth
    )

    # then the secret is returned, with the prefix the key is known by
    payload = data["issueApiKey"]
    assert payload["errors"] == []
    key, secret = payload["apiKey"], payload["secret"]
    assert secret.startswith(f"mg_{key['prefix']}_") and key["revokedAt"] is None
    # and stored only as an HMAC: no column holds the secret, the API has no field for it
    stored = (
        await session.execute(text("SELECT * FROM api_key WHERE prefix = :p"), {"p": key["prefix"]})
    ).one()
    assert secret not in [str(v) for v in stored]
    fields = (await api.gql(API_KEY_FIELDS, **admin.auth))["__type"]["fields"]
    assert {f["name"] for f in fields} == {"id", "prefix", "createdAt", "revokedAt"}
    # and it authenticates as FairTrace through X-Api-Key
    viewer = (await api.gql(VIEWER, api_key=secret))["viewer"]
    assert viewer == {
        "role": "HOST_INTEGRATION",
        "user": None,
        "organization": {"name": "FairTrace Platform"},
    }


@pytest.mark.writes
async def test_every_issued_api_key_authenticates(
    api: Any, world: DemoWorld, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a key whose random body is all '_' (base64url of 0xff bytes): about half of all
    # keys hold at least one '_', so a prefix parser must not split the body
    monkeypatch.setattr(secrets, "token_bytes", lambda n: b"\xff" * n)
    data = await api.gql(
        ISSUE_KEY, {"input": {"organizationId": org_gid(world, FAIRTRACE)}}, **admin.auth
    )
    secret = data["issueApiKey"]["secret"]
    assert secret.count("_") > 2

    response = await api.post(VIEWER, api_key=secret)

    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["organization"] == {"name": "FairTrace Platform"}


@pytest.mark.parametrize(
    ("organization", "code"),
    [
        pytest.param(lambda w: org_gid(w, NORTHWIND), "INVALID", id="a-brand"),
        pytest.param(lambda w: factory_gid(w, SINAR), "NOT_FOUND", id="id-of-another-type"),
        pytest.param(
            lambda w: gid("Organization", 999_999), "NOT_FOUND", id="no-such-organization"
        ),
    ],
)
async def test_issue_api_key_refuses_anything_but_a_host(
    api: Any, world: DemoWorld, session: AsyncSession, admin: Any, organization: Any, code: str
) -> None:
    payload = await refused(
        api, session, ISSUE_KEY, {"input": {"organizationId": organization(world)}}, admin.auth
    )

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, "organizationId")]
    assert payload["secret"] is None


@NOT_ADMINS
async def test_only_the_platform_issues_keys(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    auth_of: dict[str, dict[str, str]],
    caller: str,
) -> None:
    payload = await refused(
        api,
        session,
        ISSUE_KEY,
        {"input": {"organizationId": org_gid(world, OPEN_AUDIT_HUB)}},
        auth_of[caller],
    )

    assert codes(payload) == ["FORBIDDEN"]


@pytest.mark.writes
async def test_a_revoked_key_gets_401_and_cannot_be_revoked_twice(
    api: Any, session: AsyncSession, admin: Any, host_key: dict[str, str]
) -> None:
    # given the demo host's key works
    assert (await api.post(VIEWER, **host_key)).status_code == 200
    key = {
        "input": {"apiKeyId": gid("ApiKey", await scalar(session, "SELECT min(id) FROM api_key"))}
    }

    # when the platform revokes it
    data = await api.gql(REVOKE_KEY, key, **admin.auth)

    # then it is marked revoked, the host gets a bare 401, and a second revoke is refused
    assert data["revokeApiKey"]["errors"] == [] and data["revokeApiKey"]["secret"] is None
    assert data["revokeApiKey"]["apiKey"]["revokedAt"] is not None
    response = await api.post(VIEWER, **host_key)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    payload = await refused(api, session, REVOKE_KEY, key, admin.auth)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_ACTIVE", "apiKeyId")]


async def test_revoke_of_no_key_is_not_found(api: Any, session: AsyncSession, admin: Any) -> None:
    payload = await refused(
        api, session, REVOKE_KEY, {"input": {"apiKeyId": gid("ApiKey", 999_999)}}, admin.auth
    )

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "apiKeyId")]


@NOT_ADMINS
async def test_only_the_platform_revokes_keys(
    api: Any, session: AsyncSession, auth_of: dict[str, dict[str, str]], caller: str
) -> None:
    key = {
        "input": {"apiKeyId": gid("ApiKey", await scalar(session, "SELECT min(id) FROM api_key"))}
    }

    payload = await refused(api, session, REVOKE_KEY, key, auth_of[caller])

    assert codes(payload) == ["FORBIDDEN"]


# -- registerHostKey -------------------------------------------------------------------------


@pytest.mark.writes
async def test_a_host_registers_its_x25519_key(
    api: Any, world: DemoWorld, session: AsyncSession, admin: Any
) -> None:
    before = await row_counts(session)

    data = await api.gql(
        REGISTER_HOST_KEY,
        {
            "input": {
                "organizationId": org_gid(world, FAIRTRACE),
                "publicJwk": x25519_public(),
            }
        },
        **admin.auth,
    )

    assert data["registerHostKey"] == {
        "organization": {"name": "FairTrace Platform", "hasHostKey": True},
        "errors": [],
    }
    assert (await row_counts(session))["audit_entry"] == before["audit_entry"] + 1


def _ed25519() -> dict[str, str]:
    return {k: str(v) for k, v in OKPKey.generate_key("Ed25519").as_dict(private=False).items()}


def _with_private_part() -> dict[str, str]:
    return {k: str(v) for k, v in OKPKey.generate_key("X25519").as_dict(private=True).items()}


# A point of order 8 on Curve25519 (libsodium's list of points it refuses).
ORDER_EIGHT = "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"


def _x25519_x(raw: bytes) -> dict[str, str]:
    """A JWK of the right shape around any 'x': the point itself is what is wrong."""
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {"kty": "OKP", "crv": "X25519", "x": x}


@pytest.mark.parametrize(
    "jwk",
    [
        pytest.param(_ed25519, id="wrong-curve"),
        pytest.param(_with_private_part, id="private-part-d"),
        pytest.param(lambda: "garbage", id="not-an-object"),
        pytest.param(lambda: {"kty": "OKP", "crv": "X25519", "x": "c2hvcnQ"}, id="x-too-short"),
        pytest.param(lambda: {"kty": "OKP", "crv": "X25519"}, id="no-x"),
        pytest.param(lambda: {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}, id="ec-key"),
        pytest.param(lambda: _x25519_x(bytes(32)), id="all-zero"),
        pytest.param(lambda: _x25519_x((1).to_bytes(32, "little")), id="low-order-one"),
        pytest.param(lambda: _x25519_x(bytes.fromhex(ORDER_EIGHT)), id="low-order-eight"),
        pytest.param(lambda: _x25519_x((2**255 - 19).to_bytes(32, "little")), id="p-non-canonical"),
        pytest.param(lambda: _x25519_x(bytes(31) + b"\x80"), id="high-bit-set"),
        pytest.param(lambda: _x25519_x(secrets.token_bytes(33)), id="x-too-long"),
        pytest.param(lambda: {**x25519_public(), "x": x25519_public()["x"] + "=="}, id="x-padded"),
        pytest.param(lambda: {**x25519_public(), "kty": "oct", "k": "AAAA"}, id="symmetric"),
        pytest.param(lambda: {**x25519_public(), "d": None}, id="private-part-null"),
    ],
)
async def test_register_host_key_refuses_anything_but_a_public_x25519_key(
    api: Any, world: DemoWorld, session: AsyncSession, admin: Any, jwk: Any
) -> None:
    variables = {"input": {"organizationId": org_gid(world, FAIRTRACE), "publicJwk": jwk()}}

    payload = await refused(api, session, REGISTER_HOST_KEY, variables, admin.auth)

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", "publicJwk")]


async def test_register_host_key_refuses_an_organization_that_is_not_a_host(
    api: Any, world: DemoWorld, session: AsyncSession, admin: Any
) -> None:
    variables = {
        "input": {"organizationId": org_gid(world, NORTHWIND), "publicJwk": x25519_public()}
    }

    payload = await refused(api, session, REGISTER_HOST_KEY, variables, admin.auth)

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", "organizationId")]


@NOT_ADMINS
async def test_only_the_platform_registers_host_keys(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    auth_of: dict[str, dict[str, str]],
    caller: str,
) -> None:
    variables = {
        "input": {"organizationId": org_gid(world, OPEN_AUDIT_HUB), "publicJwk": x25519_public()}
    }

    payload = await refused(api, session, REGISTER_HOST_KEY, variables, auth_of[caller])

    assert codes(payload) == ["FORBIDDEN"]


# -- setCountryRollout -----------------------------------------------------------------------


@pytest.mark.writes
async def test_rolling_out_a_country_makes_its_cycles_eligible(
    api: Any, world: DemoWorld, admin: Any
) -> None:
    # given Phnom Penh Garment, ready but for Cambodia's roll-out
    phnom_penh = {"id": factory_gid(world, PHNOM_PENH)}
    before = await api.gql(ELIGIBILITY, phnom_penh, **admin.auth)
    assert before["factory"]["gatewayEligibility"]["reasons"] == ["COUNTRY_NOT_ROLLED_OUT"]

    # when the platform records Cambodia's roll-out
    data = await api.gql(
        SET_ROLLOUT, {"input": {"code": "kh", "slcpRolloutOn": "2024-01-01"}}, **admin.auth
    )

    # then the country carries it, and the cycle is eligible
    assert data["setCountryRollout"] == {
        "country": {"code": "KH", "name": "Cambodia", "slcpRolloutOn": "2024-01-01"},
        "errors": [],
    }
    after = await api.gql(ELIGIBILITY, phnom_penh, **admin.auth)
    assert after["factory"]["gatewayEligibility"]["reasons"] == []


@pytest.mark.writes
async def test_a_roll_out_after_the_assessment_is_too_late(
    api: Any, world: DemoWorld, admin: Any
) -> None:
    await api.gql(
        SET_ROLLOUT, {"input": {"code": "KH", "slcpRolloutOn": "2025-01-01"}}, **admin.auth
    )

    after = await api.gql(ELIGIBILITY, {"id": factory_gid(world, PHNOM_PENH)}, **admin.auth)
    assert after["factory"]["gatewayEligibility"]["reasons"] == ["COUNTRY_ROLLED_OUT_LATE"]


@pytest.mark.writes
async def test_a_roll_out_can_be_withdrawn(api: Any, world: DemoWorld, admin: Any) -> None:
    data = await api.gql(
        SET_ROLLOUT, {"input": {"code": "ID", "slcpRolloutOn": None}}, **admin.auth
    )

    assert data["setCountryRollout"]["country"]["slcpRolloutOn"] is None
    after = await api.gql(ELIGIBILITY, {"id": factory_gid(world, SINAR)}, **admin.auth)
    assert after["factory"]["gatewayEligibility"]["reasons"] == ["COUNTRY_NOT_ROLLED_OUT"]


async def test_set_country_rollout_of_no_country_is_not_found(
    api: Any, session: AsyncSession, admin: Any
) -> None:
    payload = await refused(
        api,
        session,
        SET_ROLLOUT,
        {"input": {"code": "ZZ", "slcpRolloutOn": "2024-01-01"}},
        admin.auth,
    )

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "code")]


@NOT_ADMINS
async def test_only_the_platform_sets_roll_outs(
    api: Any, session: AsyncSession, auth_of: dict[str, dict[str, str]], caller: str
) -> None:
    before = await scalar(session, "SELECT slcp_rollout_on FROM country WHERE code = 'KH'")

    payload = await refused(
        api,
        session,
        SET_ROLLOUT,
        {"input": {"code": "KH", "slcpRolloutOn": "2024-01-01"}},
        auth_of[caller],
    )

    assert codes(payload) == ["FORBIDDEN"]
    assert await scalar(session, "SELECT slcp_rollout_on FROM country WHERE code = 'KH'") == before
