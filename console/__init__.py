"""The factory console: consent managed in a browser, served at ``/console``.

Server-rendered pages for the users of a factory's organisation (managers act, worker
representatives read). Every page is built on the GraphQL API with the signed-in user's own
token, through the app's own ``/graphql`` (in-process): the console has no other path to the
data, and imports neither ``authz`` nor ``models``.

Example (in ``create_app``):
    mount_console(app, runtime)
"""

from __future__ import annotations

from starlette.applications import Starlette

from console.routes import console_routes
from core.runtime import Runtime

PREFIX = "/console"

__all__ = ["PREFIX", "mount_console"]


def mount_console(app: Starlette, runtime: Runtime) -> None:
    """Serves the console under ``/console`` of ``app``, calling ``app``'s own GraphQL."""
    app.mount(PREFIX, console_routes(app, runtime, PREFIX))
