"""All of Millgate's cryptography, in one module that can be reviewed alone.

- Field encryption at rest: AES-256-GCM, each value tagged with its key id so keys rotate.
- Access tokens: JWT signed with Ed25519 (``alg`` pinned to EdDSA), ``kid`` from a key set
  whose public half is served at ``/.well-known/jwks.json``.
- OpenID Providers' access tokens: JWT verified against the provider's JWKS, the algorithm
  taken from the key (RS256, ES256, EdDSA), never from the token (fetching lives in api.oidc).
- API keys: ``mg_<prefix>_<secret>``; only an HMAC-SHA256 (with a pepper) is stored.
- Gateway exports: a compact JWS (EdDSA, platform key) wrapped in a compact JWE
  (ECDH-ES+A256KW, A256GCM) to the host's registered X25519 key.
- Webhooks: HMAC-SHA256 of the body.
- Audit checkpoints: a compact JWS (EdDSA, platform key, ``typ`` of its own) over the chain
  head, verifiable with the public key set served at ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
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

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwe, jws, jwt
from joserfc.errors import (
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
    SecurityWarning,
)
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey
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


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _unb64(text: str) -> bytes:
    # base64.urlsafe_b64decode's work in two C calls: it is called for every finding's
    # detail a page shows (a brand page: ~800).
    data = text.encode("ascii").translate(_FROM_URLSAFE)
    return binascii.a2b_base64(data + b"=" * (-len(data) % 4))


def _write_secret(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)


def _replace_secret(path: Path, content: str) -> None:
    """Writes ``content`` over ``path`` atomically: a 0600 file beside it, renamed over it.

    A process killed midway leaves the old file or the new one, never half of one.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a crash
    finally:
        os.close(folder)


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

    @staticmethod
    def rotate_key_file(path: Path) -> tuple[str, bool]:
        """Adds a new key to the ring at ``path`` and makes it current, unless a rotation is
        already under way there; returns (current kid, whether it was added).

        The file marks the rotation (``"rewrapPending": true``) until
        :meth:`finish_rotation`, so a re-encryption killed midway resumes under the same key.
        Older keys stay in the ring: values under them keep decrypting.
        """
        data = json.loads(path.read_text())
        if data.get("rewrapPending"):
            return str(data["current"]), False
        kid = f"k{int(time.time())}{secrets.token_hex(2)}"
        data["keys"][kid] = _b64(os.urandom(32))
        data["current"] = kid
        data["rewrapPending"] = True
        _replace_secret(path, json.dumps(data))
        return kid, True

    @staticmethod
    def finish_rotation(path: Path) -> None:
        data = json.loads(path.read_text())
        data.pop("rewrapPending", None)
        _replace_secret(path, json.dumps(data))

    @staticmethod
    def kid_of(stored: str) -> str:
        return stored.partition(".")[0]

    def rewrap(self, stored: str, purpose: str) -> str:
        """The same value encrypted under the current key."""
        return self.encrypt(self.decrypt(stored, purpose), purpose)

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

    @staticmethod
    def add_key_to_file(path: Path) -> str:
        """Appends a new key to the set at ``path``: it signs from the next start; the older
        ones keep verifying (and stay in the JWKS) until removed. Returns its kid."""
        data = json.loads(path.read_text())
        key = OKPKey.generate_key("Ed25519", parameters={"kid": f"sig-{secrets.token_hex(4)}"})
        data["keys"].append(key.as_dict(private=True))
        _replace_secret(path, json.dumps(data))
        return str(key.kid)

    @staticmethod
    def remove_key_from_file(path: Path, kid: str) -> None:
        """Removes a retired key; the signing (last) key cannot be removed."""
        data = json.loads(path.read_text())
        kids = [k.get("kid") for k in data["keys"]]
        if kid not in kids:
            raise CryptoError(f"no signing key {kid!r} in {path}")
        if kids[-1] == kid:
            raise CryptoError(f"{kid!r} is the key that signs; add a new one first")
        data["keys"] = [k for k in data["keys"] if k.get("kid") != kid]
        _replace_secret(path, json.dumps(data))

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
    issued_at: int = 0  # 0: no iat claim, refused by a user enabled again (see api.auth)


class TokenService:
    """Issues and verifies access tokens; every check fails the same way to the caller.

    ``remember`` > 0 keeps that many tokens whose signature verified (the claims they
    carry, by token text and key): a client sends the same token on every request, and the
    Ed25519 check (~0.17 ms) is the same each time. Everything else (the key still known,
    the algorithm, expiry and the other claims against the clock) is checked on every call.
    """

    def __init__(self, keys: SigningKeys, issuer: str, audience: str, *, remember: int = 0) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._remember = remember
        # token text -> (the key that verified its signature, its claims); oldest first out.
        self._signed: dict[str, tuple[OKPKey, dict[str, Any]]] = {}
        self._claims = JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY_SECONDS,
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
        """The claims of a token this service issued; :class:`InvalidToken` says why not."""
        header = token_header(token)
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken()
        key = self._keys.key_for(kid)
        if key is None:
            raise InvalidToken(UNKNOWN_KEY)
        if header.get("alg") != TOKEN_ALG:
            raise InvalidToken()
        signed = self._signed.get(token) if self._remember else None
        if signed is not None and signed[0] is key:
            claims = _validated_claims(signed[1], self._claims)
        else:
            claims = _verified_claims(token, key, [TOKEN_ALG], self._claims)
            if self._remember:
                if len(self._signed) >= self._remember:
                    self._signed.pop(next(iter(self._signed)), None)
                self._signed[token] = (key, claims)
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub.startswith("user:"):
            raise InvalidToken()
        digits = sub[5:]
        if not digits.isdigit() or not 0 < int(digits) < 2**31:  # the id column's range
            raise InvalidToken()
        iat = claims.get("iat")
        return TokenClaims(
            user_id=int(digits),
            expires_at=int(claims["exp"]),
            issued_at=iat if isinstance(iat, int) else 0,
        )


# --- access tokens of OpenID Providers ------------------------------------------------------

# The short reasons a caller is told (RFC 6750 error_description): facts it already holds.
EXPIRED = "the access token expired"
NOT_YET_VALID = "the access token is not yet valid"
WRONG_AUDIENCE = "the access token is for another audience"
WRONG_ISSUER = "the access token is from an issuer this API does not trust"
UNKNOWN_KEY = "the access token is signed with an unknown key"

CLOCK_LEEWAY_SECONDS = 30
# What a provider's key may sign with: the key decides, the token's "alg" must agree.
# "Ed25519" is RFC 9864's fully-specified name for EdDSA over that curve.
_ALGORITHMS_OF_CURVE = {"P-256": ("ES256",), "Ed25519": ("EdDSA", "Ed25519")}
_MIN_RSA_BITS = 2048

ProviderKey = RSAKey | ECKey | OKPKey


def token_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, unverified; :class:`InvalidToken` if none."""
    try:
        header = json.loads(_unb64(token.split(".", 1)[0]))
    except (ValueError, RecursionError) as error:  # RecursionError: JSON nested too deep
        raise InvalidToken() from error
    if not isinstance(header, dict) or token.count(".") != 2:
        raise InvalidToken()
    return header


def unverified_issuer(token: str) -> str | None:
    """The ``iss`` a token claims, to route it to its verifier; trusted for nothing else."""
    try:
        claims = json.loads(_unb64(token.split(".")[1]))
    except (ValueError, IndexError, RecursionError):
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) else None


def provider_key_algorithms(jwk: Mapping[str, Any]) -> tuple[str, ...]:
    """The algorithms a provider's public JWK may verify: RS256, ES256 or EdDSA, or none."""
    if jwk.get("use", "sig") != "sig":
        return ()
    kty, crv, alg = jwk.get("kty"), jwk.get("crv"), jwk.get("alg")
    if kty == "RSA":
        allowed: tuple[str, ...] = ("RS256",)
    elif kty in ("EC", "OKP") and isinstance(crv, str):
        allowed = _ALGORITHMS_OF_CURVE.get(crv, ())
    else:
        allowed = ()
    if alg is not None:  # a key that names its algorithm allows that one only
        allowed = (alg,) if alg in allowed else ()
    return allowed


class ProviderKeySet:
    """The usable signing keys of one provider's JWKS, by ``kid``: private parts, unknown
    types, other curves, short RSA keys and encryption keys are left out."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys: dict[str, tuple[ProviderKey, tuple[str, ...]]] = {}
        keys = jwks.get("keys")
        for jwk in keys if isinstance(keys, list) else []:
            if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
                continue
            algorithms = provider_key_algorithms(jwk)
            if not algorithms or any(p in jwk for p in ("d", "p", "q")):
                continue
            try:
                key = _import_public_key(jwk)
            except (JoseError, ValueError, TypeError, KeyError):
                continue
            self._keys[jwk["kid"]] = (key, algorithms)

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, kid: str) -> tuple[ProviderKey, tuple[str, ...]] | None:
        return self._keys.get(kid)


def _import_public_key(jwk: Mapping[str, Any]) -> ProviderKey:
    public = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y", "n", "e", "kid")}
    if jwk["kty"] == "RSA":
        # Checked before import, which would only warn about a short modulus.
        if int.from_bytes(_unb64(str(jwk["n"])), "big").bit_length() < _MIN_RSA_BITS:
            raise ValueError("RSA key too short")
        return RSAKey.import_key(public)
    if jwk["kty"] == "EC":
        return ECKey.import_key(public)
    return OKPKey.import_key(public)


def verify_provider_token(
    token: str,
    keys: ProviderKeySet,
    *,
    issuer: str,
    audience: str,
    now: int | None = None,
) -> dict[str, Any]:
    """The claims of an OpenID Provider's JWT access token, verified, or :class:`InvalidToken`.

    The caller has found ``keys`` for the token's ``kid`` (refetching the provider's JWKS once
    for an unknown one); an unknown ``kid`` here is final. ``iss`` must be ``issuer`` exactly,
    ``aud`` hold ``audience``; ``exp`` is required, ``nbf`` and ``iat`` honoured, each with a
    small leeway for clocks.
    """
    header = token_header(token)
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise InvalidToken()
    found = keys.get(kid)
    if found is None:
        raise InvalidToken(UNKNOWN_KEY)
    key, algorithms = found
    if header.get("alg") not in algorithms:
        raise InvalidToken()
    registry = JWTClaimsRegistry(
        now=now,
        leeway=CLOCK_LEEWAY_SECONDS,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        sub={"essential": True},
    )
    claims = _verified_claims(token, key, list(algorithms), registry)
    if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255:
        raise InvalidToken()
    return claims


def _verified_claims(
    token: str, key: ProviderKey, algorithms: list[str], registry: JWTClaimsRegistry
) -> dict[str, Any]:
    """Signature first, then the claims; each failure as the reason a caller may be told."""
    try:
        decoded = jwt.decode(token, key, algorithms=algorithms)
    except (JoseError, ValueError, TypeError) as error:
        raise InvalidToken() from error
    return _validated_claims(decoded.claims, registry)


def _validated_claims(claims: dict[str, Any], registry: JWTClaimsRegistry) -> dict[str, Any]:
    """``claims`` of a verified signature, checked against the clock and ``registry``."""
    try:
        registry.validate(claims)
    except ExpiredTokenError as error:
        raise InvalidToken(EXPIRED) from error
    except InvalidClaimError as error:
        reasons = {
            "aud": WRONG_AUDIENCE,
            "iss": WRONG_ISSUER,
            "nbf": NOT_YET_VALID,
            "iat": NOT_YET_VALID,  # issued in the future: not yet valid either
        }
        raise InvalidToken(reasons.get(error.claim)) from error
    except MissingClaimError as error:
        raise InvalidToken() from error
    except (JoseError, ValueError, TypeError) as error:
        raise InvalidToken() from error
    return claims


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


# JWK members that only a private or symmetric key has (RFC 7518 section 6, RFC 8037).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_X25519_P = 2**255 - 19


_INVALID_X = "publicJwk 'x' is not a valid X25519 public key"


def _x25519_point(x: object) -> bytes:
    """The 32 bytes of a canonical X25519 public value that is not of low order."""
    if not isinstance(x, str) or len(x) != 43:  # 32 bytes in base64url without padding
        raise CryptoError(_INVALID_X)
    try:
        raw = base64.urlsafe_b64decode(x + "=")
    except ValueError as error:
        raise CryptoError(_INVALID_X) from error
    if _b64(raw) != x:  # another alphabet, or stray bits in the last character
        raise CryptoError(f"{_INVALID_X}: not canonical base64url")
    if raw[31] & 0x80 or int.from_bytes(raw, "little") >= _X25519_P:
        raise CryptoError(f"{_INVALID_X}: not a canonical field element")
    # A point of small order (the all-zero value among them) makes every shared secret the
    # same zero: OpenSSL refuses that exchange, so one trial with a throwaway key finds it.
    try:
        X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(raw))
    except ValueError as error:
        raise CryptoError(f"{_INVALID_X}: a point of low order") from error
    return raw


def validate_host_public_jwk(data: object) -> dict[str, str]:
    """Returns the canonical public X25519 JWK, or raises CryptoError saying what is wrong.

    Refused: anything but an OKP key on X25519, any private or symmetric member (even null),
    an ``x`` that is not 32 canonical bytes, and points of low order, to which no secret
    can be agreed (a key the export job could never encrypt to).
    """
    if not isinstance(data, dict):
        raise CryptoError("publicJwk must be a JSON object")
    private = sorted(_PRIVATE_MEMBERS.intersection(data))
    if private:
        raise CryptoError(f"publicJwk must not contain the private part {private[0]!r}")
    if data.get("kty") != "OKP" or data.get("crv") != "X25519":
        raise CryptoError("publicJwk must be an OKP key on curve X25519")
    raw = _x25519_point(data.get("x"))
    key = OKPKey.import_key({"kty": "OKP", "crv": "X25519", "x": _b64(raw)})
    public = {k: str(v) for k, v in key.as_dict(private=False).items() if k in ("kty", "crv", "x")}
    public["kid"] = key.thumbprint()
    return public


def sign_export(payload: bytes, signer: SigningKeys) -> str:
    """Compact JWS (EdDSA, the current platform key) over an export's ``payload``."""
    key = signer.current
    return jws.serialize_compact(
        {"alg": TOKEN_ALG, "kid": key.kid, "typ": "JOSE", "cty": "application/json"},
        payload,
        key,
        algorithms=[TOKEN_ALG],
    )


def encrypt_for_host(signed: str, host_jwk: Mapping[str, str]) -> str:
    """Compact JWE (ECDH-ES+A256KW, A256GCM) of a signed export to ``host_jwk``."""
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


def sign_and_encrypt(payload: bytes, signer: SigningKeys, host_jwk: Mapping[str, str]) -> str:
    """Compact JWE (ECDH-ES+A256KW, A256GCM) to ``host_jwk`` of a compact JWS over ``payload``."""
    return encrypt_for_host(sign_export(payload, signer), host_jwk)


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


# --- audit checkpoints ----------------------------------------------------------------------

CHECKPOINT_TYP = "millgate-audit-checkpoint+jws"


def sign_checkpoint(signer: SigningKeys, claims: Mapping[str, Any]) -> str:
    """Compact JWS over the canonical JSON of ``claims`` with the current platform key."""
    key = signer.current
    payload = json.dumps(dict(claims), sort_keys=True, separators=(",", ":")).encode()
    return jws.serialize_compact(
        {"alg": TOKEN_ALG, "kid": key.kid, "typ": CHECKPOINT_TYP},
        payload,
        key,
        algorithms=[TOKEN_ALG],
    )


def verify_checkpoint(token: str, public_jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The claims of a checkpoint signed by a key of ``public_jwks``; CryptoError otherwise.

    The ``typ`` is required, so no other JWS of the platform (an export's inner signature)
    passes for a checkpoint.
    """
    try:
        header = json.loads(_unb64(token.split(".", 1)[0]))
        if not isinstance(header, dict) or header.get("typ") != CHECKPOINT_TYP:
            raise CryptoError("not an audit checkpoint")
        verified = jws.deserialize_compact(
            token,
            KeySet.import_key_set(dict(public_jwks)),  # type: ignore[arg-type]
            algorithms=[TOKEN_ALG],
        )
        claims = json.loads(verified.payload)
    except (JoseError, ValueError, TypeError, IndexError) as error:
        raise CryptoError("audit checkpoint signature does not verify") from error
    if not isinstance(claims, dict):
        raise CryptoError("audit checkpoint claims are not an object")
    return claims


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def webhook_signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def standard_webhook_headers(
    secret: str, message_id: str, timestamp: dt.datetime, body: bytes
) -> dict[str, str]:
    """The ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers of the
    Standard Webhooks specification, which any of its libraries verifies. A secret set before
    the ``whsec_`` form (URL-safe text) keys the HMAC with its own bytes."""
    from standardwebhooks.webhooks import Webhook

    key: str | bytes = secret if secret.startswith(WEBHOOK_SECRET_PREFIX) else secret.encode()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(key).sign(message_id, timestamp, body),
    }


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
