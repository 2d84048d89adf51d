"""The worlds of the authorization tests, built once per module with the `make_*` builders.

``build_matrix_world`` is one target factory **F** seen from every kind of caller: its own
users, another factory, brands and hosts in every grant state, programmes, constituents,
labour inspectorates, the platform and the anonymous public. Everything a test expects is
written in the test's own table; this module only names the rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

import audit
import models as m
from authz.guard import system_read
from core.crypto import ANSWERS_PURPOSE, DETAIL_PURPOSE, KeyMaterial
from tests.builders import days, make_country, make_factory, make_grant, make_org, make_user

HOME = "ID"
ABROAD = "VN"
ANSWERS = {"CL.01.1": "NO"}
CL = m.ComplianceCluster.CHILD_LABOUR
FL = m.ComplianceCluster.FORCED_LABOUR
WT = m.ComplianceCluster.WORKING_TIME
DI = m.ComplianceCluster.DISCRIMINATION

# Grant states of the brands and hosts: (label suffix, scopes, expires in days, revoked, factory)
BOTH = (m.DataScope.ASSESSMENT, m.DataScope.SELF_ASSESSMENT)
GRANT_STATES: list[tuple[str, tuple[m.DataScope, ...], int | None, bool, str]] = [
    ("with active grant", BOTH, 30, False, "F"),
    ("with expired grant", BOTH, -1, False, "F"),
    ("with revoked grant", BOTH, None, True, "F"),
    ("with self-assessment scope only", (m.DataScope.SELF_ASSESSMENT,), None, False, "F"),
    ("with assessment scope only", (m.DataScope.ASSESSMENT,), None, False, "F"),
    ("with grant for another factory", BOTH, None, False, "G"),
]


@dataclass
class MatrixWorld:
    users: dict[str, m.User | None] = field(default_factory=dict)  # caller → user (None: anonymous)
    org_names: dict[str, str] = field(default_factory=dict)  # caller → organisation name
    factory_ids: dict[str, int] = field(default_factory=dict)  # "F", "G", "V", "fill1".."fill5"
    factory_names: dict[str, str] = field(default_factory=dict)
    assessment_ids: dict[int, int] = field(default_factory=dict)  # F's cycle → id
    finding_ids: dict[str, int] = field(default_factory=dict)  # question code → id (F's)
    finding_cycle: dict[str, int] = field(default_factory=dict)  # F's question code → cycle
    details: dict[str, str] = field(default_factory=dict)  # question code → plaintext detail
    # F's cycle → id: step 1 of cycles 1 and 2 (submitted), step 2 of cycle 3 (being filled in)
    self_assessment_ids: dict[int, int] = field(default_factory=dict)
    grant_ids: dict[str, int] = field(default_factory=dict)  # caller → id of its grant to F
    export_ids: dict[str, int] = field(default_factory=dict)  # host caller → id of its export
    api_keys: dict[str, str] = field(default_factory=dict)  # caller → its API key's secret


async def make_cycle_assessment(
    session: AsyncSession,
    factory: m.Factory,
    cycle: int,
    *,
    assessed: int,
    released: int | None,
) -> tuple[m.ServiceCycle, m.Assessment]:
    """A cycle and its assessment, dates in days from today; ``released`` None is a draft."""
    cyc = m.ServiceCycle(factory_id=factory.id, number=cycle, started_on=days(assessed - 30))
    session.add(cyc)
    await session.flush()
    row = m.Assessment(
        cycle_id=cyc.id,
        factory_id=factory.id,
        kind=m.AssessmentKind.ONSITE,
        assessed_on=days(assessed),
    )
    if released is not None:
        row.release(days(released))
    session.add(row)
    await session.flush()
    return cyc, row


async def make_coded_finding(
    session: AsyncSession,
    assessment: m.Assessment,
    keys: KeyMaterial,
    code: str,
    cluster: m.ComplianceCluster,
    *,
    non_compliant: bool = True,
    public: bool = False,
    zero_tolerance: bool = False,
    detail: str | None = None,
) -> m.Finding:
    """A finding whose question code is also its compliance point (public findings show only
    the compliance point, so the code names the row on every path)."""
    row = m.Finding(
        assessment_id=assessment.id,
        cluster=cluster,
        compliance_point=code,
        question_code=code,
        non_compliant=non_compliant,
        public_reporting=public,
        zero_tolerance=zero_tolerance,
        detail_encrypted=None if detail is None else keys.fields.encrypt(detail, DETAIL_PURPOSE),
    )
    session.add(row)
    await session.flush()
    return row


async def make_submitted_self_assessment(
    session: AsyncSession,
    keys: KeyMaterial,
    cycle: m.ServiceCycle,
    step: int = 1,
    answers: dict[str, Any] | None = None,
) -> m.SelfAssessment:
    row = m.SelfAssessment(
        cycle_id=cycle.id,
        factory_id=cycle.factory_id,
        step=step,
        tool_version="CAF 1.4",
        answers_encrypted=keys.fields.encrypt_json(answers or ANSWERS, ANSWERS_PURPOSE),
        submitted_at=m.utcnow() - dt.timedelta(days=100),
    )
    session.add(row)
    await session.flush()
    return row


async def make_export(
    session: AsyncSession,
    host: m.Organization,
    factory: m.Factory,
    cycle: m.ServiceCycle,
    grant: m.ConsentGrant,
) -> m.GatewayExport:
    row = m.GatewayExport(
        export_uid=str(uuid.uuid4()),
        host_id=host.id,
        factory_id=factory.id,
        cycle_id=cycle.id,
        grant_id=grant.id,
        factory_gateway_id=factory.slcp_gateway_id or "none",
        cycle_number=cycle.number,
        release_on=days(-10),
        schema_version="1",
        content_sha256="0" * 64,
        envelope="not.a.real.envelope",
    )
    session.add(row)
    await session.flush()
    return row


async def build_matrix_world(session: AsyncSession, keys: KeyMaterial) -> MatrixWorld:
    """F (registered with SLCP) and G in the home country, five filler factories there for
    statistics, V abroad. F has four cycles: 1 released long ago, 2 released (its latest),
    3 released with a release date to come, 4 a draft."""
    w = MatrixWorld()
    await make_country(session, HOME)
    await make_country(session, ABROAD)

    f = await make_factory(
        session,
        HOME,
        name="Target Factory",
        registered_on=days(-500),
        sharing_confirmed_on=days(-500),
        gateway_id="GW-TARGET",
    )
    g = await make_factory(session, HOME, name="Neighbour Factory")
    v = await make_factory(session, ABROAD, name="Abroad Factory")
    fillers = [await make_factory(session, HOME, name=f"Filler {n}") for n in range(1, 6)]
    for label, row in [("F", f), ("G", g), ("V", v)] + [
        (f"fill{n}", row) for n, row in enumerate(fillers, 1)
    ]:
        w.factory_ids[label] = row.id
        w.factory_names[label] = row.name

    # F's cycles: (cycle, assessed, released, findings (code, cluster, nc, public, zt, detail))
    Findings = list[tuple[str, m.ComplianceCluster, bool, bool, bool, str | None]]
    f_cycles: list[tuple[int, int, int | None, Findings]] = [
        (1, -400, -390, [("F1.PUB", DI, False, True, False, None)]),
        (
            2,
            -60,
            -40,
            [
                ("F2.PUB", CL, True, True, False, None),
                ("F2.ZT", FL, True, False, True, "F2: supervisor A. Rahman withheld passports"),
                ("F2.WT", WT, False, False, False, "F2: overtime records complete"),
            ],
        ),
        (
            3,
            -5,
            5,
            [
                ("F3.PUB", CL, True, True, False, None),
                ("F3.ZT", FL, True, False, True, "F3: not yet released"),
            ],
        ),
        (
            4,
            -2,
            None,
            [
                ("F4.PUB", CL, True, True, False, None),
                ("F4.ZT", FL, True, False, True, "F4: draft only"),
            ],
        ),
    ]
    f_cycle_rows: dict[int, m.ServiceCycle] = {}
    for number, assessed, released, findings in f_cycles:
        cyc, a = await make_cycle_assessment(
            session, f, number, assessed=assessed, released=released
        )
        f_cycle_rows[number] = cyc
        w.assessment_ids[number] = a.id
        for code, cluster, nc, public, zt, detail in findings:
            finding = await make_coded_finding(
                session,
                a,
                keys,
                code,
                cluster,
                non_compliant=nc,
                public=public,
                zero_tolerance=zt,
                detail=detail,
            )
            w.finding_ids[code] = finding.id
            w.finding_cycle[code] = number
            if detail is not None:
                w.details[code] = detail
    for number in (1, 2):
        sa = await make_submitted_self_assessment(session, keys, f_cycle_rows[number])
        w.self_assessment_ids[number] = sa.id
    # Step 2 of cycle 3 is being filled in: the factory's alone until submitted.
    in_progress = await make_submitted_self_assessment(session, keys, f_cycle_rows[3], step=2)
    in_progress.submitted_at = None
    await session.flush()
    w.self_assessment_ids[3] = in_progress.id

    g_cycle, g1 = await make_cycle_assessment(session, g, 1, assessed=-50, released=-30)
    await make_coded_finding(session, g1, keys, "G1.PUB", CL, non_compliant=False, public=True)
    await make_coded_finding(session, g1, keys, "G1.ZT", FL, zero_tolerance=True, detail="G1 case")
    await make_submitted_self_assessment(session, keys, g_cycle)
    _, v1 = await make_cycle_assessment(session, v, 1, assessed=-50, released=-30)
    await make_coded_finding(session, v1, keys, "V1.PUB", CL, public=True)
    await make_coded_finding(session, v1, keys, "V1.ZT", FL, zero_tolerance=True)
    for n, filler in enumerate(fillers, 1):
        # fill1-4 released (fill1 and fill2 non-compliant); fill5 only a draft
        _, a = await make_cycle_assessment(
            session, filler, 1, assessed=-50, released=None if n == 5 else -30
        )
        await make_coded_finding(session, a, keys, f"FILL{n}.CL", CL, non_compliant=n in (1, 2, 5))

    async def caller(
        label: str,
        kind: m.OrganizationKind,
        role: m.Role,
        *,
        country: str | None = None,
        inspectorate: bool = False,
        org: m.Organization | None = None,
    ) -> m.Organization:
        org = org or await make_org(
            session, kind, country=country, inspectorate=inspectorate, name=f"Org of {label}"
        )
        w.users[label] = await make_user(session, org, role)
        w.org_names[label] = org.name
        return org

    f_org = await session.scalar(
        system_read(
            select(m.Organization).where(m.Organization.id == f.organization_id), "test: F's org"
        )
    )
    g_org = await session.scalar(
        system_read(
            select(m.Organization).where(m.Organization.id == g.organization_id), "test: G's org"
        )
    )
    await caller("factory manager", m.OrganizationKind.FACTORY, m.Role.FACTORY_MANAGER, org=f_org)
    await caller(
        "worker representative", m.OrganizationKind.FACTORY, m.Role.WORKER_REPRESENTATIVE, org=f_org
    )
    await caller("another factory", m.OrganizationKind.FACTORY, m.Role.FACTORY_MANAGER, org=g_org)
    for kind, role, word in [
        (m.OrganizationKind.BRAND, m.Role.BRAND_VIEWER, "brand"),
        (m.OrganizationKind.HOST, m.Role.HOST_INTEGRATION, "host"),
    ]:
        await caller(f"{word} without grant", kind, role)
        for suffix, scopes, expires_in, revoked, target in GRANT_STATES:
            label = f"{word} {suffix}"
            org = await caller(label, kind, role)
            factory = f if target == "F" else g
            expires_at = None if expires_in is None else m.utcnow() + dt.timedelta(days=expires_in)
            grant = await make_grant(
                session, factory, org, scopes=scopes, expires_at=expires_at, revoked=revoked
            )
            if target == "F":
                w.grant_ids[label] = grant.id
            if word == "host" and suffix in (
                "with active grant",
                "with expired grant",
                "with revoked grant",
                "with grant for another factory",
            ):
                cyc = f_cycle_rows[2] if target == "F" else g_cycle
                export = await make_export(session, org, factory, cyc, grant)
                w.export_ids[label] = export.id
    await caller(
        "programme of the country", m.OrganizationKind.PROGRAMME, m.Role.ASSESSOR, country=HOME
    )
    await caller(
        "programme of another country",
        m.OrganizationKind.PROGRAMME,
        m.Role.ASSESSOR,
        country=ABROAD,
    )
    await caller(
        "constituent", m.OrganizationKind.CONSTITUENT, m.Role.CONSTITUENT_VIEWER, country=HOME
    )
    await caller(
        "labour inspectorate",
        m.OrganizationKind.CONSTITUENT,
        m.Role.CONSTITUENT_VIEWER,
        country=HOME,
        inspectorate=True,
    )
    await caller(
        "labour inspectorate of another country",
        m.OrganizationKind.CONSTITUENT,
        m.Role.CONSTITUENT_VIEWER,
        country=ABROAD,
        inspectorate=True,
    )
    await caller("platform admin", m.OrganizationKind.PLATFORM, m.Role.PLATFORM_ADMIN)
    w.users["anonymous"] = None
    # Hosts are machine integrations: the host with the active grant also has an API key.
    host = w.users["host with active grant"]
    assert host is not None
    secret, prefix, digest = keys.api_keys.new_key()
    session.add(m.ApiKey(organization_id=host.organization_id, prefix=prefix, secret_hmac=digest))
    w.api_keys["host with active grant"] = secret

    # F's audit trail: a grant, and the records of its released cycle 2 and its draft cycle 4
    # (the draft's record is the programme's alone until the release).
    await audit.append(
        session,
        None,
        "consent.grant",
        f"ConsentGrant:{w.grant_ids['brand with active grant']}",
        factory_id=f.id,
    )
    for number in (2, 4):
        await audit.append(
            session,
            None,
            "assessment.record",
            f"Assessment:{w.assessment_ids[number]}",
            factory_id=f.id,
        )

    # F's access log is not empty: the brand with the active grant read F once.
    brand = w.users["brand with active grant"]
    assert brand is not None
    session.add(
        m.AccessEvent(
            factory_id=f.id,
            organization_id=brand.organization_id,
            user_id=brand.id,
            operation="seed:factory",
        )
    )
    await session.flush()
    return w


async def snapshot(session: AsyncSession) -> list[tuple[str, str]]:
    """Every row of every table, as (table, row as text), in one plain-SQL statement: what
    "changes nothing" compares."""
    dialect = session.get_bind().dialect.name
    parts = []
    for table in m.Base.metadata.sorted_tables:
        columns = [f'"{column.name}"' for column in table.columns]
        if dialect == "postgresql":
            row = f"CAST(ROW({', '.join(columns)}) AS TEXT)"
        else:
            row = " || ',' || ".join(f"quote({column})" for column in columns)
        # names of our own tables and columns only
        parts.append(f"SELECT '{table.name}' AS t, {row} AS r FROM \"{table.name}\"")  # noqa: S608
    query = text(" UNION ALL ".join(parts) + " ORDER BY 1, 2")
    return [(t, r) for t, r in (await session.execute(query)).all()]


@dataclass
class MutationWorld:
    users: dict[str, m.User | None] = field(default_factory=dict)  # caller → user
    ids: dict[str, int] = field(default_factory=dict)  # a target's name → its primary key


async def build_mutation_world(session: AsyncSession) -> MutationWorld:
    """The targets of every mutation, and a caller of every kind.

    F (home country, not registered with SLCP) has cycle 1 released, cycle 2 a draft assessed
    40 days ago (too late to release without the platform's override), cycle 3 a draft
    assessed 3 days ago; a brand and a host hold active grants to F.
    """
    w = MutationWorld()
    await make_country(session, HOME)
    await make_country(session, ABROAD)
    session.add(
        m.Question(
            country_code=HOME,
            overlay_version="2021.1",
            code="CL.01.1",
            cluster=CL,
            compliance_point="Child labourers",
            caf_ref="RH-CL01-01",
            step=1,
        )
    )
    f = await make_factory(session, HOME, name="Target Factory")
    g = await make_factory(session, HOME, name="Neighbour Factory")
    w.ids["F"] = f.id
    await make_cycle_assessment(session, f, 1, assessed=-60, released=-40)
    _, late = await make_cycle_assessment(session, f, 2, assessed=-40, released=None)
    _, draft = await make_cycle_assessment(session, f, 3, assessed=-3, released=None)
    released = await session.scalar(
        system_read(
            select(m.Assessment.id).where(
                m.Assessment.factory_id == f.id, m.Assessment.status == m.AssessmentStatus.RELEASED
            ),
            "test: F's released assessment",
        )
    )
    assert released is not None
    w.ids |= {"released assessment": released, "late draft": late.id, "draft": draft.id}

    async def caller(label: str, org: m.Organization, role: m.Role) -> None:
        w.users[label] = await make_user(session, org, role)

    async def org_of(factory: m.Factory) -> m.Organization:
        row = await session.scalar(
            system_read(
                select(m.Organization).where(m.Organization.id == factory.organization_id),
                "test: a factory's organisation",
            )
        )
        assert row is not None
        return row

    await caller("factory manager", await org_of(f), m.Role.FACTORY_MANAGER)
    await caller("worker representative", await org_of(f), m.Role.WORKER_REPRESENTATIVE)
    await caller("another factory", await org_of(g), m.Role.FACTORY_MANAGER)
    brand = await make_org(session, m.OrganizationKind.BRAND, name="Granted Brand")
    other_brand = await make_org(session, m.OrganizationKind.BRAND, name="Other Brand")
    host = await make_org(session, m.OrganizationKind.HOST, name="Granted Host")
    await caller("brand with grant", brand, m.Role.BRAND_VIEWER)
    await caller("brand without grant", other_brand, m.Role.BRAND_VIEWER)
    await caller("host with grant", host, m.Role.HOST_INTEGRATION)
    grant = await make_grant(session, f, brand)
    await make_grant(session, f, host)
    w.ids |= {"brand's grant": grant.id, "other brand": other_brand.id, "host": host.id}
    for label, kind, role, country, inspectorate in [
        ("programme of the country", m.OrganizationKind.PROGRAMME, m.Role.ASSESSOR, HOME, False),
        (
            "programme of another country",
            m.OrganizationKind.PROGRAMME,
            m.Role.ASSESSOR,
            ABROAD,
            False,
        ),
        ("constituent", m.OrganizationKind.CONSTITUENT, m.Role.CONSTITUENT_VIEWER, HOME, False),
        (
            "labour inspectorate",
            m.OrganizationKind.CONSTITUENT,
            m.Role.CONSTITUENT_VIEWER,
            HOME,
            True,
        ),
        ("platform admin", m.OrganizationKind.PLATFORM, m.Role.PLATFORM_ADMIN, None, False),
    ]:
        org = await make_org(session, kind, country=country, inspectorate=inspectorate)
        await caller(label, org, role)
    w.users["anonymous"] = None
    target_user = await make_user(session, other_brand, m.Role.BRAND_VIEWER)
    key = m.ApiKey(organization_id=host.id, prefix="abcd1234", secret_hmac="0" * 64)
    session.add(key)
    await session.flush()
    w.ids |= {"user": target_user.id, "api key": key.id}
    return w
