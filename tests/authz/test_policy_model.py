"""The Casbin layer: ``policy.conf``, the enforcer, the rules probe, point checks.

(a) ``Enforcer.decide`` (pycasbin's answer, remembered by its facts) answers exactly as
    pycasbin's own ``enforce`` over every enumerated request and over random facts;
(b) ``authz.rules.condition`` turns the model into the conditions written in the tables
    below, for every kind of organisation and every object of a factory;
(c) point checks turn on the facts of the request alone (ownership, grants, country), and
    the enforcer keeps no more than a bounded table of answers, however many are asked.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import models as m
from authz.enforcer import ENFORCER, Enforcer, Relation, Subject, allows, relation
from authz.principal import Principal
from authz.rules import (
    ASSESSMENT,
    IN_COUNTRY,
    OWNER,
    SELF_ASSESSMENT,
    Condition,
    Shape,
    condition,
    decide,
    needs_grants,
)

K = m.OrganizationKind

# --- (a) the remembered answer is pycasbin's -------------------------------------------------

# Who may ask (policy.conf's header explains the vocabulary), with the role its users hold.
SUBJECTS = {
    "factory": (Subject("FACTORY"), "FACTORY_MANAGER"),
    "brand": (Subject("BRAND"), "BRAND_VIEWER"),
    "host": (Subject("HOST"), "HOST_INTEGRATION"),
    "programme": (Subject("PROGRAMME"), "ASSESSOR"),
    "constituent": (Subject("CONSTITUENT"), "CONSTITUENT_VIEWER"),
    "inspectorate": (Subject("CONSTITUENT", inspectorate=True), "CONSTITUENT_VIEWER"),
    "platform": (Subject("PLATFORM"), "PLATFORM_ADMIN"),
    "anonymous": (Subject(""), "ANONYMOUS"),
}
ROLES = [*(role.value for role in m.Role), "ANONYMOUS"]
SCOPE_SETS = [
    frozenset(c) for n in range(3) for c in itertools.combinations((ASSESSMENT, SELF_ASSESSMENT), n)
]
# Every relation a caller can stand in to a factory (or a country).
RELATIONS = [
    Relation(owner=owner, grants=grants, in_country=in_country)
    for owner, grants, in_country in itertools.product([False, True], SCOPE_SETS, [False, True])
]
OBJECTS = [
    "factory",
    "slcp",
    "assessment",
    "draft",
    "zero_tolerance",
    "self_assessment",
    "consent",
    "own_consent",
    "access_log",
    "public",
    "statistics",
    "enrolled_list",
    "export",
    "admin",
    "late_release",
    "directory",
    "host_integration",
    "no_such_object",
]
ACTS = ["read", "write"]


@pytest.mark.parametrize("who", list(SUBJECTS))
def test_given_every_relation_when_a_subject_asks_anything_then_the_answer_is_pycasbin_s(
    who: str,
) -> None:
    subject, role = SUBJECTS[who]
    allowed = 0
    for rel, obj, act in itertools.product(RELATIONS, OBJECTS, ACTS):
        answer = ENFORCER.decide(subject, role, rel, obj, act)
        assert answer == ENFORCER.enforce(subject, role, rel, obj, act), (rel, obj, act)
        allowed += answer
    # Not vacuous: every subject may do something (the public view at least), none all of it.
    assert 0 < allowed < len(RELATIONS) * len(OBJECTS) * len(ACTS)


# The subjects whose rules look at the role (policy.conf rules 3, 9, 13 and 14), and one whose
# rules do not; any role is a string the token could carry.
ROLE_SENSITIVE = ["factory", "programme", "platform", "brand", "anonymous"]


@pytest.mark.parametrize("role", ROLES)
def test_given_any_role_when_a_subject_acts_in_it_then_the_answer_is_pycasbin_s(
    role: str,
) -> None:
    # Grants do not meet roles in any rule: no grant, or both, is enough here.
    relations = [rel for rel in RELATIONS if len(rel.grants) != 1]
    for who, rel, obj, act in itertools.product(ROLE_SENSITIVE, relations, OBJECTS, ACTS):
        subject = SUBJECTS[who][0]
        assert ENFORCER.decide(subject, role, rel, obj, act) == ENFORCER.casbin.enforce(
            subject, role, rel, obj, act
        ), (who, role, rel, obj, act)


requests = st.tuples(
    st.builds(Subject, st.sampled_from(["", *(k.value for k in K)]), st.booleans()),
    st.sampled_from(ROLES),
    st.builds(
        Relation,
        st.booleans(),
        st.frozensets(st.sampled_from([ASSESSMENT, SELF_ASSESSMENT, "OTHER"])),
        st.booleans(),
    ),
    st.sampled_from(OBJECTS),
    st.sampled_from(ACTS),
)


@settings(max_examples=25, deadline=None, database=None)
@given(asked=st.lists(requests, min_size=1, max_size=8))
def test_given_random_facts_when_asked_in_any_order_then_a_fresh_enforcer_agrees(
    asked: list[tuple[Any, ...]],
) -> None:
    fresh = Enforcer(memo_size=4)  # a small table: answers evicted and asked again
    for request in asked + asked[::-1]:
        assert fresh.decide(*request) == fresh.casbin.enforce(*request), request


# --- (b) the conditions the rules probe derives ----------------------------------------------
#
# O owner of the factory   A ASSESSMENT grant   S SELF_ASSESSMENT grant   C factory in the
# caller's country; "/" or, "&" and, "*" always, "-" never.
# The probe tries every relation on every kind, so a relation the kind can never hold shows up
# where policy.conf does not check the kind (O for a brand, A|S for a programme): the scope
# turns those atoms into false for such principals (no own factory, no grant to it).
SHAPES = {
    "factory manager": Shape(K.FACTORY, "FACTORY_MANAGER", False, False),
    "worker representative": Shape(K.FACTORY, "WORKER_REPRESENTATIVE", False, False),
    "brand": Shape(K.BRAND, "BRAND_VIEWER", False, False),
    "host": Shape(K.HOST, "HOST_INTEGRATION", False, False),
    "programme": Shape(K.PROGRAMME, "ASSESSOR", True, False),
    "constituent": Shape(K.CONSTITUENT, "CONSTITUENT_VIEWER", True, False),
    "labour inspectorate": Shape(K.CONSTITUENT, "CONSTITUENT_VIEWER", True, True),
    "platform admin": Shape(K.PLATFORM, "PLATFORM_ADMIN", False, False),
    "anonymous": Shape(None, "ANONYMOUS", False, False),
}

READS = """
shape                 | factory | slcp  | assessment | draft | zero_tolerance | self_assessment | consent | own_consent | access_log
factory manager       | O/A/S   | O     | O          | -     | O              | O               | O       | A/S         | O
worker representative | O/A/S   | O     | O          | -     | O              | O               | O       | A/S         | O
brand                 | O/A/S   | O     | O/A        | -     | O/A            | O/S             | O       | A/S         | O
host                  | O/A/S   | O/A/S | O          | -     | O              | O               | O       | A/S         | O
programme             | O/A/S/C | O/C   | O/C        | C     | O/C            | O/C             | O/C     | A/S         | O
constituent           | O/A/S   | O     | O          | -     | O              | O               | O       | A/S         | O
labour inspectorate   | O/A/S   | O     | O          | -     | O/C            | O               | O       | A/S         | O
platform admin        | *       | *     | *          | -     | *              | *               | *       | A/S         | O
anonymous             | O/A/S   | O     | O          | -     | O              | O               | O       | A/S         | O
"""  # noqa: E501 - a table reads best on one line a row

WRITES = """
shape                 | consent | slcp | self_assessment | factory | assessment | draft
factory manager       | O       | O    | O               | -       | -          | -
worker representative | -       | -    | -               | -       | -          | -
brand                 | -       | -    | -               | -       | -          | -
host                  | -       | -    | -               | -       | -          | -
programme             | -       | -    | -               | C       | C          | -
constituent           | -       | -    | -               | -       | -          | -
labour inspectorate   | -       | -    | -               | -       | -          | -
platform admin        | -       | -    | -               | -       | -          | -
anonymous             | -       | -    | -               | -       | -          | -
"""

LETTER = {"O": OWNER, "A": ASSESSMENT, "S": SELF_ASSESSMENT, "C": IN_COUNTRY}


def _condition(cell: str) -> Condition:
    if cell == "-":
        return Condition(())
    if cell == "*":
        return Condition((frozenset(),))
    return Condition(
        tuple(frozenset(LETTER[a] for a in clause.split("&")) for clause in cell.split("/"))
    )


def _cases(table: str, act: str) -> list[Any]:
    lines = table.strip().splitlines()
    objects = [cell.strip() for cell in lines[0].split("|")][1:]
    out = []
    for line in lines[1:]:
        shape, *cells = (cell.strip() for cell in line.split("|"))
        for obj, cell in zip(objects, cells, strict=True):
            out.append(pytest.param(shape, obj, act, cell, id=f"{shape}-{act}-{obj}"))
    return out


@pytest.mark.parametrize(
    ("shape", "obj", "act", "cell"), _cases(READS, "read") + _cases(WRITES, "write")
)
def test_given_a_kind_of_caller_when_the_probe_derives_its_condition_then_it_is_the_table_s(
    shape: str, obj: str, act: str, cell: str
) -> None:
    found = condition(SHAPES[shape], obj, act)

    assert set(found.clauses) == set(_condition(cell).clauses)


def test_given_the_tables_then_they_cover_every_shape_and_the_factory_objects_of_policy_conf() -> (
    None
):
    read_objects = READS.strip().splitlines()[0].split("|")[1:]
    assert {o.strip() for o in read_objects} == {
        "factory",
        "slcp",
        "assessment",
        "draft",
        "zero_tolerance",
        "self_assessment",
        "consent",
        "own_consent",
        "access_log",
    }
    for table in (READS, WRITES):
        assert [line.split("|")[0].strip() for line in table.strip().splitlines()[1:]] == list(
            SHAPES
        )


# Decisions about no factory: (principal, object, act, country asked is the caller's) → allowed
def _p(
    kind: m.OrganizationKind | None,
    role: m.Role | None,
    country: str | None = None,
    inspectorate: bool = False,
) -> Principal:
    return Principal(
        organization_id=None if kind is None else 7,
        organization_kind=kind,
        role=role,
        country_code=country,
        labour_inspectorate=inspectorate,
    )


PRINCIPALS = {
    "factory manager": _p(K.FACTORY, m.Role.FACTORY_MANAGER),
    "worker representative": _p(K.FACTORY, m.Role.WORKER_REPRESENTATIVE),
    "brand": _p(K.BRAND, m.Role.BRAND_VIEWER),
    "host": _p(K.HOST, m.Role.HOST_INTEGRATION),
    "programme": _p(K.PROGRAMME, m.Role.ASSESSOR, "ID"),
    "constituent": _p(K.CONSTITUENT, m.Role.CONSTITUENT_VIEWER, "ID"),
    "labour inspectorate": _p(K.CONSTITUENT, m.Role.CONSTITUENT_VIEWER, "ID", True),
    "platform admin": _p(K.PLATFORM, m.Role.PLATFORM_ADMIN),
    "anonymous": _p(None, None),
}

DECISIONS = """
caller                | public | statistics (own country) | statistics (other country) | enrolled_list | export | admin | admin write | late_release write | directory | directory write
factory manager       | yes    | no                       | no                         | no            | no     | no    | no          | no                 | yes       | no
worker representative | yes    | no                       | no                         | no            | no     | no    | no          | no                 | no        | no
brand                 | yes    | no                       | no                         | no            | no     | no    | no          | no                 | no        | no
host                  | yes    | no                       | no                         | yes           | yes    | no    | no          | no                 | no        | no
programme             | yes    | yes                      | no                         | no            | no     | no    | no          | no                 | no        | no
constituent           | yes    | yes                      | no                         | no            | no     | no    | no          | no                 | no        | no
labour inspectorate   | yes    | yes                      | no                         | no            | no     | no    | no          | no                 | no        | no
platform admin        | yes    | no                       | no                         | yes           | no     | yes   | yes         | yes                | yes       | no
anonymous             | yes    | no                       | no                         | no            | no     | no    | no          | no                 | no        | no
"""  # noqa: E501 - a table reads best on one line a row

DECISION_COLUMNS = {
    "public": ("public", "read", True),
    "statistics (own country)": ("statistics", "read", True),
    "statistics (other country)": ("statistics", "read", False),
    "enrolled_list": ("enrolled_list", "read", False),
    "export": ("export", "read", False),
    "admin": ("admin", "read", False),
    "admin write": ("admin", "write", False),
    "late_release write": ("late_release", "write", False),
    "directory": ("directory", "read", False),
    "directory write": ("directory", "write", False),
}


def _decision_cases() -> list[Any]:
    lines = DECISIONS.strip().splitlines()
    columns = [c.strip() for c in lines[0].split("|")][1:]
    out = []
    for line in lines[1:]:
        caller, *cells = (c.strip() for c in line.split("|"))
        for column, cell in zip(columns, cells, strict=True):
            out.append(pytest.param(caller, column, cell == "yes", id=f"{caller}-{column}"))
    return out


@pytest.mark.parametrize(("caller", "column", "allowed"), _decision_cases())
def test_given_a_caller_when_deciding_about_no_factory_then_the_table_s_answer(
    caller: str, column: str, allowed: bool
) -> None:
    obj, act, in_country = DECISION_COLUMNS[column]

    assert decide(PRINCIPALS[caller], obj, act, in_country=in_country) is allowed


# --- (c) point checks on the facts of one request ------------------------------------------

BRAND = Principal(organization_id=12, organization_kind=K.BRAND, role=m.Role.BRAND_VIEWER)
MANAGER = Principal(
    organization_id=1, organization_kind=K.FACTORY, role=m.Role.FACTORY_MANAGER, factory_id=3
)
REPRESENTATIVE = Principal(
    organization_id=1,
    organization_kind=K.FACTORY,
    role=m.Role.WORKER_REPRESENTATIVE,
    factory_id=3,
)
ASSESSOR = Principal(
    organization_id=5, organization_kind=K.PROGRAMME, role=m.Role.ASSESSOR, country_code="ID"
)


def _factory(grants: frozenset[str] = frozenset(), *, of: Principal = BRAND) -> Relation:
    """``of``'s relation to factory 3 (organisation 1, in Indonesia)."""
    return relation(of, organization_id=1, country="ID", grants=grants)


def test_given_no_grant_when_a_brand_reads_assessments_then_refused() -> None:
    assert allows(BRAND, "assessment", "read", _factory()) is False


def test_given_an_assessment_grant_when_a_brand_reads_then_assessments_but_never_slcp() -> None:
    granted = _factory(frozenset({ASSESSMENT}))

    assert allows(BRAND, "assessment", "read", granted) is True
    assert allows(BRAND, "self_assessment", "read", granted) is False  # another scope
    assert allows(BRAND, "slcp", "read", granted) is False  # rule 8


def test_given_a_grant_when_a_host_reads_slcp_then_allowed_and_refused_without() -> None:
    host = Principal(organization_id=13, organization_kind=K.HOST, role=m.Role.HOST_INTEGRATION)

    assert allows(host, "slcp", "read", _factory(frozenset({SELF_ASSESSMENT}), of=host)) is True
    assert allows(host, "slcp", "read", _factory(of=host)) is False


def test_given_factory_users_when_writing_consent_then_only_the_manager_of_that_factory() -> None:
    own = _factory(of=MANAGER)
    other = relation(MANAGER, organization_id=2, country="ID")

    assert own.owner and not other.owner
    assert allows(MANAGER, "consent", "write", own) is True
    assert allows(MANAGER, "consent", "write", other) is False
    assert allows(REPRESENTATIVE, "consent", "write", own) is False
    assert allows(REPRESENTATIVE, "consent", "read", own) is True


def test_given_an_assessor_when_writing_then_only_in_its_own_country() -> None:
    home = relation(ASSESSOR, organization_id=1, country="ID")
    abroad = relation(ASSESSOR, organization_id=1, country="VN")

    assert allows(ASSESSOR, "assessment", "write", home) is True
    assert allows(ASSESSOR, "assessment", "write", abroad) is False
    assert allows(ASSESSOR, "factory", "write", relation(ASSESSOR, country="ID")) is True


def test_given_the_anonymous_public_when_related_to_nothing_then_no_relation_holds() -> None:
    # No organisation, no country: a missing id or code never equals another missing one.
    public = Principal.anonymous()

    assert relation(public, organization_id=None, country=None) == Relation()


def test_given_many_callers_and_factories_when_deciding_then_the_table_stays_bounded() -> None:
    # 10,000 brands asking about 100 factories each, with and without grants: the answers
    # depend on the facts' shape alone, so the enforcer remembers a handful of them.
    fresh = Enforcer()
    for brand_id, factory_id in itertools.product(range(1, 10_001, 97), range(1, 101)):
        brand = Principal(
            organization_id=brand_id, organization_kind=K.BRAND, role=m.Role.BRAND_VIEWER
        )
        grants = frozenset({ASSESSMENT}) if (brand_id + factory_id) % 3 else frozenset()
        rel = relation(brand, organization_id=100_000 + factory_id, country="ID", grants=grants)
        assert fresh.decide(Subject.of(brand), brand.role_name, rel, "assessment", "read") == (
            bool(grants)
        )

    assert fresh.remembered == 2


HOST = Principal(organization_id=13, organization_kind=K.HOST, role=m.Role.HOST_INTEGRATION)


@pytest.mark.parametrize(
    ("caller", "obj", "act", "reads_grants"),
    [
        pytest.param(BRAND, "assessment", "read", True, id="brand-assessment"),
        pytest.param(BRAND, "slcp", "read", False, id="brand-slcp-never-granted"),
        pytest.param(HOST, "slcp", "read", True, id="host-slcp"),
        pytest.param(MANAGER, "consent", "write", False, id="manager-write"),
        pytest.param(ASSESSOR, "assessment", "write", False, id="assessor-write"),
        pytest.param(Principal.anonymous(), "factory", "read", False, id="anonymous"),
    ],
)
def test_given_a_decision_when_its_rule_cannot_turn_on_grants_then_none_are_read(
    caller: Principal, obj: str, act: str, reads_grants: bool
) -> None:
    assert needs_grants(caller, obj, act) is reads_grants
