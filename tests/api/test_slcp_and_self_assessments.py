"""registerSlcp and submitSelfAssessment: a factory's own steps towards the Gateway."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from demo import DemoWorld
from reference import parse
from reference.loader import load_reference
from tests.api.support import (
    DONG_NAI,
    KAMPONG,
    MITRA,
    SINAR,
    codes,
    factory_gid,
    refused,
    row_counts,
)

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

REGISTER = """
mutation Register($input: RegisterSlcpInput!) {
  registerSlcp(input: $input) {
    factory { name slcp { gatewayId registeredOn verifierBody assessmentSharingConfirmedOn } }
    errors { code message field }
  }
}
"""

SUBMIT = """
mutation Submit($input: SubmitSelfAssessmentInput!) {
  submitSelfAssessment(input: $input) {
    selfAssessment { id cycle step toolVersion submittedAt answers }
    errors { code message field }
  }
}
"""

SELF_ASSESSMENTS = "query($id: ID!) { factory(id: $id) { selfAssessments { cycle step answers } } }"
ELIGIBILITY = "query($id: ID!) { factory(id: $id) { gatewayEligibility(cycle: 2) { reasons } } }"

TODAY = dt.datetime.now(dt.UTC).date().isoformat()
SHIPPED_CATALOGUE = json.loads(
    resources.files("reference").joinpath("catalogue.json").read_text(encoding="utf-8")
)


def register_input(
    world: DemoWorld, gateway_id: str, *, factory: str = MITRA, confirm: bool = True
) -> dict[str, Any]:
    return {
        "input": {
            "factoryId": factory_gid(world, factory),
            "gatewayId": gateway_id,
            "confirmAssessmentSharing": confirm,
        }
    }


def submit_input(
    world: DemoWorld,
    *,
    factory: str = SINAR,
    cycle: int = 2,
    step: int = 3,
    answers: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "input": {
            "factoryId": factory_gid(world, factory),
            "cycle": cycle,
            "step": step,
            "toolVersion": "CAF 1.4",
            "answers": {"AB.01.1": {"answer": "yes"}} if answers is None else answers,
            **extra,
        }
    }


@pytest.fixture
async def mitra(login: Any) -> Any:
    """The manager of PT Mitra Busana Abadi, outside SLCP so far."""
    return await login("manager@mitra-busana.demo")


# -- registerSlcp ----------------------------------------------------------------------------


@pytest.mark.writes
async def test_a_factory_registers_with_the_gateway(
    api: Any, world: DemoWorld, session: AsyncSession, mitra: Any
) -> None:
    before = await row_counts(session)

    data = await api.gql(REGISTER, register_input(world, "SLCP-ID-000103"), **mitra.auth)

    assert data["registerSlcp"] == {
        "factory": {
            "name": MITRA,
            "slcp": {
                "gatewayId": "SLCP-ID-000103",
                "registeredOn": TODAY,
                "verifierBody": "Better Work",
                "assessmentSharingConfirmedOn": TODAY,
            },
        },
        "errors": [],
    }
    after = await row_counts(session)
    assert after["audit_entry"] == before["audit_entry"] + 1


@pytest.mark.writes
async def test_registering_without_confirming_leaves_sharing_unconfirmed(
    api: Any, world: DemoWorld, mitra: Any
) -> None:
    await api.gql(REGISTER, register_input(world, "SLCP-ID-000103", confirm=False), **mitra.auth)

    reasons = await api.gql(ELIGIBILITY, {"id": factory_gid(world, MITRA)}, **mitra.auth)
    # Registered today, after cycle 2's assessment: too late for it, and not confirmed.
    assert reasons["factory"]["gatewayEligibility"]["reasons"][:3] == [
        "SHARING_NOT_CONFIRMED",
        "REGISTERED_LATE",
        "NO_SELF_ASSESSMENT",
    ]


@pytest.mark.writes
async def test_registering_again_under_the_same_id_keeps_the_first_date(
    api: Any, world: DemoWorld, manager: Any
) -> None:
    data = await api.gql(
        REGISTER, register_input(world, "SLCP-ID-000101", factory=SINAR), **manager.auth
    )

    slcp = data["registerSlcp"]["factory"]["slcp"]
    assert (slcp["gatewayId"], slcp["registeredOn"]) == ("SLCP-ID-000101", "2024-01-10")


async def test_registering_under_another_id_is_refused(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any
) -> None:
    payload = await refused(
        api, session, REGISTER, register_input(world, "SLCP-ID-999999", factory=SINAR), manager.auth
    )

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("ALREADY_REGISTERED", "gatewayId")
    ]


@pytest.mark.parametrize(
    "gateway_id",
    ["ab", "has space", "-leading-dash", "x" * 65, "", "SLCP/ID/1", "ÄÖÜ-123"],
    ids=["too-short", "space", "leading-dash", "too-long", "empty", "slash", "non-ascii"],
)
async def test_a_malformed_gateway_id_is_refused(
    api: Any, world: DemoWorld, session: AsyncSession, mitra: Any, gateway_id: str
) -> None:
    payload = await refused(api, session, REGISTER, register_input(world, gateway_id), mitra.auth)

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", "gatewayId")]


@pytest.mark.parametrize(
    ("caller", "code"),
    [
        pytest.param("worker_rep", "FORBIDDEN", id="worker-representative"),
        pytest.param("brand", "FORBIDDEN", id="brand"),
        pytest.param("assessor", "FORBIDDEN", id="programme"),
        pytest.param("admin", "FORBIDDEN", id="platform"),
        pytest.param("host_key", "FORBIDDEN", id="host"),
        pytest.param("other_brand", "NOT_FOUND", id="brand-without-grant"),
        pytest.param("anonymous", "NOT_FOUND", id="public"),
    ],
)
async def test_only_the_factory_manager_registers(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    auth_of: dict[str, dict[str, str]],
    caller: str,
    code: str,
) -> None:
    payload = await refused(
        api,
        session,
        REGISTER,
        register_input(world, "SLCP-ID-000104", factory=SINAR),
        auth_of[caller],
    )

    assert codes(payload) == [code]


async def test_a_brand_learns_nothing_of_slcp_from_the_refusal(
    api: Any, world: DemoWorld, brand: Any
) -> None:
    # given Sinar Garmen (registered) and Kampong Speu (not), both granted to Northwind
    answers = [
        (
            await api.gql(
                REGISTER, register_input(world, "SLCP-XX-000001", factory=name), **brand.auth
            )
        )
        for name in (SINAR, KAMPONG)
    ]

    # then the brand gets the same answer for both (rule 8)
    assert answers[0] == answers[1]


# -- submitSelfAssessment --------------------------------------------------------------------


@pytest.mark.writes
async def test_a_factory_submits_a_self_assessment(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any, brand: Any
) -> None:
    # given Sinar Garmen's cycle 2, whose step 3 is not submitted yet
    before = await row_counts(session)

    # when its manager submits it
    data = await api.gql(SUBMIT, submit_input(world), **manager.auth)

    # then it is stored, read-only from now on, and readable by its SELF_ASSESSMENT grantees
    payload = data["submitSelfAssessment"]
    assert payload["errors"] == []
    sa = payload["selfAssessment"]
    assert (sa["cycle"], sa["step"], sa["toolVersion"]) == (2, 3, "CAF 1.4")
    assert sa["answers"] == {"AB.01.1": {"answer": "yes"}}
    assert sa["submittedAt"].startswith(TODAY)
    after = await row_counts(session)
    assert after["self_assessment"] == before["self_assessment"] + 1
    assert after["audit_entry"] == before["audit_entry"] + 1
    seen = await api.gql(SELF_ASSESSMENTS, {"id": factory_gid(world, SINAR)}, **brand.auth)
    assert {"cycle": 2, "step": 3, "answers": {"AB.01.1": {"answer": "yes"}}} in seen["factory"][
        "selfAssessments"
    ]


@pytest.mark.writes
async def test_submitting_for_the_next_cycle_opens_it(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any
) -> None:
    before = await row_counts(session)

    data = await api.gql(
        SUBMIT,
        submit_input(world, cycle=3, step=1, answers={"CL.01.1": {"answer": "yes"}}),
        **manager.auth,
    )

    assert data["submitSelfAssessment"]["selfAssessment"]["cycle"] == 3
    assert (await row_counts(session))["service_cycle"] == before["service_cycle"] + 1


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        pytest.param(
            {"cycle": 2, "step": 1, "answers": {"CL.01.1": {"answer": "yes"}}},
            "ALREADY_SUBMITTED",
            "step",
            id="submitted-step-is-read-only",
        ),
        pytest.param(
            {"answers": {"XX.99.9": "yes"}},
            "UNKNOWN_QUESTION",
            "answers.XX.99.9",
            id="no-such-question",
        ),
        pytest.param(
            {"step": 2, "answers": {"CO.01.1": "yes"}},
            "UNKNOWN_QUESTION",
            "answers.CO.01.1",
            id="question-of-another-step",
        ),
        pytest.param(
            {"step": 1, "cycle": 3, "answers": {"BW.01.1": "yes"}},
            "UNKNOWN_QUESTION",
            "answers.BW.01.1",
            id="better-works-own-question",
        ),
        pytest.param(
            {"importedFrom": "another SLCP host"},
            "IMPORT_NOT_ACCEPTED",
            "importedFrom",
            id="import-refused-rule-10",
        ),
        pytest.param({"step": 4}, "INVALID", "step", id="no-step-4"),
        pytest.param({"toolVersion": "version one"}, "INVALID", "toolVersion", id="tool-version"),
        pytest.param({"answers": {}}, "INVALID", "answers", id="no-answers"),
        pytest.param({"answers": ["CL.01.1"]}, "INVALID", "answers", id="answers-not-an-object"),
        pytest.param(
            {"step": 1, "cycle": 3, "answers": {"CL.01.1": "x" * 200_000}},
            "INVALID",
            "answers",
            id="answers-too-large",
        ),
        pytest.param({"cycle": 5}, "INVALID", "cycle", id="cycle-skipped"),
        pytest.param({"cycle": 0}, "INVALID", "cycle", id="cycle-zero"),
        pytest.param({"factoryId": "garbage"}, "NOT_FOUND", "factoryId", id="no-such-factory"),
    ],
)
async def test_submit_self_assessment_refuses_bad_input_and_changes_nothing(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    manager: Any,
    changes: dict[str, Any],
    code: str,
    field: str,
) -> None:
    variables = submit_input(world)
    variables["input"].update(changes)

    payload = await refused(api, session, SUBMIT, variables, manager.auth)

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]


@pytest.mark.parametrize(
    ("caller", "code"),
    [
        pytest.param("worker_rep", "FORBIDDEN", id="worker-representative"),
        pytest.param("brand", "FORBIDDEN", id="brand-with-SELF_ASSESSMENT-scope"),
        pytest.param("assessor", "FORBIDDEN", id="programme-reads-only"),
        pytest.param("admin", "FORBIDDEN", id="platform"),
        pytest.param("constituent", "NOT_FOUND", id="constituent"),
        pytest.param("anonymous", "NOT_FOUND", id="public"),
    ],
)
async def test_only_the_factory_manager_submits(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    auth_of: dict[str, dict[str, str]],
    caller: str,
    code: str,
) -> None:
    payload = await refused(api, session, SUBMIT, submit_input(world), auth_of[caller])

    assert codes(payload) == [code]


@pytest.mark.writes
async def test_a_step_being_filled_in_can_be_submitted(
    api: Any, world: DemoWorld, login: Any
) -> None:
    # given Dong Nai Apparel, whose cycle 1 step 1 is being filled in, not submitted
    dong_nai = await login("manager@dong-nai-apparel.demo")

    # when its manager submits it
    data = await api.gql(
        SUBMIT,
        submit_input(
            world, factory=DONG_NAI, cycle=1, step=1, answers={"CL.01.1": {"answer": "yes"}}
        ),
        **dong_nai.auth,
    )

    # then it is submitted (it was not, so "this step was submitted" is not the answer)
    assert data["submitSelfAssessment"]["errors"] == []
    assert data["submitSelfAssessment"]["selfAssessment"]["submittedAt"].startswith(TODAY)


@pytest.mark.writes
async def test_each_tool_version_is_checked_against_its_own_catalogue(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any
) -> None:
    # given a CAF 1.5 catalogue loaded for Indonesia, without AB.01.1 and with AB.09.1
    newer = json.loads(json.dumps(SHIPPED_CATALOGUE))
    newer["toolVersion"] = "CAF 1.5"
    newer["countries"] = [c for c in newer["countries"] if c["code"] == "ID"]
    ab = next(q for q in newer["questions"] if q["code"] == "AB.01.1")
    newer["questions"].remove(ab)
    newer["questions"].append({**ab, "code": "AB.09.1", "cafRef": "AB-09-01"})
    await session.run_sync(lambda s: load_reference(s.connection(), parse(newer)))
    await session.commit()

    # when the factory answers AB.01.1 under each tool version
    under_new = await api.gql(SUBMIT, submit_input(world, toolVersion="CAF 1.5"), **manager.auth)
    under_old = await api.gql(SUBMIT, submit_input(world), **manager.auth)

    # then CAF 1.5 does not know it, and CAF 1.4 (answers still being filled in) does
    assert [e["code"] for e in under_new["submitSelfAssessment"]["errors"]] == ["UNKNOWN_QUESTION"]
    assert under_old["submitSelfAssessment"]["errors"] == []
    assert under_old["submitSelfAssessment"]["selfAssessment"]["toolVersion"] == "CAF 1.4"
