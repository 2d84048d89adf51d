"""Builds the demo world's rows from the specs beside this module."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from joserfc.jwk import OKPKey
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from core.crypto import ANSWERS_PURPOSE, DETAIL_PURPOSE, KeyMaterial, validate_host_public_jwk
from demo.factories import VIRTUAL, AssessmentSpec, CycleSpec, FactorySpec, at, factory_specs
from demo.grants import grant_specs
from demo.observations import BASELINE, DETAILS, VIRTUAL_SCOPE, self_assessment_answers
from demo.people import KEYED_HOST, OTHER_ORGANIZATIONS, PLATFORM, OrgSpec, email_of
from reference import catalogue

TOOL_VERSION = "CAF 1.4"


@dataclass(frozen=True)
class DemoWorld:
    """What tests, docs and the CLI need to find their way around the seeded world."""

    today: dt.date
    emails: dict[m.Role, str]  # one user of each role
    organization_ids: dict[str, int]  # by slug (factories' organisations included)
    factory_ids: dict[str, int]  # by factory name
    host_private_jwk: dict[str, str]  # of the keyed host; stored nowhere
    host_api_key: str  # of the keyed host; only its HMAC is stored


SAMPLE_USERS = {
    m.Role.PLATFORM_ADMIN: PLATFORM.slug,
    m.Role.ASSESSOR: "bw-id",
    m.Role.FACTORY_MANAGER: "sinar-garmen",
    m.Role.WORKER_REPRESENTATIVE: "sinar-garmen",
    m.Role.BRAND_VIEWER: "northwind-apparel",
    m.Role.HOST_INTEGRATION: KEYED_HOST,
    m.Role.CONSTITUENT_VIEWER: "id-garment-workers-federation",
}


class _Seeder:
    def __init__(self, session: AsyncSession, keys: KeyMaterial, today: dt.date) -> None:
        self.session = session
        self.keys = keys
        self.today = today
        self.orgs: dict[str, m.Organization] = {}
        self.users: dict[str, m.User] = {}

    def organization(self, spec: OrgSpec) -> m.Organization:
        org = m.Organization(
            name=spec.name,
            kind=spec.kind,
            country_code=spec.country,
            labour_inspectorate=spec.labour_inspectorate,
        )
        self.orgs[spec.slug] = org
        self.session.add(org)
        return org

    def user(self, slug: str, role: m.Role) -> m.User:
        user = m.User(email=email_of(role, slug), organization_id=self.orgs[slug].id, role=role)
        self.users[user.email] = user
        self.session.add(user)
        return user

    async def everyone_but_factories(self) -> dict[str, str]:
        for spec in OTHER_ORGANIZATIONS:
            self.organization(spec)
        host_key = OKPKey.generate_key("X25519")
        public = validate_host_public_jwk(host_key.as_dict(private=False))
        self.orgs[KEYED_HOST].host_public_jwk = public
        await self.session.flush()
        for spec in OTHER_ORGANIZATIONS:
            self.user(spec.slug, spec.role)
        await self.session.flush()
        private = {k: str(v) for k, v in host_key.as_dict(private=True).items()}
        return {**private, "kid": public["kid"]}

    def host_api_key(self) -> str:
        secret, prefix, digest = self.keys.api_keys.new_key()
        self.session.add(
            m.ApiKey(
                organization_id=self.orgs[KEYED_HOST].id,
                prefix=prefix,
                secret_hmac=digest,
                created_by_user_id=self.users[email_of(m.Role.PLATFORM_ADMIN, PLATFORM.slug)].id,
            )
        )
        return secret

    async def factory(self, spec: FactorySpec) -> m.Factory:
        org = self.organization(
            OrgSpec(
                spec.slug,
                spec.name,
                m.OrganizationKind.FACTORY,
                m.Role.FACTORY_MANAGER,
                spec.country,
            )
        )
        await self.session.flush()
        self.user(spec.slug, m.Role.FACTORY_MANAGER)
        self.user(spec.slug, m.Role.WORKER_REPRESENTATIVE)
        reg = spec.registration
        factory = m.Factory(
            organization_id=org.id,
            name=spec.name,
            country_code=spec.country,
            enrolled_on=spec.enrolled_on,
            high_performance=spec.high_performance,
            slcp_gateway_id=reg.gateway_id if reg else None,
            slcp_registered_on=reg.registered_on if reg else None,
            slcp_verifier_body=m.BETTER_WORK if reg else None,
            slcp_sharing_confirmed_on=reg.sharing_confirmed_on if reg else None,
        )
        self.session.add(factory)
        await self.session.flush()
        for cycle in spec.cycles:
            await self.cycle(factory, spec, cycle)
        return factory

    async def cycle(self, factory: m.Factory, spec: FactorySpec, cycle_spec: CycleSpec) -> None:
        cycle = m.ServiceCycle(
            factory_id=factory.id, number=cycle_spec.number, started_on=cycle_spec.started_on
        )
        self.session.add(cycle)
        await self.session.flush()
        manager = self.users[email_of(m.Role.FACTORY_MANAGER, spec.slug)]
        found = cycle_spec.assessment.non_compliant
        for step, submitted_on in cycle_spec.self_assessed.items():
            self.session.add(
                m.SelfAssessment(
                    cycle_id=cycle.id,
                    factory_id=factory.id,
                    step=step,
                    tool_version=TOOL_VERSION,
                    answers_encrypted=self.keys.fields.encrypt_json(
                        self_assessment_answers(step, found), ANSWERS_PURPOSE
                    ),
                    submitted_at=at(submitted_on, 16) if submitted_on else None,
                    submitted_by_user_id=manager.id if submitted_on else None,
                )
            )
        assessor = self.users[email_of(m.Role.ASSESSOR, f"bw-{spec.country.lower()}")]
        await self.assessment(factory, cycle, assessor, cycle_spec.assessment)

    async def assessment(
        self, factory: m.Factory, cycle: m.ServiceCycle, assessor: m.User, spec: AssessmentSpec
    ) -> None:
        virtual = spec.kind == VIRTUAL
        assessment = m.Assessment(
            cycle_id=cycle.id,
            factory_id=factory.id,
            kind=spec.kind,
            assessed_on=spec.assessed_on,
            status=m.AssessmentStatus.DRAFT,
            virtual_scope=",".join(sorted(VIRTUAL_SCOPE)) if virtual else None,
            recorded_by_user_id=assessor.id,
        )
        if spec.released_on is not None:
            assessment.release(spec.released_on)
        self.session.add(assessment)
        await self.session.flush()
        # A virtual check records findings for its scope only; an on-site one for the baseline
        # and whatever it found.
        codes = VIRTUAL_SCOPE if virtual else (*BASELINE, *spec.non_compliant)
        if not set(spec.non_compliant) <= set(codes):
            raise ValueError(f"{factory.name}: a finding outside the virtual check's scope")
        questions = catalogue().questions
        for code in dict.fromkeys(codes):
            question = questions[code]
            assert question.cluster is not None  # the catalogue's questions all have one
            bad = code in spec.non_compliant
            self.session.add(
                m.Finding(
                    assessment_id=assessment.id,
                    cluster=question.cluster,
                    compliance_point=question.compliance_point,
                    question_code=code,
                    non_compliant=bad,
                    public_reporting=bad and question.public_reporting,
                    zero_tolerance=bad and question.zero_tolerance,
                    detail_encrypted=(
                        self.keys.fields.encrypt(DETAILS[code], DETAIL_PURPOSE) if bad else None
                    ),
                )
            )

    def grants(self, factories: dict[str, m.Factory]) -> None:
        for spec in grant_specs(self.today):
            manager = self.users[email_of(m.Role.FACTORY_MANAGER, spec.factory)]
            revoked_at = spec.revoked_at()
            self.session.add(
                m.ConsentGrant(
                    factory_id=factories[spec.factory].id,
                    grantee_id=self.orgs[spec.grantee].id,
                    scope_assessment=spec.scopes[0],
                    scope_self_assessment=spec.scopes[1],
                    granted_at=spec.granted_at(),
                    granted_by_user_id=manager.id,
                    expires_at=spec.expires_at(),
                    revoked_at=revoked_at,
                    revoked_by_user_id=manager.id if revoked_at else None,
                )
            )


async def seed_demo(
    session: AsyncSession, keys: KeyMaterial, *, today: dt.date | None = None
) -> DemoWorld:
    """Adds the demo world to ``session`` and flushes; the caller commits.

    Needs the reference data (loaded by the migrations, or by
    :func:`demo.seed_reference`). Reads nothing. ``today`` (default: the real date)
    places the one cycle whose release is ahead.
    """
    today = today or dt.date.today()
    seeder = _Seeder(session, keys, today)
    host_private_jwk = await seeder.everyone_but_factories()
    factories = {spec.slug: await seeder.factory(spec) for spec in factory_specs(today)}
    seeder.grants(factories)
    host_api_key = seeder.host_api_key()
    await session.flush()
    return DemoWorld(
        today=today,
        emails={role: email_of(role, slug) for role, slug in SAMPLE_USERS.items()},
        organization_ids={slug: org.id for slug, org in seeder.orgs.items()},
        factory_ids={f.name: f.id for f in factories.values()},
        host_private_jwk=host_private_jwk,
        host_api_key=host_api_key,
    )
