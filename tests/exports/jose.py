"""The host's side of an envelope, with jwcrypto: a JOSE library Millgate itself does not use."""

from __future__ import annotations

import json
from typing import Any

from jwcrypto import jwe, jwk, jws


def open_envelope(envelope: str, host_private: jwk.JWK, platform_jwks: dict[str, Any]) -> bytes:
    """Decrypts the JWE with the host's key and verifies the inner JWS; raises on failure."""
    outer = jwe.JWE()
    outer.deserialize(envelope, key=host_private)
    inner = jws.JWS()
    inner.deserialize(outer.payload.decode())
    inner.verify(jwk.JWKSet.from_json(json.dumps(platform_jwks)), alg="EdDSA")
    payload: bytes = inner.payload
    return payload
