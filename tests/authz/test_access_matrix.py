"""DESIGN.md's "Who sees what", as a matrix through the real HTTP API.

Given one world (``tests/authz/world.py``): a target factory F in the home country with four
cycles (1 released long ago, 2 released and its latest, 3 released with a release date still
to come, 4 a draft), a neighbour G, five filler factories, a factory V abroad, and a caller of
every kind — F's own users, G's manager, brands and hosts in every grant state, programmes,
constituents, labour inspectorates, the platform and the anonymous public.
When each caller asks for each resource,
then it gets exactly what the table below says, and a row it may not see is indistinguishable
from one that does not exist (null, absent, not counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from api.ids import to_global_id
from tests.conftest import Api
from tests.world import MatrixWorld, build_matrix_world

# --- the expectation table ----------------------------------------------------------------
#
# factories       the factories the caller may see (fill = fill1..fill5, all = every factory)
# slcp            F's SLCP registration and gatewayEligibility are shown (rule 8: never brands)
# assessments     F's cycles whose assessment (and findings) the caller sees
# self            F's self-assessments: all (also one being filled in), sent (the submitted
#                 ones), or none
# grants          F's consent grants: all of them, its own only, or none
# log             F's access log and audit trail
# zero_tolerance  factories whose zero-tolerance findings zeroToleranceFindings(country: ID) shows
# statistics      countryStatistics(country: ID) answers
# enrolled        the rolling list of enrolled factories (rule 17)
# exports         the factories of whose Gateway exports the caller sees one
TABLE = """
caller                                 | factories | slcp | assessments | self | grants | log | zero_tolerance | statistics | enrolled | exports
factory manager                        | F         | yes  | 1 2         | all  | all    | yes | F              | no         | no       | -
worker representative                  | F         | yes  | 1 2         | all  | all    | yes | F              | no         | no       | -
another factory                        | G         | no   | -           | -    | -      | no  | G              | no         | no       | -
brand without grant                    | -         | no   | -           | -    | -      | no  | -              | no         | no       | -
brand with active grant                | F         | no   | 1 2         | sent | own    | no  | F              | no         | no       | -
brand with expired grant               | -         | no   | -           | -    | -      | no  | -              | no         | no       | -
brand with revoked grant               | -         | no   | -           | -    | -      | no  | -              | no         | no       | -
brand with self-assessment scope only  | F         | no   | -           | sent | own    | no  | -              | no         | no       | -
brand with assessment scope only       | F         | no   | 1 2         | -    | own    | no  | F              | no         | no       | -
brand with grant for another factory   | G         | no   | -           | -    | -      | no  | G              | no         | no       | -
host without grant                     | -         | no   | -           | -    | -      | no  | -              | no         | yes      | -
host with active grant                 | F         | yes  | -           | -    | own    | no  | -              | no         | yes      | F
host with expired grant                | -         | no   | -           | -    | -      | no  | -              | no         | yes      | -
host with revoked grant                | -         | no   | -           | -    | -      | no  | -              | no         | yes      | -
host with self-assessment scope only   | F         | yes  | -           | -    | own    | no  | -              | no         | yes      | -
host with assessment scope only        | F         | yes  | -           | -    | own    | no  | -              | no         | yes      | -
host with grant for another factory    | G         | no   | -           | -    | -      | no  | -              | no         | yes      | G
programme of the country               | F G fill  | yes  | 1 2 3 4     | sent | all    | no  | F G            | yes        | no       | -
programme of another country           | V         | no   | -           | -    | -      | no  | -              | no         | no       | -
constituent                            | -         | no   | -           | -    | -      | no  | -              | yes        | no       | -
labour inspectorate                    | -         | no   | -           | -    | -      | no  | F G            | yes        | no       | -
labour inspectorate of another country | -         | no   | -           | -    | -      | no  | -              | no         | no       | -
platform admin                         | all       | yes  | 1 2         | sent | all    | no  | F G            | no         | yes      | -
anonymous                              | -         | no   | -           | -    | -      | no  | -              | no         | no       | -
"""  # noqa: E501 - a table reads best on one line a row

ALL_FACTORIES = frozenset({"F", "G", "V", "fill1", "fill2", "fill3", "fill4", "fill5"})
FILLERS = frozenset({"fill1", "fill2", "fill3", "fill4", "fill5"})
# The cells of countryStatistics(country: ID) for whoever may read it: CHILD_LABOUR covers F,
# G and fill1-4 (6 factories, 3 non-compliant); fill5's draft and V abroad do not count; every
# other cluster covers fewer than 5 factories and is withheld.
CHILD_LABOUR_CELL = {
    "cluster": "CHILD_LABOUR",
    "factories": 6,
    "nonComplianceRate": 0.5,
    "suppressed": False,
}
# What the public transparency view shows to everyone: the public findings of each factory's
# latest released assessment — F's cycle 2 (not cycle 1, older; not 3, release date to come;
# not 4, a draft), G's and V's.
PUBLIC_VIEW = {
    ("Target Factory", "ID", "F2.PUB"),
    ("Neighbour Factory", "ID", "G1.PUB"),
    ("Abroad Factory", "VN", "V1.PUB"),
}
# F's findings by cycle, as the world builds them.
F_FINDINGS = {
    1: {"F1.PUB"},
    2: {"F2.PUB", "F2.ZT", "F2.WT"},
    3: {"F3.PUB", "F3.ZT"},
    4: {"F4.PUB", "F4.ZT"},
}


@dataclass(frozen=True)
class Row:
    factories: frozenset[str]
    slcp: bool
    assessments: frozenset[int]
    self_assessments: str
    grants: str
    log: bool
    zero_tolerance: frozenset[str]
    statistics: bool
    enrolled: bool
    exports: frozenset[str]


def _names(cell: str) -> frozenset[str]:
    if cell == "-":
        return frozenset()
    if cell == "all":
        return ALL_FACTORIES
    out: set[str] = set()
    for word in cell.split():
        out |= FILLERS if word == "fill" else {word}
    return frozenset(out)


def _yes(cell: str) -> bool:
    assert cell in ("yes", "no"), cell
    return cell == "yes"


def _parse(table: str) -> dict[str, Row]:
    lines = [line for line in table.strip().splitlines()]
    rows = {}
    for line in lines[1:]:
        caller, factories, slcp, cycles, self_, grants, log, zt, stats, enrolled, exports = (
            cell.strip() for cell in line.split("|")
        )
        assert grants in ("all", "own", "-"), grants
        assert self_ in ("all", "sent", "-"), self_
        rows[caller] = Row(
            factories=_names(factories),
            slcp=_yes(slcp),
            assessments=frozenset() if cycles == "-" else frozenset(map(int, cycles.split())),
            self_assessments=self_,
            grants=grants,
            log=_yes(log),
            zero_tolerance=_names(zt),
            statistics=_yes(stats),
            enrolled=_yes(enrolled),
            exports=_names(exports),
        )
    return rows


EXPECTED = _parse(TABLE)
CALLERS = list(EXPECTED)

# --- the GraphQL documents ------------------------------------------------------------------

FACTORIES = """
query { factories(first: 100) { totalCount edges { node { id name } } } }
"""

PROFILE = """
query Profile($id: ID!) {
  factory(id: $id) { id name country { code } organization { name } }
  node(id: $id) { id ... on Factory { name } }
}
"""

SLCP = """
query Slcp($id: ID!) {
  factory(id: $id) {
    name
    slcp { gatewayId verifierBody }
    gatewayEligibility(cycle: 1) { eligible reasons }
  }
}
"""

ASSESSMENTS = """
query Assessments($id: ID!) {
  factory(id: $id) {
    assessments(first: 50) {
      totalCount
      edges {
        node {
          id cycle status
          findings(first: 50) { totalCount edges { node { questionCode detail } } }
        }
      }
    }
  }
}
"""

NODES = """
query Nodes($c1: ID!, $c2: ID!, $c3: ID!, $c4: ID!, $f1pub: ID!, $f2pub: ID!, $f2zt: ID!,
            $f2wt: ID!, $f3pub: ID!, $f3zt: ID!, $f4pub: ID!, $f4zt: ID!) {
  c1: node(id: $c1) { ...Seen }
  c2: node(id: $c2) { ...Seen }
  c3: node(id: $c3) { ...Seen }
  c4: node(id: $c4) { ...Seen }
  f1pub: node(id: $f1pub) { ...Seen }
  f2pub: node(id: $f2pub) { ...Seen }
  f2zt: node(id: $f2zt) { ...Seen }
  f2wt: node(id: $f2wt) { ...Seen }
  f3pub: node(id: $f3pub) { ...Seen }
  f3zt: node(id: $f3zt) { ...Seen }
  f4pub: node(id: $f4pub) { ...Seen }
  f4zt: node(id: $f4zt) { ...Seen }
}
fragment Seen on Node {
  id
  ... on Assessment { cycle status findings(first: 50) { totalCount } }
  ... on Finding { questionCode detail }
}
"""
NODE_ALIASES: dict[str, int | str] = {
    "c1": 1,
    "c2": 2,
    "c3": 3,
    "c4": 4,
    "f1pub": "F1.PUB",
    "f2pub": "F2.PUB",
    "f2zt": "F2.ZT",
    "f2wt": "F2.WT",
    "f3pub": "F3.PUB",
    "f3zt": "F3.ZT",
    "f4pub": "F4.PUB",
    "f4zt": "F4.ZT",
}

SELF_ASSESSMENTS = """
query SelfAssessments($id: ID!, $sa1: ID!, $sa2: ID!, $sa3: ID!) {
  factory(id: $id) { selfAssessments { id cycle step answers submittedAt } }
  sa1: node(id: $sa1) { id ... on SelfAssessment { cycle answers } }
  sa2: node(id: $sa2) { id ... on SelfAssessment { cycle answers } }
  sa3: node(id: $sa3) { id ... on SelfAssessment { cycle step submittedAt } }
}
"""

GRANTS = """
query Grants($id: ID!, $g1: ID!, $g2: ID!, $g3: ID!, $g4: ID!, $g5: ID!, $g6: ID!, $g7: ID!,
             $g8: ID!, $g9: ID!, $g10: ID!) {
  factory(id: $id) { consentGrants { id grantee { name } scopes active } }
  g1: node(id: $g1) { id } g2: node(id: $g2) { id } g3: node(id: $g3) { id }
  g4: node(id: $g4) { id } g5: node(id: $g5) { id } g6: node(id: $g6) { id }
  g7: node(id: $g7) { id } g8: node(id: $g8) { id } g9: node(id: $g9) { id }
  g10: node(id: $g10) { id }
}
"""

ACCESS_LOG = """
query AccessLog($id: ID!) {
  factory(id: $id) {
    accessLog(first: 50) { edges { node { operation organization { name } } } }
    auditLog(first: 50) { edges { node { action target } } }
  }
}
"""

ZERO_TOLERANCE = """
query { zeroToleranceFindings(country: "ID") { factoryId factoryName questionCode detail } }
"""

STATISTICS = """
query { countryStatistics(country: "ID") { cluster factories nonComplianceRate suppressed } }
"""

PUBLIC_FINDINGS = """
query { publicFindings(first: 100) { factoryName country compliancePoint } }
"""

ENROLLED = """
query { enrolledFactories(first: 100) { name country } }
"""

EXPORTS = """
query Exports($e1: ID!, $e2: ID!, $e3: ID!, $e4: ID!) {
  gatewayExports(first: 20) { edges { node { id cycle factoryGatewayId } } }
  e1: node(id: $e1) { id } e2: node(id: $e2) { id }
  e3: node(id: $e3) { id } e4: node(id: $e4) { id }
}
"""

MISSING_PK = 987654


# --- fixtures -------------------------------------------------------------------------------


@dataclass
class Matrix:
    api: Api
    world: MatrixWorld

    async def ask(
        self, caller: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        user = self.world.users[caller]
        token = None if user is None else self.api.token(user)
        return await self.api.gql(query, variables, token=token)

    def gid(self, kind: str, pk: int) -> str:
        return str(to_global_id(kind, pk))

    @property
    def f(self) -> str:
        return self.gid("Factory", self.world.factory_ids["F"])


@pytest.fixture(scope="module")
async def matrix(module_api: Api, keys: Any) -> Matrix:
    async with module_api.runtime.sessionmaker() as session:
        world = await build_matrix_world(session, keys)
        await session.commit()
    return Matrix(module_api, world)


by_caller = pytest.mark.parametrize("caller", CALLERS)


def test_the_table_covers_every_kind_of_caller() -> None:
    assert set(CALLERS) == {
        "factory manager",
        "worker representative",
        "another factory",
        *(
            f"{kind} {state}"
            for kind in ("brand", "host")
            for state in (
                "without grant",
                "with active grant",
                "with expired grant",
                "with revoked grant",
                "with self-assessment scope only",
                "with assessment scope only",
                "with grant for another factory",
            )
        ),
        "programme of the country",
        "programme of another country",
        "constituent",
        "labour inspectorate",
        "labour inspectorate of another country",
        "platform admin",
        "anonymous",
    }


# --- factory profile ------------------------------------------------------------------------


@by_caller
async def test_given_the_world_when_listing_factories_then_the_visible_ones_listed_and_counted(
    matrix: Matrix, caller: str
) -> None:
    data = await matrix.ask(caller, FACTORIES)

    names = [edge["node"]["name"] for edge in data["factories"]["edges"]]
    expected = {matrix.world.factory_names[label] for label in EXPECTED[caller].factories}
    assert sorted(names) == sorted(expected)
    assert data["factories"]["totalCount"] == len(expected)


@by_caller
async def test_given_f_when_fetched_by_id_and_node_then_shown_if_visible_else_as_missing(
    matrix: Matrix, caller: str
) -> None:
    data = await matrix.ask(caller, PROFILE, {"id": matrix.f})
    missing = await matrix.ask(caller, PROFILE, {"id": matrix.gid("Factory", MISSING_PK)})

    if "F" in EXPECTED[caller].factories:
        assert data["factory"]["name"] == "Target Factory"
        assert data["factory"]["country"] == {"code": "ID"}
        assert data["node"] == {"id": matrix.f, "name": "Target Factory"}
    else:
        assert data == missing == {"factory": None, "node": None}


# --- SLCP registration and Gateway eligibility (rule 8) ---------------------------------------


@by_caller
async def test_given_f_registered_with_slcp_when_asked_then_only_allowed_callers_learn_it(
    matrix: Matrix, caller: str
) -> None:
    data = await matrix.ask(caller, SLCP, {"id": matrix.f})

    factory = data["factory"]
    row = EXPECTED[caller]
    if "F" not in row.factories:
        assert factory is None
    elif row.slcp:
        assert factory["slcp"] == {"gatewayId": "GW-TARGET", "verifierBody": "Better Work"}
        assert isinstance(factory["gatewayEligibility"]["eligible"], bool)
    else:
        # A brand sees F, and nothing of its SLCP participation.
        assert factory == {"name": "Target Factory", "slcp": None, "gatewayEligibility": None}


# --- assessments and findings -----------------------------------------------------------------


@by_caller
async def test_given_f_assessments_in_every_state_when_listed_then_the_visible_ones_and_counted(
    matrix: Matrix, caller: str
) -> None:
    data = await matrix.ask(caller, ASSESSMENTS, {"id": matrix.f})

    row = EXPECTED[caller]
    if "F" not in row.factories:
        assert data["factory"] is None
        return
    connection = data["factory"]["assessments"]
    cycles = {edge["node"]["cycle"] for edge in connection["edges"]}
    assert cycles == set(row.assessments)
    assert connection["totalCount"] == len(row.assessments)
    for edge in connection["edges"]:
        node = edge["node"]
        findings = node["findings"]
        codes = {f["node"]["questionCode"] for f in findings["edges"]}
        assert codes == F_FINDINGS[node["cycle"]]
        assert findings["totalCount"] == len(codes)
        for f in findings["edges"]:
            assert f["node"]["detail"] == matrix.world.details.get(f["node"]["questionCode"])


@by_caller
async def test_given_f_assessments_and_findings_when_fetched_by_node_id_then_null_unless_visible(
    matrix: Matrix, caller: str
) -> None:
    w = matrix.world
    variables = {
        alias: matrix.gid("Assessment", w.assessment_ids[key])
        if isinstance(key, int)
        else matrix.gid("Finding", w.finding_ids[key])
        for alias, key in NODE_ALIASES.items()
    }

    data = await matrix.ask(caller, NODES, variables)

    visible = EXPECTED[caller].assessments
    for alias, key in NODE_ALIASES.items():
        cycle = key if isinstance(key, int) else w.finding_cycle[key]
        node = data[alias]
        if cycle not in visible:
            assert node is None, alias
        elif isinstance(key, int):
            assert node["cycle"] == key
            assert node["findings"]["totalCount"] == len(F_FINDINGS[key])
        else:
            assert node == {
                "id": variables[alias],
                "questionCode": key,
                "detail": w.details.get(key),
            }


# --- self-assessments -------------------------------------------------------------------------


@by_caller
async def test_given_f_self_assessments_when_listed_and_by_node_then_only_allowed_callers(
    matrix: Matrix, caller: str
) -> None:
    w = matrix.world
    variables = {"id": matrix.f} | {
        f"sa{n}": matrix.gid("SelfAssessment", w.self_assessment_ids[n]) for n in (1, 2, 3)
    }

    data = await matrix.ask(caller, SELF_ASSESSMENTS, variables)

    row = EXPECTED[caller]
    submitted = {(1, 1), (2, 1)}
    expected = {"all": submitted | {(3, 2)}, "sent": submitted, "-": set()}[row.self_assessments]
    if "F" in row.factories:
        listed = {(sa["cycle"], sa["step"]) for sa in data["factory"]["selfAssessments"]}
        assert listed == expected
    else:
        assert data["factory"] is None
    if row.self_assessments == "-":
        assert data["sa1"] is None and data["sa2"] is None
    else:
        assert data["sa1"] == {"id": variables["sa1"], "cycle": 1, "answers": {"CL.01.1": "NO"}}
        assert data["sa2"]["cycle"] == 2
    if row.self_assessments == "all":
        assert data["sa3"] == {"id": variables["sa3"], "cycle": 3, "step": 2, "submittedAt": None}
    else:
        assert data["sa3"] is None


# --- consent grants ---------------------------------------------------------------------------

GRANT_ALIASES = {
    "g1": "brand with active grant",
    "g2": "brand with expired grant",
    "g3": "brand with revoked grant",
    "g4": "brand with self-assessment scope only",
    "g5": "brand with assessment scope only",
    "g6": "host with active grant",
    "g7": "host with expired grant",
    "g8": "host with revoked grant",
    "g9": "host with self-assessment scope only",
    "g10": "host with assessment scope only",
}


@by_caller
async def test_given_grants_of_f_when_listed_and_by_node_then_all_its_own_or_none(
    matrix: Matrix, caller: str
) -> None:
    w = matrix.world
    assert set(GRANT_ALIASES.values()) == set(w.grant_ids)
    variables = {"id": matrix.f} | {
        alias: matrix.gid("ConsentGrant", w.grant_ids[grantee])
        for alias, grantee in GRANT_ALIASES.items()
    }

    data = await matrix.ask(caller, GRANTS, variables)

    row = EXPECTED[caller]
    expected = {"all": set(GRANT_ALIASES.values()), "own": {caller}, "-": set()}[row.grants]
    by_node = {GRANT_ALIASES[alias] for alias in GRANT_ALIASES if data[alias] is not None}
    assert by_node == expected
    if "F" in row.factories:
        listed = {g["grantee"]["name"] for g in data["factory"]["consentGrants"]}
        assert listed == {w.org_names[grantee] for grantee in expected}
    else:
        assert data["factory"] is None


# --- access log -------------------------------------------------------------------------------


@by_caller
async def test_given_f_was_read_by_a_brand_when_asking_f_access_log_then_only_f_sees_it(
    matrix: Matrix, caller: str
) -> None:
    data = await matrix.ask(caller, ACCESS_LOG, {"id": matrix.f})

    row = EXPECTED[caller]
    if "F" not in row.factories:
        assert data["factory"] is None
        return
    readers = {e["node"]["organization"]["name"] for e in data["factory"]["accessLog"]["edges"]}
    audit = {
        (e["node"]["action"], e["node"]["target"]) for e in data["factory"]["auditLog"]["edges"]
    }
    w = matrix.world
    if row.log:
        assert w.org_names["brand with active grant"] in readers
        # the record of the draft (cycle 4) is withheld until its release
        assert audit == {
            ("consent.grant", f"ConsentGrant:{w.grant_ids['brand with active grant']}"),
            ("assessment.record", f"Assessment:{w.assessment_ids[2]}"),
        }
    else:
        assert readers == set()
        assert audit == set()


# --- zero tolerance, statistics, public findings, enrolled list, exports ----------------------


@by_caller
async def test_given_zero_tolerance_findings_when_asking_the_country_then_released_allowed_ones(
    matrix: Matrix, caller: str
) -> None:
    data = await matrix.ask(caller, ZERO_TOLERANCE)

    cases = {(case["factoryName"], case["questionCode"]) for case in data["zeroToleranceFindings"]}
    expected_codes = {"F": ("Target Factory", "F2.ZT"), "G": ("Neighbour Factory", "G1.ZT")}
    assert cases == {expected_codes[label] for label in EXPECTED[caller].zero_tolerance}


@by_caller
async def test_given_six_assessed_factories_when_asking_statistics_then_small_cells_withheld(
    matrix: Matrix, caller: str
) -> None:
    data = await matrix.ask(caller, STATISTICS)

    cells = data["countryStatistics"]
    if not EXPECTED[caller].statistics:
        assert cells == []
        return
    by_cluster = {cell["cluster"]: cell for cell in cells}
    assert len(by_cluster) == 8
    assert by_cluster.pop("CHILD_LABOUR") == CHILD_LABOUR_CELL
    for cell in by_cluster.values():
        assert cell["suppressed"] is True
        assert cell["factories"] == 0 and cell["nonComplianceRate"] is None


@by_caller
async def test_given_public_findings_when_anyone_asks_then_the_latest_released_public_ones(
    matrix: Matrix, caller: str
) -> None:
    data = await matrix.ask(caller, PUBLIC_FINDINGS)

    shown = {(f["factoryName"], f["country"], f["compliancePoint"]) for f in data["publicFindings"]}
    assert shown == PUBLIC_VIEW


@by_caller
async def test_given_enrolled_factories_when_asking_the_list_then_only_hosts_and_platform(
    matrix: Matrix, caller: str
) -> None:
    data = await matrix.ask(caller, ENROLLED)

    names = {f["name"] for f in data["enrolledFactories"]}
    if EXPECTED[caller].enrolled:
        assert names == set(matrix.world.factory_names.values())
    else:
        assert names == set()


EXPORT_ALIASES = {
    "e1": "host with active grant",
    "e2": "host with expired grant",
    "e3": "host with revoked grant",
    "e4": "host with grant for another factory",
}
EXPORT_FACTORY = {
    "host with active grant": "F",
    "host with expired grant": "F",
    "host with revoked grant": "F",
    "host with grant for another factory": "G",
}


@by_caller
async def test_given_exports_when_asking_then_a_host_sees_its_own_under_an_active_grant(
    matrix: Matrix, caller: str
) -> None:
    w = matrix.world
    variables = {
        alias: matrix.gid("GatewayExport", w.export_ids[host])
        for alias, host in EXPORT_ALIASES.items()
    }

    data = await matrix.ask(caller, EXPORTS, variables)

    expected = {
        host
        for host in EXPORT_ALIASES.values()
        if host == caller and EXPORT_FACTORY[host] in EXPECTED[caller].exports
    }
    listed = {edge["node"]["id"] for edge in data["gatewayExports"]["edges"]}
    assert listed == {variables[a] for a, host in EXPORT_ALIASES.items() if host in expected}
    by_node = {host for alias, host in EXPORT_ALIASES.items() if data[alias] is not None}
    assert by_node == expected


# --- reads of F by others are logged for F ----------------------------------------------------

READ_F = """
query ReadF($id: ID!) { factory(id: $id) { name } }
"""


async def _events_of_f(matrix: Matrix) -> list[tuple[str, str]]:
    """F's access events, oldest first: (reader organisation name, operation); plain SQL."""
    from sqlalchemy import text

    async with matrix.api.runtime.sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT o.name, e.operation FROM access_read e"
                " JOIN organization o ON o.id = e.organization_id"
                " WHERE e.factory_id = :f ORDER BY e.id"
            ),
            {"f": matrix.world.factory_ids["F"]},
        )
        return [(name, operation) for name, operation in rows]


@pytest.mark.parametrize(
    "reader",
    [
        "brand with active grant",
        "host with active grant",
        "programme of the country",
        "platform admin",
    ],
)
async def test_given_another_organisation_when_it_reads_f_then_f_sees_one_event_naming_it(
    matrix: Matrix, reader: str
) -> None:
    before = await _events_of_f(matrix)

    await matrix.ask(reader, READ_F, {"id": matrix.f})

    after = await _events_of_f(matrix)
    assert after[: len(before)] == before
    ((name, operation),) = after[len(before) :]
    assert name == matrix.world.org_names[reader]
    assert operation.endswith(":factory")
    log = await matrix.ask("factory manager", ACCESS_LOG, {"id": matrix.f})
    newest = log["factory"]["accessLog"]["edges"][0]["node"]
    assert newest == {
        "operation": operation,
        "organization": {"name": matrix.world.org_names[reader]},
    }


async def test_given_the_inspectorate_when_it_reads_zero_tolerance_findings_then_f_sees_an_event(
    matrix: Matrix,
) -> None:
    before = await _events_of_f(matrix)

    await matrix.ask("labour inspectorate", ZERO_TOLERANCE)

    new = (await _events_of_f(matrix))[len(before) :]
    assert [name for name, _ in new] == [matrix.world.org_names["labour inspectorate"]]


@pytest.mark.parametrize("reader", ["factory manager", "worker representative"])
async def test_given_f_own_users_when_they_read_all_of_f_then_no_event_is_added(
    matrix: Matrix, reader: str
) -> None:
    before = await _events_of_f(matrix)

    for document in (PROFILE, ASSESSMENTS, ACCESS_LOG, SLCP):
        await matrix.ask(reader, document, {"id": matrix.f})
    await matrix.ask(reader, ZERO_TOLERANCE)

    assert await _events_of_f(matrix) == before


@pytest.mark.parametrize(
    "reader",
    [
        "brand without grant",
        "brand with expired grant",
        "brand with revoked grant",
        "host with grant for another factory",
        "constituent",
        "programme of another country",
        "anonymous",
    ],
)
async def test_given_a_caller_that_may_not_see_f_when_it_asks_for_f_then_nothing_logged(
    matrix: Matrix, reader: str
) -> None:
    before = await _events_of_f(matrix)

    data = await matrix.ask(reader, READ_F, {"id": matrix.f})

    assert data == {"factory": None}
    assert await _events_of_f(matrix) == before


READ_NODE = """
query ReadNode($id: ID!) { node(id: $id) { id } }
"""

# what → (reader, node type, the row's key in the world)
NODE_READS = {
    "assessment": ("brand with active grant", "Assessment", ("assessment", 2)),
    "finding": ("brand with active grant", "Finding", ("finding", "F2.ZT")),
    "self-assessment": ("brand with active grant", "SelfAssessment", ("self_assessment", 1)),
    "own grant": ("brand with active grant", "ConsentGrant", ("grant", "brand with active grant")),
    "export": ("host with active grant", "GatewayExport", ("export", "host with active grant")),
}


@pytest.mark.parametrize("what", list(NODE_READS))
async def test_given_a_grantee_when_it_reads_f_data_by_node_id_then_f_sees_an_event(
    matrix: Matrix, what: str
) -> None:
    w = matrix.world
    reader, kind, (table, key) = NODE_READS[what]
    pk = {
        "assessment": w.assessment_ids,
        "finding": w.finding_ids,
        "self_assessment": w.self_assessment_ids,
        "grant": w.grant_ids,
        "export": w.export_ids,
    }[table][key]  # type: ignore[index]
    before = await _events_of_f(matrix)

    data = await matrix.ask(reader, READ_NODE, {"id": matrix.gid(kind, pk)})

    assert data["node"] is not None  # the read happened
    new = (await _events_of_f(matrix))[len(before) :]
    assert [name for name, _ in new] == [w.org_names[reader]]


# --- beyond the table ----------------------------------------------------------------------------

ZERO_TOLERANCE_ABROAD = """
query { zeroToleranceFindings(country: "VN") { factoryName questionCode } }
"""


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        (
            "labour inspectorate of another country",
            [{"factoryName": "Abroad Factory", "questionCode": "V1.ZT"}],
        ),
        ("labour inspectorate", []),
    ],
    ids=["its own country", "another country"],
)
async def test_given_an_inspectorate_when_asking_a_country_then_only_its_own_answers(
    matrix: Matrix, caller: str, expected: list[dict[str, str]]
) -> None:
    data = await matrix.ask(caller, ZERO_TOLERANCE_ABROAD)

    assert data["zeroToleranceFindings"] == expected


ELIGIBILITY_OF_UNRELEASED = """
query Eligibility($id: ID!) {
  factory(id: $id) {
    draft: gatewayEligibility(cycle: 4) { eligible reasons gatewayReleaseOn }
    notYetReleased: gatewayEligibility(cycle: 3) { eligible reasons gatewayReleaseOn }
  }
}
"""
# What a cycle with no assessment (and no step 1 self-assessment) answers.
UNASSESSED = {
    "eligible": False,
    "reasons": ["NO_SELF_ASSESSMENT", "NO_ASSESSMENT"],
    "gatewayReleaseOn": None,
}


@pytest.mark.parametrize("caller", ["host with active grant", "platform admin"])
async def test_given_unreleased_assessments_when_outsiders_ask_eligibility_then_nothing_shows(
    matrix: Matrix, caller: str
) -> None:
    data = await matrix.ask(caller, ELIGIBILITY_OF_UNRELEASED, {"id": matrix.f})

    assert data["factory"] == {"draft": UNASSESSED, "notYetReleased": UNASSESSED}


# --- a host integration's API key sees what its users see -----------------------------------------


HOST_DOCUMENTS = {
    "factories": FACTORIES,
    "profile": PROFILE,
    "slcp": SLCP,
    "assessments": ASSESSMENTS,
    "self-assessments": SELF_ASSESSMENTS,
    "enrolled": ENROLLED,
}
ACCESS_LOG_VIA = """
query AccessLogVia($id: ID!) {
  factory(id: $id) { accessLog(first: 1) { edges { node { via organization { name } } } } }
}
"""


@pytest.mark.parametrize("document", list(HOST_DOCUMENTS))
async def test_given_a_host_api_key_when_it_asks_then_the_answer_of_the_host_s_users(
    matrix: Matrix, document: str
) -> None:
    host = "host with active grant"
    w = matrix.world
    variables = {"id": matrix.f} | {
        f"sa{n}": matrix.gid("SelfAssessment", w.self_assessment_ids[n]) for n in (1, 2, 3)
    }
    query = HOST_DOCUMENTS[document]
    used = {name: value for name, value in variables.items() if f"${name}" in query}

    by_key = await matrix.api.gql(query, used, api_key=w.api_keys[host])
    by_user = await matrix.ask(host, query, used)

    assert by_key == by_user


async def test_given_a_host_api_key_when_it_pulls_its_exports_then_f_sees_a_read_via_api_key(
    matrix: Matrix,
) -> None:
    host = "host with active grant"
    w = matrix.world
    variables = {
        alias: matrix.gid("GatewayExport", w.export_ids[name])
        for alias, name in EXPORT_ALIASES.items()
    }

    data = await matrix.api.gql(EXPORTS, variables, api_key=w.api_keys[host])

    assert [edge["node"]["id"] for edge in data["gatewayExports"]["edges"]] == [variables["e1"]]
    log = await matrix.ask("factory manager", ACCESS_LOG_VIA, {"id": matrix.f})
    newest = log["factory"]["accessLog"]["edges"][0]["node"]
    assert newest["organization"] == {"name": w.org_names[host]}
    assert newest["via"] == "API_KEY"
