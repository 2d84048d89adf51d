"""`millgate catalogue load FILE` and the `questions` query.

Given a database migrated and seeded with the demo, when an operator loads a catalogue file,
then a malformed file or one that changes a loaded version is refused with one line naming
the bad entry and nothing is written; a file with a new overlay version adds it, leaves the
answers and findings recorded under the older one as they were, and becomes the country's
current catalogue, which `questions` serves to anyone.
"""

from __future__ import annotations

import copy
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from demo import seed_reference
from reference import catalogue, parse
from reference.loader import load_reference
from tests.builders import make_org, make_user
from tests.cli.test_main import millgate, said

SHIPPED = Path(__file__).resolve().parents[2] / "reference" / "catalogue.json"
SIZE = len(catalogue().questions)


def shipped() -> dict[str, Any]:
    return json.loads(SHIPPED.read_text())  # type: ignore[no-any-return]


def new_overlay_for_indonesia() -> dict[str, Any]:
    data = shipped()
    indonesia = next(c for c in data["countries"] if c["code"] == "ID")
    data["countries"] = [{**indonesia, "overlayVersion": "2024.1"}]
    data["questions"].append(
        {
            "code": "WT.09.1",
            "cluster": "WORKING_TIME",
            "compliancePoint": "Overtime",
            "cafRef": "WH-WT09-01",
            "publicReporting": False,
            "zeroTolerance": False,
        }
    )
    return data


def write(folder: Path, data: Any) -> Path:
    path = folder / "catalogue.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def rows(data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(data_dir / "millgate.db") as conn:
        return conn.execute(sql).fetchall()


def recorded(data_dir: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a catalogue load must not touch."""
    return {
        table: rows(data_dir, f"SELECT * FROM {table} ORDER BY 1")  # noqa: S608
        for table in ("question", "finding", "self_assessment", "assessment", "country")
    }


@pytest.fixture(scope="module")
async def seeded_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder as `millgate demo seed` leaves it (its database and keys), made once."""
    data_dir = tmp_path_factory.mktemp("seeded") / "data"
    result = await millgate(data_dir, "demo", "seed")
    assert result.exit_code == 0, result.output
    return data_dir


@pytest.fixture
def seeded(seeded_once: Path, tmp_path: Path) -> Path:
    """A copy of that folder for each test: no command has run on it since the seed."""
    return Path(shutil.copytree(seeded_once, tmp_path / "data"))


def _bad_cluster(data: dict[str, Any]) -> None:
    data["questions"][3]["cluster"] = "CHILD_LABOR"


def _bad_caf_section(data: dict[str, Any]) -> None:
    data["questions"][5]["cafRef"] = "XX-CL01-01"


def _duplicate_code(data: dict[str, Any]) -> None:
    data["questions"][7]["code"] = data["questions"][6]["code"]


def _bad_country(data: dict[str, Any]) -> None:
    data["countries"][1]["code"] = "Bangladesh"


def _bad_date(data: dict[str, Any]) -> None:
    data["countries"][2]["slcpRolloutOn"] = "30 June 2021"


def _flag_not_bool(data: dict[str, Any]) -> None:
    data["questions"][0]["zeroTolerance"] = "yes"


@pytest.mark.parametrize(
    ("spoil", "named"),
    [
        pytest.param(_bad_cluster, "questions[3] (CL.02.2): cluster 'CHILD_LABOR'", id="cluster"),
        pytest.param(_bad_caf_section, "questions[5] (CL.03.2)", id="caf-section"),
        pytest.param(_duplicate_code, "questions[7]", id="duplicate-code"),
        pytest.param(_bad_country, "countries[1] (Bangladesh)", id="country-code"),
        pytest.param(_bad_date, "countries[2] (VN): 'slcpRolloutOn'", id="date"),
        pytest.param(_flag_not_bool, "questions[0] (CL.01.1): 'zeroTolerance'", id="flag"),
    ],
)
async def test_a_malformed_file_is_refused_naming_the_entry(
    seeded: Path, tmp_path: Path, spoil: Any, named: str
) -> None:
    data = shipped()
    spoil(data)
    before = recorded(seeded)

    result = await millgate(seeded, "catalogue", "load", str(write(tmp_path, data)))

    assert result.exit_code == 1
    assert named in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert recorded(seeded) == before


async def test_a_file_that_is_not_json_is_refused(seeded: Path, tmp_path: Path) -> None:
    result = await millgate(seeded, "catalogue", "load", str(write(tmp_path, "{nope")))

    assert result.exit_code == 1
    assert "not JSON" in said(result)


async def test_changing_a_loaded_version_is_refused_and_nothing_written(
    seeded: Path, tmp_path: Path
) -> None:
    data = new_overlay_for_indonesia()
    data["countries"] = shipped()["countries"]  # the loaded versions ...
    data["questions"][0]["compliancePoint"] = "Unconditional worst forms"  # ... changed
    before = recorded(seeded)

    result = await millgate(seeded, "catalogue", "load", str(write(tmp_path, data)))

    assert result.exit_code == 1
    assert "countries (ID): catalogue CAF 1.4 / overlay 2021.1 is loaded with other" in said(result)
    assert "nothing written" in said(result)
    assert recorded(seeded) == before


async def test_a_new_overlay_version_is_added_beside_the_old_one(
    seeded: Path, tmp_path: Path
) -> None:
    before = recorded(seeded)
    path = write(tmp_path, new_overlay_for_indonesia())

    result = await millgate(seeded, "catalogue", "load", str(path))

    assert result.exit_code == 0, result.output
    assert "0 countries added; 1 catalogue versions added (ID CAF 1.4 / 2024.1)" in said(result)
    after = recorded(seeded)
    for table in ("finding", "self_assessment", "assessment"):
        assert after[table] == before[table], table
    assert after["question"][: len(before["question"])] == before["question"]
    versions = rows(
        seeded,
        "SELECT overlay_version, count(*) FROM question WHERE country_code = 'ID'"
        " GROUP BY overlay_version ORDER BY 1",
    )
    assert versions == [("2021.1", SIZE), ("2024.1", SIZE + 1)]
    assert rows(seeded, "SELECT overlay_version FROM country WHERE code = 'ID'") == [("2024.1",)]

    again = await millgate(seeded, "catalogue", "load", str(path))

    assert again.exit_code == 0, again.output
    assert "0 catalogue versions added; 1 already loaded" in said(again)
    assert recorded(seeded) == after


# -- the questions query --------------------------------------------------------------------

QUESTIONS = """
query($country: String!, $tool: String, $first: Int, $after: String) {
  questions(country: $country, toolVersion: $tool, first: $first, after: $after) {
    code cluster compliancePoint cafRef step publicReporting zeroTolerance
    toolVersion overlayVersion cursor
  }
}
"""


@pytest.fixture
async def reference(session: AsyncSession) -> None:
    await seed_reference(session)
    await session.commit()


async def test_anyone_reads_a_country_s_catalogue(api: Any, reference: None) -> None:
    data = await api.gql(QUESTIONS, {"country": "id", "first": 100})

    questions = data["questions"]
    assert [q["code"] for q in questions] == list(catalogue().questions)
    first = questions[0]
    assert {k: v for k, v in first.items() if k != "cursor"} == {
        "code": "CL.01.1",
        "cluster": "CHILD_LABOUR",
        "compliancePoint": "Child labourers",
        "cafRef": "RH-CL01-01",
        "step": 1,
        "publicReporting": True,
        "zeroTolerance": True,
        "toolVersion": "CAF 1.4",
        "overlayVersion": "2021.1",
    }
    own = [q for q in questions if q["cafRef"] is None]
    assert own and all(q["step"] is None for q in own)  # Better Work's own: no CAF step
    assert {q["step"] for q in questions} == {None, 1, 2, 3}


async def test_the_catalogue_pages_on(api: Any, reference: None) -> None:
    first = (await api.gql(QUESTIONS, {"country": "BD", "first": 2}))["questions"]
    rest = (
        await api.gql(QUESTIONS, {"country": "BD", "first": 100, "after": first[-1]["cursor"]})
    )["questions"]

    assert [q["code"] for q in first + rest] == list(catalogue().questions)


async def test_the_newest_version_is_served_and_an_older_tool_on_request(
    api: Any, reference: None, session: AsyncSession
) -> None:
    newer = copy.deepcopy(new_overlay_for_indonesia())
    newer["toolVersion"] = "CAF 1.5"
    await session.run_sync(lambda s: load_reference(s.connection(), parse(newer)))
    await session.commit()

    current = (await api.gql(QUESTIONS, {"country": "ID", "first": 100}))["questions"]
    older = (await api.gql(QUESTIONS, {"country": "ID", "tool": "CAF 1.4", "first": 100}))[
        "questions"
    ]
    unknown = await api.gql(QUESTIONS, {"country": "ID", "tool": "CAF 9.9"})
    elsewhere = (await api.gql(QUESTIONS, {"country": "BD", "first": 100}))["questions"]

    assert {(q["toolVersion"], q["overlayVersion"]) for q in current} == {("CAF 1.5", "2024.1")}
    assert len(current) == SIZE + 1
    assert {(q["toolVersion"], q["overlayVersion"]) for q in older} == {("CAF 1.4", "2021.1")}
    assert unknown == {"questions": []}
    assert {q["toolVersion"] for q in elsewhere} == {"CAF 1.4"}


@pytest.mark.parametrize(
    ("country", "answer"),
    [
        pytest.param("FR", {"questions": []}, id="country-without-catalogue"),
        pytest.param("ZZ", {"questions": []}, id="no-such-country"),
    ],
)
async def test_a_country_without_catalogue_has_no_questions(
    api: Any, reference: None, country: str, answer: dict[str, Any]
) -> None:
    assert await api.gql(QUESTIONS, {"country": country}) == answer


async def test_a_malformed_country_is_a_bad_argument(api: Any, reference: None) -> None:
    body = (await api.post(QUESTIONS, {"country": "I1"})).json()

    assert body["errors"][0]["extensions"]["code"] == "BAD_ARGUMENT"


SET_ROLLOUT = """mutation($i: SetCountryRolloutInput!) { setCountryRollout(input: $i) {
  country { code slcpRolloutOn overlayVersion } errors { code } } }"""


async def test_a_country_rolled_out_takes_its_newest_overlay(
    api: Any, reference: None, session: AsyncSession
) -> None:
    platform = await make_org(session, m.OrganizationKind.PLATFORM)
    admin = await make_user(session, platform, m.Role.PLATFORM_ADMIN)
    await session.commit()

    data = await api.gql(
        SET_ROLLOUT, {"i": {"code": "KH", "slcpRolloutOn": "2026-01-05"}}, token=api.token(admin)
    )

    assert data["setCountryRollout"] == {
        "country": {"code": "KH", "slcpRolloutOn": "2026-01-05", "overlayVersion": "2021.1"},
        "errors": [],
    }
