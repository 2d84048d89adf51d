"""A browser's part in an authorization-code + PKCE sign-in, driven with httpx.

It follows the provider's redirects, fills in its development login and consent forms, stops
at the client's redirect URI with the code, and redeems the code for tokens as a frontend
would (public client: the PKCE verifier instead of a secret).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

REDIRECT_URI = "https://frontend.example/callback"
FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
PROMPT = re.compile(r'name="prompt" value="(\w+)"')


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def sign_in(issuer: str, client_id: str, login: str, resource: str) -> dict[str, str]:
    """The token response for ``login`` signing in to ``client_id`` for ``resource``."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    async with httpx.AsyncClient(base_url=issuer) as browser:
        discovery = (await browser.get("/.well-known/openid-configuration")).json()
        response = await browser.get(
            discovery["authorization_endpoint"],
            params={
                "client_id": client_id,
                "response_type": "code",
                "redirect_uri": REDIRECT_URI,
                "scope": "openid email api",
                "resource": resource,
                "state": state,
                "nonce": secrets.token_urlsafe(16),
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        for _ in range(12):  # bounded: login, consent and their redirects take about eight
            if response.is_redirect:
                location = urljoin(str(response.url), response.headers["location"])
                if location.startswith(REDIRECT_URI):
                    break
                response = await browser.get(location)
                continue
            assert response.status_code == 200, response.text
            action = FORM_ACTION.search(response.text)
            prompt = PROMPT.search(response.text)
            assert action and prompt, response.text
            form = {"prompt": prompt.group(1)}
            if prompt.group(1) == "login":
                form |= {"login": login, "password": "any"}
            response = await browser.post(urljoin(str(response.url), action.group(1)), data=form)
        else:
            raise AssertionError("the sign-in did not come back to the client")
        query = parse_qs(urlsplit(location).query)
        assert query.get("state") == [state], query
        assert "code" in query, query
        tokens = await browser.post(
            discovery["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
                "client_id": client_id,
                "resource": resource,
            },
        )
        assert tokens.status_code == 200, tokens.text
        return dict(tokens.json())
