"""Every mutation, called by every audience that must not run it, is refused and changes nothing.

Given one world (``build_mutation_world``): factory F with a released assessment and two
drafts, a brand and a host holding grants to F, and a caller of every kind.
When a caller that may not run a mutation calls it with an input that is otherwise valid
(``test_mutation_controls.py`` runs each one as its rightful caller to prove it),
then the payload carries a typed error — NOT_FOUND where the target is invisible to the
caller, exactly as for a target that does not exist, FORBIDDEN where the caller sees it but
may not act — no result, and every row of every table is as it was. Rule 1: the platform never
grants, revokes, registers or submits for a factory.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from jwcrypto import jwk

from api.ids import to_global_id
from tests.conftest import Api
from tests.world import MutationWorld, build_mutation_world, snapshot

# --- the GraphQL documents: each returns (result, errors) --------------------------------------

GRANT_CONSENT = """
mutation Grant($input: GrantConsentInput!) {
  grantConsent(input: $input) { grant { id } errors { code field } }
}
"""
REVOKE_CONSENT = """
mutation Revoke($input: RevokeConsentInput!) {
  revokeConsent(input: $input) { grant { id } errors { code field } }
}
"""
UPDATE_CONSENT = """
mutation Update($input: UpdateConsentInput!) {
  updateConsent(input: $input) { grant { id } errors { code field } }
}
"""
REGISTER_SLCP = """
mutation Register($input: RegisterSlcpInput!) {
  registerSlcp(input: $input) { factory { id } errors { code field } }
}
"""
SUBMIT_SELF_ASSESSMENT = """
mutation Submit($input: SubmitSelfAssessmentInput!) {
  submitSelfAssessment(input: $input) { selfAssessment { id } errors { code field } }
}
"""
ENROLL_FACTORY = """
mutation Enroll($input: EnrollFactoryInput!) {
  enrollFactory(input: $input) { factory { id } errors { code field } }
}
"""
RECORD_ASSESSMENT = """
mutation Record($input: RecordAssessmentInput!) {
  recordAssessment(input: $input) { assessment { id } errors { code field } }
}
"""
RELEASE_ASSESSMENT = """
mutation Release($input: ReleaseAssessmentInput!) {
  releaseAssessment(input: $input) { assessment { id } errors { code field } }
}
"""
CREATE_ORGANIZATION = """
mutation CreateOrganization($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { id } errors { code field } }
}
"""
SET_COUNTRY_ROLLOUT = """
mutation Rollout($input: SetCountryRolloutInput!) {
  setCountryRollout(input: $input) { country { code } errors { code field } }
}
"""
CREATE_USER = """
mutation CreateUser($input: CreateUserInput!) {
  createUser(input: $input) { user { id } errors { code field } }
}
"""
DISABLE_USER = """
mutation DisableUser($input: DisableUserInput!) {
  disableUser(input: $input) { user { id } errors { code field } }
}
"""
ENABLE_USER = """
mutation EnableUser($input: EnableUserInput!) {
  enableUser(input: $input) { user { id } errors { code field } }
}
"""
ISSUE_API_KEY = """
mutation IssueKey($input: IssueApiKeyInput!) {
  issueApiKey(input: $input) { apiKey { id } secret errors { code field } }
}
"""
REVOKE_API_KEY = """
mutation RevokeKey($input: RevokeApiKeyInput!) {
  revokeApiKey(input: $input) { apiKey { id } errors { code field } }
}
"""
SET_HOST_WEBHOOK = """
mutation Webhook($input: SetHostWebhookInput!) {
  setHostWebhook(input: $input) { organization { id } secret errors { code field } }
}
"""
REGISTER_HOST_KEY = """
mutation HostKey($input: RegisterHostKeyInput!) {
  registerHostKey(input: $input) { organization { id } errors { code field } }
}
"""
REGISTER_OWN_HOST_KEY = """
mutation OwnHostKey($input: RegisterOwnHostKeyInput!) {
  registerOwnHostKey(input: $input) { organization { id } errors { code field } }
}
"""
SET_OWN_WEBHOOK = """
mutation OwnWebhook($input: SetOwnWebhookInput!) {
  setOwnWebhook(input: $input) { organization { id } secret errors { code field } }
}
"""
# No input: the `input` variable every call sends is not declared here, and so not read.
ISSUE_OWN_API_KEY = "mutation { issueOwnApiKey { apiKey { id } secret errors { code field } } }"
REVOKE_OWN_API_KEY = """
mutation RevokeOwnKey($input: RevokeOwnApiKeyInput!) {
  revokeOwnApiKey(input: $input) { apiKey { id } errors { code field } }
}
"""
SEND_TEST_WEBHOOK = "mutation { sendTestWebhook { delivery { id } errors { code field } } }"

TODAY = dt.datetime.now(dt.UTC).date()
HOST_JWK = jwk.JWK.generate(kty="OKP", crv="X25519").export_public(as_dict=True)


@dataclass(frozen=True)
class Mutation:
    document: str
    field: str  # the root field
    result: str  # the payload's result field, null on refusal
    input: Any  # (ids of the world) → input


def _gid(kind: str, pk: int) -> str:
    return str(to_global_id(kind, pk))


# Each mutation with an input its rightful caller may run in the world as built.
MUTATIONS: dict[str, Mutation] = {
    "grantConsent": Mutation(
        GRANT_CONSENT,
        "grantConsent",
        "grant",
        lambda ids: {
            "factoryId": _gid("Factory", ids["F"]),
            "granteeId": _gid("Organization", ids["other brand"]),
            "scopes": ["ASSESSMENT"],
        },
    ),
    "revokeConsent": Mutation(
        REVOKE_CONSENT,
        "revokeConsent",
        "grant",
        lambda ids: {"grantId": _gid("ConsentGrant", ids["brand's grant"])},
    ),
    "updateConsent": Mutation(
        UPDATE_CONSENT,
        "updateConsent",
        "grant",
        lambda ids: {
            "grantId": _gid("ConsentGrant", ids["brand's grant"]),
            "scopes": ["ASSESSMENT"],
        },
    ),
    "registerSlcp": Mutation(
        REGISTER_SLCP,
        "registerSlcp",
        "factory",
        lambda ids: {
            "factoryId": _gid("Factory", ids["F"]),
            "gatewayId": "GW-NEW-1",
            "confirmAssessmentSharing": True,
        },
    ),
    "submitSelfAssessment": Mutation(
        SUBMIT_SELF_ASSESSMENT,
        "submitSelfAssessment",
        "selfAssessment",
        lambda ids: {
            "factoryId": _gid("Factory", ids["F"]),
            "cycle": 3,
            "step": 1,
            "toolVersion": "CAF 1.4",
            "answers": {"CL.01.1": "NO"},
        },
    ),
    "enrollFactory": Mutation(
        ENROLL_FACTORY,
        "enrollFactory",
        "factory",
        lambda ids: {"name": "Newly Enrolled", "country": "ID", "enrolledOn": TODAY.isoformat()},
    ),
    "recordAssessment": Mutation(
        RECORD_ASSESSMENT,
        "recordAssessment",
        "assessment",
        lambda ids: {
            "factoryId": _gid("Factory", ids["F"]),
            "cycle": 4,
            "kind": "ONSITE",
            "assessedOn": (TODAY - dt.timedelta(days=1)).isoformat(),
            "findings": [
                {
                    "cluster": "CHILD_LABOUR",
                    "compliancePoint": "Child labourers",
                    "questionCode": "CL.01.1",
                    "nonCompliant": True,
                    "publicReporting": False,
                    "zeroTolerance": False,
                }
            ],
        },
    ),
    "releaseAssessment": Mutation(
        RELEASE_ASSESSMENT,
        "releaseAssessment",
        "assessment",
        lambda ids: {
            "assessmentId": _gid("Assessment", ids["draft"]),
            "releasedOn": TODAY.isoformat(),
        },
    ),
    "releaseAssessment of a released one": Mutation(
        RELEASE_ASSESSMENT,
        "releaseAssessment",
        "assessment",
        lambda ids: {
            "assessmentId": _gid("Assessment", ids["released assessment"]),
            "releasedOn": TODAY.isoformat(),
        },
    ),
    "releaseAssessment late, overriding the deadline": Mutation(
        RELEASE_ASSESSMENT,
        "releaseAssessment",
        "assessment",
        lambda ids: {
            "assessmentId": _gid("Assessment", ids["late draft"]),
            "releasedOn": TODAY.isoformat(),
            "overrideDeadline": True,
        },
    ),
    "createOrganization": Mutation(
        CREATE_ORGANIZATION,
        "createOrganization",
        "organization",
        lambda ids: {"name": "Brand Z", "kind": "BRAND"},
    ),
    "setCountryRollout": Mutation(
        SET_COUNTRY_ROLLOUT,
        "setCountryRollout",
        "country",
        lambda ids: {"code": "ID", "slcpRolloutOn": "2022-01-01"},
    ),
    "createUser": Mutation(
        CREATE_USER,
        "createUser",
        "user",
        lambda ids: {
            "organizationId": _gid("Organization", ids["other brand"]),
            "email": "new.viewer@example.test",
            "role": "BRAND_VIEWER",
        },
    ),
    "disableUser": Mutation(
        DISABLE_USER, "disableUser", "user", lambda ids: {"userId": _gid("User", ids["user"])}
    ),
    "enableUser": Mutation(
        ENABLE_USER, "enableUser", "user", lambda ids: {"userId": _gid("User", ids["user"])}
    ),
    "issueApiKey": Mutation(
        ISSUE_API_KEY,
        "issueApiKey",
        "apiKey",
        lambda ids: {"organizationId": _gid("Organization", ids["host"])},
    ),
    "revokeApiKey": Mutation(
        REVOKE_API_KEY,
        "revokeApiKey",
        "apiKey",
        lambda ids: {"apiKeyId": _gid("ApiKey", ids["api key"])},
    ),
    "setHostWebhook": Mutation(
        SET_HOST_WEBHOOK,
        "setHostWebhook",
        "organization",
        lambda ids: {
            "organizationId": _gid("Organization", ids["host"]),
            "url": "https://hooks.example.com/millgate",
        },
    ),
    "registerHostKey": Mutation(
        REGISTER_HOST_KEY,
        "registerHostKey",
        "organization",
        lambda ids: {"organizationId": _gid("Organization", ids["host"]), "publicJwk": HOST_JWK},
    ),
    "registerOwnHostKey": Mutation(
        REGISTER_OWN_HOST_KEY,
        "registerOwnHostKey",
        "organization",
        lambda ids: {"publicJwk": HOST_JWK},
    ),
    "setOwnWebhook": Mutation(
        SET_OWN_WEBHOOK,
        "setOwnWebhook",
        "organization",
        lambda ids: {"url": "https://hooks.example.com/own"},
    ),
    "issueOwnApiKey": Mutation(ISSUE_OWN_API_KEY, "issueOwnApiKey", "apiKey", lambda ids: {}),
    "revokeOwnApiKey": Mutation(
        REVOKE_OWN_API_KEY,
        "revokeOwnApiKey",
        "apiKey",
        lambda ids: {"apiKeyId": _gid("ApiKey", ids["api key"])},
    ),
    "sendTestWebhook": Mutation(SEND_TEST_WEBHOOK, "sendTestWebhook", "delivery", lambda ids: {}),
}

# --- who gets what: "ok" marks the rightful caller (see test_mutation_controls.py) ----------

FACTORY_MUTATIONS = """
caller                       | grantConsent | revokeConsent | updateConsent | registerSlcp | submitSelfAssessment
factory manager              | ok           | ok            | ok            | ok           | ok
worker representative        | FORBIDDEN    | FORBIDDEN     | FORBIDDEN     | FORBIDDEN    | FORBIDDEN
another factory              | NOT_FOUND    | NOT_FOUND     | NOT_FOUND     | NOT_FOUND    | NOT_FOUND
brand with grant             | FORBIDDEN    | FORBIDDEN     | FORBIDDEN     | FORBIDDEN    | FORBIDDEN
brand without grant          | NOT_FOUND    | NOT_FOUND     | NOT_FOUND     | NOT_FOUND    | NOT_FOUND
host with grant              | FORBIDDEN    | NOT_FOUND     | NOT_FOUND     | FORBIDDEN    | FORBIDDEN
programme of the country     | FORBIDDEN    | FORBIDDEN     | FORBIDDEN     | FORBIDDEN    | FORBIDDEN
programme of another country | NOT_FOUND    | NOT_FOUND     | NOT_FOUND     | NOT_FOUND    | NOT_FOUND
constituent                  | NOT_FOUND    | NOT_FOUND     | NOT_FOUND     | NOT_FOUND    | NOT_FOUND
labour inspectorate          | NOT_FOUND    | NOT_FOUND     | NOT_FOUND     | NOT_FOUND    | NOT_FOUND
platform admin               | FORBIDDEN    | FORBIDDEN     | FORBIDDEN     | FORBIDDEN    | FORBIDDEN
anonymous                    | NOT_FOUND    | NOT_FOUND     | NOT_FOUND     | NOT_FOUND    | NOT_FOUND
"""  # noqa: E501 - a table reads best on one line a row
# The host sees its own grants of F, not the brand's: revoking or changing the brand's is
# NOT_FOUND to it.

PROGRAMME_MUTATIONS = """
caller                       | enrollFactory | recordAssessment | releaseAssessment | releaseAssessment of a released one | releaseAssessment late, overriding the deadline
factory manager              | FORBIDDEN     | FORBIDDEN        | NOT_FOUND         | FORBIDDEN                           | NOT_FOUND
worker representative        | FORBIDDEN     | FORBIDDEN        | NOT_FOUND         | FORBIDDEN                           | NOT_FOUND
another factory              | FORBIDDEN     | NOT_FOUND        | NOT_FOUND         | NOT_FOUND                           | NOT_FOUND
brand with grant             | FORBIDDEN     | FORBIDDEN        | NOT_FOUND         | FORBIDDEN                           | NOT_FOUND
brand without grant          | FORBIDDEN     | NOT_FOUND        | NOT_FOUND         | NOT_FOUND                           | NOT_FOUND
host with grant              | FORBIDDEN     | FORBIDDEN        | NOT_FOUND         | NOT_FOUND                           | NOT_FOUND
programme of the country     | ok            | ok               | ok                | ok                                  | FORBIDDEN
programme of another country | FORBIDDEN     | NOT_FOUND        | NOT_FOUND         | NOT_FOUND                           | NOT_FOUND
constituent                  | FORBIDDEN     | NOT_FOUND        | NOT_FOUND         | NOT_FOUND                           | NOT_FOUND
labour inspectorate          | FORBIDDEN     | NOT_FOUND        | NOT_FOUND         | NOT_FOUND                           | NOT_FOUND
platform admin               | FORBIDDEN     | FORBIDDEN        | NOT_FOUND         | FORBIDDEN                           | ok
anonymous                    | FORBIDDEN     | NOT_FOUND        | NOT_FOUND         | NOT_FOUND                           | NOT_FOUND
"""  # noqa: E501 - a table reads best on one line a row
# Drafts are the programme's alone: to everyone else a draft does not exist (NOT_FOUND), the
# factory included. The countries are public reference data: enrolling is FORBIDDEN, not
# NOT_FOUND. The programme's release of a released assessment passes authorization
# (ALREADY_RELEASED is not this file's business).

ADMIN_MUTATIONS = """
caller                       | createOrganization | setCountryRollout | createUser | disableUser | enableUser | issueApiKey | revokeApiKey | setHostWebhook | registerHostKey
factory manager              | FORBIDDEN          | FORBIDDEN         | FORBIDDEN  | FORBIDDEN   | FORBIDDEN  | FORBIDDEN   | FORBIDDEN    | FORBIDDEN      | FORBIDDEN
worker representative        | FORBIDDEN          | FORBIDDEN         | FORBIDDEN  | FORBIDDEN   | FORBIDDEN  | FORBIDDEN   | FORBIDDEN    | FORBIDDEN      | FORBIDDEN
another factory              | FORBIDDEN          | FORBIDDEN         | FORBIDDEN  | FORBIDDEN   | FORBIDDEN  | FORBIDDEN   | FORBIDDEN    | FORBIDDEN      | FORBIDDEN
brand with grant             | FORBIDDEN          | FORBIDDEN         | FORBIDDEN  | FORBIDDEN   | FORBIDDEN  | FORBIDDEN   | FORBIDDEN    | FORBIDDEN      | FORBIDDEN
brand without grant          | FORBIDDEN          | FORBIDDEN         | FORBIDDEN  | FORBIDDEN   | FORBIDDEN  | FORBIDDEN   | FORBIDDEN    | FORBIDDEN      | FORBIDDEN
host with grant              | FORBIDDEN          | FORBIDDEN         | FORBIDDEN  | FORBIDDEN   | FORBIDDEN  | FORBIDDEN   | FORBIDDEN    | FORBIDDEN      | FORBIDDEN
programme of the country     | FORBIDDEN          | FORBIDDEN         | FORBIDDEN  | FORBIDDEN   | FORBIDDEN  | FORBIDDEN   | FORBIDDEN    | FORBIDDEN      | FORBIDDEN
programme of another country | FORBIDDEN          | FORBIDDEN         | FORBIDDEN  | FORBIDDEN   | FORBIDDEN  | FORBIDDEN   | FORBIDDEN    | FORBIDDEN      | FORBIDDEN
constituent                  | FORBIDDEN          | FORBIDDEN         | FORBIDDEN  | FORBIDDEN   | FORBIDDEN  | FORBIDDEN   | FORBIDDEN    | FORBIDDEN      | FORBIDDEN
labour inspectorate          | FORBIDDEN          | FORBIDDEN         | FORBIDDEN  | FORBIDDEN   | FORBIDDEN  | FORBIDDEN   | FORBIDDEN    | FORBIDDEN      | FORBIDDEN
platform admin               | ok                 | ok                | ok         | ok          | ok         | ok          | ok           | ok             | ok
anonymous                    | FORBIDDEN          | FORBIDDEN         | FORBIDDEN  | FORBIDDEN   | FORBIDDEN  | FORBIDDEN   | FORBIDDEN    | FORBIDDEN      | FORBIDDEN
"""  # noqa: E501 - a table reads best on one line a row


HOST_MUTATIONS = """
caller                       | registerOwnHostKey | setOwnWebhook | issueOwnApiKey | revokeOwnApiKey | sendTestWebhook
factory manager              | FORBIDDEN          | FORBIDDEN     | FORBIDDEN      | FORBIDDEN       | FORBIDDEN
worker representative        | FORBIDDEN          | FORBIDDEN     | FORBIDDEN      | FORBIDDEN       | FORBIDDEN
another factory              | FORBIDDEN          | FORBIDDEN     | FORBIDDEN      | FORBIDDEN       | FORBIDDEN
brand with grant             | FORBIDDEN          | FORBIDDEN     | FORBIDDEN      | FORBIDDEN       | FORBIDDEN
brand without grant          | FORBIDDEN          | FORBIDDEN     | FORBIDDEN      | FORBIDDEN       | FORBIDDEN
host with grant              | ok                 | ok            | ok             | ok              | ok
programme of the country     | FORBIDDEN          | FORBIDDEN     | FORBIDDEN      | FORBIDDEN       | FORBIDDEN
programme of another country | FORBIDDEN          | FORBIDDEN     | FORBIDDEN      | FORBIDDEN       | FORBIDDEN
constituent                  | FORBIDDEN          | FORBIDDEN     | FORBIDDEN      | FORBIDDEN       | FORBIDDEN
labour inspectorate          | FORBIDDEN          | FORBIDDEN     | FORBIDDEN      | FORBIDDEN       | FORBIDDEN
platform admin               | FORBIDDEN          | FORBIDDEN     | FORBIDDEN      | FORBIDDEN       | FORBIDDEN
anonymous                    | FORBIDDEN          | FORBIDDEN     | FORBIDDEN      | FORBIDDEN       | FORBIDDEN
"""  # noqa: E501 - a table reads best on one line a row
# A host's self-service acts on the caller's own organisation: nobody else has one to act on,
# the platform admin included (it has its own mutations for hosts, above).


def _table(table: str) -> dict[tuple[str, str], str]:
    lines = table.strip().splitlines()
    mutations = [cell.strip() for cell in lines[0].split("|")][1:]
    out = {}
    for line in lines[1:]:
        caller, *cells = (cell.strip() for cell in line.split("|"))
        for mutation, cell in zip(mutations, cells, strict=True):
            assert cell in ("ok", "FORBIDDEN", "NOT_FOUND"), cell
            out[(caller, mutation)] = cell
    return out


EXPECTED = (
    _table(FACTORY_MUTATIONS)
    | _table(PROGRAMME_MUTATIONS)
    | _table(ADMIN_MUTATIONS)
    | _table(HOST_MUTATIONS)
)
CALLERS = sorted({caller for caller, _ in EXPECTED})
REFUSALS = [
    pytest.param(caller, mutation, code, id=f"{mutation}-by-{caller}")
    for (caller, mutation), code in EXPECTED.items()
    if code != "ok"
]
RIGHTFUL = {mutation: caller for (caller, mutation), code in EXPECTED.items() if code == "ok"}


def test_the_tables_cover_every_mutation_of_the_schema_and_every_caller() -> None:
    from api.schema import build_schema
    from core.settings import Settings

    mutation_type = build_schema(Settings())._schema.mutation_type
    assert mutation_type is not None
    served = set(mutation_type.fields)
    assert {spec.field for spec in MUTATIONS.values()} == served
    assert {mutation for _, mutation in EXPECTED} == set(MUTATIONS)
    for mutation in MUTATIONS:
        assert {caller for caller, m in EXPECTED if m == mutation} == set(CALLERS), mutation


# --- the world ------------------------------------------------------------------------------


@dataclass
class World:
    api: Api
    world: MutationWorld

    async def call(
        self, caller: str, mutation: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        spec = MUTATIONS[mutation]
        user = self.world.users[caller]
        token = None if user is None else self.api.token(user)
        data = await self.api.gql(
            spec.document, {"input": variables or spec.input(self.world.ids)}, token=token
        )
        return data[spec.field]  # type: ignore[no-any-return]

    async def rows(self) -> list[tuple[str, str]]:
        async with self.api.runtime.sessionmaker() as session:
            return await snapshot(session)


@pytest.fixture(scope="module")
async def world(module_api: Api) -> World:
    async with module_api.runtime.sessionmaker() as session:
        built = await build_mutation_world(session)
        await session.commit()
    return World(module_api, built)


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(("caller", "mutation", "code"), REFUSALS)
async def test_given_a_caller_that_may_not_when_it_runs_it_then_a_typed_error_and_no_change(
    world: World, caller: str, mutation: str, code: str
) -> None:
    before = await world.rows()

    payload = await world.call(caller, mutation)

    assert payload[MUTATIONS[mutation].result] is None
    assert [error["code"] for error in payload["errors"]] == [code]
    assert await world.rows() == before


# Where the answer is NOT_FOUND, a target that does not exist must get the very same answer.
MISSING = {
    "grantConsent": {"factoryId": "Factory:999999"},
    "revokeConsent": {"grantId": "ConsentGrant:999999"},
    "updateConsent": {"grantId": "ConsentGrant:999999"},
    "registerSlcp": {"factoryId": "Factory:999999"},
    "submitSelfAssessment": {"factoryId": "Factory:999999"},
    "recordAssessment": {"factoryId": "Factory:999999"},
    "releaseAssessment": {"assessmentId": "Assessment:999999"},
    "releaseAssessment of a released one": {"assessmentId": "Assessment:999999"},
    "releaseAssessment late, overriding the deadline": {"assessmentId": "Assessment:999999"},
}
NOT_FOUND_CASES = [
    pytest.param(caller, mutation, id=f"{mutation}-by-{caller}")
    for (caller, mutation), code in EXPECTED.items()
    if code == "NOT_FOUND"
]


def _missing(mutation: str, ids: dict[str, int]) -> dict[str, Any]:
    variables = dict(MUTATIONS[mutation].input(ids))
    for name, ref in MISSING[mutation].items():
        kind, pk = ref.split(":")
        variables[name] = _gid(kind, int(pk))
    return variables


@pytest.mark.parametrize(("caller", "mutation"), NOT_FOUND_CASES)
async def test_given_an_invisible_target_when_acted_on_then_the_answer_is_that_of_a_missing_one(
    world: World, caller: str, mutation: str
) -> None:
    hidden = await world.call(caller, mutation)
    missing = await world.call(caller, mutation, _missing(mutation, world.world.ids))

    assert hidden == missing


@pytest.mark.parametrize("mutation", list(MUTATIONS))
async def test_given_bad_credentials_when_running_a_mutation_then_401_and_nothing_changes(
    world: World, mutation: str
) -> None:
    spec = MUTATIONS[mutation]
    before = await world.rows()

    response = await world.api.post(
        spec.document, {"input": spec.input(world.world.ids)}, token="not-a-token"
    )

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await world.rows() == before


@pytest.mark.parametrize("mutation", list(MUTATIONS))
async def test_given_a_disabled_user_of_the_rightful_org_when_running_it_then_no_change(
    world: World, mutation: str
) -> None:
    from sqlalchemy import text

    rightful = world.world.users[RIGHTFUL[mutation]]
    assert rightful is not None
    async with world.api.runtime.sessionmaker() as session:
        await session.execute(
            text(
                "INSERT INTO app_user (email, organization_id, role, created_at, disabled_at)"
                " VALUES (:email, :org, :role, :now, :now)"
            ),
            {
                "email": f"gone.{mutation.replace(' ', '.').replace(',', '')}@example.test",
                "org": rightful.organization_id,
                "role": rightful.role.value,
                "now": dt.datetime.now(dt.UTC),
            },
        )
        await session.commit()
        gone = (await session.execute(text("SELECT max(id) FROM app_user"))).scalar_one()
    before = await world.rows()
    spec = MUTATIONS[mutation]

    response = await world.api.post(
        spec.document,
        {"input": spec.input(world.world.ids)},
        token=world.api.runtime.token_service.issue(gone, 600),
    )

    assert response.status_code == 401
    assert await world.rows() == before


# --- the idempotent path: the same refusals inside one outer transaction ----------------------


def _one_refusal_per_code() -> list[Any]:
    """For each mutation, the first caller refused with each code, and the anonymous public."""
    chosen: dict[tuple[str, str], str] = {}  # (mutation, code) → caller
    for (caller, mutation), code in EXPECTED.items():
        if code != "ok":
            chosen.setdefault((mutation, code), caller)
    cases = {(caller, mutation) for (mutation, _), caller in chosen.items()}
    cases |= {("anonymous", mutation) for mutation in MUTATIONS}
    return [
        pytest.param(caller, mutation, EXPECTED[(caller, mutation)], id=f"{mutation}-by-{caller}")
        for caller, mutation in sorted(cases, key=lambda c: (c[1], c[0]))
    ]


@pytest.mark.parametrize(("caller", "mutation", "code"), _one_refusal_per_code())
async def test_given_an_idempotency_key_when_a_caller_that_may_not_runs_it_then_no_domain_change(
    world: World, caller: str, mutation: str, code: str
) -> None:
    spec = MUTATIONS[mutation]
    user = world.world.users[caller]
    before = await world.rows()

    response = await world.api.post(
        spec.document,
        {"input": spec.input(world.world.ids)},
        token=None if user is None else world.api.token(user),
        headers={"idempotency-key": f"authz-{caller}-{mutation}".replace(" ", "-")},
    )

    payload = response.json()["data"][spec.field]
    assert payload[spec.result] is None
    assert [error["code"] for error in payload["errors"]] == [code]
    after = await world.rows()

    def domain(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [row for row in rows if row[0] != "idempotency_record"]

    def stored(rows: list[tuple[str, str]]) -> int:
        return len(rows) - len(domain(rows))

    assert domain(after) == domain(before)
    # The one row a refusal may leave is the caller's own stored answer, for its retries; the
    # anonymous public leaves none.
    assert stored(after) - stored(before) == (0 if user is None else 1)
