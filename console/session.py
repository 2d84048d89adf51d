"""The signed-in session (an encrypted cookie) and the CSRF token of every form.

The session cookie holds the user's access token, so it is encrypted and authenticated
(Fernet), HttpOnly, SameSite=Lax, and Secure everywhere but loopback development. Its key is
derived from the platform's current token-signing key: every process of one deployment
shares it without a new secret, and a key rotation signs everyone out.

Forms carry a signed double-submit token: a random value in its own cookie, signed with
itsdangerous into the form; a POST whose token does not verify against the cookie is refused.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import asdict, dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from core.runtime import Runtime

SESSION_COOKIE = "millgate_console"
CSRF_COOKIE = "millgate_console_csrf"
MAX_SESSION_SECONDS = 8 * 3600
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    expires_at: int
    email: str
    role: str
    organization: str
    factory_id: str

    @property
    def manages(self) -> bool:
        """Managers act; worker representatives read (the API enforces it too)."""
        return self.role == "FACTORY_MANAGER"


def _derived_key(runtime: Runtime, purpose: bytes) -> bytes:
    private = runtime.keys.signing.current.as_dict(private=True)["d"]
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose)
    return hkdf.derive(str(private).encode())


class SessionCodec:
    def __init__(self, runtime: Runtime) -> None:
        self._fernet = Fernet(
            base64.urlsafe_b64encode(_derived_key(runtime, b"millgate console session"))
        )
        self._csrf = URLSafeTimedSerializer(
            _derived_key(runtime, b"millgate console csrf"), salt="console-form"
        )
        self._production = runtime.settings.production

    @property
    def fernet(self) -> Fernet:
        return self._fernet

    def secure(self, request: Request) -> bool:
        return self._production or request.url.hostname not in LOOPBACK

    # --- session ----------------------------------------------------------------------

    def read(self, request: Request) -> Session | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            data = json.loads(self._fernet.decrypt(raw.encode(), ttl=MAX_SESSION_SECONDS))
            session = Session(**data)
        except (InvalidToken, ValueError, TypeError):
            return None
        return session if session.expires_at > time.time() else None

    def start(self, request: Request, response: Response, session: Session) -> None:
        value = self._fernet.encrypt(json.dumps(asdict(session)).encode()).decode()
        response.set_cookie(
            SESSION_COOKIE,
            value,
            max_age=max(0, session.expires_at - int(time.time())),
            path="/console",
            secure=self.secure(request),
            httponly=True,
            samesite="lax",
        )
        self.new_csrf(request, response)  # a new session, a new form token

    def end(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/console")

    # --- forms ------------------------------------------------------------------------

    def new_csrf(self, request: Request, response: Response) -> str:
        value = secrets.token_urlsafe(24)
        request.state.csrf_value = value
        response.set_cookie(
            CSRF_COOKIE,
            value,
            path="/console",
            secure=self.secure(request),
            httponly=True,
            samesite="strict",
        )
        return value

    def form_token(self, request: Request) -> str:
        """The token to put in this page's forms (a cookie value is made when missing)."""
        value = getattr(request.state, "csrf_value", None) or request.cookies.get(CSRF_COOKIE)
        if not value:
            value = secrets.token_urlsafe(24)
            request.state.csrf_value = value
            request.state.csrf_new = True
        request.state.csrf_value = value
        return str(self._csrf.dumps(value))

    def finish(self, request: Request, response: Response) -> None:
        """Sets the CSRF cookie that :meth:`form_token` made for this page, if any."""
        if getattr(request.state, "csrf_new", False):
            response.set_cookie(
                CSRF_COOKIE,
                request.state.csrf_value,
                path="/console",
                secure=self.secure(request),
                httponly=True,
                samesite="strict",
            )

    def form_is_ours(self, request: Request, token: str | None) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE)
        if not cookie or not token:
            return False
        try:
            signed = self._csrf.loads(token, max_age=MAX_SESSION_SECONDS)
        except BadSignature:
            return False
        return secrets.compare_digest(str(signed), cookie)
