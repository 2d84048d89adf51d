"""``submitSelfAssessment``: a factory's answers to one step of its cycle (rule 1)."""

from __future__ import annotations

import re

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

import audit
import models as m
from api.context import Context
from api.errors import UserError
from api.ids import pk_of
from api.mutations.base import (
    IMPORT_NOT_ACCEPTED,
    INVALID,
    check_text,
    open_cycle,
    payload_errors,
    require,
    run,
    visible_factory,
)
from api.self_assessments.types import SelfAssessment
from core.crypto import ANSWERS_PURPOSE
from core.errors import UserInputError

TOOL_VERSION = re.compile(r"^CAF \d{1,2}\.\d{1,2}$")
MAX_ANSWERS_BYTES = 256 * 1024


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


async def _catalogue_codes(
    ctx: Context, factory: m.Factory, step: int, tool_version: str
) -> set[str]:
    """The step's questions in the country's newest catalogue of ``tool_version`` (as the
    ``questions`` query serves it)."""
    stmt = ctx.scope.current_questions(factory.country_code, tool_version=tool_version).where(
        m.Question.step == step
    )
    return {q.code for q in (await ctx.session.scalars(stmt)).all()}


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
class SelfAssessmentMutations:
    @strawberry.mutation
    async def submit_self_assessment(
        self, info: Info[Context, None], input: SubmitSelfAssessmentInput
    ) -> SelfAssessmentPayload:
        result = await run(info.context, lambda: _submit(info.context, input))
        sa = None if isinstance(result, UserInputError) else SelfAssessment.of(*result)
        return SelfAssessmentPayload(self_assessment=sa, errors=payload_errors(result))
