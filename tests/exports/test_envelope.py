"""The envelope resists tampering: any change to any part, or a forged signature, fails."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from joserfc.jwk import OKPKey
from jwcrypto import jwe, jwk
from jwcrypto.common import JWException
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import models as m
from core.crypto import KeyMaterial, SigningKeys, decrypt_and_verify, sign_and_encrypt
from core.errors import CryptoError
from exports.job import run_once
from tests.builders import GATEWAY_ON, host_exports_query, make_host_key
from tests.exports.jose import open_envelope
from tests.world import World, make_world


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def flip_first_bit(part: str) -> str:
    raw = bytearray(b64decode(part))
    raw[0] ^= 0x01
    return b64encode(bytes(raw))


def edit_header(change: Callable[[dict[str, object]], None]) -> Callable[[str], str]:
    def tamper(part: str) -> str:
        header = json.loads(b64decode(part))
        change(header)
        return b64encode(json.dumps(header).encode())

    return tamper


def other_ephemeral_key(header: dict[str, object]) -> None:
    header["epk"] = json.loads(make_host_key().export_public())


def other_kid(header: dict[str, object]) -> None:
    header["kid"] = "someone-else"


# (id, index of the compact JWE part, how it is changed)
TAMPERINGS: list[tuple[str, int, Callable[[str], str]]] = [
    ("protected header: other kid", 0, edit_header(other_kid)),
    ("protected header: other ephemeral key", 0, edit_header(other_ephemeral_key)),
    ("encrypted key", 1, flip_first_bit),
    ("initialisation vector", 2, flip_first_bit),
    ("ciphertext", 3, flip_first_bit),
    ("authentication tag", 4, flip_first_bit),
]


@pytest.fixture
async def exported(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> tuple[World, m.GatewayExport]:
    world = await make_world(session, keys)
    await run_once(sessionmaker, keys, today=GATEWAY_ON)
    stmt = host_exports_query(world.host.organization.id)
    [export] = list(await session.scalars(stmt))
    return world, export


def host_private_for_joserfc(world: World) -> OKPKey:
    return OKPKey.import_key(json.loads(world.host.private_key.export_private()))


async def test_untouched_envelope_opens_with_both_libraries(
    exported: tuple[World, m.GatewayExport], keys: KeyMaterial
) -> None:
    world, export = exported
    jwks = keys.signing.public_jwks()

    ours = decrypt_and_verify(export.envelope, host_private_for_joserfc(world), jwks)

    assert ours == open_envelope(export.envelope, world.host.private_key, jwks)
    assert len(export.envelope.split(".")) == 5


@pytest.mark.parametrize(
    ("index", "tamper"), [t[1:] for t in TAMPERINGS], ids=[t[0] for t in TAMPERINGS]
)
async def test_tampered_part_fails(
    exported: tuple[World, m.GatewayExport],
    keys: KeyMaterial,
    index: int,
    tamper: Callable[[str], str],
) -> None:
    world, export = exported
    parts = export.envelope.split(".")
    parts[index] = tamper(parts[index])
    tampered = ".".join(parts)
    assert tampered != export.envelope

    with pytest.raises(JWException):
        open_envelope(tampered, world.host.private_key, keys.signing.public_jwks())
    with pytest.raises(CryptoError):
        decrypt_and_verify(tampered, host_private_for_joserfc(world), keys.signing.public_jwks())


async def test_resigned_with_another_key_of_the_same_kid_fails(
    exported: tuple[World, m.GatewayExport], keys: KeyMaterial
) -> None:
    # given an attacker who knows the host's public key and the platform key's kid
    world, export = exported
    plaintext = open_envelope(export.envelope, world.host.private_key, keys.signing.public_jwks())
    forged_payload = plaintext.replace(b'"nonCompliant":true', b'"nonCompliant":false')
    assert forged_payload != plaintext
    impostor = SigningKeys(
        [OKPKey.generate_key("Ed25519", parameters={"kid": str(keys.signing.current.kid)})]
    )
    host_public = world.host.organization.host_public_jwk
    assert host_public is not None

    # when it signs a payload with its own key and encrypts it to the host
    forged = sign_and_encrypt(forged_payload, impostor, host_public)

    # then the envelope opens but the signature does not verify
    outer = jwe.JWE()
    outer.deserialize(forged, key=world.host.private_key)
    with pytest.raises(JWException):
        open_envelope(forged, world.host.private_key, keys.signing.public_jwks())


async def test_inner_payload_swapped_under_the_original_signature_fails(
    exported: tuple[World, m.GatewayExport], keys: KeyMaterial
) -> None:
    world, export = exported
    outer = jwe.JWE()
    outer.deserialize(export.envelope, key=world.host.private_key)
    header, _, signature = outer.payload.decode().split(".")
    other = b64encode(b'{"schemaVersion":"1.0"}')
    host_public = world.host.organization.host_public_jwk
    assert host_public is not None
    relabelled = jwe.JWE(
        f"{header}.{other}.{signature}".encode(),
        json.dumps({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": "JWT"}),
    )
    relabelled.add_recipient(jwk.JWK(**host_public))

    with pytest.raises(JWException):
        open_envelope(
            relabelled.serialize(compact=True), world.host.private_key, keys.signing.public_jwks()
        )


async def test_another_hosts_key_cannot_open_it(
    exported: tuple[World, m.GatewayExport], keys: KeyMaterial
) -> None:
    _, export = exported

    with pytest.raises(JWException):
        open_envelope(export.envelope, make_host_key(), keys.signing.public_jwks())
