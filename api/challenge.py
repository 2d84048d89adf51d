"""The answer to refused credentials, with its RFC 6750 ``WWW-Authenticate`` challenge.

``invalid_token`` (401) carries a short reason a client can act on — expired, not yet
valid, another audience, an unknown key — and nothing else: a bad signature, an unknown or
disabled user and a forged token read the same. ``invalid_request`` (400) is a malformed
``Authorization`` header; another scheme than Bearer gets the bare challenge (401).
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from api.responses import error_response
from core.errors import InvalidToken

REALM = "millgate"


def challenge(error: InvalidToken) -> str:
    """``Bearer realm="millgate", error="…", error_description="…"``."""
    parts = [f'realm="{REALM}"']
    if error.error is not None:
        parts.append(f'error="{error.error}"')
        # A quoted-string: the descriptions are our own constants, checked to need no escape.
        if '"' not in error.description and "\\" not in error.description:
            parts.append(f'error_description="{error.description}"')
    return "Bearer " + ", ".join(parts)


def refused(error: InvalidToken) -> JSONResponse:
    if error.error == "invalid_request":
        response = error_response(400, "malformed credentials", "BAD_REQUEST")
    else:
        response = error_response(401, "unauthorized", "UNAUTHENTICATED")
    response.headers["www-authenticate"] = challenge(error)
    return response
