"""Test-data builders (`make_*`); "factory" is a business word here, so no factory_boy."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from core.crypto import KeyMaterial

_seq = itertools.count(1)
TODAY = dt.datetime.now(dt.UTC).date()


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


async def make_country(
    session: AsyncSession,
    code: str = "ID",
    *,
    rollout: dt.date | None = dt.date(2021, 5, 31),
    overlay: str = "2021.1",
) -> m.Country:
    row = m.Country(
        code=code,
        name=f"Country {code}",
        betterwork_programme=True,
        slcp_rollout_on=rollout,
        overlay_version=overlay,
    )
    session.add(row)
    await session.flush()
    return row


async def make_question(
    session: AsyncSession,
    country: str = "ID",
    code: str = "CL.01.1",
    *,
    cluster: m.ComplianceCluster | None = m.ComplianceCluster.CHILD_LABOUR,
    point: str = "Child labourers",
    caf_ref: str | None = "RH-CL01-01",
    step: int | None = 1,
    overlay: str = "2021.1",
) -> m.Question:
    row = m.Question(
        country_code=country,
        overlay_version=overlay,
        code=code,
        cluster=cluster,
        compliance_point=point,
        caf_ref=caf_ref,
        step=step,
    )
    session.add(row)
    await session.flush()
    return row


async def make_org(
    session: AsyncSession,
    kind: m.OrganizationKind,
    *,
    country: str | None = None,
    inspectorate: bool = False,
    name: str | None = None,
    host_jwk: dict[str, Any] | None = None,
) -> m.Organization:
    row = m.Organization(
        name=name or f"{kind.value.title()} {next(_seq)}",
        kind=kind,
        country_code=country,
        labour_inspectorate=inspectorate,
        host_public_jwk=host_jwk,
    )
    session.add(row)
    await session.flush()
    return row


async def make_user(session: AsyncSession, org: m.Organization, role: m.Role) -> m.User:
    row = m.User(email=f"user{next(_seq)}@example.test", organization_id=org.id, role=role)
    session.add(row)
    await session.flush()
    return row


async def make_factory(
    session: AsyncSession,
    country: str = "ID",
    *,
    name: str | None = None,
    registered_on: dt.date | None = None,
    sharing_confirmed_on: dt.date | None = None,
    gateway_id: str | None = None,
) -> m.Factory:
    n = next(_seq)
    org = await make_org(session, m.OrganizationKind.FACTORY, name=name or f"Factory {n}")
    row = m.Factory(
        organization_id=org.id,
        name=org.name,
        country_code=country,
        enrolled_on=dt.date(2020, 1, 1),
        slcp_gateway_id=(gateway_id or f"GW-{n}") if registered_on else None,
        slcp_registered_on=registered_on,
        slcp_verifier_body=m.BETTER_WORK if registered_on else None,
        slcp_sharing_confirmed_on=sharing_confirmed_on,
    )
    session.add(row)
    await session.flush()
    return row


async def make_cycle(session: AsyncSession, factory: m.Factory, number: int = 1) -> m.ServiceCycle:
    row = m.ServiceCycle(factory_id=factory.id, number=number, started_on=dt.date(2024, 1, 1))
    session.add(row)
    await session.flush()
    return row


async def make_assessment(
    session: AsyncSession,
    factory: m.Factory,
    *,
    cycle: int = 1,
    assessed_on: dt.date | None = None,
    released_on: dt.date | None = None,
    kind: m.AssessmentKind = m.AssessmentKind.ONSITE,
) -> m.Assessment:
    cyc = await make_cycle(session, factory, cycle)
    row = m.Assessment(
        cycle_id=cyc.id, factory_id=factory.id, kind=kind, assessed_on=assessed_on or days(-60)
    )
    if released_on is not None:
        row.release(released_on)
    session.add(row)
    await session.flush()
    return row


async def make_finding(
    session: AsyncSession,
    assessment: m.Assessment,
    keys: KeyMaterial | None = None,
    *,
    cluster: m.ComplianceCluster = m.ComplianceCluster.CHILD_LABOUR,
    non_compliant: bool = True,
    public: bool = False,
    zero_tolerance: bool = False,
    detail: str | None = None,
    code: str = "CL.01.1",
) -> m.Finding:
    row = m.Finding(
        assessment_id=assessment.id,
        cluster=cluster,
        compliance_point="Child labourers",
        question_code=code,
        non_compliant=non_compliant,
        public_reporting=public,
        zero_tolerance=zero_tolerance,
        detail_encrypted=keys.fields.encrypt(detail, "finding.detail") if keys and detail else None,
    )
    session.add(row)
    await session.flush()
    return row


async def make_self_assessment(
    session: AsyncSession,
    factory: m.Factory,
    keys: KeyMaterial,
    *,
    cycle: m.ServiceCycle,
    step: int = 1,
    submitted_at: dt.datetime | None = None,
    answers: dict[str, Any] | None = None,
) -> m.SelfAssessment:
    row = m.SelfAssessment(
        cycle_id=cycle.id,
        factory_id=factory.id,
        step=step,
        tool_version="CAF 1.4",
        answers_encrypted=keys.fields.encrypt_json(
            answers or {"CL.01.1": "yes"}, "self_assessment.answers"
        ),
        submitted_at=submitted_at or m.utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def make_grant(
    session: AsyncSession,
    factory: m.Factory,
    grantee: m.Organization,
    *,
    scopes: tuple[m.DataScope, ...] = (m.DataScope.ASSESSMENT, m.DataScope.SELF_ASSESSMENT),
    expires_at: dt.datetime | None = None,
    revoked: bool = False,
    granted_at: dt.datetime | None = None,
) -> m.ConsentGrant:
    granted = granted_at or (m.utcnow() - dt.timedelta(days=30))
    row = m.ConsentGrant(
        factory_id=factory.id,
        grantee_id=grantee.id,
        scope_assessment=m.DataScope.ASSESSMENT in scopes,
        scope_self_assessment=m.DataScope.SELF_ASSESSMENT in scopes,
        granted_at=granted,
        expires_at=expires_at,
        revoked_at=(granted + dt.timedelta(days=1)) if revoked else None,
    )
    session.add(row)
    await session.flush()
    return row
