"""Mutations of programme assessors: assessments and their releases (own country only)."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

import audit
import models as m
from api.assessments.types import Assessment, AssessmentKind, ComplianceCluster
from api.context import Context
from api.errors import UserError, not_found
from api.ids import pk_of
from api.loaders import AssessmentRow
from api.mutations.base import (
    ALREADY_EXISTS,
    IMPORT_NOT_ACCEPTED,
    INVALID,
    open_cycle,
    payload_errors,
    require,
    run,
    today,
    visible_factory,
)
from core.crypto import DETAIL_PURPOSE
from core.errors import UserInputError

MAX_FINDINGS = 500
MAX_DETAIL = 4000
MAX_RELEASE_SPAN = dt.timedelta(days=3650)  # even an overridden release comes within years


@strawberry.input
class FindingInput:
    cluster: ComplianceCluster  # type: ignore[valid-type]
    compliance_point: str
    question_code: str
    non_compliant: bool
    public_reporting: bool
    zero_tolerance: bool
    detail: str | None = None


@strawberry.input
class RecordAssessmentInput:
    factory_id: strawberry.ID
    cycle: int
    kind: AssessmentKind  # type: ignore[valid-type]
    assessed_on: dt.date
    findings: list[FindingInput]
    virtual_scope: list[str] | None = strawberry.field(
        default=None,
        description="VIRTUAL_COMPLIANCE_CHECK: the question codes it covered (default: its findings').",  # noqa: E501 - one line of contract text
    )
    verifier_body: str | None = strawberry.field(
        default=None,
        description="Data of other verifiers is not imported (Q29): anything but Better Work is refused.",  # noqa: E501 - one line of contract text
    )


@strawberry.type
class AssessmentPayload:
    assessment: Assessment | None
    errors: list[UserError]


@strawberry.input
class ReleaseAssessmentInput:
    assessment_id: strawberry.ID
    released_on: dt.date
    override_deadline: bool = strawberry.field(
        default=False, description="Platform admins only: release past the 28 days."
    )


async def _questions(ctx: Context, factory: m.Factory) -> dict[str, m.Question]:
    country = await ctx.session.scalar(
        ctx.scope.countries().where(m.Country.code == factory.country_code)
    )
    assert country is not None
    stmt = ctx.scope.current_questions(
        factory.country_code, overlay_version=country.overlay_version
    )
    return {q.code: q for q in (await ctx.session.scalars(stmt)).all()}


async def _record(ctx: Context, data: RecordAssessmentInput) -> AssessmentRow:
    session = ctx.session
    if data.verifier_body is not None and data.verifier_body.strip() != m.BETTER_WORK:
        raise UserInputError(
            IMPORT_NOT_ACCEPTED, "data of other verifiers is not imported (Q29)", "verifierBody"
        )
    factory = await visible_factory(ctx, pk_of(data.factory_id, "Factory"), "factoryId")
    await require(ctx, "assessment", factory=factory)
    if data.assessed_on > today():
        raise UserInputError(INVALID, "assessedOn cannot be in the future", "assessedOn")
    if factory.enrolled_on is not None and data.assessed_on < factory.enrolled_on:
        raise UserInputError(INVALID, "assessedOn is before the factory's enrolment", "assessedOn")
    if len(data.findings) > MAX_FINDINGS:
        raise UserInputError(INVALID, f"at most {MAX_FINDINGS} findings", "findings")
    questions = await _questions(ctx, factory)
    seen: set[str] = set()
    findings = []
    for i, f in enumerate(data.findings):
        where = f"findings.{i}"
        question = questions.get(f.question_code)
        if question is None:
            raise UserInputError(
                "UNKNOWN_QUESTION",
                "not a question of this country's catalogue",
                f"{where}.questionCode",
            )
        if question.cluster != f.cluster or question.compliance_point != f.compliance_point:
            raise UserInputError(
                INVALID,
                "cluster and compliance point do not match the question",
                f"{where}.compliancePoint",
            )
        if f.question_code in seen:
            raise UserInputError(
                INVALID, "a question may have one finding", f"{where}.questionCode"
            )
        seen.add(f.question_code)
        if f.detail is not None and len(f.detail) > MAX_DETAIL:
            raise UserInputError(INVALID, f"detail is longer than {MAX_DETAIL}", f"{where}.detail")
        findings.append(
            m.Finding(
                cluster=f.cluster,
                compliance_point=f.compliance_point,
                question_code=f.question_code,
                non_compliant=f.non_compliant,
                public_reporting=f.public_reporting,
                zero_tolerance=f.zero_tolerance,
                detail_encrypted=None
                if f.detail is None
                else ctx.runtime.keys.fields.encrypt(f.detail, DETAIL_PURPOSE),
            )
        )
    virtual_scope = None
    if data.kind == m.AssessmentKind.VIRTUAL_COMPLIANCE_CHECK:
        codes = sorted(set(data.virtual_scope if data.virtual_scope is not None else seen))
        unknown = [c for c in codes if c not in questions]
        if unknown:
            raise UserInputError(
                "UNKNOWN_QUESTION", f"{unknown[0][:40]!r} is not in the catalogue", "virtualScope"
            )
        virtual_scope = ",".join(codes)
    elif data.virtual_scope is not None:
        raise UserInputError(INVALID, "only a virtual check has a scope", "virtualScope")
    cycle = await open_cycle(ctx, factory, data.cycle, "cycle")
    existing = await session.scalar(
        ctx.scope.assessments().where(m.Assessment.cycle_id == cycle.id)
    )
    if existing is not None:
        raise UserInputError(ALREADY_EXISTS, "this cycle already has its assessment", "cycle")
    assessment = m.Assessment(
        cycle_id=cycle.id,
        factory_id=factory.id,
        kind=data.kind,
        assessed_on=data.assessed_on,
        status=m.AssessmentStatus.DRAFT,
        virtual_scope=virtual_scope,
        recorded_by_user_id=ctx.principal.user_id,
    )
    session.add(assessment)
    await session.flush()
    for finding in findings:
        finding.assessment_id = assessment.id
    session.add_all(findings)
    await session.flush()
    await audit.append(
        session,
        ctx.principal,
        "assessment.record",
        f"Assessment:{assessment.id}",
        factory_id=factory.id,
        details={
            "cycle": cycle.number,
            "kind": m.AssessmentKind(data.kind).value,
            "findings": len(findings),
        },
    )
    return AssessmentRow(assessment, cycle.number)


async def _release(ctx: Context, data: ReleaseAssessmentInput) -> AssessmentRow:
    session = ctx.session
    pk = pk_of(data.assessment_id, "Assessment")
    row = None
    if pk is not None:
        row = (
            await session.execute(
                ctx.scope.assessments_to_release(data.override_deadline)
                .where(m.Assessment.id == pk)
                .with_for_update()
            )
        ).first()
    if row is None:
        raise not_found("assessment", "assessmentId")
    assessment, cycle_number = row
    factory = await visible_factory(ctx, assessment.factory_id, "assessmentId")
    late = data.released_on > assessment.latest_release_on()
    # The override is for late releases only: an on-time release is the programme's.
    if data.override_deadline and late:
        await require(ctx, "late_release", country=factory.country_code)
    else:
        await require(ctx, "assessment", factory=factory)
    if assessment.status == m.AssessmentStatus.RELEASED:
        raise UserInputError(
            "ALREADY_RELEASED", "the assessment is already released", "assessmentId"
        )
    if data.released_on < assessment.assessed_on:
        raise UserInputError(INVALID, "releasedOn is before the assessment", "releasedOn")
    if data.released_on > assessment.assessed_on + MAX_RELEASE_SPAN:
        raise UserInputError(INVALID, "releasedOn is years after the assessment", "releasedOn")
    if late and not data.override_deadline:
        raise UserInputError(
            "RELEASE_TOO_LATE",
            f"release by {assessment.latest_release_on().isoformat()} "
            "(28 days after the assessment, Q6)",
            "releasedOn",
        )
    assessment.release(data.released_on)
    assessment.released_at = m.utcnow()
    await session.flush()
    await audit.append(
        session,
        ctx.principal,
        "assessment.release",
        f"Assessment:{assessment.id}",
        factory_id=factory.id,
        details={"releasedOn": data.released_on.isoformat(), "override": data.override_deadline},
    )
    return AssessmentRow(assessment, cycle_number)


@strawberry.type
class AssessmentMutations:
    @strawberry.mutation
    async def record_assessment(
        self, info: Info[Context, None], input: RecordAssessmentInput
    ) -> AssessmentPayload:
        result = await run(info.context, lambda: _record(info.context, input))
        out = None if isinstance(result, UserInputError) else Assessment.of(result)
        return AssessmentPayload(assessment=out, errors=payload_errors(result))

    @strawberry.mutation
    async def release_assessment(
        self, info: Info[Context, None], input: ReleaseAssessmentInput
    ) -> AssessmentPayload:
        result = await run(info.context, lambda: _release(info.context, input))
        out = None if isinstance(result, UserInputError) else Assessment.of(result)
        return AssessmentPayload(assessment=out, errors=payload_errors(result))
