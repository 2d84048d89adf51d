"""Every scoped query of ``authz.scope.Scope`` against a plain oracle, over random worlds.

Given a random small world — organisations of every kind, one to four factories in two
countries, consent grants in random states, scopes and expiry, assessments that are drafts,
released, released today or released with a date to come, findings, self-assessments,
access events and exports —
when every principal of the world runs every scoped query (lists, lookups by id, counts)
and asks the enforcer for point decisions on each factory, with the facts read from the
same database as a request reads them (the factory row, the caller's grants on it),
then the rows and the decisions are exactly those that the oracle below says, written from
DESIGN.md's "Who sees what" in plain Python over the generated world, without calling
``authz``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import models as m
from authz.enforcer import allows
from authz.facts import NO_GRANTS, factory_relation, grant_scopes
from authz.guard import system_read
from authz.paging import count
from authz.principal import Principal
from authz.scope import Scope
from core.crypto import ANSWERS_PURPOSE, KeyMaterial
from core.db import make_sessionmaker
from tests.conftest import _empty

COUNTRIES = ("ID", "VN")
K = m.OrganizationKind

# --- the generated world, as plain data ----------------------------------------------------------

GRANT_STATES = ("active", "active until tomorrow", "expired", "revoked")
ASSESSMENT_STATES = ("none", "draft", "released", "released today", "released later")


@dataclass(frozen=True)
class OrgSpec:
    kind: m.OrganizationKind
    country: str | None = None
    inspectorate: bool = False


@dataclass(frozen=True)
class FindingSpec:
    cluster: m.ComplianceCluster
    public: bool
    zero_tolerance: bool
    non_compliant: bool


@dataclass(frozen=True)
class CycleSpec:
    assessment: str  # one of ASSESSMENT_STATES
    findings: tuple[FindingSpec, ...]
    steps: tuple[tuple[int, bool], ...]  # self-assessment steps: (step, submitted)


@dataclass(frozen=True)
class FactorySpec:
    country: str
    enrolled: bool
    cycles: tuple[CycleSpec, ...]


@dataclass(frozen=True)
class GrantSpec:
    factory: int
    grantee: int  # index into WorldSpec.orgs (a brand or a host)
    assessment: bool
    self_assessment: bool
    state: str  # one of GRANT_STATES


@dataclass(frozen=True)
class WorldSpec:
    factories: tuple[FactorySpec, ...]
    orgs: tuple[OrgSpec, ...]  # every organisation but the factories'
    grants: tuple[GrantSpec, ...]
    events: tuple[tuple[int, int], ...]  # (factory, reader: index into orgs)
    exports: tuple[tuple[int, int], ...]  # (grant, cycle number of the grant's factory)


findings = st.builds(
    FindingSpec,
    cluster=st.sampled_from(list(m.ComplianceCluster)),
    public=st.booleans(),
    zero_tolerance=st.booleans(),
    non_compliant=st.booleans(),
)
cycles = st.builds(
    CycleSpec,
    assessment=st.sampled_from(ASSESSMENT_STATES),
    findings=st.lists(findings, max_size=3).map(tuple),
    steps=st.dictionaries(st.sampled_from((1, 2, 3)), st.booleans(), max_size=2).map(
        lambda steps: tuple(sorted(steps.items()))
    ),
)
factories = st.builds(
    FactorySpec,
    country=st.sampled_from(COUNTRIES),
    enrolled=st.booleans(),
    cycles=st.lists(cycles, max_size=3).map(tuple),
)
other_orgs = st.one_of(
    st.just(OrgSpec(K.BRAND)),
    st.just(OrgSpec(K.HOST)),
    st.just(OrgSpec(K.PLATFORM)),
    st.builds(OrgSpec, kind=st.just(K.PROGRAMME), country=st.sampled_from(COUNTRIES)),
    st.builds(
        OrgSpec,
        kind=st.just(K.CONSTITUENT),
        country=st.sampled_from(COUNTRIES),
        inspectorate=st.booleans(),
    ),
)


@st.composite
def worlds(draw: st.DrawFn) -> WorldSpec:
    facs = tuple(draw(st.lists(factories, min_size=1, max_size=4)))
    # At least one brand and one host, so that grants always have grantees.
    orgs = (OrgSpec(K.BRAND), OrgSpec(K.HOST), *draw(st.lists(other_orgs, max_size=5)))
    grantees = [i for i, o in enumerate(orgs) if o.kind in (K.BRAND, K.HOST)]
    grants = []
    for _ in range(draw(st.integers(0, 6))):
        scopes = draw(st.sampled_from([(True, False), (False, True), (True, True)]))
        grants.append(
            GrantSpec(
                factory=draw(st.integers(0, len(facs) - 1)),
                grantee=draw(st.sampled_from(grantees)),
                assessment=scopes[0],
                self_assessment=scopes[1],
                state=draw(st.sampled_from(GRANT_STATES)),
            )
        )
    events = tuple(
        draw(
            st.lists(
                st.tuples(st.integers(0, len(facs) - 1), st.integers(0, len(orgs) - 1)), max_size=3
            )
        )
    )
    exports: set[tuple[int, int]] = set()  # one per (host, cycle)
    seen: set[tuple[int, int, int]] = set()
    for g, grant in enumerate(grants):
        fac = facs[grant.factory]
        if orgs[grant.grantee].kind == K.HOST and fac.cycles and draw(st.booleans()):
            number = draw(st.integers(1, len(fac.cycles)))
            if (grant.grantee, grant.factory, number) not in seen:
                seen.add((grant.grantee, grant.factory, number))
                exports.add((g, number))
    return WorldSpec(facs, orgs, tuple(grants), events, tuple(sorted(exports)))


# --- the world in the database -------------------------------------------------------------------


@dataclass
class Built:
    spec: WorldSpec
    today: dt.date
    factory_ids: list[int] = field(default_factory=list)
    factory_orgs: list[int] = field(default_factory=list)
    org_ids: list[int] = field(default_factory=list)
    # id → (factory index, cycle number, assessment state)
    assessments: dict[int, tuple[int, int, str]] = field(default_factory=dict)
    assessed_on: dict[int, dt.date] = field(default_factory=dict)
    # id → (assessment id, spec)
    findings: dict[int, tuple[int, FindingSpec]] = field(default_factory=dict)
    # id → (factory index, submitted)
    self_assessments: dict[int, tuple[int, bool]] = field(default_factory=dict)
    grants: dict[int, GrantSpec] = field(default_factory=dict)
    grant_ids: list[int] = field(default_factory=list)
    events: dict[int, int] = field(default_factory=dict)  # id → factory index
    exports: dict[int, int] = field(default_factory=dict)  # id → grant index


async def build(session: AsyncSession, keys: KeyMaterial, spec: WorldSpec) -> Built:
    now = m.utcnow()
    today = now.date()
    built = Built(spec, today)
    for code in COUNTRIES:
        session.add(m.Country(code=code, name=code, betterwork_programme=True))
    await session.flush()
    for n, org_spec in enumerate(spec.orgs):
        org = m.Organization(
            name=f"org {n}",
            kind=org_spec.kind,
            country_code=org_spec.country,
            labour_inspectorate=org_spec.inspectorate,
        )
        session.add(org)
        await session.flush()
        built.org_ids.append(org.id)
    cycle_rows: dict[tuple[int, int], m.ServiceCycle] = {}
    for i, fac in enumerate(spec.factories):
        org = m.Organization(name=f"factory org {i}", kind=K.FACTORY)
        session.add(org)
        await session.flush()
        row = m.Factory(
            organization_id=org.id,
            name=f"factory {i}",
            country_code=fac.country,
            enrolled_on=dt.date(2020, 1, 1) if fac.enrolled else None,
        )
        session.add(row)
        await session.flush()
        built.factory_ids.append(row.id)
        built.factory_orgs.append(org.id)
        for number, cyc in enumerate(fac.cycles, 1):
            cycle = m.ServiceCycle(factory_id=row.id, number=number, started_on=dt.date(2021, 1, 1))
            session.add(cycle)
            await session.flush()
            cycle_rows[(i, number)] = cycle
            for step, submitted in cyc.steps:
                sa = m.SelfAssessment(
                    cycle_id=cycle.id,
                    factory_id=row.id,
                    step=step,
                    tool_version="CAF 1.4",
                    answers_encrypted=keys.fields.encrypt_json({"q": step}, ANSWERS_PURPOSE),
                    submitted_at=now - dt.timedelta(days=400) if submitted else None,
                )
                session.add(sa)
                await session.flush()
                built.self_assessments[sa.id] = (i, submitted)
            if cyc.assessment == "none":
                continue
            # Distinct dates per factory, later cycles later: "latest" is never a tie.
            assessed_on = today - dt.timedelta(days=400 - 100 * number)
            a = m.Assessment(
                cycle_id=cycle.id,
                factory_id=row.id,
                kind=m.AssessmentKind.ONSITE,
                assessed_on=assessed_on,
            )
            if cyc.assessment == "released":
                a.release(assessed_on + dt.timedelta(days=10))
            elif cyc.assessment == "released today":
                a.release(today)
            elif cyc.assessment == "released later":
                a.release(today + dt.timedelta(days=5))
            session.add(a)
            await session.flush()
            built.assessments[a.id] = (i, number, cyc.assessment)
            built.assessed_on[a.id] = assessed_on
            for f in cyc.findings:
                finding = m.Finding(
                    assessment_id=a.id,
                    cluster=f.cluster,
                    compliance_point="p",
                    question_code="q",
                    non_compliant=f.non_compliant,
                    public_reporting=f.public,
                    zero_tolerance=f.zero_tolerance,
                )
                session.add(finding)
                await session.flush()
                built.findings[finding.id] = (a.id, f)
    granted_at = now - dt.timedelta(days=30)
    for grant in spec.grants:
        grant_row = m.ConsentGrant(
            factory_id=built.factory_ids[grant.factory],
            grantee_id=built.org_ids[grant.grantee],
            scope_assessment=grant.assessment,
            scope_self_assessment=grant.self_assessment,
            granted_at=granted_at,
            expires_at={
                "active until tomorrow": now + dt.timedelta(days=1),
                "expired": now - dt.timedelta(days=1),
            }.get(grant.state),
            revoked_at=granted_at + dt.timedelta(days=1) if grant.state == "revoked" else None,
        )
        session.add(grant_row)
        await session.flush()
        built.grants[grant_row.id] = grant
        built.grant_ids.append(grant_row.id)
    for factory, reader in spec.events:
        event = m.AccessEvent(
            factory_ids=[built.factory_ids[factory]],
            organization_id=built.org_ids[reader],
            operation="test",
        )
        session.add(event)
        await session.flush()
        built.events[event.id] = factory
    for g, number in spec.exports:
        grant = spec.grants[g]
        export = m.GatewayExport(
            export_uid=str(uuid.uuid4()),
            host_id=built.org_ids[grant.grantee],
            factory_id=built.factory_ids[grant.factory],
            cycle_id=cycle_rows[(grant.factory, number)].id,
            grant_id=built.grant_ids[g],
            factory_gateway_id="GW",
            cycle_number=number,
            release_on=today,
            schema_version="1",
            content_sha256="0" * 64,
            envelope="x",
        )
        session.add(export)
        await session.flush()
        built.exports[export.id] = g
    return built


# --- who asks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    """A principal as the oracle sees it: indices into the spec, no authz code."""

    label: str
    kind: m.OrganizationKind | None
    org: int | None = None  # index into spec.orgs
    factory: int | None = None  # index into spec.factories (its own factory)
    role: m.Role | None = None


ROLE_OF = {
    K.BRAND: m.Role.BRAND_VIEWER,
    K.HOST: m.Role.HOST_INTEGRATION,
    K.PROGRAMME: m.Role.ASSESSOR,
    K.CONSTITUENT: m.Role.CONSTITUENT_VIEWER,
    K.PLATFORM: m.Role.PLATFORM_ADMIN,
}


def everyone(built: Built) -> list[tuple[Who, Principal]]:
    spec = built.spec
    out: list[tuple[Who, Principal]] = [(Who("anonymous", None), Principal.anonymous())]
    for i in range(len(spec.factories)):
        # Worker representatives read what managers read: one of them is enough.
        roles = (m.Role.FACTORY_MANAGER, m.Role.WORKER_REPRESENTATIVE)[: 2 if i == 0 else 1]
        for role in roles:
            out.append(
                (
                    Who(f"factory {i} {role.value}", K.FACTORY, factory=i, role=role),
                    Principal(
                        organization_id=built.factory_orgs[i],
                        organization_kind=K.FACTORY,
                        role=role,
                        factory_id=built.factory_ids[i],
                    ),
                )
            )
    for n, org in enumerate(spec.orgs):
        role = ROLE_OF[org.kind]
        inspectorate = " inspectorate" if org.inspectorate else ""
        label = f"org {n} {org.kind.value} {org.country or ''}{inspectorate}"
        out.append(
            (
                Who(label, org.kind, org=n, role=role),
                Principal(
                    organization_id=built.org_ids[n],
                    organization_kind=org.kind,
                    role=role,
                    country_code=org.country,
                    labour_inspectorate=org.inspectorate,
                ),
            )
        )
    return out


# --- the oracle: DESIGN.md's table in plain Python -----------------------------------------------


class Oracle:
    def __init__(self, built: Built) -> None:
        self.b = built
        self.spec = built.spec

    # relations of a caller to factory i

    def owner(self, who: Who, i: int) -> bool:
        return who.factory == i

    def active_grant(self, who: Who, i: int, scope: str | None = None) -> bool:
        """An active grant of factory i to the caller's organisation (with that scope)."""
        if who.org is None:
            return False
        return any(
            g.factory == i
            and g.grantee == who.org
            and g.state.startswith("active")
            and (scope is None or (g.assessment if scope == "ASSESSMENT" else g.self_assessment))
            for g in self.spec.grants
        )

    def country_of(self, i: int) -> str:
        return self.spec.factories[i].country

    def org_spec(self, who: Who) -> OrgSpec | None:
        return None if who.org is None else self.spec.orgs[who.org]

    def programme_of(self, who: Who, i: int) -> bool:
        org = self.org_spec(who)
        return org is not None and org.kind == K.PROGRAMME and org.country == self.country_of(i)

    def inspectorate_of(self, who: Who, i: int) -> bool:
        org = self.org_spec(who)
        return (
            org is not None
            and org.kind == K.CONSTITUENT
            and org.inspectorate
            and org.country == self.country_of(i)
        )

    def platform(self, who: Who) -> bool:
        return who.kind == K.PLATFORM

    def brand(self, who: Who) -> bool:
        return who.kind == K.BRAND

    def host(self, who: Who) -> bool:
        return who.kind == K.HOST

    # the table, row by row

    def profile(self, who: Who, i: int) -> bool:
        return (
            self.owner(who, i)
            or self.active_grant(who, i)
            or self.programme_of(who, i)
            or self.platform(who)
        )

    def slcp(self, who: Who, i: int) -> bool:
        """The SLCP registration: never a brand (rule 8)."""
        return (
            self.owner(who, i)
            or (self.host(who) and self.active_grant(who, i))
            or self.programme_of(who, i)
            or self.platform(who)
        )

    def released_data(self, who: Who, i: int) -> bool:
        """Released assessments and findings: hosts only via exports."""
        return (
            self.owner(who, i)
            or (self.brand(who) and self.active_grant(who, i, "ASSESSMENT"))
            or self.programme_of(who, i)
            or self.platform(who)
        )

    def unreleased_data(self, who: Who, i: int) -> bool:
        """Drafts, and released assessments whose release date has not come (rule 5)."""
        return self.programme_of(who, i)

    def self_assessment_data(self, who: Who, i: int) -> bool:
        return (
            self.owner(who, i)
            or (self.brand(who) and self.active_grant(who, i, "SELF_ASSESSMENT"))
            or self.programme_of(who, i)
            or self.platform(who)
        )

    def all_grants(self, who: Who, i: int) -> bool:
        return self.owner(who, i) or self.programme_of(who, i) or self.platform(who)

    def own_grants(self, who: Who, i: int) -> bool:
        """A grantee with an active grant sees its own grants of that factory."""
        return (self.brand(who) or self.host(who)) and self.active_grant(who, i)

    def zero_tolerance(self, who: Who, i: int) -> bool:
        return self.released_data(who, i) or self.inspectorate_of(who, i)

    # rows

    def is_released(self, assessment_id: int) -> bool:
        return self.b.assessments[assessment_id][2] in ("released", "released today")

    def factories(self, who: Who) -> set[int]:
        return {fid for i, fid in enumerate(self.b.factory_ids) if self.profile(who, i)}

    def assessments(self, who: Who) -> set[int]:
        """Released ones where it reads released data; any, where it reads unreleased data."""
        return {
            aid
            for aid, (i, _, _) in self.b.assessments.items()
            if (self.is_released(aid) and self.released_data(who, i))
            or self.unreleased_data(who, i)
        }

    def findings(self, who: Who) -> set[int]:
        visible = self.assessments(who)
        return {fid for fid, (aid, _) in self.b.findings.items() if aid in visible}

    def self_assessments(self, who: Who) -> set[int]:
        """Submitted ones for whoever may read them; one being filled in is its factory's."""
        return {
            sid
            for sid, (i, submitted) in self.b.self_assessments.items()
            if self.self_assessment_data(who, i) and (submitted or self.owner(who, i))
        }

    def grants(self, who: Who) -> set[int]:
        """All of a factory's grants, or the caller's own ones."""
        return {
            gid
            for gid, grant in self.b.grants.items()
            if self.all_grants(who, grant.factory)
            or (grant.grantee == who.org and self.own_grants(who, grant.factory))
        }

    def access_events(self, who: Who) -> set[int]:
        return {eid for eid, i in self.b.events.items() if self.owner(who, i)}

    def zero_tolerance_findings(self, who: Who) -> set[int]:
        return {
            fid
            for fid, (aid, f) in self.b.findings.items()
            if f.zero_tolerance
            and self.is_released(aid)
            and self.zero_tolerance(who, self.b.assessments[aid][0])
        }

    def public_findings(self, who: Who) -> set[int]:
        """Everyone: public findings of each factory's latest released assessment."""
        latest: dict[int, int] = {}
        for aid, (i, _, _) in self.b.assessments.items():
            if self.is_released(aid) and (
                i not in latest or self.b.assessed_on[aid] > self.b.assessed_on[latest[i]]
            ):
                latest[i] = aid
        return {
            fid for fid, (aid, f) in self.b.findings.items() if f.public and aid in latest.values()
        }

    def slcp_factories(self, who: Who) -> set[int]:
        return {fid for i, fid in enumerate(self.b.factory_ids) if self.slcp(who, i)}

    def enrolled_factories(self, who: Who) -> set[int]:
        if not (self.host(who) or self.platform(who)):
            return set()
        return {fid for i, fid in enumerate(self.b.factory_ids) if self.spec.factories[i].enrolled}

    def exports(self, who: Who) -> set[int]:
        """A host's own exports, while the factory grants it the whole Gateway share: one
        active grant with both scopes (docs/hosts.md; by any grant, not only the first)."""
        return {
            eid
            for eid, g in self.b.exports.items()
            if self.host(who)
            and self.spec.grants[g].grantee == who.org
            and any(
                x.factory == self.spec.grants[g].factory
                and x.grantee == who.org
                and x.state.startswith("active")
                and x.assessment
                and x.self_assessment
                for x in self.spec.grants
            )
        }


# --- the property --------------------------------------------------------------------------------

Query = Callable[[Scope], Any]  # a scoped Select

# name → (the scoped query, the id column of its first entity, all ids of the world, oracle)
CHECKS: dict[
    str, tuple[Query, Any, Callable[[Built], set[int]], Callable[[Oracle, Who], set[int]]]
] = {
    "factories": (
        lambda s: s.factories(),
        m.Factory.id,
        lambda b: set(b.factory_ids),
        Oracle.factories,
    ),
    "factories whose SLCP registration shows": (
        lambda s: s.factory_ids("slcp"),
        m.Factory.id,
        lambda b: set(b.factory_ids),
        Oracle.slcp_factories,
    ),
    "assessments": (
        lambda s: s.assessments(),
        m.Assessment.id,
        lambda b: set(b.assessments),
        Oracle.assessments,
    ),
    "findings": (lambda s: s.findings(), m.Finding.id, lambda b: set(b.findings), Oracle.findings),
    "self_assessments": (
        lambda s: s.self_assessments(),
        m.SelfAssessment.id,
        lambda b: set(b.self_assessments),
        Oracle.self_assessments,
    ),
    "grants": (lambda s: s.grants(), m.ConsentGrant.id, lambda b: set(b.grants), Oracle.grants),
    "access_events": (
        lambda s: s.access_events(),
        m.AccessEvent.id,
        lambda b: set(b.events),
        Oracle.access_events,
    ),
    "zero_tolerance_findings": (
        lambda s: s.zero_tolerance_findings(),
        m.Finding.id,
        lambda b: set(b.findings),
        Oracle.zero_tolerance_findings,
    ),
    "public_findings": (
        lambda s: s.public_findings(),
        m.Finding.id,
        lambda b: set(b.findings),
        Oracle.public_findings,
    ),
    "enrolled_factories": (
        lambda s: s.enrolled_factories(),
        m.Factory.id,
        lambda b: set(b.factory_ids),
        Oracle.enrolled_factories,
    ),
    "exports": (
        lambda s: s.exports(),
        m.GatewayExport.id,
        lambda b: set(b.exports),
        Oracle.exports,
    ),
}


async def _ids(session: AsyncSession, stmt: Select[Any]) -> list[int]:
    rows = (await session.execute(stmt)).all()
    return [row[0] if isinstance(row[0], int) else row[0].id for row in rows]


# Point checks: (object, act) → the oracle's answer for the caller and factory i.
POINT_CHECKS: dict[tuple[str, str], Callable[[Oracle, Who, int], bool]] = {
    ("factory", "read"): Oracle.profile,
    ("slcp", "read"): Oracle.slcp,
    ("assessment", "read"): Oracle.released_data,
    ("draft", "read"): Oracle.unreleased_data,
    ("zero_tolerance", "read"): Oracle.zero_tolerance,
    ("self_assessment", "read"): Oracle.self_assessment_data,
    ("consent", "read"): Oracle.all_grants,
    ("own_consent", "read"): lambda o, who, i: o.active_grant(who, i),
    ("access_log", "read"): Oracle.owner,
    # rule 1: the factory's managers alone; the programme's assessors in their country
    ("consent", "write"): lambda o, who, i: o.owner(who, i) and who.role == m.Role.FACTORY_MANAGER,
    ("slcp", "write"): lambda o, who, i: o.owner(who, i) and who.role == m.Role.FACTORY_MANAGER,
    ("self_assessment", "write"): lambda o, who, i: (
        o.owner(who, i) and who.role == m.Role.FACTORY_MANAGER
    ),
    ("assessment", "write"): Oracle.programme_of,
    ("factory", "write"): Oracle.programme_of,
}


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=worlds())
async def test_given_a_random_world_when_everyone_runs_every_scoped_query_then_the_oracle_s_rows(
    engine: AsyncEngine, keys: KeyMaterial, spec: WorldSpec
) -> None:
    await _empty(engine)
    try:
        async with make_sessionmaker(engine)() as session:
            built = await build(session, keys, spec)
            await session.commit()
            oracle = Oracle(built)
            rows = {
                row.id: row
                for row in await session.scalars(
                    system_read(select(m.Factory), "test: the factories asked about")
                )
            }
            for who, principal in everyone(built):
                granted = await grant_scopes(session, Scope(principal), built.factory_ids)
                for (obj, act), expect_point in POINT_CHECKS.items():
                    for i, fid in enumerate(built.factory_ids):
                        rel = factory_relation(principal, rows[fid], granted.get(fid, NO_GRANTS))
                        allowed = allows(principal, obj, act, rel)
                        assert allowed == expect_point(oracle, who, i), (
                            f"enforcer: {act} {obj} of factory {i} for {who.label} in {spec}"
                        )
                scope = Scope(principal)
                for name, (query, id_col, world_ids, expect) in CHECKS.items():
                    expected = expect(oracle, who)
                    where = f"{name} for {who.label} in {spec}"
                    listed = await _ids(session, query(scope))
                    assert sorted(listed) == sorted(expected), where  # no duplicates either
                    assert await session.scalar(count(query(scope))) == len(expected), where
                    # By id: the first row it may see and the first it may not, if any.
                    hidden = sorted(world_ids(built) - expected)
                    for pk in sorted(expected)[:1] + hidden[:1]:
                        found = await _ids(session, query(scope).where(id_col == pk))
                        assert found == ([pk] if pk in expected else []), f"{where}: id {pk}"
    finally:
        await _empty(engine)
