"""Test data for the export tests: `make_*` functions that insert with the ORM and flush."""

from __future__ import annotations

import datetime as dt
import json
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
from core.crypto import FieldCipher, KeyMaterial, validate_host_public_jwk
from exports.payload import ANSWERS_PURPOSE, DETAIL_PURPOSE
from exports.webhooks import WEBHOOK_FIELD_PURPOSE

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
    ("OSH.01.1", m.ComplianceCluster.OCCUPATIONAL_SAFETY_AND_HEALTH, "Emergency preparedness",
     "HS-OSH01-01", 1),
    ("MS.01.1", m.ComplianceCluster.CONTRACTS_AND_HUMAN_RESOURCES, "Management systems",
     "MS-01-01", 2),
    ("AB.01.1", m.ComplianceCluster.COMPENSATION, "Above and beyond", "AB-01-01", 3),
    ("BW.01.1", m.ComplianceCluster.FREEDOM_OF_ASSOCIATION, "Social dialogue", None, None),
]
STEP1_ANSWERS = {"CL.01.1": "NO", "WT.01.1": 64, "OSH.01.1": True, "BW.01.1": "YES", "ZZ.9": 1}
STEP2_ANSWERS = {"MS.01.1": "PARTLY"}
STEP3_ANSWERS = {"AB.01.1": {"text": "Day-care centre", "since": 2022}}


async def make_country(
    session: AsyncSession,
    code: str = "BD",
    *,
    rollout_on: dt.date | None = ROLLOUT_ON,
    overlay: str | None = OVERLAY,
) -> m.Country:
    country = m.Country(
        code=code, name=f"Country {code}", betterwork_programme=True,
        slcp_rollout_on=rollout_on, overlay_version=overlay,
    )
    session.add(country)
    await session.flush()
    return country


async def make_catalogue(session: AsyncSession, country: m.Country, overlay: str = OVERLAY) -> None:
    for code, cluster, point, caf_ref, step in CATALOGUE:
        session.add(
            m.Question(
                country_code=country.code, overlay_version=overlay, code=code, cluster=cluster,
                compliance_point=point, caf_ref=caf_ref, step=step,
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
        session, m.OrganizationKind.HOST, name,
        host_public_jwk=public,
        webhook_url=webhook_url,
        webhook_secret_encrypted=(
            keys.fields.encrypt(webhook_secret, WEBHOOK_FIELD_PURPOSE) if webhook_secret else None
        ),
    )
    return Host(organization, private, webhook_secret)


async def make_factory(
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
        organization_id=organization.id, name=name, country_code=country.code,
        enrolled_on=dt.date(2019, 6, 1),
        slcp_gateway_id=gateway_id if registered else None,
        slcp_registered_on=registered_on if registered else None,
        slcp_verifier_body=verifier_body if registered else None,
        slcp_sharing_confirmed_on=sharing_on if registered else None,
    )
    session.add(factory)
    await session.flush()
    return factory


async def make_cycle(session: AsyncSession, factory: m.Factory, number: int = 1) -> m.ServiceCycle:
    cycle = m.ServiceCycle(
        factory_id=factory.id, number=number, started_on=dt.date(2023 + number, 1, 1)
    )
    session.add(cycle)
    await session.flush()
    return cycle


async def make_self_assessment(
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
        cycle_id=cycle.id, factory_id=cycle.factory_id, step=step, tool_version=tool_version,
        answers_encrypted=fields.encrypt_json(answers, ANSWERS_PURPOSE), submitted_at=submitted_at,
    )
    session.add(self_assessment)
    await session.flush()
    return self_assessment


async def make_assessment(
    session: AsyncSession,
    cycle: m.ServiceCycle,
    *,
    kind: m.AssessmentKind = m.AssessmentKind.ONSITE,
    assessed_on: dt.date = ASSESSED_ON,
    released_on: dt.date | None = RELEASED_ON,
    virtual_scope: str | None = None,
) -> m.Assessment:
    assessment = m.Assessment(
        cycle_id=cycle.id, factory_id=cycle.factory_id, kind=kind, assessed_on=assessed_on,
        virtual_scope=virtual_scope,
    )
    if released_on is not None:
        assessment.release(released_on)
    session.add(assessment)
    await session.flush()
    return assessment


async def make_finding(
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
        assessment_id=assessment.id, cluster=cluster, compliance_point=point,
        question_code=question_code, non_compliant=non_compliant, zero_tolerance=zero_tolerance,
        detail_encrypted=None if detail is None else fields.encrypt(detail, DETAIL_PURPOSE),
    )
    session.add(finding)
    await session.flush()
    return finding


async def make_grant(
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
        factory_id=factory.id, grantee_id=grantee.id, scope_assessment=assessment,
        scope_self_assessment=self_assessment, granted_at=granted_at or m.utcnow(),
        expires_at=expires_at, revoked_at=revoked_at,
    )
    session.add(grant)
    await session.flush()
    return grant


@dataclass
class World:
    country: m.Country
    factory: m.Factory
    cycle: m.ServiceCycle
    assessment: m.Assessment
    host: Host
    grant: m.ConsentGrant


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
    cycle = await make_cycle(session, factory, number)
    await make_self_assessment(session, fields, cycle, 1, STEP1_ANSWERS, submitted_at=submitted_at)
    await make_self_assessment(session, fields, cycle, 2, STEP2_ANSWERS)
    await make_self_assessment(session, fields, cycle, 3, STEP3_ANSWERS)
    made = await make_assessment(session, cycle, **assessment)
    await make_finding(session, fields, made, "CL.01.1", zero_tolerance=True)
    await make_finding(session, fields, made, "WT.01.1", non_compliant=True, detail=DETAIL)
    await make_finding(session, fields, made, "BW.01.1", non_compliant=True, detail="BW only")
    return cycle, made


async def make_world(
    session: AsyncSession,
    keys: KeyMaterial,
    *,
    country_rollout_on: dt.date | None = ROLLOUT_ON,
    host_key: bool = True,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    factory: dict[str, Any] | None = None,
    **cycle: Any,
) -> World:
    """One eligible factory of Bangladesh, released cycle 1, one host granted ASSESSMENT."""
    country = await make_country(session, rollout_on=country_rollout_on)
    await make_catalogue(session, country)
    made_factory = await make_factory(session, country, **(factory or {}))
    made_cycle, assessment = await make_released_cycle(session, keys.fields, made_factory, **cycle)
    host = await make_host(
        session, keys, with_key=host_key, webhook_url=webhook_url, webhook_secret=webhook_secret
    )
    grant = await make_grant(session, made_factory, host.organization)
    await session.commit()
    return World(country, made_factory, made_cycle, assessment, host, grant)


def host_exports_query(host_id: int) -> Select[m.GatewayExport]:
    """What the host reads through ``gatewayExports``: its own scope's exports, newest first."""
    host = Principal(
        organization_id=host_id,
        organization_kind=m.OrganizationKind.HOST,
        role=m.Role.HOST_INTEGRATION,
    )
    newest_first = (m.GatewayExport.created_at.desc(), m.GatewayExport.id.desc())
    return Scope(host).exports().order_by(*newest_first)
