"""The console's routes: sign-in, the five pages, and their forms.

Every handler reads through :class:`console.graphql.GraphQLClient` with the session's token;
every POST checks the form's CSRF token first. Managers act; a worker representative gets the
same pages without forms (and the API would refuse them anyway).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from console import queries
from console.dev_sign_in import DevSignIn
from console.graphql import GraphQLClient, SignedOut
from console.oidc import PENDING_COOKIE, PENDING_SECONDS, OidcSignIn, SignInFailed
from console.pages import SECURITY_HEADERS, render
from console.session import Session, SessionCodec
from core.runtime import Runtime

SCOPES = ("ASSESSMENT", "SELF_ASSESSMENT")
GRANTEE_KINDS = ("BRAND", "HOST")
# The API's `field` of a typed error -> the form field it is shown next to.
FIELD_OF = {"expiresAt": "expires", "scopes": "scopes", "granteeId": "grantee"}

Handler = Callable[[Request, Session], Awaitable[Response]]


class Console:
    def __init__(self, app: ASGIApp, runtime: Runtime, prefix: str) -> None:
        self.gql = GraphQLClient(app)
        self.codec = SessionCodec(runtime)
        self.prefix = prefix
        self.runtime = runtime
        self.dev = None if runtime.settings.production else DevSignIn(runtime)
        self.oidc = OidcSignIn.from_settings(runtime.settings, self.codec.fernet)

    # --- plumbing ---------------------------------------------------------------------

    def page(
        self,
        request: Request,
        template: str,
        session: Session | None,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        context.update(
            session=session,
            csrf=self.codec.form_token(request),
            prefix=self.prefix,
            scopes=SCOPES,
        )
        response = render(request, template, context, status_code)
        self.codec.finish(request, response)
        return response

    def redirect(self, path: str) -> Response:
        return RedirectResponse(self.prefix + path, status_code=303, headers=SECURITY_HEADERS)

    def signed_in(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = self.codec.read(request)
            if session is None:
                return self.redirect("/sign-in")
            if request.method == "POST":
                form = await request.form()
                token = form.get("csrf")
                if not self.codec.form_is_ours(request, token if isinstance(token, str) else None):
                    return self.page(request, "refused.html", session, status_code=403)
            try:
                return await handler(request, session)
            except SignedOut:
                response = self.redirect("/sign-in")
                self.codec.end(response)
                return response

        return endpoint

    async def factory(self, session: Session, query: str, **variables: Any) -> dict[str, Any]:
        data = await self.gql.run(session.token, query, {"id": session.factory_id, **variables})
        factory: dict[str, Any] = data["factory"]
        return factory

    # --- sign-in ----------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        if self.codec.read(request) is None:
            return self.redirect("/sign-in")
        return self.redirect("/grants")

    async def sign_in_page(self, request: Request) -> Response:
        return self.page(
            request,
            "sign_in.html",
            None,
            dev_users=self.dev.users() if self.dev else None,
            oidc=self.oidc is not None,
        )

    async def oidc_sign_in(self, request: Request) -> Response:
        if self.oidc is None:
            return Response(status_code=404)
        redirect_uri = f"{request.base_url}{self.prefix.lstrip('/')}/callback"
        url, pending = await self.oidc.start(redirect_uri)
        response = RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(
            PENDING_COOKIE,
            pending,
            max_age=PENDING_SECONDS,
            path=f"{self.prefix}/callback",
            secure=self.codec.secure(request),
            httponly=True,
            samesite="lax",
        )
        return response

    async def oidc_callback(self, request: Request) -> Response:
        if self.oidc is None:
            return Response(status_code=404)
        try:
            pending = self.oidc.pending(request.cookies.get(PENDING_COOKIE))
            tokens = await self.oidc.finish(pending, dict(request.query_params))
        except SignInFailed:
            return self.page(
                request,
                "sign_in.html",
                None,
                status_code=400,
                oidc=True,
                dev_users=self.dev.users() if self.dev else None,
                failed=True,
            )
        response = await self.start(request, tokens.access_token, tokens.expires_at)
        response.delete_cookie(PENDING_COOKIE, path=f"{self.prefix}/callback")
        return response

    async def dev_sign_in(self, request: Request) -> Response:
        if self.dev is None:
            return Response(status_code=404)
        form = await request.form()
        token = form.get("csrf")
        if not self.codec.form_is_ours(request, token if isinstance(token, str) else None):
            return self.page(request, "refused.html", None, status_code=403)
        email = str(form.get("email", ""))
        access = await self.dev.token_for(email)
        if access is None:
            return self.page(
                request,
                "sign_in.html",
                None,
                status_code=400,
                dev_users=self.dev.users(),
                refused=True,
            )
        return await self.start(request, access, int(time.time()) + self.dev.ttl)

    async def start(self, request: Request, token: str, expires_at: int) -> Response:
        """A session for ``token``, if its holder belongs to a factory's organisation."""
        try:
            viewer = (await self.gql.run(token, queries.VIEWER))["viewer"]
        except SignedOut:
            viewer = {}
        organization = viewer.get("organization") or {}
        if organization.get("kind") != "FACTORY" or not viewer.get("factoryId"):
            return self.page(
                request,
                "sign_in.html",
                None,
                status_code=403,
                dev_users=self.dev.users() if self.dev else None,
                not_factory=True,
            )
        session = Session(
            token=token,
            expires_at=expires_at,
            email=viewer["user"]["email"],
            role=viewer["role"],
            organization=organization["name"],
            factory_id=viewer["factoryId"],
        )
        response = self.redirect("/grants")
        self.codec.start(request, response, session)
        return response

    async def sign_out(self, request: Request, session: Session) -> Response:
        response = self.redirect("/sign-in")
        self.codec.end(response)
        return response

    # --- who can see our data ---------------------------------------------------------

    async def grants(self, request: Request, session: Session) -> Response:
        return await self.grants_page(request, session)

    async def grants_page(
        self,
        request: Request,
        session: Session,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        factory = await self.factory(session, queries.GRANTS)
        search = request.query_params.get("search", "").strip()
        kind = request.query_params.get("kind") or None
        found = None
        if search and session.manages:
            directory = await self.gql.run(
                session.token,
                queries.DIRECTORY,
                {"search": search[:100], "kind": kind if kind in GRANTEE_KINDS else None},
            )
            found = [e["node"] for e in directory["directory"]["edges"]]
        grants = sorted(factory["consentGrants"], key=lambda g: (not g["active"], g["grantedAt"]))
        # What was just done, named from the factory's own grants: a link cannot make the
        # page say that someone was given or denied access.
        done_id = request.query_params.get("grant")
        done = next((g for g in grants if g["id"] == done_id), None)
        return self.page(
            request,
            "grants.html",
            session,
            status_code,
            factory=factory,
            grants=grants,
            search=search,
            kind=kind,
            found=found,
            kinds=GRANTEE_KINDS,
            done=done,
            **context,
        )

    async def grant(self, request: Request, session: Session) -> Response:
        form = await request.form()
        scopes = [s for s in form.getlist("scopes") if s in SCOPES]
        fields = {
            "input": {
                "factoryId": session.factory_id,
                "granteeId": str(form.get("grantee", "")),
                "scopes": scopes,
                "expiresAt": _end_of_day(str(form.get("expires", ""))),
            }
        }
        result = (await self.gql.run(session.token, queries.GRANT, fields))["grantConsent"]
        if result["errors"]:
            return await self.grants_page(
                request,
                session,
                400,
                errors=_by_field(result["errors"]),
                chosen=str(form.get("grantee", "")),
            )
        return self.redirect(f"/grants?done=granted&grant={result['grant']['id']}")

    async def one_grant(self, session: Session, grant_id: str) -> dict[str, Any] | None:
        factory = await self.factory(session, queries.GRANTS)
        return next(
            (g for g in factory["consentGrants"] if g["id"] == grant_id and g["active"]), None
        )

    async def edit(self, request: Request, session: Session) -> Response:
        grant = await self.one_grant(session, request.path_params["grant"])
        if grant is None:
            return self.page(request, "missing.html", session, status_code=404)
        errors: dict[str, list[dict[str, Any]]] = {}
        status = 200
        if request.method == "POST":
            form = await request.form()
            scopes = [s for s in form.getlist("scopes") if s in SCOPES]
            change: dict[str, Any] = {"grantId": grant["id"], "scopes": scopes}
            change["expiresAt"] = _end_of_day(str(form.get("expires", "")))
            result = (await self.gql.run(session.token, queries.UPDATE, {"input": change}))[
                "updateConsent"
            ]
            if not result["errors"]:
                return self.redirect(f"/grants?done=changed&grant={result['grant']['id']}")
            errors, status = _by_field(result["errors"]), 400
            grant = {**grant, "scopes": scopes, "expiresAt": change["expiresAt"]}
        return self.page(request, "edit.html", session, status, grant=grant, errors=errors)

    async def revoke(self, request: Request, session: Session) -> Response:
        grant = await self.one_grant(session, request.path_params["grant"])
        if grant is None:
            return self.page(request, "missing.html", session, status_code=404)
        errors: dict[str, list[dict[str, Any]]] = {}
        if request.method == "POST":
            result = (
                await self.gql.run(
                    session.token, queries.REVOKE, {"input": {"grantId": grant["id"]}}
                )
            )["revokeConsent"]
            if not result["errors"]:
                return self.redirect(f"/grants?done=revoked&grant={grant['id']}")
            errors = _by_field(result["errors"])
        return self.page(
            request, "revoke.html", session, 400 if errors else 200, grant=grant, errors=errors
        )

    # --- the other pages --------------------------------------------------------------

    async def access(self, request: Request, session: Session) -> Response:
        factory = await self.factory(session, queries.ACCESS_LOG)
        events = [e["node"] for e in factory["accessLog"]["edges"]]
        readers = sorted(
            {(e["organization"]["id"], e["organization"]["name"]) for e in events},
            key=lambda r: r[1],
        )
        chosen = request.query_params.get("organization", "")
        since = _date(request.query_params.get("from", ""))
        until = _date(request.query_params.get("to", ""))
        shown = [
            e
            for e in events
            if (not chosen or e["organization"]["id"] == chosen)
            and (since is None or e["at"][:10] >= since.isoformat())
            and (until is None or e["at"][:10] <= until.isoformat())
        ]
        return self.page(
            request,
            "access.html",
            session,
            factory=factory,
            events=shown,
            readers=readers,
            chosen=chosen,
            since=since,
            until=until,
            more=factory["accessLog"]["pageInfo"]["hasNextPage"],
        )

    async def assessments(self, request: Request, session: Session) -> Response:
        factory = await self.factory(session, queries.ASSESSMENTS)
        return self.page(
            request,
            "assessments.html",
            session,
            factory=factory,
            assessments=[e["node"] for e in factory["assessments"]["edges"]],
        )

    async def gateway(self, request: Request, session: Session) -> Response:
        known = await self.factory(session, queries.ASSESSMENTS)
        cycles = sorted(
            {a["node"]["cycle"] for a in known["assessments"]["edges"]}
            | {s["cycle"] for s in known["selfAssessments"]},
            reverse=True,
        )
        factory = await self.factory(session, queries.eligibility(cycles)) if cycles else known
        rows = [(c, factory[f"c{c}"]) for c in cycles if factory.get(f"c{c}") is not None]
        return self.page(request, "gateway.html", session, factory=factory, rows=rows)

    async def audit(self, request: Request, session: Session) -> Response:
        factory = await self.factory(session, queries.AUDIT)
        return self.page(
            request,
            "audit.html",
            session,
            factory=factory,
            entries=[e["node"] for e in factory["auditLog"]["edges"]],
        )


def _end_of_day(value: str) -> str | None:
    """A date from the form as the end of that day in UTC; empty: no expiry.

    A malformed date is passed on as it is: the API's typed error names the field."""
    day = _date(value)
    if day is None:
        return value.strip() or None
    return f"{day.isoformat()}T23:59:59Z"


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


def _by_field(errors: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Typed errors by the form field they name ("form" when they name none we show)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for error in errors:
        out.setdefault(FIELD_OF.get(error.get("field") or "", "form"), []).append(error)
    return out


def console_routes(app: ASGIApp, runtime: Runtime, prefix: str) -> Router:
    c = Console(app, runtime, prefix)
    return Router(
        routes=[
            Route("/", c.home),
            Route("/sign-in", c.sign_in_page),
            Route("/sign-in/dev", c.dev_sign_in, methods=["POST"]),
            Route("/sign-in/oidc", c.oidc_sign_in),
            Route("/callback", c.oidc_callback),
            Route("/sign-out", c.signed_in(c.sign_out), methods=["POST"]),
            Route("/grants", c.signed_in(c.grants)),
            Route("/grants/new", c.signed_in(c.grant), methods=["POST"]),
            Route("/grants/{grant}/edit", c.signed_in(c.edit), methods=["GET", "POST"]),
            Route("/grants/{grant}/revoke", c.signed_in(c.revoke), methods=["GET", "POST"]),
            Route("/access", c.signed_in(c.access)),
            Route("/assessments", c.signed_in(c.assessments)),
            Route("/gateway", c.signed_in(c.gateway)),
            Route("/audit", c.signed_in(c.audit)),
            Mount("/static", StaticFiles(directory=Path(__file__).parent / "static")),
        ]
    )
