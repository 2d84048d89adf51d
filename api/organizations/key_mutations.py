"""API keys of organisations: issued (the secret shown once) and revoked by platform admins."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

import audit
import models as m
from api.context import Context
from api.errors import UserError, not_found
from api.ids import pk_of
from api.mutations.base import (
    INVALID,
    payload_errors,
    require,
    run,
)
from api.organizations import host_integration as integration
from api.organizations.mutations import organization_by_id
from api.organizations.types import ApiKey
from core.errors import UserInputError


@strawberry.input
class IssueApiKeyInput:
    organization_id: strawberry.ID


@strawberry.type
class ApiKeyPayload:
    api_key: ApiKey | None
    secret: str | None = strawberry.field(description="The key itself, shown once and never again.")
    errors: list[UserError]


@strawberry.input
class RevokeApiKeyInput:
    api_key_id: strawberry.ID


async def _issue_key(ctx: Context, data: IssueApiKeyInput) -> tuple[m.ApiKey, str]:
    await require(ctx, "admin")
    org = await organization_by_id(ctx, data.organization_id, "organizationId")
    if org.kind != m.OrganizationKind.HOST:
        raise UserInputError(INVALID, "API keys are for host integrations", "organizationId")
    return await integration.issue_api_key(ctx, org, by_host=False)


async def _revoke_key(ctx: Context, data: RevokeApiKeyInput) -> m.ApiKey:
    await require(ctx, "admin")
    pk = pk_of(data.api_key_id, "ApiKey")
    row = (
        None
        if pk is None
        else await ctx.session.scalar(ctx.scope.api_keys().where(m.ApiKey.id == pk))
    )
    if row is None:
        raise not_found("API key", "apiKeyId")
    if row.revoked_at is not None:
        raise UserInputError("NOT_ACTIVE", "the key is already revoked", "apiKeyId")
    row.revoked_at = m.utcnow()
    await ctx.session.flush()
    await audit.append(ctx.session, ctx.principal, "api_key.revoke", f"ApiKey:{row.id}")
    return row


@strawberry.type
class ApiKeyMutations:
    @strawberry.mutation
    async def issue_api_key(
        self, info: Info[Context, None], input: IssueApiKeyInput
    ) -> ApiKeyPayload:
        result = await run(info.context, lambda: _issue_key(info.context, input))
        if isinstance(result, UserInputError):
            return ApiKeyPayload(api_key=None, secret=None, errors=payload_errors(result))
        row, secret = result
        return ApiKeyPayload(api_key=ApiKey.of(row), secret=secret, errors=[])

    @strawberry.mutation
    async def revoke_api_key(
        self, info: Info[Context, None], input: RevokeApiKeyInput
    ) -> ApiKeyPayload:
        result = await run(info.context, lambda: _revoke_key(info.context, input))
        key = None if isinstance(result, UserInputError) else ApiKey.of(result)
        return ApiKeyPayload(api_key=key, secret=None, errors=payload_errors(result))
