"""The schema as a contract: the committed SDL, the shared minimum contract, deny by default.

(a) The printed schema equals `schema.graphql` at the repository root, so that every change
    of the API shows in review as a diff of that file.
(b) `../shared/tools/contract_check.py` finds nothing of `../shared/contract.graphql` missing
    or changed incompatibly in it.
(c) Deny by default, proven by introspection (OS2mo's test_rbac): every root Query and
    Mutation field of the live schema must have an entry in the access tables below, and a
    brand that nobody granted anything, probing every root field, gets nothing.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLInterfaceType, GraphQLObjectType
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from api.schema import build_schema, sdl
from core.crypto import KeyMaterial
from core.settings import Settings
from demo import DemoWorld
from tests.api.support import codes, gid, row_counts, scalar
from tests.builders import make_org, make_user
from tests.field_access import FIELD_ACCESS
from tests.world import demo_exported, kept_world

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_FILE = ROOT / "schema.graphql"
CONTRACT_CHECK = Path(__file__).resolve().parents[2] / "shared" / "tools" / "contract_check.py"
REGENERATE = "regenerate it with `millgate schema > schema.graphql` and commit it"

# Tests here only read the world they share (`world_and_stranger`, kept between tests).
pytestmark = pytest.mark.reads_only


# -- (a) the committed SDL -------------------------------------------------------------------


def test_the_committed_schema_is_the_served_schema() -> None:
    assert SCHEMA_FILE.exists(), f"schema.graphql is missing: {REGENERATE}"

    assert sdl() == SCHEMA_FILE.read_text(), f"schema.graphql is out of date: {REGENERATE}"


# -- (b) the shared contract -----------------------------------------------------------------


@pytest.mark.skipif(
    not CONTRACT_CHECK.exists(),
    reason=f"no shared contract checker at {CONTRACT_CHECK} (../shared is absent)",
)
def test_the_committed_schema_keeps_the_whole_contract() -> None:
    result = subprocess.run(  # noqa: S603 - our interpreter, our file
        [sys.executable, str(CONTRACT_CHECK), str(SCHEMA_FILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, f"the contract is broken:\n{result.stdout}{result.stderr}"
    assert "contract: 0 missing or incompatible" in result.stdout


# -- (c) deny by default ---------------------------------------------------------------------

# Every root field and who it answers. A new root field fails the test below until it is
# given an entry here and a probe further down: nothing is served by accident.
QUERY_ACCESS = {
    "node": "any caller; each type by the scope of its rows (null when not visible)",
    "viewer": "any caller: itself only",
    "factories": "the factory itself, active grantees, its country's programme, the platform",
    "factory": "as factories",
    "gatewayExports": "HOST: its own exports while a grant is active",
    "countryStatistics": "PROGRAMME and CONSTITUENT of the country; cells of 5 factories or more",
    "publicFindings": "anyone, anonymous included: findings flagged public (rule 13)",
    "zeroToleranceFindings": "the labour inspectorate and programme of the country, "
    "ASSESSMENT grantees, the platform (rule 15)",
    "enrolledFactories": "HOST and the platform (rule 17)",
    "organizations": "the platform; anyone else its own organisation",
    # Reference data, not factory data: the same catalogue for every caller, naming no
    # factory, shown by frontends before sign-in (as countries are public).
    "questions": "anyone, anonymous included: the catalogue is reference data",
    "directory": "FACTORY_MANAGER and PLATFORM_ADMIN: brands and hosts by name, kind, country",
    "webhookDeliveries": "HOST_INTEGRATION: its own; PLATFORM_ADMIN: every host's",
}

MUTATION_ACCESS = {
    "grantConsent": "FACTORY_MANAGER of the factory (rule 1)",
    "revokeConsent": "FACTORY_MANAGER of the factory (rule 1)",
    "updateConsent": "FACTORY_MANAGER of the factory (rule 1)",
    "registerSlcp": "FACTORY_MANAGER of the factory (rule 1)",
    "submitSelfAssessment": "FACTORY_MANAGER of the factory (rule 1)",
    "enrollFactory": "ASSESSOR of the country's programme",
    "recordAssessment": "ASSESSOR of the factory's country",
    "releaseAssessment": "ASSESSOR of the factory's country; PLATFORM_ADMIN past 28 days",
    "createOrganization": "PLATFORM_ADMIN",
    "setCountryRollout": "PLATFORM_ADMIN",
    "createUser": "PLATFORM_ADMIN",
    "disableUser": "PLATFORM_ADMIN",
    "enableUser": "PLATFORM_ADMIN",
    "issueApiKey": "PLATFORM_ADMIN",
    "revokeApiKey": "PLATFORM_ADMIN",
    "setHostWebhook": "PLATFORM_ADMIN",
    "registerHostKey": "PLATFORM_ADMIN",
    "registerOwnHostKey": "HOST_INTEGRATION: its own organisation",
    "setOwnWebhook": "HOST_INTEGRATION: its own organisation",
    "issueOwnApiKey": "HOST_INTEGRATION: its own organisation",
    "revokeOwnApiKey": "HOST_INTEGRATION: its own keys (another's is NOT_FOUND)",
    "sendTestWebhook": "HOST_INTEGRATION: its own webhook",
}

ROOT_FIELDS = """
query RootFields {
  __schema {
    queryType { fields { name } }
    mutationType { fields { name } }
  }
}
"""


async def _root_fields(api: Any) -> tuple[set[str], set[str]]:
    schema = (await api.gql(ROOT_FIELDS))["__schema"]
    return (
        {f["name"] for f in schema["queryType"]["fields"]},
        {f["name"] for f in schema["mutationType"]["fields"]},
    )


async def test_every_root_field_has_an_access_case(api: Any) -> None:
    queries, mutations = await _root_fields(api)

    assert queries - QUERY_ACCESS.keys() == set(), "root Query fields without an access case"
    assert mutations - MUTATION_ACCESS.keys() == set(), "Mutation fields without an access case"
    assert QUERY_ACCESS.keys() - queries == set(), "access cases of Query fields that are gone"
    assert MUTATION_ACCESS.keys() - mutations == set(), (
        "access cases of Mutation fields that are gone"
    )


def _fields_of_every_type() -> set[str]:
    """``Type.field`` of every object type and interface the schema serves, but the roots."""
    schema = build_schema(Settings())._schema
    return {
        f"{name}.{field}"
        for name, type_ in schema.type_map.items()
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType)
        and not name.startswith("__")
        and name not in ("Query", "Mutation")
        for field in type_.fields
    }


def test_every_field_of_every_type_has_an_access_rule() -> None:
    fields = _fields_of_every_type()

    missing = sorted(fields - FIELD_ACCESS.keys())
    gone = sorted(FIELD_ACCESS.keys() - fields)

    assert missing == [], (
        "fields with no access rule: add to FIELD_ACCESS in tests/field_access.py\n"
        + "\n".join(f'    "{field}": "<who may read it, or AS_PARENT>",' for field in missing)
    )
    assert gone == [], f"remove from FIELD_ACCESS in tests/field_access.py (no such field): {gone}"
    assert all(rule.strip() for rule in FIELD_ACCESS.values()), "an access rule is empty"


class Probe:
    """What a brand with no grant sends to one root field, and what it must get.

    ``nothing(data, anonymous, own)`` gets the stranger's answer, the anonymous public's
    answer to the same request, and the stranger's own organisation id.
    """

    def __init__(
        self,
        document: str,
        variables: Callable[[DemoWorld, dict[str, int]], list[dict[str, Any]]],
        nothing: Callable[[dict[str, Any], dict[str, Any], str], bool],
    ) -> None:
        self.document = document
        self.variables = variables
        self.nothing = nothing


COUNTRIES = ["ID", "BD", "VN", "KH", "ET"]


def _each_country(world: DemoWorld, ids: dict[str, int]) -> list[dict[str, Any]]:
    return [{"country": c} for c in COUNTRIES]


def _all_and_each_country(world: DemoWorld, ids: dict[str, int]) -> list[dict[str, Any]]:
    return [{}, *_each_country(world, ids)]


def _each_factory(world: DemoWorld, ids: dict[str, int]) -> list[dict[str, Any]]:
    return [{"id": gid("Factory", pk)} for pk in world.factory_ids.values()]


def _once(world: DemoWorld, ids: dict[str, int]) -> list[dict[str, Any]]:
    return [{}]


def _every_node(world: DemoWorld, ids: dict[str, int]) -> list[dict[str, Any]]:
    return [{"id": gid(kind, pk)} for kind, pk in ids.items()]


NODE = "query($id: ID!) { node(id: $id) { id } }"
VIEWER = "{ viewer { factoryId organization { id } } }"
FACTORIES = """
query($country: String) { factories(first: 100, country: $country) { totalCount edges { cursor } } }
"""
FACTORY = "query($id: ID!) { factory(id: $id) { id } }"
GATEWAY_EXPORTS = "{ gatewayExports(first: 100) { edges { cursor } } }"
STATISTICS = """
query($country: String!) { countryStatistics(country: $country) { factories suppressed } }
"""
PUBLIC_FINDINGS = """
query($country: String) { publicFindings(country: $country, first: 100) { factoryName cluster } }
"""
ZERO_TOLERANCE = (
    "query($country: String!) { zeroToleranceFindings(country: $country) { factoryId } }"
)
ENROLLED = "{ enrolledFactories(first: 100) { name } }"
ORGANIZATIONS = "{ organizations { id } }"
QUESTIONS = """
query($country: String!) { questions(country: $country, first: 100) { code cafRef step } }
"""
WEBHOOK_DELIVERIES = "{ webhookDeliveries(first: 100) { totalCount edges { cursor } } }"
DIRECTORY = """
query($kind: OrganizationKind) {
  directory(first: 100, kind: $kind) { totalCount edges { cursor } }
}
"""


def _all_and_each_kind(world: DemoWorld, ids: dict[str, int]) -> list[dict[str, Any]]:
    return [{}, *({"kind": kind} for kind in m.OrganizationKind)]


QUERY_PROBES = {
    "node": Probe(NODE, _every_node, lambda data, anon, own: data["node"] is None),
    "viewer": Probe(
        VIEWER,
        _once,
        lambda data, anon, own: data["viewer"] == {"factoryId": None, "organization": {"id": own}},
    ),
    "factories": Probe(
        FACTORIES,
        _all_and_each_country,
        lambda data, anon, own: data["factories"] == {"totalCount": 0, "edges": []},
    ),
    "factory": Probe(FACTORY, _each_factory, lambda data, anon, own: data["factory"] is None),
    "gatewayExports": Probe(
        GATEWAY_EXPORTS,
        _once,
        lambda data, anon, own: data["gatewayExports"]["edges"] == [],
    ),
    "countryStatistics": Probe(
        STATISTICS,
        _each_country,
        lambda data, anon, own: data["countryStatistics"] == [],
    ),
    # Public data: the stranger gets exactly what the anonymous public gets, no more.
    "publicFindings": Probe(
        PUBLIC_FINDINGS,
        _all_and_each_country,
        lambda data, anon, own: data == anon,
    ),
    "zeroToleranceFindings": Probe(
        ZERO_TOLERANCE,
        _each_country,
        lambda data, anon, own: data["zeroToleranceFindings"] == [],
    ),
    "enrolledFactories": Probe(
        ENROLLED,
        _once,
        lambda data, anon, own: data["enrolledFactories"] == [],
    ),
    "organizations": Probe(
        ORGANIZATIONS,
        _once,
        lambda data, anon, own: data["organizations"] == [{"id": own}],
    ),
    # Public reference data: the stranger gets exactly what the anonymous public gets.
    "questions": Probe(QUESTIONS, _each_country, lambda data, anon, own: data == anon),
    "directory": Probe(
        DIRECTORY,
        _all_and_each_kind,
        lambda data, anon, own: data["directory"] == {"totalCount": 0, "edges": []},
    ),
    "webhookDeliveries": Probe(
        WEBHOOK_DELIVERIES,
        _once,
        lambda data, anon, own: data["webhookDeliveries"] == {"totalCount": 0, "edges": []},
    ),
}


@pytest.fixture
async def world_and_stranger(
    session: AsyncSession, keys: KeyMaterial, api: Any
) -> tuple[DemoWorld, int, int]:
    """The demo world, its exports written too (a row of every Node type), and a brand new to
    Millgate that no factory granted anything: (the world, the brand's id, its user's id),
    kept in the database after the first test (tests/world.py)."""

    async def build() -> tuple[DemoWorld, int, int]:
        seeded = await demo_exported(session, keys, api)
        brand = await make_org(session, m.OrganizationKind.BRAND, name="Newcomer Brand")
        user = await make_user(session, brand, m.Role.BRAND_VIEWER)
        await session.commit()
        return seeded, brand.id, user.id

    made = await kept_world(api.runtime.engine, "demo with exports and a newcomer brand", build)
    await session.rollback()  # a fresh snapshot: the copy was written on another connection
    return made


@pytest.fixture
def world(world_and_stranger: tuple[DemoWorld, int, int]) -> DemoWorld:
    return world_and_stranger[0]


@pytest.fixture
def stranger(world_and_stranger: tuple[DemoWorld, int, int], api: Any) -> dict[str, Any]:
    """The newcomer brand's viewer: a token, and the brand's global id."""
    _, brand_id, user_id = world_and_stranger
    token = api.runtime.token_service.issue(user_id, 600)
    return {"token": token, "organization": gid("Organization", brand_id)}


async def _one_of_each_node(session: AsyncSession, world: DemoWorld) -> dict[str, int]:
    """The id of one row of every Node type, each something the stranger may not see."""

    async def first(table: str) -> int:
        return int(await scalar(session, f'SELECT min(id) FROM "{table}"'))  # noqa: S608

    return {
        "Factory": min(world.factory_ids.values()),
        "Organization": min(world.organization_ids.values()),
        "User": await first("app_user"),
        "ApiKey": await first("api_key"),
        "Assessment": await first("assessment"),
        "Finding": await first("finding"),
        "SelfAssessment": await first("self_assessment"),
        "ConsentGrant": await first("consent_grant"),
        "GatewayExport": await first("gateway_export"),
    }


@pytest.mark.parametrize("field", sorted(QUERY_ACCESS))
async def test_a_brand_without_grants_gets_nothing_from_any_root_field(
    api: Any, world: DemoWorld, session: AsyncSession, stranger: dict[str, Any], field: str
) -> None:
    assert field in QUERY_PROBES, f"root Query field {field!r} has no probe: add one"
    probe = QUERY_PROBES[field]

    for variables in probe.variables(world, await _one_of_each_node(session, world)):
        data = await api.gql(probe.document, variables, token=stranger["token"])
        anonymous = await api.gql(probe.document, variables)

        assert probe.nothing(data, anonymous, stranger["organization"]), (
            f"{field}({variables}) answered a brand with no grant: {data}"
        )


# The probes can fail: these callers, who may read the field, do not get "nothing". (Not
# countryStatistics, whose demo cells are all suppressed, nor the public publicFindings, nor
# webhookDeliveries, none in the demo: tests/api/test_host_self_service.py reads them.)
PROBE_READERS = {
    "node": "admin",
    "viewer": "admin",
    "factories": "admin",
    "factory": "admin",
    "gatewayExports": "host",
    "zeroToleranceFindings": "admin",
    "enrolledFactories": "admin",
    "organizations": "admin",
    "directory": "admin",
}


@pytest.mark.parametrize("field", sorted(PROBE_READERS))
async def test_the_probes_see_what_a_reader_gets(
    api: Any, world: DemoWorld, session: AsyncSession, stranger: dict[str, Any], field: str
) -> None:
    probe = QUERY_PROBES[field]
    admin = await scalar(session, "SELECT id FROM app_user WHERE role = 'PLATFORM_ADMIN'")
    auth = (
        {"api_key": world.host_api_key}
        if PROBE_READERS[field] == "host"
        else {"token": api.runtime.token_service.issue(admin, 600)}
    )

    answers = [
        probe.nothing(
            await api.gql(probe.document, variables, **auth),
            await api.gql(probe.document, variables),
            stranger["organization"],
        )
        for variables in probe.variables(world, await _one_of_each_node(session, world))
    ]

    assert not all(answers), f"{field}: a reader got nothing either"


def _mutation(field: str, input_type: str, result: str) -> str:
    return f"mutation($i: {input_type}!) {{ {field}(input: $i) {{ {result} errors {{ code }} }} }}"


HOST = "open-audit-hub"
X25519 = {"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}

# Each mutation, sent by the stranger with input naming real rows of the demo world.
MutationInput = Callable[[DemoWorld, dict[str, int]], dict[str, Any]]
MUTATION_PROBES: dict[str, tuple[str, MutationInput]] = {
    "grantConsent": (
        _mutation("grantConsent", "GrantConsentInput", "grant { id }"),
        lambda w, i: {
            "factoryId": gid("Factory", i["Factory"]),
            "granteeId": gid("Organization", w.organization_ids[HOST]),
            "scopes": ["ASSESSMENT"],
        },
    ),
    "revokeConsent": (
        _mutation("revokeConsent", "RevokeConsentInput", "grant { id }"),
        lambda w, i: {"grantId": gid("ConsentGrant", i["ConsentGrant"])},
    ),
    "updateConsent": (
        _mutation("updateConsent", "UpdateConsentInput", "grant { id }"),
        lambda w, i: {
            "grantId": gid("ConsentGrant", i["ConsentGrant"]),
            "scopes": ["ASSESSMENT"],
        },
    ),
    "registerSlcp": (
        _mutation("registerSlcp", "RegisterSlcpInput", "factory { id }"),
        lambda w, i: {
            "factoryId": gid("Factory", i["Factory"]),
            "gatewayId": "SLCP-XX-1",
            "confirmAssessmentSharing": True,
        },
    ),
    "submitSelfAssessment": (
        _mutation("submitSelfAssessment", "SubmitSelfAssessmentInput", "selfAssessment { id }"),
        lambda w, i: {
            "factoryId": gid("Factory", i["Factory"]),
            "cycle": 3,
            "step": 1,
            "toolVersion": "CAF 1.4",
            "answers": {"CL.01.1": "yes"},
        },
    ),
    "enrollFactory": (
        _mutation("enrollFactory", "EnrollFactoryInput", "factory { id }"),
        lambda w, i: {"name": "PT Baru", "country": "ID", "enrolledOn": "2026-01-05"},
    ),
    "recordAssessment": (
        _mutation("recordAssessment", "RecordAssessmentInput", "assessment { id }"),
        lambda w, i: {
            "factoryId": gid("Factory", i["Factory"]),
            "cycle": 3,
            "kind": "ONSITE",
            "assessedOn": "2026-01-05",
            "findings": [],
        },
    ),
    "releaseAssessment": (
        _mutation("releaseAssessment", "ReleaseAssessmentInput", "assessment { id }"),
        lambda w, i: {
            "assessmentId": gid("Assessment", i["Assessment"]),
            "releasedOn": "2026-01-05",
        },
    ),
    "createOrganization": (
        _mutation("createOrganization", "CreateOrganizationInput", "organization { id }"),
        lambda w, i: {"name": "Another Brand", "kind": "BRAND"},
    ),
    "setCountryRollout": (
        _mutation("setCountryRollout", "SetCountryRolloutInput", "country { code }"),
        lambda w, i: {"code": "KH", "slcpRolloutOn": "2024-01-01"},
    ),
    "createUser": (
        _mutation("createUser", "CreateUserInput", "user { id }"),
        lambda w, i: {
            "organizationId": gid("Organization", i["Organization"]),
            "email": "x@example.com",
            "role": "PLATFORM_ADMIN",
        },
    ),
    "disableUser": (
        _mutation("disableUser", "DisableUserInput", "user { id }"),
        lambda w, i: {"userId": gid("User", i["User"])},
    ),
    "enableUser": (
        _mutation("enableUser", "EnableUserInput", "user { id }"),
        lambda w, i: {"userId": gid("User", i["User"])},
    ),
    "issueApiKey": (
        _mutation("issueApiKey", "IssueApiKeyInput", "apiKey { id } secret"),
        lambda w, i: {"organizationId": gid("Organization", w.organization_ids[HOST])},
    ),
    "revokeApiKey": (
        _mutation("revokeApiKey", "RevokeApiKeyInput", "apiKey { id }"),
        lambda w, i: {"apiKeyId": gid("ApiKey", i["ApiKey"])},
    ),
    "setHostWebhook": (
        _mutation("setHostWebhook", "SetHostWebhookInput", "organization { id } secret"),
        lambda w, i: {
            "organizationId": gid("Organization", w.organization_ids[HOST]),
            "url": "https://hooks.example.com/millgate",
        },
    ),
    "registerHostKey": (
        _mutation("registerHostKey", "RegisterHostKeyInput", "organization { id }"),
        lambda w, i: {
            "organizationId": gid("Organization", w.organization_ids[HOST]),
            "publicJwk": X25519,
        },
    ),
    "registerOwnHostKey": (
        _mutation("registerOwnHostKey", "RegisterOwnHostKeyInput", "organization { id }"),
        lambda w, i: {"publicJwk": X25519},
    ),
    "setOwnWebhook": (
        _mutation("setOwnWebhook", "SetOwnWebhookInput", "organization { id } secret"),
        lambda w, i: {"url": "https://hooks.example.com/millgate"},
    ),
    # No input: the stranger's variable is not declared, and so is not read.
    "issueOwnApiKey": (
        "mutation { issueOwnApiKey { apiKey { id } secret errors { code } } }",
        lambda w, i: {},
    ),
    "revokeOwnApiKey": (
        _mutation("revokeOwnApiKey", "RevokeOwnApiKeyInput", "apiKey { id }"),
        lambda w, i: {"apiKeyId": gid("ApiKey", i["ApiKey"])},
    ),
    "sendTestWebhook": (
        "mutation { sendTestWebhook { delivery { id } errors { code } } }",
        lambda w, i: {},
    ),
}


@pytest.mark.parametrize("field", sorted(MUTATION_ACCESS))
async def test_a_brand_without_grants_can_change_nothing(
    api: Any, world: DemoWorld, session: AsyncSession, stranger: dict[str, Any], field: str
) -> None:
    assert field in MUTATION_PROBES, f"mutation {field!r} has no probe: add one"
    document, make_input = MUTATION_PROBES[field]
    variables = {"i": make_input(world, await _one_of_each_node(session, world))}
    before = await row_counts(session)

    data = await api.gql(document, variables, token=stranger["token"])

    (payload,) = data.values()
    assert codes(payload) in (["FORBIDDEN"], ["NOT_FOUND"]), payload
    assert all(v is None for k, v in payload.items() if k != "errors")
    assert await row_counts(session) == before


async def test_every_root_field_has_a_probe(api: Any) -> None:
    queries, mutations = await _root_fields(api)

    assert queries - QUERY_PROBES.keys() == set()
    assert mutations - MUTATION_PROBES.keys() == set()
