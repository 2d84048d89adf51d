"""``Factory.gatewayEligibility``: the export rules' own answer, with every unmet reason.

Every fact the answer is built from is read through the caller's scope
(:meth:`authz.scope.Scope.eligibility_facts`): what the caller may not read (a draft, an
assessment its grant does not cover, a release date still ahead) answers exactly as if it
did not exist: a cycle the caller sees nothing of answers as an empty cycle, and only a
caller that reads every cycle (its programme) is told ``NO_SUCH_CYCLE``.
"""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

import models as m
from api.context import Context
from api.error_catalogue import ELIGIBILITY_REASONS, described
from exports.eligibility import CycleFacts, gateway_eligibility

NO_SUCH_CYCLE = "NO_SUCH_CYCLE"


@strawberry.type
class GatewayEligibility:
    eligible: bool
    reasons: list[str] = strawberry.field(
        description=described("Stable codes of every unmet condition:", ELIGIBILITY_REASONS)
    )
    gateway_release_on: dt.date | None


async def eligibility_of(
    info: Info[Context, None], factory: m.Factory, cycle: int
) -> GatewayEligibility:
    """Called only after the caller was found allowed to know SLCP participation."""
    ctx = info.context
    today = dt.datetime.now(dt.UTC).date()
    sees_all: int | None = None
    rollout: dt.date | None = None
    async with ctx.db() as session:
        row = (await session.execute(ctx.scope.eligibility_facts(factory.id, cycle))).first()
        if row is None:
            # Only a caller that sees every cycle (the programme, which reads drafts) may
            # learn that one does not exist; to anyone else a cycle it sees nothing of is
            # an empty cycle, whether it holds a draft or nothing at all.
            sees_all = await session.scalar(
                ctx.scope.factory_ids("draft").where(m.Factory.id == factory.id)
            )
            rollout = await session.scalar(
                ctx.scope.countries()
                .where(m.Country.code == factory.country_code)
                .with_only_columns(m.Country.slcp_rollout_on)
            )
    ctx.record_access(factory.id, info)
    if row is None and sees_all is not None:
        return GatewayEligibility(eligible=False, reasons=[NO_SUCH_CYCLE], gateway_release_on=None)
    facts = CycleFacts(
        country_rollout_on=rollout if row is None else row.slcp_rollout_on,
        registered_on=factory.slcp_registered_on,
        verifier_body=factory.slcp_verifier_body,
        sharing_confirmed_on=factory.slcp_sharing_confirmed_on,
        self_assessment_submitted_at=None if row is None else row.submitted_at,
        assessed_on=None if row is None else row.assessed_on,
        status=None if row is None else row.status,
        released_on=None if row is None else row.released_on,
    )
    result = gateway_eligibility(facts, today)
    return GatewayEligibility(
        eligible=result.eligible,
        reasons=list(result.reasons),
        gateway_release_on=result.gateway_release_on,
    )
