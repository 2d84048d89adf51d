"""Where a webhook may go: a globally routable address, whatever its spelling.

A URL's host reaches the network the way the operating system reads it, and the OS takes
far more than dotted quads: ``127.1``, ``2130706433``, ``0x7f000001``, ``017700000001`` and
``0`` are loopback or "this host" to ``inet_aton``. So a literal host is parsed by the OS's
own parser (``getaddrinfo`` with ``AI_NUMERICHOST``: no DNS query), and an IPv6 address
that carries an IPv4 one (mapped, 6to4, Teredo, NAT64) is judged by the IPv4 one too.

A name is judged only once resolved, at delivery (:mod:`exports.pinned_transport`): its
answer may change between any check and the connection (DNS rebinding).

Example:
    >>> address_allowed(literal_address("0x7f000001"))
    False
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2000
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")


class AddressRefused(ValueError):
    """Raised when a webhook URL or the address it resolves to may not be reached."""


def parse_address(text: str) -> IPAddress:
    """An address as ``getaddrinfo`` returns it (an IPv6 one may carry ``%scope``)."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def literal_address(host: str) -> IPAddress | None:
    """The address a host names by itself, read as the OS reads it; None for a name."""
    if not host or any(c.isspace() for c in host):
        return None
    try:
        infos = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError, ValueError):
        return None
    return parse_address(str(infos[0][4][0]))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [address.ipv4_mapped, address.sixtofour]
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [a for a in found if a is not None]


def is_loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def address_allowed(address: IPAddress | None, *, allow_loopback: bool = False) -> bool:
    """Globally routable unicast, and so is any IPv4 address inside it; loopback only when
    the development setting allows it."""
    if address is None:
        return False
    if allow_loopback and is_loopback(address):
        return True
    inner = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else []
    return all(a.is_global and not a.is_multicast for a in [address, *inner])


def check_webhook_url(url: str, *, allow_loopback: bool = False) -> str:
    """The URL as it will be stored, or :class:`AddressRefused` saying why not.

    https to a public host; with ``allow_loopback`` (development only) also a loopback
    address, over http too, for a receiver on the same machine.
    """
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise AddressRefused("must not contain control characters")
    if len(url) > MAX_URL_LENGTH:
        raise AddressRefused("URL too long")
    try:
        parsed = urlsplit(url.strip())
        parsed.port  # noqa: B018 - raises on a port out of range
    except ValueError as error:
        raise AddressRefused("not a URL") from error
    host = (parsed.hostname or "").rstrip(".")
    if parsed.scheme not in ("https", "http") or not host or parsed.username or parsed.password:
        raise AddressRefused("must be an https URL without credentials")
    address = literal_address(host)
    loopback = allow_loopback and address is not None and is_loopback(address)
    if parsed.scheme != "https" and not loopback:
        raise AddressRefused("must be an https URL without credentials")
    if address is not None:
        if not address_allowed(address, allow_loopback=allow_loopback):
            raise AddressRefused("must be a public address")
    elif host.lower() == "localhost" or host.lower().endswith(_LOCAL_SUFFIXES):
        raise AddressRefused("must be a public address")
    return parsed.geturl()
