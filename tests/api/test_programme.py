"""enrollFactory, recordAssessment and releaseAssessment: a programme's work, in its country."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from demo import DemoWorld
from tests.api.support import (
    DHAKA,
    GAZIPUR,
    SINAR,
    codes,
    factory_gid,
    gid,
    refused,
    row_counts,
    scalar,
)

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

ENROLL = """
mutation Enroll($input: EnrollFactoryInput!) {
  enrollFactory(input: $input) {
    factory { id name enrolledOn country { code } organization { kind } slcp { gatewayId } }
    errors { code message field }
  }
}
"""

RECORD = """
mutation Record($input: RecordAssessmentInput!) {
  recordAssessment(input: $input) {
    assessment {
      id cycle kind status assessedOn releasedOn factory { name }
      findings { totalCount edges { node { questionCode nonCompliant zeroTolerance detail } } }
    }
    errors { code message field }
  }
}
"""

RELEASE = """
mutation Release($input: ReleaseAssessmentInput!) {
  releaseAssessment(input: $input) {
    assessment { id status releasedOn gatewayReleaseOn }
    errors { code message field }
  }
}
"""

ASSESSMENT_CYCLES = """
query($id: ID!) { factory(id: $id) { assessments { totalCount edges { node { cycle status } } } } }
"""

TODAY = dt.datetime.now(dt.UTC).date()


def ago(days: int) -> str:
    return (TODAY - dt.timedelta(days=days)).isoformat()


CHILD_LABOUR = {
    "cluster": "CHILD_LABOUR",
    "compliancePoint": "Child labourers",
    "questionCode": "CL.01.1",
    "nonCompliant": True,
    "publicReporting": True,
    "zeroTolerance": True,
    "detail": "A 15-year-old found in packing.",
}
OVERTIME = {
    "cluster": "WORKING_TIME",
    "compliancePoint": "Overtime",
    "questionCode": "WT.02.1",
    "nonCompliant": False,
    "publicReporting": False,
    "zeroTolerance": False,
}


def record_input(
    world: DemoWorld,
    *,
    factory: str = SINAR,
    cycle: int = 3,
    assessed: int = 5,
    findings: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "input": {
            "factoryId": factory_gid(world, factory),
            "cycle": cycle,
            "kind": "ONSITE",
            "assessedOn": ago(assessed),
            "findings": [CHILD_LABOUR, OVERTIME] if findings is None else findings,
            **extra,
        }
    }


async def record(api: Any, world: DemoWorld, assessor: Any, *, assessed: int) -> str:
    """Records Sinar Garmen's cycle 3 as a draft; its global id."""
    data = await api.gql(RECORD, record_input(world, assessed=assessed), **assessor.auth)
    assert data["recordAssessment"]["errors"] == []
    return str(data["recordAssessment"]["assessment"]["id"])


def enroll_input(
    name: str = "PT Baru Jaya", country: str = "ID", enrolled_on: str = TODAY.isoformat()
) -> dict[str, Any]:
    return {"input": {"name": name, "country": country, "enrolledOn": enrolled_on}}


# -- enrollFactory ---------------------------------------------------------------------------


@pytest.mark.writes
async def test_an_assessor_enrols_a_factory_in_its_country(
    api: Any, session: AsyncSession, assessor: Any
) -> None:
    before = await row_counts(session)

    data = await api.gql(ENROLL, enroll_input(country="id"), **assessor.auth)

    payload = data["enrollFactory"]
    assert payload["errors"] == []
    factory = payload["factory"]
    assert {k: factory[k] for k in ("name", "enrolledOn", "country", "organization", "slcp")} == {
        "name": "PT Baru Jaya",
        "enrolledOn": TODAY.isoformat(),
        "country": {"code": "ID"},
        "organization": {"kind": "FACTORY"},
        "slcp": None,
    }
    after = await row_counts(session)
    for table in ("organization", "factory", "audit_entry"):
        assert after[table] == before[table] + 1, table
    listed = await api.gql('{ factories(country: "ID") { totalCount } }', **assessor.auth)
    assert listed["factories"]["totalCount"] == 4


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        pytest.param(enroll_input(country="BD"), "FORBIDDEN", None, id="another-country"),
        pytest.param(enroll_input(country="ZZ"), "NOT_FOUND", "country", id="no-such-country"),
        pytest.param(enroll_input(name="  "), "INVALID", "name", id="blank-name"),
        pytest.param(enroll_input(name="PT\x07Bell"), "INVALID", "name", id="control-character"),
        pytest.param(enroll_input(name="x" * 201), "INVALID", "name", id="name-too-long"),
        pytest.param(
            enroll_input(enrolled_on=(TODAY + dt.timedelta(days=400)).isoformat()),
            "INVALID",
            "enrolledOn",
            id="too-far-ahead",
        ),
    ],
)
async def test_enroll_factory_refuses_bad_input_and_changes_nothing(
    api: Any,
    session: AsyncSession,
    assessor: Any,
    variables: dict[str, Any],
    code: str,
    field: str | None,
) -> None:
    payload = await refused(api, session, ENROLL, variables, assessor.auth)

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]


@pytest.mark.parametrize(
    "caller",
    ["manager", "brand", "host_key", "constituent", "admin", "anonymous"],
    ids=["factory", "brand", "host", "constituent", "platform", "public"],
)
async def test_only_a_programme_assessor_enrols(
    api: Any, session: AsyncSession, auth_of: dict[str, dict[str, str]], caller: str
) -> None:
    payload = await refused(api, session, ENROLL, enroll_input(), auth_of[caller])

    assert codes(payload) == ["FORBIDDEN"]


# -- recordAssessment ------------------------------------------------------------------------


@pytest.mark.writes
async def test_an_assessor_records_a_draft_that_only_the_programme_sees(
    api: Any, world: DemoWorld, session: AsyncSession, assessor: Any, brand: Any, manager: Any
) -> None:
    before = await row_counts(session)

    data = await api.gql(RECORD, record_input(world, verifierBody="Better Work"), **assessor.auth)

    payload = data["recordAssessment"]
    assert payload["errors"] == []
    assessment = payload["assessment"]
    assert {k: assessment[k] for k in ("cycle", "kind", "status", "assessedOn", "releasedOn")} == {
        "cycle": 3,
        "kind": "ONSITE",
        "status": "DRAFT",
        "assessedOn": ago(5),
        "releasedOn": None,
    }
    assert assessment["factory"] == {"name": SINAR}
    assert assessment["findings"]["totalCount"] == 2
    assert assessment["findings"]["edges"][0]["node"] == {
        "questionCode": "CL.01.1",
        "nonCompliant": True,
        "zeroTolerance": True,
        "detail": "A 15-year-old found in packing.",
    }
    after = await row_counts(session)
    assert after["assessment"] == before["assessment"] + 1
    assert after["finding"] == before["finding"] + 2
    assert after["service_cycle"] == before["service_cycle"] + 1
    sinar = {"id": factory_gid(world, SINAR)}
    for reader in (brand, manager):  # a draft is the programme's alone
        seen = await api.gql(ASSESSMENT_CYCLES, sinar, **reader.auth)
        assert seen["factory"]["assessments"]["totalCount"] == 2


@pytest.mark.writes
async def test_a_virtual_compliance_check_is_recorded_as_such(
    api: Any, world: DemoWorld, assessor: Any
) -> None:
    variables = record_input(world, findings=[OVERTIME])
    variables["input"].update(kind="VIRTUAL_COMPLIANCE_CHECK", virtualScope=["WT.02.1", "CO.01.1"])

    data = await api.gql(RECORD, variables, **assessor.auth)

    assert data["recordAssessment"]["assessment"]["kind"] == "VIRTUAL_COMPLIANCE_CHECK"


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        pytest.param({"cycle": 2}, "ALREADY_EXISTS", "cycle", id="cycle-already-assessed"),
        pytest.param(
            {"verifierBody": "Another Verifier Ltd."},
            "IMPORT_NOT_ACCEPTED",
            "verifierBody",
            id="other-verifier-rule-10",
        ),
        pytest.param(
            {"findings": [{**CHILD_LABOUR, "questionCode": "XX.01.1"}]},
            "UNKNOWN_QUESTION",
            "findings.0.questionCode",
            id="unknown-question",
        ),
        pytest.param(
            {"findings": [{**CHILD_LABOUR, "cluster": "WORKING_TIME"}]},
            "INVALID",
            "findings.0.compliancePoint",
            id="cluster-does-not-match",
        ),
        pytest.param(
            {"findings": [{**CHILD_LABOUR, "compliancePoint": "Something else"}]},
            "INVALID",
            "findings.0.compliancePoint",
            id="point-does-not-match",
        ),
        pytest.param(
            {"findings": [CHILD_LABOUR, CHILD_LABOUR]},
            "INVALID",
            "findings.1.questionCode",
            id="two-findings-one-question",
        ),
        pytest.param(
            {"findings": [{**CHILD_LABOUR, "detail": "x" * 4001}]},
            "INVALID",
            "findings.0.detail",
            id="detail-too-long",
        ),
        pytest.param(
            {"assessedOn": (TODAY + dt.timedelta(days=1)).isoformat()},
            "INVALID",
            "assessedOn",
            id="assessed-in-the-future",
        ),
        pytest.param(
            {"assessedOn": "2023-01-01"}, "INVALID", "assessedOn", id="assessed-before-enrolment"
        ),
        pytest.param(
            {"virtualScope": ["CL.01.1"]},
            "INVALID",
            "virtualScope",
            id="scope-of-an-onsite-assessment",
        ),
        pytest.param(
            {"kind": "VIRTUAL_COMPLIANCE_CHECK", "virtualScope": ["XX.01.1"]},
            "UNKNOWN_QUESTION",
            "virtualScope",
            id="virtual-scope-unknown-question",
        ),
        pytest.param(
            {"findings": [OVERTIME] * 501}, "INVALID", "findings", id="more-than-500-findings"
        ),
        pytest.param({"cycle": 7}, "INVALID", "cycle", id="cycle-skipped"),
        pytest.param({"factoryId": "garbage"}, "NOT_FOUND", "factoryId", id="no-such-factory"),
    ],
)
async def test_record_assessment_refuses_bad_input_and_changes_nothing(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    assessor: Any,
    changes: dict[str, Any],
    code: str,
    field: str,
) -> None:
    variables = record_input(world)
    variables["input"].update(changes)

    payload = await refused(api, session, RECORD, variables, assessor.auth)

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]


async def test_record_assessment_in_another_country_is_not_found(
    api: Any, world: DemoWorld, session: AsyncSession, assessor: Any, login: Any
) -> None:
    bangladesh = await login("assessor@bw-bd.demo")

    refusals = [
        await refused(api, session, RECORD, record_input(world, factory=DHAKA), assessor.auth),
        await refused(api, session, RECORD, record_input(world, factory=SINAR), bangladesh.auth),
    ]

    assert [codes(p) for p in refusals] == [["NOT_FOUND"], ["NOT_FOUND"]]


@pytest.mark.parametrize(
    ("caller", "code"),
    [
        pytest.param("manager", "FORBIDDEN", id="factory"),
        pytest.param("brand", "FORBIDDEN", id="brand"),
        pytest.param("admin", "FORBIDDEN", id="platform"),
        pytest.param("constituent", "NOT_FOUND", id="constituent"),
        pytest.param("anonymous", "NOT_FOUND", id="public"),
    ],
)
async def test_only_a_programme_assessor_records(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    auth_of: dict[str, dict[str, str]],
    caller: str,
    code: str,
) -> None:
    payload = await refused(api, session, RECORD, record_input(world), auth_of[caller])

    assert codes(payload) == [code]


# -- releaseAssessment -----------------------------------------------------------------------


@pytest.mark.writes
async def test_a_release_makes_the_assessment_visible_to_brands(
    api: Any, world: DemoWorld, assessor: Any, brand: Any
) -> None:
    # given a draft assessed ten days ago
    draft = await record(api, world, assessor, assessed=10)

    # when the programme releases it today
    data = await api.gql(
        RELEASE, {"input": {"assessmentId": draft, "releasedOn": ago(0)}}, **assessor.auth
    )

    # then it is released, the Gateway date is 15 days on, and the granted brand sees it
    assert data["releaseAssessment"] == {
        "assessment": {
            "id": draft,
            "status": "RELEASED",
            "releasedOn": ago(0),
            "gatewayReleaseOn": ago(-15),
        },
        "errors": [],
    }
    seen = await api.gql(ASSESSMENT_CYCLES, {"id": factory_gid(world, SINAR)}, **brand.auth)
    assert seen["factory"]["assessments"]["edges"][0]["node"] == {"cycle": 3, "status": "RELEASED"}


@pytest.mark.writes
async def test_a_release_date_ahead_is_allowed_and_hides_it_until_then(
    api: Any, world: DemoWorld, assessor: Any, brand: Any
) -> None:
    draft = await record(api, world, assessor, assessed=10)

    data = await api.gql(
        RELEASE, {"input": {"assessmentId": draft, "releasedOn": ago(-5)}}, **assessor.auth
    )

    assert data["releaseAssessment"]["assessment"]["releasedOn"] == ago(-5)
    seen = await api.gql(ASSESSMENT_CYCLES, {"id": factory_gid(world, SINAR)}, **brand.auth)
    assert seen["factory"]["assessments"]["totalCount"] == 2


@pytest.mark.writes
async def test_the_last_day_of_the_28_is_not_late(
    api: Any, world: DemoWorld, assessor: Any
) -> None:
    draft = await record(api, world, assessor, assessed=28)

    data = await api.gql(
        RELEASE, {"input": {"assessmentId": draft, "releasedOn": ago(0)}}, **assessor.auth
    )

    assert data["releaseAssessment"]["errors"] == []


@pytest.mark.writes
async def test_a_release_past_28_days_is_too_late(
    api: Any, world: DemoWorld, session: AsyncSession, assessor: Any
) -> None:
    draft = await record(api, world, assessor, assessed=29)

    payload = await refused(
        api,
        session,
        RELEASE,
        {"input": {"assessmentId": draft, "releasedOn": ago(0)}},
        assessor.auth,
    )

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("RELEASE_TOO_LATE", "releasedOn")
    ]


async def test_the_demos_bangladesh_draft_is_past_its_deadline(
    api: Any, world: DemoWorld, session: AsyncSession, login: Any
) -> None:
    # Gazipur Denim's cycle 2 was assessed on 2026-10-13 and is still a draft.
    pk = await scalar(
        session,
        "SELECT id FROM assessment WHERE factory_id = :f AND status = 'DRAFT'",
        f=world.factory_ids[GAZIPUR],
    )
    bangladesh = await login("assessor@bw-bd.demo")
    release = {"input": {"assessmentId": gid("Assessment", pk), "releasedOn": ago(0)}}

    payload = await refused(api, session, RELEASE, release, bangladesh.auth)

    assert codes(payload) == ["RELEASE_TOO_LATE"]


@pytest.mark.writes
async def test_a_platform_admin_may_release_past_the_deadline(
    api: Any, world: DemoWorld, assessor: Any, admin: Any
) -> None:
    draft = await record(api, world, assessor, assessed=40)

    data = await api.gql(
        RELEASE,
        {"input": {"assessmentId": draft, "releasedOn": ago(0), "overrideDeadline": True}},
        **admin.auth,
    )

    assert data["releaseAssessment"]["errors"] == []
    assert data["releaseAssessment"]["assessment"]["status"] == "RELEASED"


@pytest.mark.writes
async def test_a_release_date_past_the_calendar_is_invalid(
    api: Any, world: DemoWorld, session: AsyncSession, assessor: Any, admin: Any
) -> None:
    draft = await record(api, world, assessor, assessed=40)
    release = {
        "input": {"assessmentId": draft, "releasedOn": "9999-12-31", "overrideDeadline": True}
    }

    payload = await refused(api, session, RELEASE, release, admin.auth)

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", "releasedOn")]


@pytest.mark.writes
async def test_an_assessor_may_not_override_the_deadline(
    api: Any, world: DemoWorld, session: AsyncSession, assessor: Any
) -> None:
    draft = await record(api, world, assessor, assessed=40)
    release = {"input": {"assessmentId": draft, "releasedOn": ago(0), "overrideDeadline": True}}

    payload = await refused(api, session, RELEASE, release, assessor.auth)

    assert codes(payload) == ["FORBIDDEN"]


@pytest.mark.writes
async def test_release_before_the_assessment_is_invalid(
    api: Any, world: DemoWorld, session: AsyncSession, assessor: Any
) -> None:
    draft = await record(api, world, assessor, assessed=10)

    payload = await refused(
        api,
        session,
        RELEASE,
        {"input": {"assessmentId": draft, "releasedOn": ago(11)}},
        assessor.auth,
    )

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", "releasedOn")]


@pytest.mark.writes
async def test_a_released_assessment_cannot_be_released_again(
    api: Any, world: DemoWorld, session: AsyncSession, assessor: Any
) -> None:
    draft = await record(api, world, assessor, assessed=10)
    release = {"input": {"assessmentId": draft, "releasedOn": ago(0)}}
    await api.gql(RELEASE, release, **assessor.auth)

    payload = await refused(api, session, RELEASE, release, assessor.auth)

    assert codes(payload) == ["ALREADY_RELEASED"]


@pytest.mark.parametrize(
    ("caller", "code"),
    [
        pytest.param("manager", "NOT_FOUND", id="factory-cannot-see-its-draft"),
        pytest.param("brand", "NOT_FOUND", id="brand"),
        pytest.param("constituent", "NOT_FOUND", id="constituent"),
        pytest.param("anonymous", "NOT_FOUND", id="public"),
    ],
)
@pytest.mark.writes
async def test_only_the_programme_releases(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    assessor: Any,
    auth_of: dict[str, dict[str, str]],
    caller: str,
    code: str,
) -> None:
    draft = await record(api, world, assessor, assessed=10)
    release = {"input": {"assessmentId": draft, "releasedOn": ago(0)}}

    payload = await refused(api, session, RELEASE, release, auth_of[caller])

    assert codes(payload) == [code]


@pytest.mark.writes
async def test_release_in_another_country_is_not_found(
    api: Any, world: DemoWorld, session: AsyncSession, assessor: Any, login: Any
) -> None:
    draft = await record(api, world, assessor, assessed=10)
    bangladesh = await login("assessor@bw-bd.demo")

    payload = await refused(
        api,
        session,
        RELEASE,
        {"input": {"assessmentId": draft, "releasedOn": ago(0)}},
        bangladesh.auth,
    )

    assert codes(payload) == ["NOT_FOUND"]
