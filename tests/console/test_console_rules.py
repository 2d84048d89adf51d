"""The console's rules that need no browser: its imports, its catalogues, production, expiry."""

from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import Any

import httpx
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from starlette.requests import Request
from starlette.responses import Response

from console.i18n import LOCALE_DIR, languages
from console.session import SESSION_COOKIE, Session, SessionCodec
from core.runtime import Runtime

CONSOLE = Path(__file__).parents[2] / "console"


def test_the_console_imports_neither_authz_nor_models() -> None:
    for source in CONSOLE.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert name.split(".")[0] not in {"authz", "models"}, f"{source}: {name}"


def test_every_language_translates_every_message() -> None:
    """A message added to a page without its translation fails here (see docs/console.md)."""
    wanted = {
        message
        for _, _, message, *_ in extract_from_dir(
            str(CONSOLE),
            [("**.py", "python"), ("**/templates/**.html", "jinja2")],
            keywords={"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)},
        )
    }
    assert len(wanted) > 100
    for code in languages():
        if code == "en":
            continue
        with (LOCALE_DIR / code / "LC_MESSAGES" / "messages.po").open("rb") as po:
            catalog = read_po(po)
        missing = sorted(str(m) for m in wanted if not _translated(catalog.get(m)))
        assert missing == [], f"{code} lacks {missing[:5]}"


def _translated(message: Any) -> bool:
    if message is None:
        return False
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings)


async def test_no_picker_in_production(runtime: Runtime) -> None:
    from api.app import create_app

    settings = runtime.settings.model_copy(update={"production": True})
    app = create_app(Runtime(settings, runtime.engine, runtime.sessionmaker, runtime.keys))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://c.example") as c:
            page = await c.get("/console/sign-in")
            assert page.status_code == 200 and "/sign-in/dev" not in page.text
            picked = await c.post("/console/sign-in/dev", data={"email": "x", "csrf": "x"})
            assert picked.status_code == 404


def _request(cookie: str) -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/console/grants",
        "headers": [(b"cookie", f"{SESSION_COOKIE}={cookie}".encode()), (b"host", b"127.0.0.1")],
        "query_string": b"",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
    }
    return Request(scope)


def test_a_session_ends_when_it_expires(runtime: Runtime) -> None:
    codec = SessionCodec(runtime)
    now = int(time.time())
    for expires_at, alive in ((now + 600, True), (now - 1, False)):
        response = Response()
        request = _request("")
        codec.start(request, response, Session("t", expires_at, "e", "FACTORY_MANAGER", "o", "f"))
        cookie = next(
            v.split(";")[0].split("=", 1)[1]
            for v in response.headers.getlist("set-cookie")
            if v.startswith(f"{SESSION_COOKIE}=")
        )
        assert (codec.read(_request(cookie)) is not None) is alive
    assert codec.read(_request("tampered")) is None
