"""A host's integration runs itself (policy: host_integration, line 16).

With its API key, or as one of its users, a host registers and rotates its own X25519 key,
sets its own webhook and receives its secret, once, issues and revokes its own further API
keys, and sends itself a test notice. Each acts on the caller's own organisation only, so
no input names one; each is written to the audit log. The platform admin still creates the
host and its first key (``api.mutations.admin``).
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
from api.organizations.types import ApiKey, Organization
from core.crypto import WEBHOOK_SECRET_PURPOSE, new_webhook_secret, validate_host_public_jwk
from core.errors import CryptoError, UserInputError
from exports.public_address import AddressRefused, check_webhook_url
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
    org = await _own_host(ctx)
    try:
        jwk = validate_host_public_jwk(data.public_jwk)
    except CryptoError as error:
        raise UserInputError(INVALID, str(error), "publicJwk") from error
    previous = (org.host_public_jwk or {}).get("kid")
    org.host_public_jwk = jwk
    await ctx.session.flush()
    await audit.append(
        ctx.session,
        ctx.principal,
        "host_key.register",
        f"Organization:{org.id}",
        details={"kid": jwk["kid"], "previous": previous, "by": "host"},
    )
    return org


async def _set_webhook(ctx: Context, data: SetOwnWebhookInput) -> tuple[m.Organization, str | None]:
    org = await _own_host(ctx)
    secret = None
    if data.url is None:
        org.webhook_url = None
        org.webhook_secret_encrypted = None
    else:
        allow_loopback = ctx.runtime.settings.webhook_allow_loopback
        try:
            org.webhook_url = check_webhook_url(data.url, allow_loopback=allow_loopback)
        except AddressRefused as error:
            raise UserInputError(INVALID, str(error), "url") from None
        secret = new_webhook_secret()
        org.webhook_secret_encrypted = ctx.runtime.keys.fields.encrypt(
            secret, WEBHOOK_SECRET_PURPOSE
        )
    await ctx.session.flush()
    await audit.append(
        ctx.session,
        ctx.principal,
        "host_webhook.set",
        f"Organization:{org.id}",
        details={"url": org.webhook_url, "by": "host"},
    )
    return org, secret


async def _issue_key(ctx: Context) -> tuple[m.ApiKey, str]:
    org = await _own_host(ctx)
    secret, prefix, digest = ctx.runtime.keys.api_keys.new_key()
    row = m.ApiKey(
        organization_id=org.id,
        prefix=prefix,
        secret_hmac=digest,
        created_by_user_id=ctx.principal.user_id,
    )
    ctx.session.add(row)
    await ctx.session.flush()
    await audit.append(
        ctx.session,
        ctx.principal,
        "api_key.issue",
        f"ApiKey:{row.id}",
        details={"organization": org.id, "prefix": prefix, "by": "host"},
    )
    return row, secret


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
