"""A host's client of Millgate, written from docs/hosts.md alone (none of Millgate's code).

Pulls the exports made since the last run, verifies each against the platform's published
JWKS, decrypts it with the host's private X25519 key, checks its hash and validates it
against the JSON Schema; verifies webhook notices (Standard Webhooks); waits out a 429 for
as long as its Retry-After says. Needs ``pip install httpx jwcrypto jsonschema
standardwebhooks``.

    MILLGATE_URL=http://127.0.0.1:8000 MILLGATE_API_KEY=mg_... \\
    HOST_PRIVATE_JWK=var/demo-host-key.json python examples/host_client.py [--since ISO]

``tests/test_host_client.py`` runs it against a live server.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from jwcrypto import jwe, jwk, jws
from standardwebhooks.webhooks import Webhook

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "exports" / "schema" / "gateway-export-v1.json"

NEW_EXPORTS = """
query NewExports($since: DateTime, $after: String) {
  gatewayExports(first: 50, since: $since, after: $after) {
    edges { node { exportId factoryGatewayId cycle createdAt contentSha256 envelope } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


class MillgateError(RuntimeError):
    """Raised when Millgate answers with GraphQL errors, or refuses the request."""


class HostClient:
    """One host integration, speaking to one Millgate over ``client``.

    Example:
        with httpx.Client(base_url=url) as http:
            host = HostClient(http, api_key, jwk.JWK.from_json(private_key_json))
            for payload in host.new_exports(since=None):
                print(payload["exportId"])
    """

    def __init__(
        self,
        client: httpx.Client,
        api_key: str,
        private_key: jwk.JWK,
        *,
        schema: Mapping[str, Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_waits: int = 5,
    ) -> None:
        self.client = client
        self.api_key = api_key
        self.private_key = private_key
        self.schema = schema or json.loads(SCHEMA_FILE.read_text())
        self.sleep = sleep
        self.max_waits = max_waits
        self._signers: jwk.JWKSet | None = None

    def _send(self, request: Callable[[], httpx.Response]) -> httpx.Response:
        """Sends, waiting out each 429 for its Retry-After (seconds), ``max_waits`` times."""
        for _ in range(self.max_waits):
            response = request()
            if response.status_code != 429:
                return response
            self.sleep(float(response.headers.get("retry-after", "1")))
        raise MillgateError("still rate limited after waiting: try again later")

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._send(
            lambda: self.client.post(
                "/graphql",
                json={"query": query, "variables": variables or {}},
                headers={"X-Api-Key": self.api_key},
            )
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise MillgateError(f"HTTP {response.status_code}: {body.get('errors')}")
        data: dict[str, Any] = body["data"]
        return data

    def signers(self) -> jwk.JWKSet:
        """The platform's public signing keys (fetched again when a kid is unknown)."""
        if self._signers is None:
            response = self._send(lambda: self.client.get("/.well-known/jwks.json"))
            response.raise_for_status()
            self._signers = jwk.JWKSet.from_json(response.text)
        return self._signers

    def export_nodes(self, since: str | None) -> Iterator[dict[str, Any]]:
        """Every export made at or after ``since`` (all with None), newest first."""
        after = None
        while True:
            data = self.graphql(NEW_EXPORTS, {"since": since, "after": after})
            page = data["gatewayExports"]
            yield from (edge["node"] for edge in page["edges"])
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]

    def open_export(self, node: Mapping[str, Any]) -> dict[str, Any]:
        """Decrypts, verifies the signature and the hash, validates; raises otherwise."""
        outer = jwe.JWE()
        outer.deserialize(node["envelope"], key=self.private_key)  # only our key opens it
        inner = jws.JWS()
        inner.deserialize(outer.payload.decode())
        try:
            inner.verify(self.signers(), alg="EdDSA")
        except jws.InvalidJWSSignature:
            self._signers = None  # a key published since our copy: fetch once more
            inner.verify(self.signers(), alg="EdDSA")
        content: bytes = inner.payload
        if hashlib.sha256(content).hexdigest() != node["contentSha256"]:
            raise MillgateError(f"export {node['exportId']}: content hash does not match")
        payload: dict[str, Any] = json.loads(content)
        jsonschema.validate(payload, self.schema, format_checker=jsonschema.FormatChecker())
        if payload["exportId"] != node["exportId"]:
            raise MillgateError(f"export {node['exportId']}: payload names another export")
        return payload

    def new_exports(self, since: str | None) -> Iterator[dict[str, Any]]:
        """The opened payloads of every export made at or after ``since``."""
        for node in self.export_nodes(since):
            yield self.open_export(node)


def verify_notice(secret: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """A webhook notice's JSON once its Standard Webhooks signature and timestamp check out
    (raises ``standardwebhooks.webhooks.WebhookVerificationError`` otherwise). The same
    notice may come twice: the caller drops a ``webhook-id`` it has seen."""
    notice: dict[str, Any] = Webhook(secret).verify(body, dict(headers))
    return notice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--since", help="only exports made at or after this ISO 8601 instant")
    args = parser.parse_args()
    private_key = jwk.JWK.from_json(Path(os.environ["HOST_PRIVATE_JWK"]).read_text())
    with httpx.Client(base_url=os.environ["MILLGATE_URL"], timeout=30) as http:
        host = HostClient(http, os.environ["MILLGATE_API_KEY"], private_key)
        for payload in host.new_exports(args.since):
            print(
                payload["exportId"],
                payload["factory"]["gatewayId"],
                f"cycle {payload['cycle']}",
                f"{len(payload['answers'])} answers, {len(payload['findings'])} findings",
            )


if __name__ == "__main__":
    main()
