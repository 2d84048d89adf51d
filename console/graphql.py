"""The console's one way to the data: the app's own ``/graphql``, with the user's token."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp


class SignedOut(Exception):
    """The API refused the token (expired, or the user was disabled): sign in again."""


class ApiFailed(Exception):
    """The API answered with request errors: a bug of the console, or the API is down."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(e.get("message")) for e in errors))
        self.errors = errors


class GraphQLClient:
    """POSTs one operation to ``app`` in-process (no socket), as the user would over HTTP."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def run(
        self, token: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        transport = httpx.ASGITransport(app=self._app)
        async with httpx.AsyncClient(transport=transport, base_url="http://console.local") as c:
            response = await c.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"authorization": f"Bearer {token}"},
            )
        if response.status_code == 401:
            raise SignedOut()
        body: dict[str, Any] = response.json()
        if body.get("errors"):
            raise ApiFailed(body["errors"])
        data: dict[str, Any] = body["data"]
        return data
