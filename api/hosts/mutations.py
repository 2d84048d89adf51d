"""A host's integration runs itself (policy: host_integration, line 16).

With its API key, or as one of its users, a host registers and rotates its own X25519 key,
sets its own webhook and receives its secret, once, issues and revokes its own further API
keys, and sends itself a test notice. Each acts on the caller's own organisation only, so
no input names one; each is written to the audit log. The platform admin still creates the
host and its first key (``api.organizations``); both go through
:mod:`api.organizations.host_integration`.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

import audit
import models as m
from api.context import Context
from api.errors import not_found
from api.hosts.types import (
    HostIntegrationPayload,
    OwnApiKeyPayload,
    OwnWebhookPayload,
    RegisterOwnHostKeyInput,
    RevokeOwnApiKeyInput,
    SetOwnWebhookInput,
    WebhookDelivery,
    WebhookDeliveryPayload,
)
from api.ids import pk_of
from api.mutations.base import INVALID, payload_errors, require, run
from api.organizations import host_integration as integration
from api.organizations.types import ApiKey, Organization
from core.errors import UserInputError
from exports.webhooks import TEST_EVENT

HOST_INTEGRATION = "host_integration"


async def _own_host(ctx: Context) -> m.Organization:
    await require(ctx, HOST_INTEGRATION)
    org_id = ctx.principal.organization_id
    row = await ctx.session.scalar(ctx.scope.organizations().where(m.Organization.id == org_id))
    if row is None:  # the principal was read from this very row
        raise LookupError("the caller's organisation is not reachable")
    return row


async def _register_key(ctx: Context, data: RegisterOwnHostKeyInput) -> m.Organization:
    return await integration.register_key(ctx, await _own_host(ctx), data.public_jwk, by_host=True)


async def _set_webhook(ctx: Context, data: SetOwnWebhookInput) -> tuple[m.Organization, str | None]:
    org = await _own_host(ctx)
    return org, await integration.set_webhook(ctx, org, data.url, by_host=True)


async def _issue_key(ctx: Context) -> tuple[m.ApiKey, str]:
    return await integration.issue_api_key(ctx, await _own_host(ctx), by_host=True)


async def _revoke_key(ctx: Context, data: RevokeOwnApiKeyInput) -> m.ApiKey:
    await require(ctx, HOST_INTEGRATION)
    pk = pk_of(data.api_key_id, "ApiKey")
    stmt = ctx.scope.own_api_keys()
    row = None if pk is None else await ctx.session.scalar(stmt.where(m.ApiKey.id == pk))
    if row is None:  # another host's key looks like no key at all
        raise not_found("API key", "apiKeyId")
    if row.revoked_at is not None:
        raise UserInputError("NOT_ACTIVE", "the key is already revoked", "apiKeyId")
    row.revoked_at = m.utcnow()
    await ctx.session.flush()
    await audit.append(
        ctx.session, ctx.principal, "api_key.revoke", f"ApiKey:{row.id}", details={"by": "host"}
    )
    return row


async def _send_test(ctx: Context) -> m.WebhookDelivery:
    org = await _own_host(ctx)
    if org.webhook_url is None:
        raise UserInputError(INVALID, "set a webhook first", "url")
    row = m.WebhookDelivery(export_id=None, host_id=org.id, event=TEST_EVENT)
    ctx.session.add(row)
    await ctx.session.flush()
    await audit.append(ctx.session, ctx.principal, "host_webhook.test", f"WebhookDelivery:{row.id}")
    return row


@strawberry.type
class HostMutations:
    @strawberry.mutation(
        description="Hosts: registers or rotates your own X25519 key; exports made from now on "
        "are encrypted to it."
    )
    async def register_own_host_key(
        self, info: Info[Context, None], input: RegisterOwnHostKeyInput
    ) -> HostIntegrationPayload:
        result = await run(info.context, lambda: _register_key(info.context, input))
        org = None if isinstance(result, UserInputError) else Organization.of(result)
        return HostIntegrationPayload(organization=org, errors=payload_errors(result))

    @strawberry.mutation(
        description="Hosts: sets your own webhook (Standard Webhooks) and returns its secret."
    )
    async def set_own_webhook(
        self, info: Info[Context, None], input: SetOwnWebhookInput
    ) -> OwnWebhookPayload:
        result = await run(info.context, lambda: _set_webhook(info.context, input))
        if isinstance(result, UserInputError):
            return OwnWebhookPayload(organization=None, secret=None, errors=payload_errors(result))
        org, secret = result
        return OwnWebhookPayload(organization=Organization.of(org), secret=secret, errors=[])

    @strawberry.mutation(description="Hosts: a further API key of your own.")
    async def issue_own_api_key(self, info: Info[Context, None]) -> OwnApiKeyPayload:
        result = await run(info.context, lambda: _issue_key(info.context))
        if isinstance(result, UserInputError):
            return OwnApiKeyPayload(api_key=None, secret=None, errors=payload_errors(result))
        row, secret = result
        return OwnApiKeyPayload(api_key=ApiKey.of(row), secret=secret, errors=[])

    @strawberry.mutation(description="Hosts: revokes one of your own API keys.")
    async def revoke_own_api_key(
        self, info: Info[Context, None], input: RevokeOwnApiKeyInput
    ) -> OwnApiKeyPayload:
        result = await run(info.context, lambda: _revoke_key(info.context, input))
        key = None if isinstance(result, UserInputError) else ApiKey.of(result)
        return OwnApiKeyPayload(api_key=key, secret=None, errors=payload_errors(result))

    @strawberry.mutation(
        description="Hosts: queues a webhook.test notice to your webhook; the export worker "
        "delivers it like any other (see webhookDeliveries)."
    )
    async def send_test_webhook(self, info: Info[Context, None]) -> WebhookDeliveryPayload:
        result = await run(info.context, lambda: _send_test(info.context))
        if isinstance(result, UserInputError):
            return WebhookDeliveryPayload(delivery=None, errors=payload_errors(result))
        return WebhookDeliveryPayload(delivery=WebhookDelivery.of(result, None), errors=[])
