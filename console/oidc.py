"""Signing in at the OpenID Provider: authorization code with PKCE, as a public client.

The console sends the person to the first issuer of ``MILLGATE_OIDC_ISSUER`` for an access
token for Millgate (``resource`` = ``MILLGATE_OIDC_AUDIENCE``), redeems the code with its
PKCE verifier and keeps the access token in the session. It never reads the ID token: who
the person is, the API decides from the access token, as for any frontend (docs/sign-in.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.fernet import Fernet, InvalidToken

from core.settings import Settings

PENDING_COOKIE = "millgate_console_oidc"
PENDING_SECONDS = 600  # the person has ten minutes at the provider


class SignInFailed(Exception):
    """The provider refused, or the answer does not belong to the sign-in we started."""


@dataclass(frozen=True, slots=True)
class Pending:
    """A sign-in under way: what the callback must match and send back."""

    state: str
    verifier: str
    redirect_uri: str


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    expires_at: int


class OidcSignIn:
    def __init__(self, settings: Settings, fernet: Fernet) -> None:
        self.issuer = settings.oidc_issuers[0]
        self.client_id = settings.console_oidc_client_id
        self.audience = settings.oidc_audience
        self._fernet = fernet
        self._discovery: dict[str, Any] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, fernet: Fernet) -> OidcSignIn | None:
        if not (settings.oidc_issuers and settings.console_oidc_client_id):
            return None
        return cls(settings, fernet)

    async def _endpoints(self) -> dict[str, Any]:
        if self._discovery is None:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.get(f"{self.issuer}/.well-known/openid-configuration")
                response.raise_for_status()
                discovery: dict[str, Any] = response.json()
            if discovery.get("issuer") != self.issuer:
                raise SignInFailed("the provider's discovery names another issuer")
            self._discovery = discovery
        return self._discovery

    async def start(self, redirect_uri: str) -> tuple[str, str]:
        """(the provider's authorization URL, the cookie value that remembers the sign-in)."""
        endpoints = await self._endpoints()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        pending = Pending(secrets.token_urlsafe(24), verifier, redirect_uri)
        query = urlencode(
            {
                "client_id": self.client_id,
                "response_type": "code",
                "redirect_uri": redirect_uri,
                "scope": "openid email",
                "resource": self.audience,
                "state": pending.state,
                "code_challenge": challenge.rstrip(b"=").decode(),
                "code_challenge_method": "S256",
            }
        )
        cookie = self._fernet.encrypt(json.dumps(asdict(pending)).encode()).decode()
        return f"{endpoints['authorization_endpoint']}?{query}", cookie

    def pending(self, cookie: str | None) -> Pending:
        if not cookie:
            raise SignInFailed("no sign-in under way")
        try:
            return Pending(**json.loads(self._fernet.decrypt(cookie.encode(), ttl=PENDING_SECONDS)))
        except (InvalidToken, ValueError, TypeError):
            raise SignInFailed("the sign-in expired") from None

    async def finish(self, pending: Pending, params: dict[str, str]) -> Tokens:
        """Redeems the callback's code; the state must be the one this browser was given."""
        if "error" in params:
            raise SignInFailed(params["error"])
        if not secrets.compare_digest(params.get("state", ""), pending.state):
            raise SignInFailed("the state does not match")
        endpoints = await self._endpoints()
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(
                endpoints["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": params.get("code", ""),
                    "redirect_uri": pending.redirect_uri,
                    "code_verifier": pending.verifier,
                    "client_id": self.client_id,
                    "resource": self.audience,
                },
            )
        if response.status_code != 200:
            raise SignInFailed("the provider did not redeem the code")
        body = response.json()
        token, lifetime = body.get("access_token"), body.get("expires_in", 300)
        if not isinstance(token, str) or not isinstance(lifetime, int):
            raise SignInFailed("the provider's answer has no access token")
        return Tokens(token, int(time.time()) + lifetime)
