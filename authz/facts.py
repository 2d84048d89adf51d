"""The facts of a point decision about a factory, read in the request's own transaction.

The principal and the target row are in hand; the one fact left is the caller's active
grants on the factory. :func:`grant_scopes` reads them for a batch of factories in one
statement through the scoped grants query, on the database clock (a page of factories asks
once, through a per-request loader); :func:`factory_relation` puts the facts together for
:func:`authz.enforcer.allows`. Nothing is kept past the request.

Example:
    scopes = await grant_scopes(session, scope, [row.id])
    rel = factory_relation(principal, row, scopes.get(row.id, frozenset()))
    allowed = allows(principal, "slcp", "read", rel)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from authz.enforcer import Relation, relation
from authz.principal import Principal
from authz.scope import Scope, active_grant

NO_GRANTS: frozenset[str] = frozenset()


class FactoryFacts(Protocol):
    """What a decision reads of the target factory: its organisation and its country."""

    @property
    def organization_id(self) -> int: ...
    @property
    def country_code(self) -> str: ...


async def grant_scopes(
    session: AsyncSession, scope: Scope, factory_ids: Iterable[int]
) -> dict[int, frozenset[str]]:
    """The scopes of the caller's active grants, by factory (factories without one absent)."""
    grantee = scope.principal.organization_id
    ids = sorted(set(factory_ids))
    if grantee is None or not ids:
        return {}
    stmt = (
        scope.grants()
        .where(
            m.ConsentGrant.grantee_id == grantee,
            m.ConsentGrant.factory_id.in_(ids),
            active_grant(),
        )
        .with_only_columns(
            m.ConsentGrant.factory_id,
            m.ConsentGrant.scope_assessment,
            m.ConsentGrant.scope_self_assessment,
        )
    )
    found: dict[int, set[str]] = defaultdict(set)
    for factory_id, assessment, self_assessment in (await session.execute(stmt)).all():
        if assessment:
            found[factory_id].add(m.DataScope.ASSESSMENT.value)
        if self_assessment:
            found[factory_id].add(m.DataScope.SELF_ASSESSMENT.value)
    return {factory_id: frozenset(scopes) for factory_id, scopes in found.items()}


def factory_relation(
    principal: Principal, factory: FactoryFacts, grants: frozenset[str] = NO_GRANTS
) -> Relation:
    """The caller's relation to ``factory`` (a row in hand), given its grants there."""
    return relation(
        principal,
        organization_id=factory.organization_id,
        country=factory.country_code,
        grants=grants,
    )
