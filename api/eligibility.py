"""``Factory.gatewayEligibility``: the export rules' own answer, with every unmet reason."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import strawberry

import models as m
from api.context import Context
from api.error_catalogue import ELIGIBILITY_REASONS, described
from exports.eligibility import gateway_eligibility
from exports.facts import cycle_facts

NO_SUCH_CYCLE = "NO_SUCH_CYCLE"


@strawberry.type
class GatewayEligibility:
    eligible: bool
    reasons: list[str] = strawberry.field(
        description=described("Stable codes of every unmet condition:", ELIGIBILITY_REASONS)
    )
    gateway_release_on: dt.date | None


async def eligibility_of(ctx: Context, factory: m.Factory, cycle: int) -> GatewayEligibility:
    """Called only after the caller was found allowed to know SLCP participation."""
    today = dt.datetime.now(dt.UTC).date()
    async with ctx.db() as session:
        facts = await cycle_facts(session, factory.id, cycle)
    if facts is None:
        return GatewayEligibility(eligible=False, reasons=[NO_SUCH_CYCLE], gateway_release_on=None)
    unreleased = facts.assessed_on is not None and not (
        facts.status == m.AssessmentStatus.RELEASED
        and facts.released_on is not None
        and facts.released_on <= today
    )
    if unreleased and not await ctx.allows("draft", "read", factory):
        # Rule 5: nothing of an assessment before its release, not even its date.
        facts = replace(facts, assessed_on=None, status=None, released_on=None)
    result = gateway_eligibility(facts, today)
    ctx.record_access(factory.id, "gatewayEligibility")
    return GatewayEligibility(
        eligible=result.eligible,
        reasons=list(result.reasons),
        gateway_release_on=result.gateway_release_on,
    )
