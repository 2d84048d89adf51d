"""Consent: granting, revoking and changing a grant (rule 1).

``updateConsent``: new scopes or expiry for an active grant, without a gap (rule 1).

Grants are never edited in place: the grant in force ends and its successor, naming it in
``replaces``, starts at the same instant in the same transaction. A reader therefore sees
either the old grant or the new one, never neither, and decisions read whichever is in force
in their own transaction.
"""

from __future__ import annotations

import datetime as dt

import strawberry
from sqlalchemy import func
from strawberry.types import Info

import audit
import models as m
from api.consent.types import ConsentGrant, DataScope
from api.context import Context
from api.errors import UserError, not_found
from api.ids import pk_of
from api.mutations.base import (
    ALREADY_EXISTS,
    INVALID,
    lock_factory,
    payload_errors,
    require,
    run,
    visible_factory,
)
from authz.scope import active_grant
from core.errors import UserInputError

NOT_ACTIVE = "NOT_ACTIVE"
NO_CHANGE = "NO_CHANGE"
WHOLE_SHARE_REQUIRED = "WHOLE_SHARE_REQUIRED"
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
class ConsentMutations:
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
