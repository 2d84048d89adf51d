"""Test-data builders (`make_*`); "factory" is a business word here, so no factory_boy.

Each inserts one row (or one small family of rows) with the ORM and flushes. The worlds
built from them are in tests/world.py. The `make_export_*` builders make the rows of the
export tests (Bangladesh, the CAF catalogue, SLCP registration); their plain namesakes are
the general defaults (Indonesia, unregistered).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jwcrypto import jwk
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

import exports
import models as m
from authz.principal import Principal
from authz.scope import Scope
from core.crypto import (
    ANSWERS_PURPOSE,
    DETAIL_PURPOSE,
    FieldCipher,
    KeyMaterial,
    validate_host_public_jwk,
)
from exports.webhooks import WEBHOOK_FIELD_PURPOSE

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


# --- rows of the authorization worlds -----------------------------------------------------

ANSWERS = {"CL.01.1": "NO"}


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


# --- rows of the export tests -------------------------------------------------------------

EXPORT_SCHEMA = json.loads(
    (Path(exports.__file__).parent / "schema" / "gateway-export-v1.json").read_text()
)
OVERLAY = "BD-2023.1"
ROLLOUT_ON = dt.date(2021, 5, 31)
REGISTERED_ON = dt.date(2024, 1, 10)
SHARING_ON = dt.date(2024, 1, 12)
SUBMITTED_AT = dt.datetime(2024, 2, 1, 9, 30, tzinfo=dt.UTC)
ASSESSED_ON = dt.date(2024, 3, 4)
RELEASED_ON = dt.date(2024, 3, 25)
GATEWAY_ON = dt.date(2024, 4, 9)  # RELEASED_ON + 15 days
DETAIL = "Line supervisor R. Akter kept the sewing line working until 22:40."

# (code, cluster, compliance point, CAF reference, step)
CATALOGUE: list[tuple[str, m.ComplianceCluster, str, str | None, int | None]] = [
    ("CL.01.1", m.ComplianceCluster.CHILD_LABOUR, "Child labourers", "RH-CL01-01", 1),
    ("WT.01.1", m.ComplianceCluster.WORKING_TIME, "Overtime", "WH-WT01-01", 1),
    (
        "OSH.01.1",
        m.ComplianceCluster.OCCUPATIONAL_SAFETY_AND_HEALTH,
        "Emergency preparedness",
        "HS-OSH01-01",
        1,
    ),
    (
        "MS.01.1",
        m.ComplianceCluster.CONTRACTS_AND_HUMAN_RESOURCES,
        "Management systems",
        "MS-01-01",
        2,
    ),
    ("AB.01.1", m.ComplianceCluster.COMPENSATION, "Above and beyond", "AB-01-01", 3),
    ("BW.01.1", m.ComplianceCluster.FREEDOM_OF_ASSOCIATION, "Social dialogue", None, None),
]
STEP1_ANSWERS = {"CL.01.1": "NO", "WT.01.1": 64, "OSH.01.1": True, "BW.01.1": "YES", "ZZ.9": 1}
STEP2_ANSWERS = {"MS.01.1": "PARTLY"}
STEP3_ANSWERS = {"AB.01.1": {"text": "Day-care centre", "since": 2022}}


async def make_export_country(
    session: AsyncSession,
    code: str = "BD",
    *,
    rollout_on: dt.date | None = ROLLOUT_ON,
    overlay: str | None = OVERLAY,
) -> m.Country:
    country = m.Country(
        code=code,
        name=f"Country {code}",
        betterwork_programme=True,
        slcp_rollout_on=rollout_on,
        overlay_version=overlay,
    )
    session.add(country)
    await session.flush()
    return country


async def make_catalogue(session: AsyncSession, country: m.Country, overlay: str = OVERLAY) -> None:
    for code, cluster, point, caf_ref, step in CATALOGUE:
        session.add(
            m.Question(
                country_code=country.code,
                overlay_version=overlay,
                code=code,
                cluster=cluster,
                compliance_point=point,
                caf_ref=caf_ref,
                step=step,
            )
        )
    await session.flush()


async def make_organization(
    session: AsyncSession, kind: m.OrganizationKind, name: str, **fields: Any
) -> m.Organization:
    organization = m.Organization(kind=kind, name=name, **fields)
    session.add(organization)
    await session.flush()
    return organization


def make_host_key() -> jwk.JWK:
    """A host's private X25519 key (the host keeps it; Millgate stores the public half)."""
    return jwk.JWK.generate(kty="OKP", crv="X25519")


@dataclass
class Host:
    organization: m.Organization
    private_key: jwk.JWK
    webhook_secret: str | None


async def make_host(
    session: AsyncSession,
    keys: KeyMaterial,
    name: str = "FSLM Host A",
    *,
    with_key: bool = True,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
) -> Host:
    private = make_host_key()
    public = validate_host_public_jwk(json.loads(private.export_public())) if with_key else None
    organization = await make_organization(
        session,
        m.OrganizationKind.HOST,
        name,
        host_public_jwk=public,
        webhook_url=webhook_url,
        webhook_secret_encrypted=(
            keys.fields.encrypt(webhook_secret, WEBHOOK_FIELD_PURPOSE) if webhook_secret else None
        ),
    )
    return Host(organization, private, webhook_secret)


async def make_export_factory(
    session: AsyncSession,
    country: m.Country,
    name: str = "Sunrise Garments Ltd",
    *,
    gateway_id: str | None = "SLCP-BD-0001",
    registered_on: dt.date | None = REGISTERED_ON,
    verifier_body: str | None = m.BETTER_WORK,
    sharing_on: dt.date | None = SHARING_ON,
) -> m.Factory:
    organization = await make_organization(session, m.OrganizationKind.FACTORY, name)
    registered = gateway_id is not None and registered_on is not None
    factory = m.Factory(
        organization_id=organization.id,
        name=name,
        country_code=country.code,
        enrolled_on=dt.date(2019, 6, 1),
        slcp_gateway_id=gateway_id if registered else None,
        slcp_registered_on=registered_on if registered else None,
        slcp_verifier_body=verifier_body if registered else None,
        slcp_sharing_confirmed_on=sharing_on if registered else None,
    )
    session.add(factory)
    await session.flush()
    return factory


async def make_export_cycle(
    session: AsyncSession, factory: m.Factory, number: int = 1
) -> m.ServiceCycle:
    cycle = m.ServiceCycle(
        factory_id=factory.id, number=number, started_on=dt.date(2023 + number, 1, 1)
    )
    session.add(cycle)
    await session.flush()
    return cycle


async def make_export_self_assessment(
    session: AsyncSession,
    fields: FieldCipher,
    cycle: m.ServiceCycle,
    step: int,
    answers: dict[str, Any],
    *,
    submitted_at: dt.datetime | None = SUBMITTED_AT,
    tool_version: str = "CAF 1.4",
) -> m.SelfAssessment:
    self_assessment = m.SelfAssessment(
        cycle_id=cycle.id,
        factory_id=cycle.factory_id,
        step=step,
        tool_version=tool_version,
        answers_encrypted=fields.encrypt_json(answers, ANSWERS_PURPOSE),
        submitted_at=submitted_at,
    )
    session.add(self_assessment)
    await session.flush()
    return self_assessment


async def make_export_assessment(
    session: AsyncSession,
    cycle: m.ServiceCycle,
    *,
    kind: m.AssessmentKind = m.AssessmentKind.ONSITE,
    assessed_on: dt.date = ASSESSED_ON,
    released_on: dt.date | None = RELEASED_ON,
    virtual_scope: str | None = None,
) -> m.Assessment:
    assessment = m.Assessment(
        cycle_id=cycle.id,
        factory_id=cycle.factory_id,
        kind=kind,
        assessed_on=assessed_on,
        virtual_scope=virtual_scope,
    )
    if released_on is not None:
        assessment.release(released_on)
    session.add(assessment)
    await session.flush()
    return assessment


async def make_export_finding(
    session: AsyncSession,
    fields: FieldCipher,
    assessment: m.Assessment,
    question_code: str,
    *,
    non_compliant: bool = False,
    detail: str | None = None,
    zero_tolerance: bool = False,
) -> m.Finding:
    cluster, point = next((c[1], c[2]) for c in CATALOGUE if c[0] == question_code)
    finding = m.Finding(
        assessment_id=assessment.id,
        cluster=cluster,
        compliance_point=point,
        question_code=question_code,
        non_compliant=non_compliant,
        zero_tolerance=zero_tolerance,
        detail_encrypted=None if detail is None else fields.encrypt(detail, DETAIL_PURPOSE),
    )
    session.add(finding)
    await session.flush()
    return finding


async def make_export_grant(
    session: AsyncSession,
    factory: m.Factory,
    grantee: m.Organization,
    *,
    assessment: bool = True,
    self_assessment: bool = True,  # a host's grant is the whole Gateway share (docs/hosts.md)
    granted_at: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
    revoked_at: dt.datetime | None = None,
) -> m.ConsentGrant:
    grant = m.ConsentGrant(
        factory_id=factory.id,
        grantee_id=grantee.id,
        scope_assessment=assessment,
        scope_self_assessment=self_assessment,
        granted_at=granted_at or m.utcnow(),
        expires_at=expires_at,
        revoked_at=revoked_at,
    )
    session.add(grant)
    await session.flush()
    return grant


async def make_released_cycle(
    session: AsyncSession,
    fields: FieldCipher,
    factory: m.Factory,
    number: int = 1,
    *,
    submitted_at: dt.datetime | None = SUBMITTED_AT,
    **assessment: Any,
) -> tuple[m.ServiceCycle, m.Assessment]:
    """A cycle with its three self-assessments, an assessment and its findings."""
    cycle = await make_export_cycle(session, factory, number)
    await make_export_self_assessment(
        session, fields, cycle, 1, STEP1_ANSWERS, submitted_at=submitted_at
    )
    await make_export_self_assessment(session, fields, cycle, 2, STEP2_ANSWERS)
    await make_export_self_assessment(session, fields, cycle, 3, STEP3_ANSWERS)
    made = await make_export_assessment(session, cycle, **assessment)
    await make_export_finding(session, fields, made, "CL.01.1", zero_tolerance=True)
    await make_export_finding(session, fields, made, "WT.01.1", non_compliant=True, detail=DETAIL)
    await make_export_finding(
        session, fields, made, "BW.01.1", non_compliant=True, detail="BW only"
    )
    return cycle, made


def host_exports_query(host_id: int) -> Select[m.GatewayExport]:
    """What the host reads through ``gatewayExports``: its own scope's exports, newest first."""
    host = Principal(
        organization_id=host_id,
        organization_kind=m.OrganizationKind.HOST,
        role=m.Role.HOST_INTEGRATION,
    )
    newest_first = (m.GatewayExport.created_at.desc(), m.GatewayExport.id.desc())
    return Scope(host).exports().order_by(*newest_first)
