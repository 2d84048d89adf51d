"""``updateConsent``: new scopes or expiry for an active grant, without a gap (rule 1).

Grants are never edited in place: the grant in force ends and its successor, naming it in
``replaces``, starts at the same instant in the same transaction. A reader therefore sees
either the old grant or the new one, never neither, and decisions read whichever is in force
in their own transaction.
"""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

import audit
import models as m
from api.consent import ConsentGrant, DataScope
from api.context import Context
from api.errors import not_found
from api.ids import pk_of
from api.mutations.base import INVALID, payload_errors, require, run, visible_factory
from api.mutations.factory import MAX_GRANT_SPAN, ConsentGrantPayload, lock_factory
from core.errors import UserInputError

NOT_ACTIVE = "NOT_ACTIVE"
NO_CHANGE = "NO_CHANGE"


@strawberry.input
class UpdateConsentInput:
    grant_id: strawberry.ID
    scopes: list[DataScope] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="The scopes from now on; omitted or null keeps them."
    )
    expires_at: dt.datetime | None = strawberry.field(
        default=strawberry.UNSET,
        description="The new expiry; null removes it; omitted keeps it.",
    )


def _check_expiry(expires_at: dt.datetime | None, now: dt.datetime) -> None:
    if expires_at is None:
        return
    if expires_at.tzinfo is None:
        raise UserInputError(INVALID, "expiresAt needs a time zone", "expiresAt")
    if expires_at <= now:
        raise UserInputError(INVALID, "expiresAt must be in the future", "expiresAt")
    if expires_at > now + MAX_GRANT_SPAN:
        raise UserInputError(INVALID, "expiresAt is more than 50 years away", "expiresAt")


async def update_grant(ctx: Context, data: UpdateConsentInput) -> m.ConsentGrant:
    session = ctx.session
    pk = pk_of(data.grant_id, "ConsentGrant")
    old = None
    if pk is not None:
        old = await session.scalar(ctx.scope.grants().where(m.ConsentGrant.id == pk))
    if old is None:
        raise not_found("grant", "grantId")
    factory = await visible_factory(ctx, old.factory_id, "grantId")
    await require(ctx, "consent", factory=factory)
    scopes = set(old.scopes) if data.scopes is None else {m.DataScope(s) for s in data.scopes}
    if not scopes:
        raise UserInputError(INVALID, "give at least one scope", "scopes")
    expires_at = old.expires_at if data.expires_at is strawberry.UNSET else data.expires_at
    now = m.utcnow()
    if data.expires_at is not strawberry.UNSET:
        _check_expiry(expires_at, now)
    await lock_factory(ctx, factory.id)  # a concurrent end or update of it cannot race
    await session.refresh(old)
    if not old.active_at(now):
        raise UserInputError(NOT_ACTIVE, "the grant is already revoked or expired", "grantId")
    if scopes == set(old.scopes) and expires_at == old.expires_at:
        raise UserInputError(NO_CHANGE, "the grant already has these scopes and expiry", None)
    old.revoked_at = now
    old.revoked_by_user_id = ctx.principal.user_id
    new = m.ConsentGrant(
        factory_id=old.factory_id,
        grantee_id=old.grantee_id,
        scope_assessment=m.DataScope.ASSESSMENT in scopes,
        scope_self_assessment=m.DataScope.SELF_ASSESSMENT in scopes,
        granted_at=now,
        granted_by_user_id=ctx.principal.user_id,
        expires_at=expires_at,
        replaces_id=old.id,
    )
    session.add(new)
    await session.flush()
    await audit.append(
        session,
        ctx.principal,
        "consent.update",
        f"ConsentGrant:{new.id}",
        factory_id=factory.id,
        details={
            "replaces": old.id,
            "grantee": new.grantee_id,
            "scopes": sorted(s.value for s in new.scopes),
            "expiresAt": new.expires_at.isoformat() if new.expires_at else None,
        },
    )
    return new


@strawberry.type
class ConsentChangeMutations:
    @strawberry.mutation(
        description="Factory managers: new scopes or expiry for an active grant. The grant "
        "ends and its successor (naming it in `replacesId`) starts at the same instant, so the "
        "grantee's access never lapses. Errors: NOT_FOUND, FORBIDDEN, NOT_ACTIVE, NO_CHANGE, "
        "INVALID (scopes, expiresAt)."
    )
    async def update_consent(
        self, info: Info[Context, None], input: UpdateConsentInput
    ) -> ConsentGrantPayload:
        result = await run(info.context, lambda: update_grant(info.context, input))
        grant = None if isinstance(result, UserInputError) else ConsentGrant.of(result)
        return ConsentGrantPayload(grant=grant, errors=payload_errors(result))
