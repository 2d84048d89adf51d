"""examples/host_client.py proves docs/hosts.md against a live `millgate serve`.

Given a fresh data folder, `millgate serve` (a subprocess on a free loopback port) seeds the
demo and keeps the demo host's private key there; the host sets its own webhook to a
receiver on this machine (MILLGATE_WEBHOOK_ALLOW_LOOPBACK), `millgate exports run` writes
the exports and delivers the notices, and the example client, which imports nothing of
Millgate's, pulls, verifies, decrypts and validates every export and verifies the notices.
"""

from __future__ import annotations

import http.server
import os
import re
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from jwcrypto import jwk

from examples.host_client import HostClient, MillgateError, verify_notice

# Seconds a test: run first (tests/conftest.py), so that no process ends the run on it.
pytestmark = pytest.mark.long

ROOT = Path(__file__).resolve().parents[1]
SET_WEBHOOK = """
mutation($url: String) { setOwnWebhook(input: {url: $url}) { secret errors { code } } }"""
SEND_TEST = "mutation { sendTestWebhook { delivery { webhookId } errors { code } } }"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Receiver:
    """A host's webhook endpoint on this machine: keeps each POST, answers 204."""

    notices: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        notices = self.notices

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                notices.append((body, dict(self.headers.items())))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@dataclass
class Live:
    url: str
    env: dict[str, str]
    data_dir: Path
    output: str

    def millgate(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "cli.main", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"millgate {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("host-client")
    base = {k: v for k, v in os.environ.items() if not k.startswith("MILLGATE_")}
    env = {
        **base,
        "PYTHONUNBUFFERED": "1",
        "MILLGATE_DATA_DIR": str(folder / "data"),
        "MILLGATE_WEBHOOK_ALLOW_LOOPBACK": "true",
    }
    port = _free_port()
    out = folder / "serve.out"
    with out.open("w") as stdout:
        server = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
            cwd=ROOT, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    drain: threading.Thread | None = None
    try:
        assert server.stderr is not None
        seen: list[str] = []
        while "Application startup complete" not in (line := server.stderr.readline()):
            assert line, f"the server stopped: {''.join(seen)}"
            seen.append(line)
        drain = threading.Thread(target=server.stderr.read, daemon=True)
        drain.start()
        yield Live(f"http://127.0.0.1:{port}", env, folder / "data", out.read_text())
    finally:
        server.terminate()
        server.wait()
        if drain is not None:
            drain.join()
        if server.stderr is not None:
            server.stderr.close()


def _api_key(output: str) -> str:
    match = re.search(r"HOST_INTEGRATION\s+X-Api-Key: (\S+)", output)
    assert match, output
    return match.group(1)


def test_serve_keeps_the_demo_host_key_and_says_where(live: Live) -> None:
    path = live.data_dir / "demo-host-key.json"

    assert f"kept in {path}" in live.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert jwk.JWK.from_json(path.read_text()).has_private


def test_the_example_client_pulls_verifies_and_matches_notices(live: Live) -> None:
    receiver = Receiver()
    hook = http.server.HTTPServer(("127.0.0.1", 0), receiver.handler())
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    private_key = jwk.JWK.from_json((live.data_dir / "demo-host-key.json").read_text())
    try:
        with httpx.Client(base_url=live.url, timeout=30) as http_client:
            host = HostClient(http_client, _api_key(live.output), private_key)
            # given the host's own webhook on this machine, and its secret
            url = f"http://127.0.0.1:{hook.server_port}/millgate"
            secret = host.graphql(SET_WEBHOOK, {"url": url})["setOwnWebhook"]["secret"]
            test_id = host.graphql(SEND_TEST)["sendTestWebhook"]["delivery"]["webhookId"]

            # when the export job runs (it delivers the notices too) and the host pulls
            ran = live.millgate("exports", "run")
            payloads = list(host.new_exports(since=None))
            newest = max(n["createdAt"] for n in host.export_nodes(since=None))
            since = list(host.new_exports(since=newest))
    finally:
        hook.shutdown()
        hook.server_close()

    # then every export opened, verified and validated, and every notice names one of them
    assert payloads and "webhooks: " in ran
    export_ids = {p["exportId"] for p in payloads}
    notices = {
        headers["webhook-id"]: verify_notice(secret, body, headers)
        for body, headers in receiver.notices
    }
    assert notices.pop(test_id) == {"type": "webhook.test", "data": {}}
    assert notices and all(n["type"] == "export.created" for n in notices.values())
    assert {n["data"]["exportId"] for n in notices.values()} == export_ids
    assert since and {p["exportId"] for p in since} <= export_ids
    # answers as the doc shows them: {"answer": "yes"} or {"answer": "no", "note": ...}
    shapes = {tuple(sorted(a["answer"])) for p in payloads for a in p["answers"]}
    assert shapes <= {("answer",), ("answer", "note")}


def test_a_tampered_notice_is_refused(live: Live) -> None:
    from standardwebhooks.webhooks import WebhookVerificationError

    secret = "whsec_" + "QUJD" * 8
    with pytest.raises(WebhookVerificationError):
        verify_notice(secret, b"{}", {"webhook-id": "msg_x", "webhook-timestamp": "1",
                                      "webhook-signature": "v1,AAAA"})  # fmt: skip


def test_the_client_waits_out_a_429_for_its_retry_after() -> None:
    answers = [
        httpx.Response(429, headers={"retry-after": "7"}, json={"errors": []}),
        httpx.Response(429, headers={"retry-after": "2"}, json={"errors": []}),
        httpx.Response(200, json={"data": {"viewer": None}}),
    ]
    waited: list[float] = []
    transport = httpx.MockTransport(lambda request: answers.pop(0))
    with httpx.Client(base_url="http://millgate.test", transport=transport) as http_client:
        host = HostClient(http_client, "mg_x", jwk.JWK.generate(kty="OKP", crv="X25519"),
                          sleep=waited.append)  # fmt: skip

        assert host.graphql("{ viewer { role } }") == {"viewer": None}

    assert waited == [7.0, 2.0]


def test_the_client_gives_up_after_its_waits() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(429, headers={"retry-after": "1"}, json={})
    )
    with httpx.Client(base_url="http://millgate.test", transport=transport) as http_client:
        host = HostClient(http_client, "mg_x", jwk.JWK.generate(kty="OKP", crv="X25519"),
                          sleep=lambda s: None, max_waits=3)  # fmt: skip

        with pytest.raises(MillgateError):
            host.graphql("{ viewer { role } }")


def test_the_refusals_are_as_documented(live: Live) -> None:
    with httpx.Client(base_url=live.url, timeout=30) as http_client:
        wrong_key = http_client.post(
            "/graphql", json={"query": "{ viewer { role } }"}, headers={"X-Api-Key": "mg_x_y"}
        )
        too_many = http_client.post(
            "/graphql",
            json={"query": "{ gatewayExports(first: 101) { totalCount } }"},
            headers={"X-Api-Key": _api_key(live.output)},
        )

    assert wrong_key.status_code == 401 and "www-authenticate" in wrong_key.headers
    assert wrong_key.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["extensions"]["code"] == "BAD_ARGUMENT"
