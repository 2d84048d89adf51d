"""Rendering: one Jinja2 environment per language, and the headers every page carries."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from console.i18n import (
    LANG_COOKIE,
    Formats,
    chosen_language,
    language_name,
    languages,
    translations,
)
from console.reasons import reason

TEMPLATES = Path(__file__).parent / "templates"

# Nothing from another host, no inline script or style: the page is the server's alone.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


@cache
def environment(code: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(code), newstyle=True)  # type: ignore[attr-defined]
    formats = Formats(code)
    env.filters["date"] = formats.date
    env.filters["datetime"] = formats.datetime
    env.filters["number"] = formats.number
    env.globals["reason"] = reason
    env.globals["lang"] = code
    env.globals["languages"] = [(c, language_name(c)) for c in languages()]
    return env


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    code = chosen_language(request)
    page = environment(code).get_template(template)
    html = page.render(request=request, path=request.url.path, **context)
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    if request.query_params.get("lang") == code:  # the switch was used: remember it
        response.set_cookie(
            LANG_COOKIE, code, max_age=365 * 86400, path="/console", samesite="lax", httponly=True
        )
    return response
