"""Mutations of factory users: consent, SLCP registration, self-assessments (rule 1)."""

from __future__ import annotations

import datetime as dt
import re

import strawberry
from sqlalchemy import func, update
from strawberry.scalars import JSON
from strawberry.types import Info

import audit
import models as m
from api.consent import ConsentGrant, DataScope
from api.context import Context
from api.errors import UserError, not_found
from api.factories import Factory
from api.ids import pk_of
from api.mutations.base import (
    ALREADY_EXISTS,
    INVALID,
    check_text,
    payload_errors,
    require,
    run,
    visible_factory,
)
from api.self_assessments import SelfAssessment
from authz.scope import active_grant
from core.crypto import ANSWERS_PURPOSE
from core.errors import UserInputError

IMPORT_NOT_ACCEPTED = "IMPORT_NOT_ACCEPTED"
WHOLE_SHARE_REQUIRED = "WHOLE_SHARE_REQUIRED"
GATEWAY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$")
TOOL_VERSION = re.compile(r"^CAF \d{1,2}\.\d{1,2}$")
MAX_ANSWERS_BYTES = 256 * 1024
MAX_GRANT_SPAN = dt.timedelta(days=365 * 50)  # beyond, leave expiresAt empty


@strawberry.input
class GrantConsentInput:
    factory_id: strawberry.ID
    grantee_id: strawberry.ID
    scopes: list[DataScope]  # type: ignore[valid-type]
    expires_at: dt.datetime | None = None


@strawberry.type
class ConsentGrantPayload:
    grant: ConsentGrant | None
    errors: list[UserError]


@strawberry.input
class RevokeConsentInput:
    grant_id: strawberry.ID


@strawberry.input
class RegisterSlcpInput:
    factory_id: strawberry.ID
    gateway_id: str
    confirm_assessment_sharing: bool


@strawberry.type
class FactoryPayload:
    factory: Factory | None
    errors: list[UserError]


@strawberry.input
class SubmitSelfAssessmentInput:
    factory_id: strawberry.ID
    cycle: int
    step: int
    tool_version: str
    answers: JSON
    imported_from: str | None = strawberry.field(
        default=None,
        description="Self-assessments made elsewhere are not imported (Q40): set, it is refused.",
    )


@strawberry.type
class SelfAssessmentPayload:
    self_assessment: SelfAssessment | None
    errors: list[UserError]


async def lock_factory(ctx: Context, factory_id: int) -> None:
    """Holds the factory's row (PostgreSQL) or the database's write lock (SQLite) until the
    transaction ends, so that a check-then-insert on its grants cannot race another."""
    await ctx.session.execute(
        update(m.Factory)
        .where(m.Factory.id == factory_id)
        .values(name=m.Factory.name)
        .execution_options(synchronize_session=False)
    )


async def _grant(ctx: Context, data: GrantConsentInput) -> m.ConsentGrant:
    session = ctx.session
    factory = await visible_factory(ctx, pk_of(data.factory_id, "Factory"), "factoryId")
    await require(ctx, "consent", factory=factory)
    grantee_pk = pk_of(data.grantee_id, "Organization")
    grantee = None
    if grantee_pk is not None:
        grantee = await session.scalar(
            ctx.scope.grantable_organizations().where(m.Organization.id == grantee_pk)
        )
    if grantee is None:
        raise UserInputError("NOT_FOUND", "no such brand or host", "granteeId")
    scopes = set(data.scopes)
    if not scopes:
        raise UserInputError(INVALID, "give at least one scope", "scopes")
    if grantee.kind == m.OrganizationKind.HOST and scopes != set(m.DataScope):
        # A host receives the Gateway share: the self-assessment and Better Work's
        # assessment of it as one verified data set (Q26, Q28, Q36), never half of it.
        raise UserInputError(
            WHOLE_SHARE_REQUIRED,
            "a host receives the whole Gateway share: grant ASSESSMENT and SELF_ASSESSMENT",
            "scopes",
        )
    now = m.utcnow()
    if data.expires_at is not None:
        if data.expires_at.tzinfo is None:
            raise UserInputError(INVALID, "expiresAt needs a time zone", "expiresAt")
        if data.expires_at <= now:
            raise UserInputError(INVALID, "expiresAt must be in the future", "expiresAt")
        if data.expires_at > now + MAX_GRANT_SPAN:
            raise UserInputError(INVALID, "expiresAt is more than 50 years away", "expiresAt")
    grant = m.ConsentGrant(
        factory_id=factory.id,
        grantee_id=grantee.id,
        scope_assessment=m.DataScope.ASSESSMENT in scopes,
        scope_self_assessment=m.DataScope.SELF_ASSESSMENT in scopes,
        granted_at=now,
        granted_by_user_id=ctx.principal.user_id,
        expires_at=data.expires_at,
    )
    await lock_factory(ctx, factory.id)  # two grants at once cannot both pass the check below
    existing = await session.scalar(
        ctx.scope.grants()
        .where(
            m.ConsentGrant.factory_id == factory.id,
            m.ConsentGrant.grantee_id == grantee.id,
            active_grant(),
        )
        .with_only_columns(func.count())
    )
    if existing:
        raise UserInputError(
            ALREADY_EXISTS,
            "an active grant to this organisation exists; change it with updateConsent",
            "granteeId",
        )
    session.add(grant)
    await session.flush()
    await audit.append(
        session,
        ctx.principal,
        "consent.grant",
        f"ConsentGrant:{grant.id}",
        factory_id=factory.id,
        details={
            "grantee": grantee.id,
            "scopes": sorted(m.DataScope(s).value for s in scopes),
            "expiresAt": data.expires_at.isoformat() if data.expires_at else None,
        },
    )
    return grant


async def _revoke(ctx: Context, data: RevokeConsentInput) -> m.ConsentGrant:
    session = ctx.session
    pk = pk_of(data.grant_id, "ConsentGrant")
    grant = None
    if pk is not None:
        grant = await session.scalar(ctx.scope.grants().where(m.ConsentGrant.id == pk))
    if grant is None:
        raise not_found("grant", "grantId")
    factory = await visible_factory(ctx, grant.factory_id, "grantId")
    await require(ctx, "consent", factory=factory)
    now = m.utcnow()
    if not grant.active_at(now):
        raise UserInputError("NOT_ACTIVE", "the grant is already revoked or expired", "grantId")
    grant.revoked_at = now
    grant.revoked_by_user_id = ctx.principal.user_id
    await session.flush()
    await audit.append(
        session, ctx.principal, "consent.revoke", f"ConsentGrant:{grant.id}", factory_id=factory.id
    )
    return grant


async def _register(ctx: Context, data: RegisterSlcpInput) -> m.Factory:
    session = ctx.session
    factory = await visible_factory(ctx, pk_of(data.factory_id, "Factory"), "factoryId")
    await require(ctx, "slcp", factory=factory)
    gateway_id = data.gateway_id.strip()
    if not GATEWAY_ID.match(gateway_id):
        raise UserInputError(INVALID, "3-64 letters, digits, '-' or '_'", "gatewayId")
    today = dt.datetime.now(dt.UTC).date()
    if factory.slcp_gateway_id is not None and factory.slcp_gateway_id != gateway_id:
        raise UserInputError(
            "ALREADY_REGISTERED", "the factory is registered under another Gateway ID", "gatewayId"
        )
    if factory.slcp_gateway_id is None:
        factory.slcp_gateway_id = gateway_id
        factory.slcp_registered_on = today
        factory.slcp_verifier_body = m.BETTER_WORK
    if data.confirm_assessment_sharing and factory.slcp_sharing_confirmed_on is None:
        factory.slcp_sharing_confirmed_on = today
    await session.flush()
    await audit.append(
        session,
        ctx.principal,
        "slcp.register",
        f"Factory:{factory.id}",
        factory_id=factory.id,
        details={"gatewayId": gateway_id, "sharingConfirmed": data.confirm_assessment_sharing},
    )
    return factory


async def _catalogue_codes(
    ctx: Context, factory: m.Factory, step: int, tool_version: str
) -> set[str]:
    """The step's questions in the country's newest catalogue of ``tool_version`` (as the
    ``questions`` query serves it)."""
    stmt = ctx.scope.current_questions(factory.country_code, tool_version=tool_version).where(
        m.Question.step == step
    )
    return {q.code for q in (await ctx.session.scalars(stmt)).all()}


async def open_cycle(ctx: Context, factory: m.Factory, number: int, field: str) -> m.ServiceCycle:
    """The factory's cycle ``number``, opened now if it is the next one."""
    if number < 1 or number > 1000:
        raise UserInputError(INVALID, "cycle must be between 1 and 1000", field)
    cycles = (
        await ctx.session.scalars(
            ctx.scope.cycles("factory").where(m.ServiceCycle.factory_id == factory.id)
        )
    ).all()
    for cycle in cycles:
        if cycle.number == number:
            return cycle
    latest = max((c.number for c in cycles), default=0)
    if number != latest + 1:
        raise UserInputError(INVALID, f"the next cycle of this factory is {latest + 1}", field)
    cycle = m.ServiceCycle(
        factory_id=factory.id, number=number, started_on=dt.datetime.now(dt.UTC).date()
    )
    ctx.session.add(cycle)
    await ctx.session.flush()
    return cycle


async def _submit(ctx: Context, data: SubmitSelfAssessmentInput) -> tuple[m.SelfAssessment, int]:
    session = ctx.session
    if data.imported_from is not None:
        raise UserInputError(
            IMPORT_NOT_ACCEPTED,
            "self-assessments made elsewhere are not imported (Q40)",
            "importedFrom",
        )
    factory = await visible_factory(ctx, pk_of(data.factory_id, "Factory"), "factoryId")
    await require(ctx, "self_assessment", factory=factory)
    if data.step not in (1, 2, 3):
        raise UserInputError(INVALID, "step must be 1, 2 or 3", "step")
    tool_version = check_text(data.tool_version, "toolVersion", max_len=40)
    if not TOOL_VERSION.match(tool_version):
        raise UserInputError(INVALID, "toolVersion must look like 'CAF 1.4'", "toolVersion")
    answers = data.answers
    if not isinstance(answers, dict) or not answers:
        raise UserInputError(
            INVALID, "answers must be a non-empty object keyed by question code", "answers"
        )
    codes = await _catalogue_codes(ctx, factory, data.step, tool_version)
    for code in answers:
        if code not in codes:
            raise UserInputError(
                "UNKNOWN_QUESTION",
                f"{str(code)[:40]!r} is not a step {data.step} question",
                f"answers.{str(code)[:40]}",
            )
    sealed = ctx.runtime.keys.fields.encrypt_json(answers, ANSWERS_PURPOSE)
    if len(sealed) > MAX_ANSWERS_BYTES:
        raise UserInputError(INVALID, "answers are too large", "answers")
    cycle = await open_cycle(ctx, factory, data.cycle, "cycle")
    existing = await session.scalar(
        ctx.scope.self_assessments().where(
            m.SelfAssessment.cycle_id == cycle.id, m.SelfAssessment.step == data.step
        )
    )
    if existing is not None and existing.submitted_at is not None:
        raise UserInputError(
            "ALREADY_SUBMITTED", "this step was submitted and is read-only", "step"
        )
    # A step being filled in is submitted in place; a submitted one is never touched again.
    row = existing or m.SelfAssessment(cycle_id=cycle.id, factory_id=factory.id, step=data.step)
    row.tool_version = tool_version
    row.answers_encrypted = sealed
    row.submitted_at = m.utcnow()
    row.submitted_by_user_id = ctx.principal.user_id
    session.add(row)
    await session.flush()
    await audit.append(
        session,
        ctx.principal,
        "self_assessment.submit",
        f"SelfAssessment:{row.id}",
        factory_id=factory.id,
        details={"cycle": data.cycle, "step": data.step, "questions": len(answers)},
    )
    return row, cycle.number


@strawberry.type
class FactoryMutations:
    @strawberry.mutation(description="Factory users: consent.")
    async def grant_consent(
        self, info: Info[Context, None], input: GrantConsentInput
    ) -> ConsentGrantPayload:
        result = await run(info.context, lambda: _grant(info.context, input))
        grant = None if isinstance(result, UserInputError) else ConsentGrant.of(result)
        return ConsentGrantPayload(grant=grant, errors=payload_errors(result))

    @strawberry.mutation
    async def revoke_consent(
        self, info: Info[Context, None], input: RevokeConsentInput
    ) -> ConsentGrantPayload:
        result = await run(info.context, lambda: _revoke(info.context, input))
        grant = None if isinstance(result, UserInputError) else ConsentGrant.of(result)
        return ConsentGrantPayload(grant=grant, errors=payload_errors(result))

    @strawberry.mutation
    async def register_slcp(
        self, info: Info[Context, None], input: RegisterSlcpInput
    ) -> FactoryPayload:
        result = await run(info.context, lambda: _register(info.context, input))
        factory = None if isinstance(result, UserInputError) else Factory.of(result)
        return FactoryPayload(factory=factory, errors=payload_errors(result))

    @strawberry.mutation
    async def submit_self_assessment(
        self, info: Info[Context, None], input: SubmitSelfAssessmentInput
    ) -> SelfAssessmentPayload:
        result = await run(info.context, lambda: _submit(info.context, input))
        sa = None if isinstance(result, UserInputError) else SelfAssessment.of(*result)
        return SelfAssessmentPayload(self_assessment=sa, errors=payload_errors(result))
