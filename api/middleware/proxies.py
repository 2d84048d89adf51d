"""Behind a reverse proxy: the client's address from X-Forwarded-For, from trusted peers only.

``MILLGATE_TRUSTED_PROXIES`` lists the proxies' addresses or networks (``*``: every peer,
only where no one else can reach the port). A request from one of them gets the address its
proxy names (uvicorn's ProxyHeadersMiddleware); from anyone else the header is ignored, so
the rate limit, the logs and ``/metrics``' allow-list see the peer itself and a forged
header changes nothing. Empty (the default): no header is believed.

Example:
    trust_proxies(app, "10.0.0.0/8")
"""

from __future__ import annotations

from starlette.applications import Starlette
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def trust_proxies(app: Starlette, trusted: str) -> None:
    hosts = [part.strip() for part in trusted.split(",") if part.strip()]
    if hosts:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=hosts)
