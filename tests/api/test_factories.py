"""`factories`, `factory(id)` and everything nested under a factory, for each audience."""

from __future__ import annotations

from typing import Any

import pytest

from demo import DemoWorld
from tests.api.support import (
    CAHAYA,
    CHATTOGRAM,
    DHAKA,
    DONG_NAI,
    HANOI,
    KAMPONG,
    MITRA,
    PHNOM_PENH,
    SAIGON,
    SINAR,
    error_codes,
    factory_gid,
    gid,
    gql_named,
)

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

FACTORY_NAMES = """
query Factories($first: Int, $after: String, $country: String) {
  factories(first: $first, after: $after, country: $country) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id name country { code } } }
  }
}
"""

FACTORY = """
query Factory($id: ID!) {
  factory(id: $id) {
    id name enrolledOn highPerformance
    organization { name kind }
    country { code name slcpRolloutOn }
    slcp { gatewayId registeredOn verifierBody assessmentSharingConfirmedOn }
  }
}
"""

ASSESSMENTS = """
query Assessments($id: ID!, $first: Int, $after: String) {
  factory(id: $id) {
    assessments(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { cycle kind status assessedOn releasedOn gatewayReleaseOn } }
    }
  }
}
"""

FINDINGS = """
query Findings($id: ID!, $cluster: ComplianceCluster, $nonCompliantOnly: Boolean) {
  factory(id: $id) {
    assessments(first: 1) {
      edges { node {
        cycle
        findings(first: 50, cluster: $cluster, nonCompliantOnly: $nonCompliantOnly) {
          totalCount
          edges { node {
            cluster compliancePoint questionCode nonCompliant publicReporting zeroTolerance detail
          } }
        }
      } }
    }
  }
}
"""

FINDINGS_PAGE = """
query FindingsPage($id: ID!, $after: String) {
  factory(id: $id) {
    assessments(first: 1) { edges { node { findings(first: 5, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { questionCode } }
    } } } }
  }
}
"""

SELF_ASSESSMENTS = """
query SelfAssessments($id: ID!) {
  factory(id: $id) { selfAssessments { cycle step toolVersion submittedAt answers } }
}
"""

GRANTS = """
query Grants($id: ID!) {
  factory(id: $id) {
    consentGrants {
      active scopes grantedAt expiresAt revokedAt grantee { name kind } factory { name }
    }
  }
}
"""

ACCESS_LOG = """
query AccessLog($id: ID!, $first: Int, $after: String) {
  factory(id: $id) {
    accessLog(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { node { at operation organization { name kind } } }
    }
  }
}
"""

ELIGIBILITY = """
query Eligibility($id: ID!, $cycle: Int!) {
  factory(id: $id) { gatewayEligibility(cycle: $cycle) { eligible reasons gatewayReleaseOn } }
}
"""

SLCP_AND_ELIGIBILITY = """
query SlcpAndEligibility($id: ID!, $cycle: Int!) {
  factory(id: $id) { slcp { gatewayId } gatewayEligibility(cycle: $cycle) { eligible reasons } }
}
"""

ALL_FACTORIES = {
    SINAR,
    MITRA,
    CAHAYA,
    DHAKA,
    CHATTOGRAM,
    "Gazipur Denim Mills Ltd.",
    SAIGON,
    HANOI,
    DONG_NAI,
    PHNOM_PENH,
    KAMPONG,
    "Hawassa Apparel PLC",
}


# -- factories -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        pytest.param("manager", {SINAR}, id="factory-sees-itself"),
        pytest.param("brand", {SINAR, DHAKA, KAMPONG}, id="brand-sees-active-grants"),
        pytest.param(
            "other_brand", {CHATTOGRAM, SAIGON}, id="brand-with-an-expired-grant-loses-it"
        ),
        pytest.param("assessor", {SINAR, MITRA, CAHAYA}, id="programme-sees-its-country"),
        pytest.param("host_key", {SINAR, CAHAYA, DHAKA, SAIGON, PHNOM_PENH}, id="host-sees-grants"),
        pytest.param("admin", ALL_FACTORIES, id="platform-sees-all"),
        pytest.param("constituent", set(), id="constituent-sees-none"),
        pytest.param("inspectorate", set(), id="inspectorate-sees-none"),
        pytest.param("anonymous", set(), id="public-sees-none"),
    ],
)
async def test_factories_lists_what_the_caller_may_see(
    api: Any, auth_of: dict[str, dict[str, str]], caller: str, expected: set[str]
) -> None:
    data = (await api.gql(FACTORY_NAMES, {"first": 100}, **auth_of[caller]))["factories"]

    assert {e["node"]["name"] for e in data["edges"]} == expected
    assert data["totalCount"] == len(expected)
    assert data["pageInfo"]["hasNextPage"] is False


async def test_factories_pages_with_first_and_after(api: Any, admin: Any) -> None:
    # given the platform, which sees all twelve demo factories
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    after = None

    # when it walks the list five at a time
    while True:
        page = (await api.gql(FACTORY_NAMES, {"first": 5, "after": after}, **admin.auth))[
            "factories"
        ]
        pages.append(page)
        seen += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    # then it gets 5 + 5 + 2, every factory once, the total on every page
    assert [len(p["edges"]) for p in pages] == [5, 5, 2]
    assert sorted(seen) == sorted(ALL_FACTORIES)
    assert {p["totalCount"] for p in pages} == {12}
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, False]
    assert all(p["pageInfo"]["endCursor"] == p["edges"][-1]["cursor"] for p in pages)


async def test_factories_first_zero_counts_without_rows(api: Any, admin: Any) -> None:
    data = (await api.gql(FACTORY_NAMES, {"first": 0}, **admin.auth))["factories"]

    assert data["edges"] == []
    assert data["totalCount"] == 12
    assert data["pageInfo"] == {"hasNextPage": True, "endCursor": None}


@pytest.mark.parametrize(
    ("caller", "country", "expected"),
    [
        pytest.param(
            "admin", "BD", {DHAKA, CHATTOGRAM, "Gazipur Denim Mills Ltd."}, id="platform-BD"
        ),
        pytest.param("admin", "kh", {PHNOM_PENH, KAMPONG}, id="lower-case-code"),
        pytest.param("brand", "BD", {DHAKA}, id="brand-BD-within-its-grants"),
        pytest.param("assessor", "BD", set(), id="programme-of-another-country"),
        pytest.param("admin", "FR", set(), id="country-without-factories"),
    ],
)
async def test_factories_filter_by_country(
    api: Any, auth_of: dict[str, dict[str, str]], caller: str, country: str, expected: set[str]
) -> None:
    data = (await api.gql(FACTORY_NAMES, {"country": country}, **auth_of[caller]))["factories"]

    assert {e["node"]["name"] for e in data["edges"]} == expected
    assert data["totalCount"] == len(expected)


@pytest.mark.parametrize(
    "country", ["IDN", "I", "1D", ""], ids=["three-letters", "one-letter", "digit", "empty"]
)
async def test_factories_refuse_a_malformed_country(api: Any, admin: Any, country: str) -> None:
    response = await api.post(FACTORY_NAMES, {"country": country}, **admin.auth)

    assert error_codes(response.json()) == ["BAD_ARGUMENT"]


# -- factory(id) -----------------------------------------------------------------------------


async def test_factory_profile_for_its_owner_shows_the_slcp_registration(
    api: Any, world: DemoWorld, manager: Any
) -> None:
    factory = (await api.gql(FACTORY, {"id": factory_gid(world, SINAR)}, **manager.auth))["factory"]

    assert factory == {
        "id": factory_gid(world, SINAR),
        "name": SINAR,
        "enrolledOn": "2023-11-06",
        "highPerformance": False,
        "organization": {"name": SINAR, "kind": "FACTORY"},
        "country": {"code": "ID", "name": "Indonesia", "slcpRolloutOn": "2021-05-31"},
        "slcp": {
            "gatewayId": "SLCP-ID-000101",
            "registeredOn": "2024-01-10",
            "verifierBody": "Better Work",
            "assessmentSharingConfirmedOn": "2024-01-15",
        },
    }


@pytest.mark.parametrize(
    ("caller", "slcp_visible"),
    [
        pytest.param("manager", True, id="owner"),
        pytest.param("assessor", True, id="programme"),
        pytest.param("host_key", True, id="host-with-grant"),
        pytest.param("admin", True, id="platform"),
        pytest.param("brand", False, id="brand-never-rule-8"),
    ],
)
async def test_factory_slcp_registration_is_hidden_from_brands(
    api: Any, world: DemoWorld, auth_of: dict[str, dict[str, str]], caller: str, slcp_visible: bool
) -> None:
    factory = (await api.gql(FACTORY, {"id": factory_gid(world, SINAR)}, **auth_of[caller]))[
        "factory"
    ]

    assert factory["name"] == SINAR
    assert (factory["slcp"] is not None) is slcp_visible


@pytest.mark.parametrize(
    ("caller", "name"),
    [
        pytest.param("other_brand", SINAR, id="brand-without-grant"),
        pytest.param("other_brand", MITRA, id="brand-whose-grant-expired"),
        pytest.param("brand", "Hanoi Fashion Garment JSC", id="brand-whose-grant-expired-2"),
        pytest.param("constituent", SINAR, id="constituent"),
        pytest.param("anonymous", SINAR, id="public"),
        pytest.param("assessor", DHAKA, id="programme-of-another-country"),
        pytest.param("manager", MITRA, id="another-factory"),
    ],
)
async def test_factory_is_null_for_who_may_not_see_it(
    api: Any, world: DemoWorld, auth_of: dict[str, dict[str, str]], caller: str, name: str
) -> None:
    data = await api.gql(FACTORY, {"id": factory_gid(world, name)}, **auth_of[caller])

    assert data == {"factory": None}


async def test_factory_of_an_id_of_another_type_is_null(
    api: Any, world: DemoWorld, admin: Any
) -> None:
    # given the id of Sinar Garmen's organisation: the same kind of number, another type
    org_id = gid("Organization", world.organization_ids["sinar-garmen"])

    assert (await api.gql(FACTORY, {"id": org_id}, **admin.auth))["factory"] is None


# -- assessments and findings ----------------------------------------------------------------


async def test_assessments_newest_first_with_paging(api: Any, world: DemoWorld, brand: Any) -> None:
    # given Sinar Garmen's two released cycles, read by a brand it granted
    first = await api.gql(ASSESSMENTS, {"id": factory_gid(world, SINAR), "first": 1}, **brand.auth)
    page1 = first["factory"]["assessments"]

    # when the brand asks for the rest
    page2 = (
        await api.gql(
            ASSESSMENTS,
            {"id": factory_gid(world, SINAR), "first": 1, "after": page1["pageInfo"]["endCursor"]},
            **brand.auth,
        )
    )["factory"]["assessments"]

    # then it gets cycle 2, then cycle 1, with the dates Better Work released them on
    assert page1["totalCount"] == page2["totalCount"] == 2
    assert page1["pageInfo"]["hasNextPage"] is True
    assert page2["pageInfo"]["hasNextPage"] is False
    assert [e["node"] for e in page1["edges"] + page2["edges"]] == [
        {
            "cycle": 2,
            "kind": "ONSITE",
            "status": "RELEASED",
            "assessedOn": "2025-05-20",
            "releasedOn": "2025-06-13",
            "gatewayReleaseOn": "2025-06-28",
        },
        {
            "cycle": 1,
            "kind": "ONSITE",
            "status": "RELEASED",
            "assessedOn": "2024-05-14",
            "releasedOn": "2024-06-07",
            "gatewayReleaseOn": "2024-06-22",
        },
    ]


async def test_assessments_show_a_virtual_check_as_such(
    api: Any, world: DemoWorld, admin: Any
) -> None:
    data = await api.gql(ASSESSMENTS, {"id": factory_gid(world, SAIGON)}, **admin.auth)

    kinds = {e["node"]["cycle"]: e["node"]["kind"] for e in data["factory"]["assessments"]["edges"]}
    assert kinds == {1: "VIRTUAL_COMPLIANCE_CHECK", 2: "ONSITE"}


@pytest.mark.parametrize(
    ("caller", "name", "cycles"),
    [
        pytest.param("assessor", SINAR, [2, 1], id="programme-reads-all"),
        pytest.param("brand", DHAKA, [2, 1], id="brand-with-ASSESSMENT-scope"),
        pytest.param("other_brand", SAIGON, [], id="brand-with-SELF_ASSESSMENT-scope-only"),
        pytest.param("host_key", SINAR, [], id="host-gets-assessments-via-exports"),
        pytest.param("admin", HANOI, [1], id="release-date-ahead-is-hidden"),
        pytest.param("manager", SINAR, [2, 1], id="owner"),
    ],
)
async def test_assessments_follow_scope_and_release(
    api: Any,
    world: DemoWorld,
    auth_of: dict[str, dict[str, str]],
    caller: str,
    name: str,
    cycles: list[int],
) -> None:
    data = await api.gql(ASSESSMENTS, {"id": factory_gid(world, name)}, **auth_of[caller])

    assessments = data["factory"]["assessments"]
    assert [e["node"]["cycle"] for e in assessments["edges"]] == cycles
    assert assessments["totalCount"] == len(cycles)


async def test_drafts_are_seen_by_the_programme_only(
    api: Any, world: DemoWorld, login: Any, admin: Any
) -> None:
    # given Gazipur Denim (Bangladesh), whose cycle 2 assessment is a draft
    programme = await login("assessor@bw-bd.demo")
    factory = await login("manager@gazipur-denim.demo")
    gazipur = {"id": factory_gid(world, "Gazipur Denim Mills Ltd.")}

    def statuses(data: dict[str, Any]) -> list[str]:
        return [e["node"]["status"] for e in data["factory"]["assessments"]["edges"]]

    # then the programme sees the draft; the factory itself and the platform do not
    assert statuses(await api.gql(ASSESSMENTS, gazipur, **programme.auth)) == ["DRAFT", "RELEASED"]
    assert statuses(await api.gql(ASSESSMENTS, gazipur, **factory.auth)) == ["RELEASED"]
    assert statuses(await api.gql(ASSESSMENTS, gazipur, **admin.auth)) == ["RELEASED"]


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        pytest.param({}, 11, id="all"),
        pytest.param({"nonCompliantOnly": True}, 2, id="non-compliant-only"),
        pytest.param({"nonCompliantOnly": False}, 11, id="non-compliant-only-false"),
        pytest.param({"cluster": "WORKING_TIME"}, 2, id="cluster"),
        pytest.param(
            {"cluster": "WORKING_TIME", "nonCompliantOnly": True}, 1, id="cluster-and-non-compliant"
        ),
        pytest.param({"cluster": "DISCRIMINATION", "nonCompliantOnly": True}, 0, id="none-match"),
    ],
)
async def test_findings_filter_by_cluster_and_compliance(
    api: Any, world: DemoWorld, brand: Any, variables: dict[str, Any], expected: int
) -> None:
    # given Sinar Garmen's latest assessment (cycle 2: the baseline, WT.02.1 and BW.02.1 found)
    data = await api.gql(FINDINGS, {"id": factory_gid(world, SINAR), **variables}, **brand.auth)

    findings = data["factory"]["assessments"]["edges"][0]["node"]["findings"]
    nodes = [e["node"] for e in findings["edges"]]
    assert findings["totalCount"] == len(nodes) == expected
    if "cluster" in variables:
        assert {n["cluster"] for n in nodes} <= {variables["cluster"]}
    if variables.get("nonCompliantOnly"):
        assert all(n["nonCompliant"] for n in nodes)


async def test_findings_carry_their_decrypted_detail(
    api: Any, world: DemoWorld, brand: Any
) -> None:
    data = await api.gql(
        FINDINGS, {"id": factory_gid(world, SINAR), "nonCompliantOnly": True}, **brand.auth
    )

    nodes = [
        e["node"] for e in data["factory"]["assessments"]["edges"][0]["node"]["findings"]["edges"]
    ]
    assert {n["questionCode"]: n["detail"] for n in nodes} == {
        "WT.02.1": "Overtime above 56 hours a week for 25 workers in peak season.",
        "BW.02.1": "No written grievance procedure.",
    }
    # Better Work's own questions sit among the others with no mark of their side (rule 7).
    assert set(nodes[0]) == set(nodes[1])


async def test_findings_page_with_first_and_after(api: Any, world: DemoWorld, brand: Any) -> None:
    seen: list[str] = []
    after = None
    while True:
        data = await api.gql(
            FINDINGS_PAGE, {"id": factory_gid(world, SINAR), "after": after}, **brand.auth
        )
        page = data["factory"]["assessments"]["edges"][0]["node"]["findings"]
        seen += [e["node"]["questionCode"] for e in page["edges"]]
        assert page["totalCount"] == 11
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert len(seen) == len(set(seen)) == 11


# -- self-assessments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "name", "steps"),
    [
        pytest.param("manager", SINAR, [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)], id="owner"),
        pytest.param(
            "worker_rep", SINAR, [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)], id="worker-rep"
        ),
        pytest.param(
            "brand", SINAR, [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)], id="brand-with-scope"
        ),
        pytest.param("assessor", SINAR, [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)], id="programme"),
        pytest.param("brand", DHAKA, [], id="brand-with-ASSESSMENT-scope-only"),
        pytest.param("host_key", SINAR, [], id="host-via-exports-only"),
        pytest.param(
            "other_brand",
            SAIGON,
            [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)],
            id="brand-with-SELF_ASSESSMENT-scope",
        ),
    ],
)
async def test_self_assessments_follow_the_scope(
    api: Any,
    world: DemoWorld,
    auth_of: dict[str, dict[str, str]],
    caller: str,
    name: str,
    steps: list[tuple[int, int]],
) -> None:
    data = await api.gql(SELF_ASSESSMENTS, {"id": factory_gid(world, name)}, **auth_of[caller])

    rows = data["factory"]["selfAssessments"]
    assert sorted((r["cycle"], r["step"]) for r in rows) == steps


async def test_self_assessment_answers_are_decrypted(
    api: Any, world: DemoWorld, manager: Any
) -> None:
    data = await api.gql(SELF_ASSESSMENTS, {"id": factory_gid(world, SINAR)}, **manager.auth)

    by_step = {(r["cycle"], r["step"]): r for r in data["factory"]["selfAssessments"]}
    step_1 = by_step[(1, 1)]
    assert step_1["toolVersion"] == "CAF 1.4"
    assert step_1["submittedAt"].startswith("2024-04-10")
    assert step_1["answers"]["CO.01.1"] == {
        "answer": "no",
        "note": "Committee found January payslips below the new provincial minimum.",
    }
    assert by_step[(1, 3)]["answers"] == {
        "AB.01.1": {"answer": "no"},
        "AB.01.2": {
            "answer": "yes",
            "note": "Day-care corner opened for workers' children in the canteen.",
        },
    }


# -- consent grants --------------------------------------------------------------------------


async def test_consent_grants_of_a_factory_in_every_state(
    api: Any, world: DemoWorld, manager: Any
) -> None:
    data = await api.gql(GRANTS, {"id": factory_gid(world, SINAR)}, **manager.auth)

    grants = {g["grantee"]["name"]: g for g in data["factory"]["consentGrants"]}
    assert {name: (g["active"], g["scopes"]) for name, g in grants.items()} == {
        "Northwind Apparel": (True, ["ASSESSMENT", "SELF_ASSESSMENT"]),
        "Open Audit Hub": (True, ["ASSESSMENT", "SELF_ASSESSMENT"]),
        "Lumen Basics": (False, ["ASSESSMENT"]),
    }
    assert grants["Lumen Basics"]["revokedAt"].startswith("2025-01-15")
    assert grants["Open Audit Hub"]["grantee"]["kind"] == "HOST"
    assert {g["factory"]["name"] for g in grants.values()} == {SINAR}


@pytest.mark.parametrize(
    ("caller", "name", "grantees"),
    [
        pytest.param("brand", SINAR, {"Northwind Apparel"}, id="brand-sees-its-own-grant-only"),
        pytest.param("host_key", SINAR, {"Open Audit Hub"}, id="host-sees-its-own-grant-only"),
        pytest.param("assessor", MITRA, {"Harbour & Field Outfitters"}, id="programme-reads-all"),
        pytest.param(
            "admin", HANOI, {"Northwind Apparel", "Lumen Basics"}, id="platform-reads-all"
        ),
    ],
)
async def test_consent_grants_by_audience(
    api: Any,
    world: DemoWorld,
    auth_of: dict[str, dict[str, str]],
    caller: str,
    name: str,
    grantees: set[str],
) -> None:
    data = await api.gql(GRANTS, {"id": factory_gid(world, name)}, **auth_of[caller])

    assert {g["grantee"]["name"] for g in data["factory"]["consentGrants"]} == grantees


# -- access log ------------------------------------------------------------------------------


async def test_access_log_shows_the_factory_who_read_its_data(
    api: Any, world: DemoWorld, manager: Any, brand: Any, admin: Any
) -> None:
    # given a brand and the platform read Sinar Garmen's profile
    sinar = {"id": factory_gid(world, SINAR)}
    await gql_named(api, FACTORY, "Factory", sinar, token=brand.token)
    await gql_named(api, FACTORY, "Factory", sinar, token=admin.token)
    # and the factory reads its own data (which is not logged)
    await api.gql(FACTORY, sinar, **manager.auth)

    # when the factory reads its access log
    log = (await api.gql(ACCESS_LOG, sinar, **manager.auth))["factory"]["accessLog"]

    # then it sees both readers, newest first, and not itself
    readers = [(e["node"]["organization"]["name"], e["node"]["operation"]) for e in log["edges"]]
    assert readers == [
        ("Millgate Operations", "query:factory"),
        ("Northwind Apparel", "query:factory"),
    ]


async def test_access_log_pages(api: Any, world: DemoWorld, manager: Any, brand: Any) -> None:
    # given three reads of Sinar Garmen by a brand, through three operations
    sinar = {"id": factory_gid(world, SINAR)}
    await gql_named(api, FACTORY, "Factory", sinar, token=brand.token)
    await gql_named(api, GRANTS, "Grants", sinar, token=brand.token)
    await gql_named(api, FACTORY_NAMES, "Factories", token=brand.token)

    # when the factory reads its log two at a time
    page1 = (await api.gql(ACCESS_LOG, {**sinar, "first": 2}, **manager.auth))["factory"][
        "accessLog"
    ]
    page2 = (
        await api.gql(
            ACCESS_LOG,
            {**sinar, "first": 2, "after": page1["pageInfo"]["endCursor"]},
            **manager.auth,
        )
    )["factory"]["accessLog"]

    # then it gets 2 then 1 entries
    assert [len(page1["edges"]), len(page2["edges"])] == [2, 1]
    assert page1["pageInfo"]["hasNextPage"] is True and page2["pageInfo"]["hasNextPage"] is False
    operations = [e["node"]["operation"] for e in page1["edges"] + page2["edges"]]
    # named by what the server read, not by the reader's operation names
    assert operations == ["query:factories", "query:factory", "query:factory"]


@pytest.mark.parametrize(
    "caller",
    ["brand", "assessor", "admin", "host_key"],
    ids=["brand", "programme", "platform", "host"],
)
async def test_access_log_is_the_factorys_alone(
    api: Any, world: DemoWorld, auth_of: dict[str, dict[str, str]], caller: str
) -> None:
    # given the log is not empty
    sinar = {"id": factory_gid(world, SINAR)}
    await api.gql(FACTORY, sinar, **auth_of["brand"])

    # then nobody but the factory reads it
    log = (await api.gql(ACCESS_LOG, sinar, **auth_of[caller]))["factory"]["accessLog"]
    assert log == {"pageInfo": {"hasNextPage": False, "endCursor": None}, "edges": []}


# -- gateway eligibility ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cycle", "eligible", "reasons"),
    [
        pytest.param(SINAR, 1, True, [], id="eligible"),
        pytest.param(
            MITRA,
            1,
            False,
            ["NOT_REGISTERED", "SHARING_NOT_CONFIRMED", "NO_SELF_ASSESSMENT"],
            id="outside-SLCP",
        ),
        pytest.param(
            CAHAYA, 1, False, ["SELF_ASSESSMENT_LATE"], id="self-assessed-after-assessment"
        ),
        pytest.param(CAHAYA, 2, True, [], id="a-later-cycle-can-be-shared"),
        pytest.param(
            CHATTOGRAM,
            1,
            False,
            ["REGISTERED_LATE", "SHARING_CONFIRMED_LATE"],
            id="registered-after-assessment",
        ),
        pytest.param(PHNOM_PENH, 1, False, ["COUNTRY_NOT_ROLLED_OUT"], id="country-not-rolled-out"),
        # The platform may not read drafts: nothing of an unreleased assessment shows (rule 5).
        pytest.param(HANOI, 2, False, ["NO_ASSESSMENT"], id="release-date-ahead-hidden"),
        # Only the programme, which sees every cycle, is told that one does not exist.
        pytest.param(
            SINAR, 99, False, ["NO_SELF_ASSESSMENT", "NO_ASSESSMENT"], id="no-such-cycle-empty"
        ),
    ],
)
async def test_gateway_eligibility_names_every_unmet_condition(
    api: Any,
    world: DemoWorld,
    admin: Any,
    name: str,
    cycle: int,
    eligible: bool,
    reasons: list[str],
) -> None:
    data = await api.gql(
        ELIGIBILITY, {"id": factory_gid(world, name), "cycle": cycle}, **admin.auth
    )

    answer = data["factory"]["gatewayEligibility"]
    assert (answer["eligible"], answer["reasons"]) == (eligible, reasons)


async def test_gateway_eligibility_tells_the_programme_an_assessment_awaits_release(
    api: Any, world: DemoWorld, login: Any
) -> None:
    # given Hanoi Fashion's cycle 2, released with a release date ahead
    programme = await login("assessor@bw-vn.demo")
    factory = await login("manager@hanoi-fashion.demo")
    hanoi = {"id": factory_gid(world, HANOI), "cycle": 2}

    # then its programme, which reads drafts, is told why; the factory itself is told nothing
    seen = await api.gql(ELIGIBILITY, hanoi, **programme.auth)
    hidden = await api.gql(ELIGIBILITY, hanoi, **factory.auth)
    assert seen["factory"]["gatewayEligibility"]["reasons"] == ["NOT_RELEASED"]
    assert hidden["factory"]["gatewayEligibility"]["reasons"] == ["NO_ASSESSMENT"]


async def test_gateway_eligibility_gives_the_gateway_release_date(
    api: Any, world: DemoWorld, manager: Any
) -> None:
    data = await api.gql(ELIGIBILITY, {"id": factory_gid(world, SINAR), "cycle": 2}, **manager.auth)

    assert data["factory"]["gatewayEligibility"] == {
        "eligible": True,
        "reasons": [],
        "gatewayReleaseOn": "2025-06-28",
    }


@pytest.mark.parametrize(
    ("caller", "visible"),
    [
        pytest.param("manager", True, id="owner"),
        pytest.param("assessor", True, id="programme"),
        pytest.param("host_key", True, id="host-with-grant"),
        pytest.param("brand", False, id="brand-rule-8"),
    ],
)
async def test_gateway_eligibility_is_null_for_brands(
    api: Any, world: DemoWorld, auth_of: dict[str, dict[str, str]], caller: str, visible: bool
) -> None:
    data = await api.gql(
        ELIGIBILITY, {"id": factory_gid(world, SINAR), "cycle": 1}, **auth_of[caller]
    )

    assert (data["factory"]["gatewayEligibility"] is not None) is visible


async def test_a_brand_cannot_tell_slcp_factories_apart(
    api: Any, world: DemoWorld, brand: Any
) -> None:
    # given Sinar Garmen (in SLCP) and Kampong Speu (outside it), both granted to the brand
    answers = [
        await api.gql(
            SLCP_AND_ELIGIBILITY,
            {"id": factory_gid(world, name), "cycle": 1},
            **brand.auth,
        )
        for name in (SINAR, KAMPONG)
    ]

    # then both answers are the same (rule 8)
    assert answers[0] == answers[1] == {"factory": {"slcp": None, "gatewayEligibility": None}}
