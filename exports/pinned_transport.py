"""The transport of webhook deliveries: resolves, checks, and connects to what it checked.

Checking a URL when it is set proves nothing about where a later POST goes: a name can
answer with a public address to the check and with 127.0.0.1 to the connection (DNS
rebinding). So each request resolves its host here, refuses it unless every address is
allowed (:func:`exports.public_address.address_allowed`), and is sent to the first address
itself: the URL carries the IP, while the ``Host`` header and TLS (SNI and the certificate's
name, through httpcore's ``sni_hostname`` extension) keep the name.

Example:
    async with httpx.AsyncClient(transport=PinnedTransport()) as client:
        await client.post("https://hooks.example.com/millgate", content=b"{}")
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import httpx

from exports.public_address import IPAddress, address_allowed, literal_address, parse_address

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


class AddressNotAllowed(httpx.ConnectError):
    """Raised when a webhook host resolves to an address that may not be reached."""


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address the OS would connect to for ``host``, literal spellings included."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [parse_address(str(info[4][0])) for info in infos]


class PinnedTransport(httpx.AsyncBaseTransport):
    """Sends each request to an address it resolved and allowed, never to a name."""

    def __init__(
        self,
        *,
        allow_loopback: bool = False,
        resolver: Resolver = system_resolver,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._allow_loopback = allow_loopback
        self._resolve = resolver
        # No proxy from the environment: a proxy would connect to the name itself.
        self._inner = inner or httpx.AsyncHTTPTransport(trust_env=False)

    async def _pinned(self, request: httpx.Request) -> IPAddress:
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        literal = literal_address(host)
        try:
            addresses = [literal] if literal is not None else await self._resolve(host, port)
        except OSError as error:
            raise httpx.ConnectError(f"cannot resolve {host}: {error}", request=request) from None
        refused = [
            a for a in addresses if not address_allowed(a, allow_loopback=self._allow_loopback)
        ]
        if not addresses or refused:
            shown = ", ".join(str(a) for a in refused) or "nothing"
            raise AddressNotAllowed(
                f"{host} resolves to {shown}: not a public address", request=request
            )
        return addresses[0]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        address = await self._pinned(request)
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=str(address)),
            headers=request.headers,  # its Host header names the URL's host, not the IP
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": request.url.host},
        )
        return await self._inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        await self._inner.aclose()
