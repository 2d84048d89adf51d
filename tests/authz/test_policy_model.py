"""The Casbin layer: ``policy.conf``, the compiled matcher, the rules probe, point checks.

(a) ``Matcher.check`` (the matcher compiled once to bytecode) answers exactly as pycasbin's
    own ``enforce`` over every enumerated request and over random link sets;
(b) ``authz.rules.condition`` turns the matcher into the conditions written in the tables
    below, for every kind of organisation and every object of a factory;
(c) ``PolicyEnforcer`` point checks follow grants, revocations, overlapping grants and expiry.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import models as m
from authz.enforcer import Matcher, PolicyEnforcer, standing_links
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
)

K = m.OrganizationKind

# --- (a) the compiled matcher agrees with pycasbin -------------------------------------------

# One fact world: who holds which link (policy.conf's header explains the vocabulary).
LINKS = [
    ("org:1", "owner", "factory:1"),  # factory 1's own organisation
    ("org:2", "brand", "*"),
    ("org:2", "ASSESSMENT", "factory:1"),
    ("org:3", "brand", "*"),
    ("org:3", "SELF_ASSESSMENT", "factory:1"),
    ("org:4", "host", "*"),
    ("org:4", "ASSESSMENT", "factory:1"),
    ("org:4", "SELF_ASSESSMENT", "factory:2"),
    ("org:5", "programme", "country:ID"),
    ("org:6", "constituent", "country:ID"),
    ("org:7", "constituent", "country:ID"),
    ("org:7", "inspectorate", "country:ID"),
    ("org:8", "platform", "*"),
    ("org:9", "brand", "*"),  # a brand without grants
]
SUBJECTS = {  # subject → the role its users hold
    "org:1": "FACTORY_MANAGER",
    "org:2": "BRAND_VIEWER",
    "org:3": "BRAND_VIEWER",
    "org:4": "HOST_INTEGRATION",
    "org:5": "ASSESSOR",
    "org:6": "CONSTITUENT_VIEWER",
    "org:7": "CONSTITUENT_VIEWER",
    "org:8": "PLATFORM_ADMIN",
    "org:9": "BRAND_VIEWER",
    "anonymous": "ANONYMOUS",
}
ROLES = [*(role.value for role in m.Role), "ANONYMOUS"]
FACTORIES = ["", "factory:1", "factory:2"]
COUNTRY_DOMAINS = ["", "country:ID", "country:VN"]
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
    "no_such_object",
]
ACTS = ["read", "write"]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    built = Matcher()
    built.add_links(LINKS)
    return built


# Where a request is asked: about a factory in a country (each of two and two), or about none.
PLACES = [*itertools.product(["factory:1", "factory:2"], ["country:ID", "country:VN"]), ("", "")]


@pytest.mark.parametrize("subject", list(SUBJECTS))
def test_given_the_fact_world_when_a_subject_asks_anything_then_both_matchers_agree(
    matcher: Matcher, subject: str
) -> None:
    allowed = 0
    for (factory, country), obj, act in itertools.product(PLACES, OBJECTS, ACTS):
        request = (subject, SUBJECTS[subject], factory, country, obj, act)
        fast = matcher.check(*request)
        assert fast == matcher.casbin.enforce(*request), request
        allowed += fast
    # Not vacuous: every subject may do something (the public view at least), none all of it.
    assert 0 < allowed < len(PLACES) * len(OBJECTS) * len(ACTS)


# The subjects whose rules look at the role (policy.conf rules 3, 9, 13 and 14), and one whose
# rules do not; any role is a string the token could carry.
ROLE_SENSITIVE = ["org:1", "org:5", "org:8", "org:2", "anonymous"]


@pytest.mark.parametrize("role", ROLES)
def test_given_the_fact_world_when_a_subject_acts_in_any_role_then_both_matchers_agree(
    matcher: Matcher, role: str
) -> None:
    for request in itertools.product(
        ROLE_SENSITIVE, [role], ["factory:1"], ["country:ID"], OBJECTS, ACTS
    ):
        assert matcher.check(*request) == matcher.casbin.enforce(*request), request


links = st.tuples(
    st.sampled_from(["org:1", "org:2", "org:3", "anonymous"]),
    st.sampled_from(
        [
            "owner",
            "ASSESSMENT",
            "SELF_ASSESSMENT",
            "programme",
            "constituent",
            "inspectorate",
            "brand",
            "host",
            "platform",
        ]
    ),
    st.sampled_from(["factory:1", "factory:2", "country:ID", "country:VN", "*"]),
)
requests = st.tuples(
    st.sampled_from(["org:1", "org:2", "org:3", "anonymous"]),
    st.sampled_from(ROLES),
    st.sampled_from(FACTORIES),
    st.sampled_from(COUNTRY_DOMAINS),
    st.sampled_from(OBJECTS),
    st.sampled_from(ACTS),
)


@settings(max_examples=60, deadline=None, database=None)
@given(
    facts=st.lists(links, max_size=8, unique=True),
    asked=st.lists(requests, min_size=1, max_size=8),
    removed=st.integers(min_value=0, max_value=8),
)
def test_given_random_links_added_and_removed_when_checked_then_both_matchers_agree(
    facts: list[tuple[str, str, str]], asked: list[tuple[str, ...]], removed: int
) -> None:
    built = Matcher()
    built.add_links(facts)
    built.remove_links(facts[:removed])  # the compiled matcher must follow removals too
    for request in asked:
        assert built.check(*request) == built.casbin.enforce(*request), (facts, request)


def test_given_links_when_cleared_then_the_compiled_matcher_forgets_them_too() -> None:
    built = Matcher()
    built.add_links([("org:2", "brand", "*"), ("org:2", "ASSESSMENT", "factory:1")])
    request = ("org:2", "BRAND_VIEWER", "factory:1", "country:ID", "assessment", "read")
    assert built.check(*request) is True

    built.clear()

    assert built.check(*request) is False
    assert built.casbin.enforce(*request) is False


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


# --- (c) point checks of the process's enforcer ----------------------------------------------

BRAND = Principal(organization_id=12, organization_kind=K.BRAND, role=m.Role.BRAND_VIEWER)
GRANTED = ("org:12", "ASSESSMENT", "factory:3")
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def enforcer() -> PolicyEnforcer:
    built = PolicyEnforcer()
    for link in standing_links(12, K.BRAND, None, False):
        built.add(link, "org:12")
    return built


def _reads_assessments(enforcer: PolicyEnforcer) -> bool:
    return enforcer.allows(BRAND, "assessment", "read", factory_id=3, country="ID")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[dt.datetime]:
    """The enforcer's clock, set by the test: ``clock[0] = ...``."""
    now = [NOW]
    monkeypatch.setattr(m, "utcnow", lambda: now[0])
    return now


def test_given_no_grant_when_checking_then_refused(enforcer: PolicyEnforcer) -> None:
    assert _reads_assessments(enforcer) is False


def test_given_a_grant_when_checking_then_allowed_and_only_for_that_factory(
    enforcer: PolicyEnforcer,
) -> None:
    enforcer.add(GRANTED, "grant:1")

    assert _reads_assessments(enforcer) is True
    assert enforcer.allows(BRAND, "assessment", "read", factory_id=4, country="ID") is False
    assert enforcer.allows(BRAND, "slcp", "read", factory_id=3, country="ID") is False  # rule 8


def test_given_a_grant_when_revoked_then_refused(enforcer: PolicyEnforcer) -> None:
    enforcer.add(GRANTED, "grant:1")

    enforcer.remove(GRANTED, "grant:1")

    assert _reads_assessments(enforcer) is False


def test_given_two_grants_for_one_link_when_one_is_revoked_then_still_allowed_until_both_are(
    enforcer: PolicyEnforcer,
) -> None:
    enforcer.add(GRANTED, "grant:1")
    enforcer.add(GRANTED, "grant:2")

    enforcer.remove(GRANTED, "grant:1")
    assert _reads_assessments(enforcer) is True

    enforcer.remove(GRANTED, "grant:2")
    assert _reads_assessments(enforcer) is False


def test_given_a_grant_added_twice_when_revoked_once_then_refused(enforcer: PolicyEnforcer) -> None:
    # A load overlapping a replay adds the same fact twice; its end must still end it.
    enforcer.add(GRANTED, "grant:1")
    enforcer.add(GRANTED, "grant:1")

    enforcer.remove(GRANTED, "grant:1")

    assert _reads_assessments(enforcer) is False


def test_given_a_link_with_an_expiry_in_the_past_when_checked_next_then_refused(
    enforcer: PolicyEnforcer,
) -> None:
    enforcer.add(GRANTED, "grant:1", m.utcnow() - dt.timedelta(seconds=1))

    assert _reads_assessments(enforcer) is False
    assert enforcer.link_count == 1  # only the brand's standing link is left


def test_given_a_link_with_an_expiry_when_the_time_passes_then_refused_from_then_on(
    enforcer: PolicyEnforcer, clock: list[dt.datetime]
) -> None:
    enforcer.add(GRANTED, "grant:1", NOW + dt.timedelta(hours=1))
    assert _reads_assessments(enforcer) is True

    clock[0] = NOW + dt.timedelta(hours=1)

    assert _reads_assessments(enforcer) is False


def test_given_an_expiring_grant_and_a_lasting_one_when_the_first_expires_then_still_allowed(
    enforcer: PolicyEnforcer, clock: list[dt.datetime]
) -> None:
    enforcer.add(GRANTED, "grant:1", NOW + dt.timedelta(hours=1))
    enforcer.add(GRANTED, "grant:2")

    clock[0] = NOW + dt.timedelta(days=1)

    assert _reads_assessments(enforcer) is True


def test_given_a_revoked_expiring_grant_and_a_new_one_when_the_old_expiry_passes_then_still_allowed(
    enforcer: PolicyEnforcer, clock: list[dt.datetime]
) -> None:
    enforcer.add(GRANTED, "grant:1", NOW + dt.timedelta(hours=1))
    enforcer.remove(GRANTED, "grant:1")  # revoked before its expiry
    enforcer.add(GRANTED, "grant:2")  # granted again, for good

    clock[0] = NOW + dt.timedelta(days=1)  # the first grant's expiry is due

    assert _reads_assessments(enforcer) is True


def test_given_factory_users_when_writing_consent_then_only_the_manager() -> None:
    enforcer = PolicyEnforcer()
    enforcer.add(("org:1", "owner", "factory:3"), "factory:3")
    manager = Principal(
        organization_id=1, organization_kind=K.FACTORY, role=m.Role.FACTORY_MANAGER, factory_id=3
    )
    representative = Principal(
        organization_id=1,
        organization_kind=K.FACTORY,
        role=m.Role.WORKER_REPRESENTATIVE,
        factory_id=3,
    )

    assert enforcer.allows(manager, "consent", "write", factory_id=3, country="ID") is True
    assert enforcer.allows(manager, "consent", "write", factory_id=4, country="ID") is False
    assert enforcer.allows(representative, "consent", "write", factory_id=3, country="ID") is False
    assert enforcer.allows(representative, "consent", "read", factory_id=3, country="ID") is True
