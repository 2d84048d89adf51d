"""GraphiQL for development: a page and its assets served by the app itself, no CDN.

The files under ``api/static/graphiql/`` are the npm packages' own builds at pinned versions
(see the README there); the page loads nothing from another origin, so it works offline.
Production serves neither the page nor the assets.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

ASSETS = Path(__file__).parent / "static" / "graphiql"
ASSET_PATH = "/static/graphiql"

# Same-origin scripts only; GraphiQL injects style elements, hence 'unsafe-inline' for styles.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def graphiql_page() -> HTMLResponse:
    return HTMLResponse(
        (ASSETS / "index.html").read_text(),
        headers={"content-security-policy": CONTENT_SECURITY_POLICY},
    )


def graphiql_assets(production: bool) -> list[BaseRoute]:
    """The route of the page's assets: none in production."""
    if production:
        return []
    return [Mount(ASSET_PATH, app=StaticFiles(directory=ASSETS), name="graphiql")]
