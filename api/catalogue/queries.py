"""The question catalogue: the reference data a self-assessment is filled in from.

Public, like the countries: the catalogue is the same for every caller and says nothing about
any factory, and frontends show it before anyone signs in (see ``QUERY_ACCESS`` in
``tests/test_schema.py``). Reads still start from the scope, like every read.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

import models as m
from api.assessments.types import ComplianceCluster
from api.context import Context
from api.errors import BadArgument
from api.pagination import cursor_of, page_args
from core.country_codes import parse_alpha2

MAX_VERSION_LENGTH = 40


@strawberry.type(description="One question of a country's catalogue version.")
class Question:
    code: str
    cluster: ComplianceCluster | None  # type: ignore[valid-type]
    compliance_point: str
    caf_ref: str | None = strawberry.field(
        description="The CAF reference; null for Better Work's own questions, never exported."
    )
    step: int | None = strawberry.field(description="CAF step 1, 2 or 3; null with no cafRef.")
    public_reporting: bool
    zero_tolerance: bool
    tool_version: str
    overlay_version: str
    cursor: str

    @classmethod
    def of(cls, row: m.Question) -> Question:
        return cls(
            code=row.code,
            cluster=row.cluster,
            compliance_point=row.compliance_point,
            caf_ref=row.caf_ref,
            step=row.step,
            public_reporting=row.public_reporting,
            zero_tolerance=row.zero_tolerance,
            tool_version=row.tool_version,
            overlay_version=row.overlay_version,
            cursor=cursor_of(row.id),
        )


async def question_page(
    info: Info[Context, None],
    country: str,
    tool_version: str | None,
    first: int | None,
    after: str | None,
) -> list[Question]:
    """The country's current catalogue (of ``tool_version`` when given), in catalogue order."""
    ctx = info.context
    code = parse_alpha2(country)
    if code is None:
        raise BadArgument("country must be an ISO 3166-1 alpha-2 code")
    if tool_version is not None and not 0 < len(tool_version) <= MAX_VERSION_LENGTH:
        raise BadArgument(f"toolVersion must be 1 to {MAX_VERSION_LENGTH} characters")
    args = page_args(first, after, ctx.runtime.settings.max_page_size)
    async with ctx.db() as session:
        row = await session.scalar(ctx.scope.countries().where(m.Country.code == code))
        if row is None:
            return []
        # A tool version asked for names its own newest catalogue, whatever the overlay the
        # country has moved to since: self-assessments under it are still being filled in.
        overlay = row.overlay_version if tool_version is None else None
        stmt = ctx.scope.current_questions(
            code, tool_version=tool_version, overlay_version=overlay
        ).order_by(m.Question.id)
        if args.after is not None:
            stmt = stmt.where(m.Question.id > args.after[0])
        rows = (await session.scalars(stmt.limit(args.first))).all()
    return [Question.of(r) for r in rows]


@strawberry.type
class CatalogueQueries:
    @strawberry.field(
        description="Anyone: a country's current question catalogue (of toolVersion if given)."
    )
    async def questions(
        self,
        info: Info[Context, None],
        country: str,
        tool_version: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> list[Question]:
        return await question_page(info, country, tool_version, first, after)
