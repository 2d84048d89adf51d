"""One OpenID Provider as Millgate sees it: its discovery document, its keys, its userinfo.

The JWKS is kept in memory. A token signed with a ``kid`` the set lacks (the provider rotated
its keys) fetches the set again, at most once a minute however many such tokens arrive, so a
stream of made-up ``kid`` values cannot turn Millgate into a load on the provider. The set
is also renewed after an hour, so a key the provider withdrew stops being trusted.

Example:
    provider = Provider("https://login.example.org", production=True)
    keys = await provider.keys_for(kid)          # ProviderKeySet, perhaps refetched
    claims = verify_provider_token(token, keys, issuer=provider.issuer, audience=aud)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from core.crypto import ProviderKeySet
from core.settings import secure_or_loopback_url

log = logging.getLogger("millgate.oidc")

Clock = Callable[[], float]

REFETCH_INTERVAL_SECONDS = 60.0
MAX_KEY_AGE_SECONDS = 3600.0
FETCH_TIMEOUT_SECONDS = 5.0


class ProviderUnavailable(Exception):
    """Raised when a provider's discovery document, keys or userinfo cannot be had."""


@dataclass(frozen=True, slots=True)
class Metadata:
    """What Millgate uses of a provider's ``/.well-known/openid-configuration``."""

    issuer: str
    jwks_uri: str
    userinfo_endpoint: str | None


class Provider:
    """An issuer's keys and endpoints, fetched on demand with ``httpx``.

    ``transport`` and ``clock`` are for tests: a mock transport counts the fetches, a clock
    that the test moves shows the once-a-minute limit without waiting a minute.
    """

    def __init__(
        self,
        issuer: str,
        *,
        production: bool,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self._production = production
        self._transport = transport
        self._clock = clock
        self._metadata: Metadata | None = None
        self._keys: ProviderKeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()  # one fetch at a time; the others wait for its keys

    async def keys_for(self, kid: str) -> ProviderKeySet:
        """The provider's keys, fetched again if ``kid`` is unknown (at most once a minute)
        or the set is an hour old; the old set stays when a fetch fails."""
        async with self._lock:
            age = self._clock() - self._fetched_at
            unknown = self._keys is None or self._keys.get(kid) is None
            if age >= MAX_KEY_AGE_SECONDS or (unknown and age >= REFETCH_INTERVAL_SECONDS):
                self._fetched_at = self._clock()
                try:
                    self._keys = await self._fetch_keys()
                except ProviderUnavailable:
                    log.warning("keys of %s could not be fetched", self.issuer, exc_info=True)
            return self._keys or ProviderKeySet({})

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        """The userinfo of the person the (verified) ``access_token`` was issued to."""
        metadata = await self.metadata()
        if metadata.userinfo_endpoint is None:
            raise ProviderUnavailable(f"{self.issuer} has no userinfo endpoint")
        return await self._get_json(
            metadata.userinfo_endpoint, headers={"authorization": f"Bearer {access_token}"}
        )

    async def metadata(self) -> Metadata:
        if self._metadata is None:
            document = await self._get_json(
                self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            )
            # OpenID Connect Discovery 4.3: the document must name exactly this issuer.
            if document.get("issuer") != self.issuer:
                raise ProviderUnavailable(f"discovery of {self.issuer} names another issuer")
            jwks_uri = document.get("jwks_uri")
            userinfo = document.get("userinfo_endpoint")
            if not isinstance(jwks_uri, str) or not self._acceptable(jwks_uri):
                raise ProviderUnavailable(f"discovery of {self.issuer}: no usable jwks_uri")
            if not isinstance(userinfo, str) or not self._acceptable(userinfo):
                userinfo = None
            self._metadata = Metadata(self.issuer, jwks_uri, userinfo)
        return self._metadata

    async def _fetch_keys(self) -> ProviderKeySet:
        metadata = await self.metadata()
        keys = ProviderKeySet(await self._get_json(metadata.jwks_uri))
        if not len(keys):
            raise ProviderUnavailable(f"{self.issuer} serves no usable signing key")
        return keys

    def _acceptable(self, url: str) -> bool:
        return secure_or_loopback_url(url, self._production)

    async def _get_json(self, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(
                transport=self._transport, timeout=FETCH_TIMEOUT_SECONDS
            ) as client:
                response = await client.get(url, headers=headers)
                response.raise_for_status()
                document = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise ProviderUnavailable(f"GET {url} failed") from error
        if not isinstance(document, dict):
            raise ProviderUnavailable(f"GET {url} did not answer a JSON object")
        return document
