"""``Factory.gatewayEligibility``: the export rules' own answer, with every unmet reason."""

from __future__ import annotations

import datetime as dt

import models as m
from api.context import Context
from exports.eligibility import gateway_eligibility
from exports.facts import cycle_facts

NO_SUCH_CYCLE = "NO_SUCH_CYCLE"


async def eligibility_of(ctx: Context, factory: m.Factory, cycle: int) -> object:
    """Called only after the caller was found allowed to know SLCP participation."""
    from api.factories import GatewayEligibility

    async with ctx.db() as session:
        facts = await cycle_facts(session, factory.id, cycle)
    if facts is None:
        return GatewayEligibility(eligible=False, reasons=[NO_SUCH_CYCLE], gateway_release_on=None)
    result = gateway_eligibility(facts, dt.datetime.now(dt.UTC).date())
    ctx.record_access(factory.id, "gatewayEligibility")
    return GatewayEligibility(
        eligible=result.eligible,
        reasons=list(result.reasons),
        gateway_release_on=result.gateway_release_on,
    )
