"""A host's integration — its encryption key, its webhook, its API keys — and the one way each
is changed, whoever changes it: a platform admin for the host, or the host itself.

The callers decide who may (``policy.conf``: ``admin`` or ``host_integration``) and find the
host's row; these check the input, write, and put the change in the audit log, marked
``"by": "host"`` when the host made it itself.
"""

from __future__ import annotations

from typing import Any

import audit
import models as m
from api.context import Context
from api.mutations.base import INVALID
from core.crypto import WEBHOOK_SECRET_PURPOSE, new_webhook_secret, validate_host_public_jwk
from core.errors import CryptoError, UserInputError
from exports.public_address import AddressRefused, check_webhook_url


def _marked(details: dict[str, Any], by_host: bool) -> dict[str, Any]:
    return {**details, "by": "host"} if by_host else details


async def register_key(
    ctx: Context, org: m.Organization, public_jwk: Any, *, by_host: bool
) -> m.Organization:
    """The X25519 key the host's exports are encrypted to, checked as a public point."""
    try:
        jwk = validate_host_public_jwk(public_jwk)
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
        details=_marked({"kid": jwk["kid"], "previous": previous}, by_host),
    )
    return org


async def set_webhook(
    ctx: Context, org: m.Organization, url: str | None, *, by_host: bool
) -> str | None:
    """Sets (or, with None, removes) the webhook; the new secret, to be shown once."""
    secret = None
    if url is None:
        org.webhook_url = None
        org.webhook_secret_encrypted = None
    else:
        # The host's public endpoint, never an address inside our network.
        allow_loopback = ctx.runtime.settings.webhook_allow_loopback
        try:
            org.webhook_url = check_webhook_url(url, allow_loopback=allow_loopback)
        except AddressRefused as error:
            raise UserInputError(INVALID, str(error), "url") from None
        secret = new_webhook_secret()  # whsec_: what Standard Webhooks libraries take
        org.webhook_secret_encrypted = ctx.runtime.keys.fields.encrypt(
            secret, WEBHOOK_SECRET_PURPOSE
        )
    await ctx.session.flush()
    await audit.append(
        ctx.session,
        ctx.principal,
        "host_webhook.set",
        f"Organization:{org.id}",
        details=_marked({"url": org.webhook_url}, by_host),
    )
    return secret


async def issue_api_key(
    ctx: Context, org: m.Organization, *, by_host: bool
) -> tuple[m.ApiKey, str]:
    """A new API key of the host; its secret, to be shown once (only its HMAC is kept)."""
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
        details=_marked({"organization": org.id, "prefix": prefix}, by_host),
    )
    return row, secret
