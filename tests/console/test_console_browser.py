"""One scenario per page of the console, in Debian's headless Chromium (see browser.py).

Each page is also checked with axe-core (no serious or critical violation) and, with
MILLGATE_SCREENSHOTS=1, photographed for docs/console.md.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.conftest import Login
from tests.console.browser import axe_source, screenshot, serious_violations
from tests.console.conftest import MANAGER

FACTORY_OF = "query { viewer { factoryId } }"
SEES_FACTORY = "query Sees($id: ID!) { factory(id: $id) { name } }"
FIND_LUMEN = 'query { directory(search: "Lumen", kind: BRAND) { edges { node { id } } } }'
GRANT = """mutation Grant($f: ID!, $g: ID!) {
  grantConsent(input: {factoryId: $f, granteeId: $g, scopes: [ASSESSMENT]}) { errors { code } }
}"""
BRAND_READS = """query BrandReads($id: ID!) {
  factory(id: $id) { name assessments(first: 1) { edges { node { cycle } } } }
}"""


@pytest.fixture(scope="module")
def axe() -> str:
    return axe_source()


@pytest.fixture
async def signed_in(browser: Any, console_url: str) -> AsyncIterator[Any]:
    """Opens a fresh browser context signed in as ``email`` through the development picker;
    the CSP violations the browser reports are collected, and must be none."""
    tabs: list[Any] = []

    async def open_as(email: str) -> Any:
        context = await browser.new_context(
            base_url=console_url, viewport={"width": 1200, "height": 800}, locale="en-GB"
        )
        tab = await context.new_page()
        tab.csp_violations = []
        tab.on(
            "console",
            lambda m: (
                tab.csp_violations.append(m.text) if "Content Security Policy" in m.text else None
            ),
        )
        tabs.append(tab)
        await tab.goto("/console/sign-in")
        await tab.get_by_label("Demo user", exact=True).select_option(email)
        await tab.get_by_role("button", name="Sign in").click()
        await tab.wait_for_url("**/console/grants")
        return tab

    yield open_as
    for tab in tabs:
        assert tab.csp_violations == []
        await tab.context.close()


@pytest.fixture
async def page(signed_in: Any) -> Any:
    """The manager of PT Sinar Garmen Jaya, signed in."""
    return await signed_in(MANAGER)


async def accessible(page: Any, axe: str) -> None:
    assert await serious_violations(page, axe) == []


async def test_grant_narrow_revoke_and_the_brand_loses_access(
    page: Any, axe: str, api: Any, login: Login
) -> None:
    manager = await login(MANAGER)
    factory_id = (await api.gql(FACTORY_OF, **manager.auth))["viewer"]["factoryId"]
    brand = await login("viewer@lumen-basics.demo")
    assert (await api.gql(SEES_FACTORY, {"id": factory_id}, **brand.auth))["factory"] is None

    # Grant: the brand found by name in the directory.
    await page.get_by_label("Name", exact=True).fill("Lumen")
    await page.get_by_label("Kind", exact=True).select_option("BRAND")
    await page.get_by_role("button", name="Find").click()
    await page.get_by_label("Lumen Basics (brand)").check()
    await page.get_by_label("Self-assessments", exact=True).check()
    await page.get_by_role("button", name="Give access").click()
    await page.get_by_role("status").filter(has_text="Lumen Basics can now see").wait_for()
    row = page.get_by_role("row").filter(has_text="Lumen Basics").filter(has_text="Active")
    assert "Assessments, Self-assessments" in await row.inner_text()
    assert (await api.gql(SEES_FACTORY, {"id": factory_id}, **brand.auth))["factory"]
    await accessible(page, axe)
    await screenshot(page, "grants")

    # Narrow: no scope at all is refused, the error shown next to the scopes.
    await row.get_by_role("link", name="Change").click()
    await page.get_by_label("Assessments", exact=True).uncheck()
    await page.get_by_label("Self-assessments", exact=True).uncheck()
    await page.get_by_role("button", name="Save").click()
    error = page.locator("fieldset #scopes-error")
    await error.wait_for()
    assert "Not saved" in await error.inner_text()
    await accessible(page, axe)
    await screenshot(page, "change-error")
    await page.get_by_label("Assessments", exact=True).check()
    await page.get_by_role("button", name="Save").click()
    await page.get_by_role("status").filter(has_text="was changed").wait_for()
    row = page.get_by_role("row").filter(has_text="Lumen Basics").filter(has_text="Active")
    assert "Self-assessments" not in await row.inner_text()

    # Revoke, after a confirmation that says what the brand will lose.
    await row.get_by_role("link", name="Revoke").click()
    body = await page.locator("main").inner_text()
    assert "Lumen Basics will no longer see" in body
    assert "your assessments and their findings" in body
    await accessible(page, axe)
    await screenshot(page, "revoke")
    await page.get_by_role("button", name="Revoke access").click()
    await page.get_by_role("status").filter(has_text="can no longer see").wait_for()
    assert (await api.gql(SEES_FACTORY, {"id": factory_id}, **brand.auth))["factory"] is None


async def test_a_brands_read_appears_in_the_access_log(
    page: Any, axe: str, api: Any, login: Login
) -> None:
    manager = await login(MANAGER)
    factory_id = (await api.gql(FACTORY_OF, **manager.auth))["viewer"]["factoryId"]
    brand = await login("viewer@northwind-apparel.demo")
    assert (await api.gql(BRAND_READS, {"id": factory_id}, **brand.auth))["factory"]

    await page.get_by_role("link", name="Who has read our data").click()
    await page.get_by_label("Organisation").select_option(label="Northwind Apparel")
    await page.get_by_role("button", name="Show").click()
    rows = page.locator("tbody tr")
    assert await rows.count() >= 1
    assert "Northwind Apparel" in await rows.first.inner_text()
    assert "factory.assessments" in await rows.first.inner_text()  # what it read
    await accessible(page, axe)
    await screenshot(page, "access")


async def test_an_ineligible_cycle_says_why_in_plain_words(signed_in: Any, axe: str) -> None:
    # PT Cahaya Tekstil Nusantara sent its first self-assessment after the assessment.
    page = await signed_in("manager@cahaya-tekstil.demo")
    await page.get_by_role("link", name="Sharing with the SLCP Gateway").click()
    await page.get_by_role("heading", name="Sharing with the SLCP Gateway").wait_for()
    shown = await page.locator("main").inner_text()
    assert "not shared" in shown
    assert "What to do:" in shown
    assert "submitted on or after the assessment date" in shown
    assert not re.search(r"\b[A-Z]+_[A-Z_]+\b", shown), "a reason shown as its code"
    await accessible(page, axe)
    await screenshot(page, "gateway")
    # The same page in Bahasa Indonesia, dates and numbers in its conventions.
    await page.get_by_role("link", name="Indonesia").click()
    await page.get_by_role("heading", name="Berbagi dengan SLCP Gateway").wait_for()
    assert "Yang perlu dilakukan:" in await page.locator("main").inner_text()
    await accessible(page, axe)
    await screenshot(page, "gateway-id")


async def test_assessments_and_their_release_dates(page: Any, axe: str) -> None:
    await page.get_by_role("link", name="Our assessments").click()
    table = page.get_by_role("table", name="Assessments", exact=True)
    assert "Released" in await table.inner_text()
    await accessible(page, axe)
    await screenshot(page, "assessments")


async def test_the_audit_trail_shows_a_grant(page: Any, axe: str, api: Any, login: Login) -> None:
    manager = await login(MANAGER)
    factory_id = (await api.gql(FACTORY_OF, **manager.auth))["viewer"]["factoryId"]
    lumen = await api.gql(FIND_LUMEN, **manager.auth)
    granted = await api.gql(
        GRANT,
        {"f": factory_id, "g": lumen["directory"]["edges"][0]["node"]["id"]},
        **manager.auth,
    )
    assert granted["grantConsent"]["errors"] == []

    await page.get_by_role("link", name="Our audit trail").click()
    await page.get_by_role("heading", name="Our audit trail").wait_for()
    row = page.locator("tbody tr").filter(has_text="consent.grant")
    assert "PT Sinar Garmen Jaya" in await row.inner_text()
    await accessible(page, axe)
    await screenshot(page, "audit")


async def test_keyboard_alone_reaches_the_pages(page: Any) -> None:
    await page.keyboard.press("Tab")  # the skip link comes first
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    for _ in range(12):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.textContent") == "Our audit trail":
            break
    await page.keyboard.press("Enter")
    await page.get_by_role("heading", name="Our audit trail").wait_for()
