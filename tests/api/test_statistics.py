"""Views of no single factory: country statistics, public findings, zero-tolerance findings."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from core.crypto import KeyMaterial
from demo import DemoWorld
from tests.api.support import CAHAYA, KAMPONG, SINAR, error_codes, factory_gid
from tests.builders import days, make_assessment, make_factory, make_finding

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

STATISTICS = """
query Statistics($country: String!) {
  countryStatistics(country: $country) { cluster factories nonComplianceRate suppressed }
}
"""

PUBLIC_FINDINGS = """
query PublicFindings($country: String, $first: Int) {
  publicFindings(country: $country, first: $first) {
    factoryName country assessedOn cluster compliancePoint
  }
}
"""

ACCESS_LOG = """
query AccessLog($id: ID!) {
  factory(id: $id) { accessLog { edges { node { operation organization { name } } } } }
}
"""


ZERO_TOLERANCE = """
query ZeroTolerance($country: String!) {
  zeroToleranceFindings(country: $country) {
    factoryId factoryName assessedOn cluster compliancePoint questionCode detail
  }
}
"""

CLUSTERS = [c.value for c in m.ComplianceCluster]
SUPPRESSED = {"factories": 0, "nonComplianceRate": None, "suppressed": True}


# -- countryStatistics -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "caller",
    ["constituent", "inspectorate", "assessor"],
    ids=["constituent", "labour-inspectorate", "programme"],
)
async def test_statistics_suppress_every_cell_of_fewer_than_five_factories(
    api: Any, auth_of: dict[str, dict[str, str]], caller: str
) -> None:
    # given Indonesia's three demo factories: every cell would point at one of three
    rows = (await api.gql(STATISTICS, {"country": "ID"}, **auth_of[caller]))["countryStatistics"]

    # then every cluster is listed, and every one is withheld
    assert [r["cluster"] for r in rows] == CLUSTERS
    assert all({k: r[k] for k in SUPPRESSED} == SUPPRESSED for r in rows)


@pytest.fixture
async def five_in_child_labour(
    world: DemoWorld, session: AsyncSession, keys: KeyMaterial, api: Any
) -> None:
    """Two more Indonesian factories assessed on child labour (one non-compliant), and a third
    whose assessment is still a draft: five factories in that cell, three in every other."""
    for non_compliant in (True, False):
        factory = await make_factory(session, "ID")
        assessment = await make_assessment(session, factory, released_on=days(-30))
        await make_finding(session, assessment, keys, non_compliant=non_compliant)
    draft = await make_assessment(session, await make_factory(session, "ID"))
    await make_finding(session, draft, keys, non_compliant=True)
    await session.commit()


@pytest.mark.writes
async def test_statistics_show_a_cell_of_five_factories(
    api: Any, constituent: Any, five_in_child_labour: None
) -> None:
    rows = (await api.gql(STATISTICS, {"country": "ID"}, **constituent.auth))["countryStatistics"]

    by_cluster = {r.pop("cluster"): r for r in rows}
    # Mitra Busana (CL.04.1) and one new factory were non-compliant: 2 of 5.
    assert by_cluster.pop("CHILD_LABOUR") == {
        "factories": 5,
        "nonComplianceRate": 0.4,
        "suppressed": False,
    }
    assert all(r == SUPPRESSED for r in by_cluster.values())


@pytest.mark.parametrize(
    ("caller", "country"),
    [
        pytest.param("constituent", "BD", id="constituent-of-another-country"),
        pytest.param("assessor", "BD", id="programme-of-another-country"),
        pytest.param("brand", "ID", id="brand"),
        pytest.param("host_key", "ID", id="host"),
        pytest.param("manager", "ID", id="factory"),
        pytest.param("admin", "ID", id="platform"),
        pytest.param("anonymous", "ID", id="public"),
    ],
)
@pytest.mark.writes
async def test_statistics_are_empty_for_everyone_else(
    api: Any,
    auth_of: dict[str, dict[str, str]],
    five_in_child_labour: None,
    caller: str,
    country: str,
) -> None:
    rows = (await api.gql(STATISTICS, {"country": country}, **auth_of[caller]))["countryStatistics"]

    assert rows == []


async def test_statistics_refuse_a_malformed_country(api: Any, constituent: Any) -> None:
    response = await api.post(STATISTICS, {"country": "Indonesia"}, **constituent.auth)

    assert error_codes(response.json()) == ["BAD_ARGUMENT"]


# -- publicFindings --------------------------------------------------------------------------


async def test_public_findings_for_the_anonymous_public(api: Any, world: DemoWorld) -> None:
    # when anyone, signed in or not, asks for Cambodia's public findings
    rows = (await api.gql(PUBLIC_FINDINGS, {"country": "KH"}))["publicFindings"]

    # then it gets the flagged findings of Kampong Speu's latest released assessment, and no
    # detail: the type has none
    assert sorted((r["factoryName"], r["cluster"], r["compliancePoint"]) for r in rows) == [
        (KAMPONG, "CHILD_LABOUR", "Child labourers"),
        (KAMPONG, "COMPENSATION", "Minimum wages"),
        (KAMPONG, "OCCUPATIONAL_SAFETY_AND_HEALTH", "Emergency preparedness"),
    ]
    assert {(r["country"], r["assessedOn"]) for r in rows} == {("KH", "2024-10-08")}


async def test_public_findings_come_from_each_factorys_latest_assessment_only(
    api: Any, world: DemoWorld
) -> None:
    # given Sinar Garmen, whose cycle 1 had public findings and whose cycle 2 has none
    rows = (await api.gql(PUBLIC_FINDINGS, {"first": 100}))["publicFindings"]

    # then nothing of Sinar Garmen is public (rule 13), and every row is of its factory's latest
    names = {r["factoryName"] for r in rows}
    assert SINAR not in names
    assert names == {
        "Saigon Stitch Co., Ltd.",
        "Chattogram Apparels Ltd.",
        "Hanoi Fashion Garment JSC",
        KAMPONG,
    }
    assert len(rows) == 7


async def test_public_findings_never_show_a_future_release(api: Any, world: DemoWorld) -> None:
    # Hanoi Fashion's cycle 2 is released with a date ahead: its cycle 1 is still the latest.
    rows = (await api.gql(PUBLIC_FINDINGS, {"country": "VN", "first": 100}))["publicFindings"]

    assert {r["assessedOn"] for r in rows if r["factoryName"] == "Hanoi Fashion Garment JSC"} == {
        "2025-02-18"
    }


async def test_public_findings_are_the_same_for_every_caller(
    api: Any, auth_of: dict[str, dict[str, str]]
) -> None:
    answers = [await api.gql(PUBLIC_FINDINGS, {"first": 100}, **auth) for auth in auth_of.values()]

    assert all(answer == answers[0] for answer in answers)


async def test_public_findings_honour_first(api: Any, world: DemoWorld) -> None:
    rows = (await api.gql(PUBLIC_FINDINGS, {"first": 2}))["publicFindings"]

    assert len(rows) == 2


@pytest.mark.parametrize(
    "variables",
    [{"first": 101}, {"first": -1}, {"country": "KHM"}],
    ids=["first-over-cap", "negative-first", "malformed-country"],
)
async def test_public_findings_refuse_bad_arguments(
    api: Any, world: DemoWorld, variables: dict[str, Any]
) -> None:
    response = await api.post(PUBLIC_FINDINGS, variables)

    assert error_codes(response.json()) == ["BAD_ARGUMENT"]


# -- zeroToleranceFindings -------------------------------------------------------------------


async def test_zero_tolerance_findings_reach_the_labour_inspectorate(
    api: Any, world: DemoWorld, inspectorate: Any
) -> None:
    # given Cahaya Tekstil, which granted nobody in Indonesia anything, and its forced labour case
    rows = (await api.gql(ZERO_TOLERANCE, {"country": "ID"}, **inspectorate.auth))[
        "zeroToleranceFindings"
    ]

    # then the labour inspectorate receives it, detail included (rule 15)
    assert rows == [
        {
            "factoryId": factory_gid(world, CAHAYA),
            "factoryName": CAHAYA,
            "assessedOn": "2024-06-11",
            "cluster": "FORCED_LABOUR",
            "compliancePoint": "Coercion",
            "questionCode": "FL.01.1",
            "detail": "Security kept workers' identity cards; supervisor Mr. Hasan Basri refused "
            "to return them when asked.",
        }
    ]


async def test_zero_tolerance_reads_are_in_the_factorys_access_log(
    api: Any, world: DemoWorld, inspectorate: Any, login: Any
) -> None:
    await api.gql(ZERO_TOLERANCE, {"country": "ID"}, **inspectorate.auth)
    cahaya = await login("manager@cahaya-tekstil.demo")

    log = await api.gql(
        ACCESS_LOG,
        {"id": factory_gid(world, CAHAYA)},
        **cahaya.auth,
    )

    assert [e["node"] for e in log["factory"]["accessLog"]["edges"]] == [
        {
            "operation": "query:zeroToleranceFindings",
            "organization": {"name": "Directorate of Labour Inspection, Indonesia"},
        }
    ]


@pytest.mark.parametrize(
    ("caller", "country", "factories"),
    [
        pytest.param("inspectorate", "BD", set(), id="inspectorate-of-another-country"),
        pytest.param("constituent", "ID", set(), id="constituent-not-inspectorate"),
        pytest.param("brand", "ID", set(), id="brand-without-a-zero-tolerance-grant"),
        pytest.param("host_key", "ID", set(), id="host"),
        pytest.param("anonymous", "ID", set(), id="public"),
        pytest.param("brand", "KH", {KAMPONG}, id="brand-with-ASSESSMENT-scope"),
        pytest.param("assessor", "ID", {CAHAYA}, id="programme-of-the-country"),
        pytest.param("admin", "BD", {"Chattogram Apparels Ltd."}, id="platform"),
    ],
)
async def test_zero_tolerance_findings_by_audience(
    api: Any, auth_of: dict[str, dict[str, str]], caller: str, country: str, factories: set[str]
) -> None:
    rows = (await api.gql(ZERO_TOLERANCE, {"country": country}, **auth_of[caller]))[
        "zeroToleranceFindings"
    ]

    assert {r["factoryName"] for r in rows} == factories


async def test_zero_tolerance_findings_refuse_a_malformed_country(
    api: Any, inspectorate: Any
) -> None:
    response = await api.post(ZERO_TOLERANCE, {"country": ""}, **inspectorate.auth)

    assert error_codes(response.json()) == ["BAD_ARGUMENT"]
