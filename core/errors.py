"""Millgate's domain exceptions.

    MillgateError         Raised for any failure Millgate itself detects.
    ├── CatalogueError    Raised when a catalogue file is malformed or clashes with a loaded one.
    ├── CryptoError       Raised when a key is missing or a value fails authentication.
    ├── InvalidToken      Raised when a bearer token or API key does not verify.
    │   ├── MalformedCredentials  Raised when the Authorization header is not a bearer credential.
    │   └── NoBearerCredentials   Raised when the Authorization header uses another scheme.
    └── UserInputError    Raised when input is refused; carries a stable code and the field.

Subclasses that belong to one layer live there: ``authz.guard.UnscopedRead`` and
``authz.guard.SystemReadRefused``, ``exports.snapshot.SnapshotIncomplete``.

Mutations turn `UserInputError` into typed payload errors (a refusal is a `UserInputError`
with code FORBIDDEN or NOT_FOUND); every other exception is masked at the GraphQL layer and
logged with the request id.
"""

from __future__ import annotations


class MillgateError(Exception):
    """Raised for any failure Millgate itself detects."""


class CatalogueError(MillgateError):
    """Raised when a catalogue file is malformed or clashes with a version already loaded."""


class CryptoError(MillgateError):
    """Raised when a key is missing or a value fails authentication."""


class InvalidToken(MillgateError):
    """Raised when a bearer token or API key does not verify.

    ``description`` is the short reason sent in ``WWW-Authenticate`` (RFC 6750): only facts
    the caller already holds (its token expired, names another audience, an unknown key),
    never which user exists or what failed inside.
    """

    error: str | None = "invalid_token"
    GENERIC = "the access token is not valid"

    def __init__(self, description: str | None = None) -> None:
        super().__init__(description or self.GENERIC)
        self.description = description or self.GENERIC


class MalformedCredentials(InvalidToken):
    """Raised when the Authorization header is not a well-formed bearer credential."""

    error = "invalid_request"
    GENERIC = "malformed credentials"


class NoBearerCredentials(InvalidToken):
    """Raised when the Authorization header uses a scheme other than Bearer (no error code)."""

    error = None
    GENERIC = "bearer credentials required"


class UserInputError(MillgateError):
    """Raised when input is refused; carries a stable code and the field at fault."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
