"""The console over HTTP without a browser: sign-in, sessions, CSRF, headers, languages."""

from __future__ import annotations

from typing import Any

import httpx

from tests.console.conftest import MANAGER, WORKER_REP, csrf_of, sign_in


async def test_pages_need_a_session(browser_client: httpx.AsyncClient) -> None:
    for page in ("/console/grants", "/console/access", "/console/audit"):
        response = await browser_client.get(page)
        assert response.status_code == 303
        assert response.headers["location"] == "/console/sign-in"


async def test_a_manager_signs_in_and_sees_the_grants(browser_client: httpx.AsyncClient) -> None:
    response = await sign_in(browser_client, MANAGER)
    assert response.status_code == 303
    cookie = response.headers.get_list("set-cookie")
    session = next(c for c in cookie if c.startswith("millgate_console="))
    assert "HttpOnly" in session and "SameSite=lax" in session and "Max-Age=" in session
    assert "Secure" not in session  # loopback development only
    page = await browser_client.get("/console/grants")
    assert page.status_code == 200
    assert "Northwind Apparel" in page.text  # the demo's grant
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script" not in page.text


async def test_session_cookie_is_secure_off_loopback(api: Any, world: Any) -> None:
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://console.example") as c:
        response = await sign_in(c, MANAGER)
    session = next(
        v for v in response.headers.get_list("set-cookie") if v.startswith("millgate_console=")
    )
    assert "Secure" in session


async def test_a_form_without_its_token_is_refused(browser_client: httpx.AsyncClient) -> None:
    await sign_in(browser_client, MANAGER)
    page = await browser_client.get("/console/grants")
    forged = await browser_client.post("/console/sign-out", data={"csrf": "forged"})
    assert forged.status_code == 403
    assert (await browser_client.get("/console/grants")).status_code == 200  # still signed in
    real = await browser_client.post("/console/sign-out", data={"csrf": csrf_of(page.text)})
    assert real.status_code == 303
    assert (await browser_client.get("/console/grants")).status_code == 303  # signed out


async def test_a_worker_representative_reads_without_forms(
    browser_client: httpx.AsyncClient,
) -> None:
    await sign_in(browser_client, WORKER_REP)
    page = await browser_client.get("/console/grants")
    assert page.status_code == 200
    assert "Northwind Apparel" in page.text
    assert "/grants/new" not in page.text and "/revoke" not in page.text


async def test_someone_not_of_a_factory_gets_no_session(
    browser_client: httpx.AsyncClient,
) -> None:
    response = await sign_in(browser_client, "viewer@northwind-apparel.demo")
    assert response.status_code == 400  # not offered by the picker: no token is made
    assert not any(
        c.startswith("millgate_console=") for c in response.headers.get_list("set-cookie")
    )


async def test_language_from_accept_language_and_switch(
    browser_client: httpx.AsyncClient,
) -> None:
    await sign_in(browser_client, MANAGER)
    indonesian = await browser_client.get(
        "/console/grants", headers={"accept-language": "id-ID,id;q=0.9,en;q=0.5"}
    )
    assert '<html lang="id">' in indonesian.text
    assert "Siapa yang dapat melihat data kami" in indonesian.text
    english = await browser_client.get("/console/grants?lang=en", headers={"accept-language": "id"})
    assert '<html lang="en">' in english.text
    # The switch is remembered over the browser's language.
    again = await browser_client.get("/console/grants", headers={"accept-language": "id"})
    assert '<html lang="en">' in again.text


async def test_a_link_cannot_make_the_page_announce_a_grant(
    browser_client: httpx.AsyncClient,
) -> None:
    await sign_in(browser_client, MANAGER)
    page = await browser_client.get("/console/grants?done=granted&name=Evil&grant=nope")
    assert "can now see" not in page.text and "Evil" not in page.text
