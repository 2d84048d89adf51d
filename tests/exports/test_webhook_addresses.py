"""Webhooks reach public addresses only: every spelling of loopback is refused, names are
resolved at delivery, and the connection goes to the address that was checked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import models as m
from authz.guard import system_read
from core.crypto import KeyMaterial
from exports.job import run_once
from exports.pinned_transport import AddressNotAllowed, PinnedTransport
from exports.public_address import IPAddress, address_allowed, literal_address, parse_address
from exports.webhooks import deliver_pending
from tests.builders import GATEWAY_ON
from tests.world import make_world

SECRET = "whsec-addresses"
LOOPBACK_SPELLINGS = ["127.1", "2130706433", "0x7f000001", "017700000001", "0", "127.0.0.1"]


@dataclass
class Listener:
    """A TCP server on 127.0.0.1 that counts connections and closes each at once."""

    port: int
    connected: list[int] = field(default_factory=list)


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    made = Listener(0)

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        made.connected.append(1)
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    made.port = server.sockets[0].getsockname()[1]
    async with server:
        yield made


async def _hooked_world(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    keys: KeyMaterial,
    url: str,
) -> None:
    """One export due, its host's webhook URL stored as given (as an older release kept it)."""
    world = await make_world(
        session, keys, webhook_url="https://hooks.example.com/x", webhook_secret=SECRET
    )
    await session.execute(
        update(m.Organization)
        .where(m.Organization.id == world.host.organization.id)
        .values(webhook_url=url)
    )
    await session.commit()
    await run_once(sessionmaker, keys, today=GATEWAY_ON)


async def _delivery(session: AsyncSession) -> m.WebhookDelivery:
    session.expire_all()
    return (await session.scalars(system_read(select(m.WebhookDelivery), "test"))).one()


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_read_as_the_os_reads_it(host: str) -> None:
    address = literal_address(host)

    assert address is not None and not address.is_global
    assert not address_allowed(address)


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:127.0.0.1",
        "2002:7f00:1::",
        "64:ff9b::7f00:1",
        "224.0.0.1",
        "100.64.0.1",
        "169.254.169.254",
        "fe80::1",
        "::",
        "10.0.0.1",
    ],
)
def test_addresses_that_are_not_globally_routable_are_refused(address: str) -> None:
    assert not address_allowed(parse_address(address))


def test_public_addresses_and_loopback_only_with_the_setting() -> None:
    assert address_allowed(parse_address("93.184.215.14"))
    assert address_allowed(parse_address("2606:4700::1111"))
    assert not address_allowed(parse_address("127.0.0.1"))
    assert address_allowed(parse_address("127.0.0.1"), allow_loopback=True)
    assert not address_allowed(parse_address("10.0.0.1"), allow_loopback=True)


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_the_worker_never_connects_to_loopback_however_spelled(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    keys: KeyMaterial,
    listener: Listener,
    host: str,
) -> None:
    # given a webhook URL stored before the check existed, spelling 127.0.0.1 its own way
    await _hooked_world(session, sessionmaker, keys, f"https://{host}:{listener.port}/hook")

    # when the real transport delivers
    report = await deliver_pending(sessionmaker, keys)

    # then nothing reached the listener and the refusal is recorded
    assert listener.connected == []
    row = await _delivery(session)
    assert (report.retrying, row.attempts) == (1, 1)
    assert row.last_error == "webhook URL refused: must be a public address"


async def test_a_name_that_resolves_to_loopback_is_refused_at_delivery(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    keys: KeyMaterial,
    listener: Listener,
) -> None:
    """DNS rebinding: the name was public when set; now it answers 127.0.0.1."""
    await _hooked_world(session, sessionmaker, keys, f"https://rebind.example:{listener.port}/")

    async def rebound(host: str, port: int) -> list[IPAddress]:
        return [parse_address("93.184.215.14"), parse_address("127.0.0.1")]

    report = await deliver_pending(sessionmaker, keys, transport=PinnedTransport(resolver=rebound))

    assert listener.connected == []
    assert report.retrying == 1
    row = await _delivery(session)
    assert row.last_error == (
        "AddressNotAllowed: rebind.example resolves to 127.0.0.1: not a public address"
    )


async def test_the_connection_goes_to_the_checked_address_with_the_name_kept() -> None:
    seen: list[httpx.Request] = []

    def host(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    async def resolve(name: str, port: int) -> list[IPAddress]:
        assert (name, port) == ("hooks.example.com", 8443)
        return [parse_address("93.184.215.14")]

    transport = PinnedTransport(resolver=resolve, inner=httpx.MockTransport(host))
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.post("https://hooks.example.com:8443/mg?x=1", content=b"{}")

    assert response.status_code == 204
    [request] = seen
    assert str(request.url) == "https://93.184.215.14:8443/mg?x=1"
    assert request.headers["Host"] == "hooks.example.com:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.com"


async def test_loopback_receivers_with_the_development_setting(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    keys: KeyMaterial,
) -> None:
    """MILLGATE_WEBHOOK_ALLOW_LOOPBACK: a receiver on this machine, over plain http."""
    got: list[bytes] = []

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(receive, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await _hooked_world(session, sessionmaker, keys, f"http://127.0.0.1:{port}/hook")
        refused = await deliver_pending(sessionmaker, keys)
        assert (refused.delivered, got) == (0, [])
        await session.execute(update(m.WebhookDelivery).values(next_attempt_at=m.utcnow()))
        await session.commit()

        report = await deliver_pending(sessionmaker, keys, allow_loopback=True)

    assert report.delivered == 1
    assert got[0].startswith(b"POST /hook HTTP/1.1")


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_the_transport_itself_refuses_a_literal_loopback(host: str) -> None:
    """Whoever else uses the transport: it checks the host it is given, literal or not."""
    seen: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    inner = httpx.MockTransport(receiver)

    async with httpx.AsyncClient(transport=PinnedTransport(inner=inner)) as client:
        with pytest.raises(AddressNotAllowed, match="not a public address"):
            await client.post(f"https://{host}/hook", content=b"{}")

    assert seen == []


async def test_a_resolved_name_is_reached_at_its_checked_address_under_its_own_name() -> None:
    """Over real sockets: the name resolves (here to a loopback receiver, allowed by the
    development setting), the connection goes to that address, the Host header keeps the name."""
    got: list[bytes] = []

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    asked: list[str] = []

    async def resolve(name: str, port: int) -> list[IPAddress]:
        asked.append(name)
        return [parse_address("127.0.0.1")]

    server = await asyncio.start_server(receive, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        transport = PinnedTransport(allow_loopback=True, resolver=resolve)
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.post(f"http://receiver.test:{port}/hook", content=b"{}")

    assert (response.status_code, asked) == (204, ["receiver.test"])
    assert f"host: receiver.test:{port}".encode() in got[0].lower()
