"""CORS for the browser origins in ``MILLGATE_CORS_ORIGINS``: none by default.

Brand frontends call the API from their own origins with a bearer token, so no credentials
mode (cookies) is offered: a page from another origin can never ride on a signed-in
browser. Preflights (``OPTIONS``) from a listed origin are answered by Starlette's
``CORSMiddleware``; other origins get no CORS header and the browser keeps them out.

Example:
    MILLGATE_CORS_ORIGINS=https://brand.example,https://console.example millgate serve
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from api.auth import API_KEY_HEADER
from api.idempotency import HEADER as IDEMPOTENCY_HEADER
from api.idempotency import REPLAYED_HEADER
from core.settings import Settings

ALLOWED_HEADERS = ("authorization", "content-type", IDEMPOTENCY_HEADER, API_KEY_HEADER)
# What a script may read of an answer: the challenge of a refused token, the request id to
# quote, when to retry, and whether an idempotent answer was replayed.
EXPOSED_HEADERS = ("www-authenticate", "x-request-id", "retry-after", REPLAYED_HEADER)
PREFLIGHT_MAX_AGE_SECONDS = 600


def cors_middleware(settings: Settings) -> list[Middleware]:
    """The CORS layer for the configured origins, or nothing when none is configured."""
    origins = settings.cors_origin_list
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=("GET", "POST"),
            allow_headers=ALLOWED_HEADERS,
            allow_credentials=False,
            expose_headers=EXPOSED_HEADERS,
            max_age=PREFLIGHT_MAX_AGE_SECONDS,
        )
    ]
