"""All of Millgate's cryptography, in one module that can be reviewed alone.

- Field encryption at rest: AES-256-GCM, each value tagged with its key id so keys rotate.
- Access tokens: JWT signed with Ed25519 (``alg`` pinned to EdDSA), ``kid`` from a key set
  whose public half is served at ``/.well-known/jwks.json``.
- API keys: ``mg_<prefix>_<secret>``; only an HMAC-SHA256 (with a pepper) is stored.
- Gateway exports: a compact JWS (EdDSA, platform key) wrapped in a compact JWE
  (ECDH-ES+A256KW, A256GCM) to the host's registered X25519 key.
- Webhooks: HMAC-SHA256 of the body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwe, jws, jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import KeySet, OKPKey
from joserfc.jwt import JWTClaimsRegistry

from core.errors import CryptoError, InvalidToken

# RFC 9864 prefers "Ed25519", but the contract and host JOSE libraries speak "EdDSA"; same curve.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)

TOKEN_ALG = "EdDSA"  # noqa: S105 - an algorithm name
EXPORT_JWE_ALG = "ECDH-ES+A256KW"
EXPORT_JWE_ENC = "A256GCM"
API_KEY_PREFIX = "mg"

# Purposes bound as associated data to field ciphertexts: a value cannot move columns.
DETAIL_PURPOSE = "finding.detail"
ANSWERS_PURPOSE = "self_assessment.answers"
WEBHOOK_SECRET_PURPOSE = "organization.webhook_secret"  # noqa: S105 - a label


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _write_secret(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)


# --- field encryption -------------------------------------------------------------------


class FieldCipher:
    """AES-256-GCM with a key ring; the ciphertext names the key that made it.

    Stored form: ``<kid>.<base64url(nonce || ciphertext || tag)>``. The purpose (for example
    ``finding.detail``) is bound as associated data so a value cannot be moved to another column.
    """

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise CryptoError(f"current field key {current!r} is not in the key ring")
        for kid, key in keys.items():
            if len(key) != 32 or "." in kid:
                raise CryptoError(f"field key {kid!r} must be 32 bytes and its id without '.'")
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}
        self.current = current

    @classmethod
    def from_file(cls, path: Path) -> FieldCipher:
        data = json.loads(path.read_text())
        return cls({kid: _unb64(v) for kid, v in data["keys"].items()}, data["current"])

    @staticmethod
    def new_key_file(path: Path) -> None:
        kid = f"k{int(time.time())}"
        _write_secret(path, json.dumps({"current": kid, "keys": {kid: _b64(os.urandom(32))}}))

    def encrypt(self, plaintext: str, purpose: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead[self.current].encrypt(nonce, plaintext.encode(), purpose.encode())
        return f"{self.current}.{_b64(nonce + sealed)}"

    def decrypt(self, stored: str, purpose: str) -> str:
        kid, _, body = stored.partition(".")
        aead = self._aead.get(kid)
        if aead is None:
            raise CryptoError(f"no field key {kid!r} in the key ring")
        raw = _unb64(body)
        try:
            return aead.decrypt(raw[:12], raw[12:], purpose.encode()).decode()
        except Exception as error:  # InvalidTag carries no message worth keeping
            raise CryptoError("field value failed authentication") from error

    def encrypt_json(self, value: Any, purpose: str) -> str:
        return self.encrypt(json.dumps(value, sort_keys=True, separators=(",", ":")), purpose)

    def decrypt_json(self, stored: str, purpose: str) -> Any:
        return json.loads(self.decrypt(stored, purpose))


# --- signing keys and access tokens -------------------------------------------------------


class SigningKeys:
    """Ed25519 private keys by ``kid``; the last one signs, all of them verify."""

    def __init__(self, keys: list[OKPKey]) -> None:
        if not keys:
            raise CryptoError("the signing key set is empty")
        for key in keys:
            if key.curve_name != "Ed25519" or not key.is_private or not key.kid:
                raise CryptoError("signing keys must be private Ed25519 JWKs with a kid")
        self._keys = keys
        self._by_kid = {key.kid: key for key in keys}
        self._verify_set = KeySet(list(keys))

    @classmethod
    def from_file(cls, path: Path) -> SigningKeys:
        data = json.loads(path.read_text())
        return cls([OKPKey.import_key(k) for k in data["keys"]])

    @staticmethod
    def new_key_file(path: Path) -> None:
        key = OKPKey.generate_key("Ed25519", parameters={"kid": f"sig-{secrets.token_hex(4)}"})
        _write_secret(path, json.dumps({"keys": [key.as_dict(private=True)]}))

    @property
    def current(self) -> OKPKey:
        return self._keys[-1]

    def public_jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {**k.as_dict(private=False), "alg": TOKEN_ALG, "use": "sig"} for k in self._keys
            ]
        }

    def key_for(self, kid: str) -> OKPKey | None:
        return self._by_kid.get(kid)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    expires_at: int


class TokenService:
    """Issues and verifies access tokens; every check fails the same way to the caller."""

    def __init__(self, keys: SigningKeys, issuer: str, audience: str) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._claims = JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            sub={"essential": True},
        )

    def issue(self, user_id: int, ttl_seconds: int, *, now: int | None = None) -> str:
        issued = int(time.time()) if now is None else now
        key = self._keys.current
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": f"user:{user_id}",
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl_seconds,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode({"alg": TOKEN_ALG, "kid": key.kid}, claims, key, algorithms=[TOKEN_ALG])

    def verify(self, token: str) -> TokenClaims:
        try:
            header = json.loads(_unb64(token.split(".", 1)[0]))
            kid = header.get("kid") if isinstance(header, dict) else None
            key = self._keys.key_for(kid) if isinstance(kid, str) else None
            if key is None or header.get("alg") != TOKEN_ALG:
                raise InvalidToken()
            decoded = jwt.decode(token, key, algorithms=[TOKEN_ALG])
            self._claims.validate(decoded.claims)
            nbf = decoded.claims.get("nbf")
            if isinstance(nbf, int) and nbf > int(time.time()) + 30:
                raise InvalidToken()
            sub = decoded.claims["sub"]
            if not isinstance(sub, str) or not sub.startswith("user:"):
                raise InvalidToken()
            digits = sub[5:]
            if not digits.isdigit() or not 0 < int(digits) < 2**31:  # the id column's range
                raise InvalidToken()
            return TokenClaims(user_id=int(digits), expires_at=int(decoded.claims["exp"]))
        except (JoseError, ValueError, KeyError, IndexError, TypeError) as error:
            raise InvalidToken() from error


# --- API keys -----------------------------------------------------------------------------


class ApiKeyHasher:
    """``mg_<8 hex prefix>_<43 chars of 32 random bytes>``; the database keeps prefix and HMAC."""

    def __init__(self, pepper: bytes) -> None:
        if len(pepper) < 32:
            raise CryptoError("the API key pepper must be at least 32 bytes")
        self._pepper = pepper

    @classmethod
    def from_file(cls, path: Path) -> ApiKeyHasher:
        return cls(_unb64(path.read_text().strip()))

    @staticmethod
    def new_key_file(path: Path) -> None:
        _write_secret(path, _b64(os.urandom(32)))

    def new_key(self) -> tuple[str, str, str]:
        """Returns (secret shown once, prefix, hmac to store)."""
        prefix = secrets.token_hex(4)
        secret = f"{API_KEY_PREFIX}_{prefix}_{_b64(secrets.token_bytes(32))}"
        return secret, prefix, self.digest(secret)

    def digest(self, secret: str) -> str:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def prefix_of(secret: str) -> str | None:
        parts = secret.split("_", 2)  # the base64url body may hold '_' itself
        if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 8:
            return None
        return parts[1]

    def matches(self, secret: str, stored_digest: str) -> bool:
        return hmac.compare_digest(self.digest(secret), stored_digest)


# --- Gateway export envelopes -------------------------------------------------------------


def validate_host_public_jwk(data: object) -> dict[str, str]:
    """Returns the canonical public X25519 JWK, or raises CryptoError saying what is wrong."""
    if not isinstance(data, dict):
        raise CryptoError("publicJwk must be a JSON object")
    if data.get("kty") != "OKP" or data.get("crv") != "X25519":
        raise CryptoError("publicJwk must be an OKP key on curve X25519")
    if "d" in data:
        raise CryptoError("publicJwk must not contain the private part 'd'")
    try:
        key = OKPKey.import_key({"kty": "OKP", "crv": "X25519", "x": str(data["x"])})
        if len(_unb64(str(data["x"]))) != 32:
            raise ValueError("x must be 32 bytes")
    except (JoseError, ValueError, KeyError, TypeError) as error:
        raise CryptoError("publicJwk 'x' is not a valid X25519 public key") from error
    public = {k: str(v) for k, v in key.as_dict(private=False).items() if k in ("kty", "crv", "x")}
    public["kid"] = key.thumbprint()
    return public


def sign_and_encrypt(payload: bytes, signer: SigningKeys, host_jwk: Mapping[str, str]) -> str:
    """Compact JWE (ECDH-ES+A256KW, A256GCM) to ``host_jwk`` of a compact JWS over ``payload``."""
    key = signer.current
    signed = jws.serialize_compact(
        {"alg": TOKEN_ALG, "kid": key.kid, "typ": "JOSE", "cty": "application/json"},
        payload,
        key,
        algorithms=[TOKEN_ALG],
    )
    recipient = OKPKey.import_key(dict(host_jwk))
    header = {
        "alg": EXPORT_JWE_ALG,
        "enc": EXPORT_JWE_ENC,
        "kid": host_jwk.get("kid", ""),
        "cty": "JWT",
    }
    return jwe.encrypt_compact(
        header, signed.encode(), recipient, algorithms=[EXPORT_JWE_ALG, EXPORT_JWE_ENC]
    )


def decrypt_and_verify(
    envelope: str, host_private: OKPKey, signer_jwks: Mapping[str, Any]
) -> bytes:
    """The host's side of :func:`sign_and_encrypt`; raises CryptoError on any tampering."""
    try:
        inner = jwe.decrypt_compact(
            envelope, host_private, algorithms=[EXPORT_JWE_ALG, EXPORT_JWE_ENC]
        ).plaintext
        assert inner is not None
        verified = jws.deserialize_compact(
            inner,
            KeySet.import_key_set(dict(signer_jwks)),  # type: ignore[arg-type]
            algorithms=[TOKEN_ALG],
        )
        return verified.payload
    except (JoseError, ValueError, AssertionError) as error:
        raise CryptoError("export envelope failed decryption or verification") from error


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def webhook_signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


# --- the key material of one process -------------------------------------------------------


@dataclass(frozen=True)
class KeyMaterial:
    fields: FieldCipher
    signing: SigningKeys
    api_keys: ApiKeyHasher


def load_key_material(
    field_keys_file: Path | None,
    signing_keys_file: Path | None,
    api_key_pepper_file: Path | None,
    keys_dir: Path,
    *,
    create_missing: bool,
) -> KeyMaterial:
    """Reads the configured key files; the embedded default creates its own under ``keys_dir``."""
    paths = {
        "fields": field_keys_file or keys_dir / "field-keys.json",
        "signing": signing_keys_file or keys_dir / "signing-keys.json",
        "pepper": api_key_pepper_file or keys_dir / "api-key-pepper",
    }
    makers = {
        "fields": FieldCipher.new_key_file,
        "signing": SigningKeys.new_key_file,
        "pepper": ApiKeyHasher.new_key_file,
    }
    settings = {
        "fields": "MILLGATE_FIELD_KEYS_FILE",
        "signing": "MILLGATE_SIGNING_KEYS_FILE",
        "pepper": "MILLGATE_API_KEY_PEPPER_FILE",
    }
    for name, path in paths.items():
        if not path.exists():
            if not create_missing:
                raise CryptoError(f"key file {path} ({settings[name]}) does not exist")
            makers[name](path)

    def read(name: str, loader: Callable[[Path], Any]) -> Any:
        path = paths[name]
        try:
            return loader(path)
        except OSError as error:
            reason = error.strerror or type(error).__name__
        except CryptoError as error:
            reason = str(error)
        except (ValueError, KeyError, TypeError, JoseError) as error:
            # The kind of fault only: the text of a key file is never repeated.
            reason = f"not a valid key file ({type(error).__name__})"
        raise CryptoError(f"key file {path} ({settings[name]}) cannot be used: {reason}")

    return KeyMaterial(
        fields=read("fields", FieldCipher.from_file),
        signing=read("signing", SigningKeys.from_file),
        api_keys=read("pepper", ApiKeyHasher.from_file),
    )
