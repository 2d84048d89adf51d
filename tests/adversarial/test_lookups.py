"""Given the ID of a row the caller may not see, every lookup answers exactly as it does for
an ID that names nothing: same status, same shape, same words. And forged or malformed
global IDs are nothing but "not found"."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from demo import KEYED_HOST, DemoWorld
from exports.job import run_once
from tests.adversarial.support import DHAKA, GAZIPUR, HANOI, MITRA, SINAR, dump, gid, scalar
from tests.world import People, Rows

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

NOWHERE = 987_654_321  # a primary key that names no row

NODE = "query($id: ID!) { node(id: $id) { id __typename } }"
FACTORY = "query($id: ID!) { factory(id: $id) { id name slcp { gatewayId } } }"

Pick = Callable[[DemoWorld, Rows], tuple[str, int]]


def labelled(label: str, pick: Pick) -> Pick:
    pick.label = label  # type: ignore[attr-defined]
    return pick


def factory(name: str) -> Pick:
    return labelled(f"factory-{name}", lambda w, r: ("Factory", w.factory_ids[name]))


def assessment(name: str, cycle: int) -> Pick:
    return labelled(
        f"assessment-{name}-{cycle}", lambda w, r: ("Assessment", r.assessments[(name, cycle)])
    )


def finding(name: str, cycle: int) -> Pick:
    return labelled(
        f"finding-{name}-{cycle}",
        lambda w, r: ("Finding", r.finding_of[r.assessments[(name, cycle)]]),
    )


def grant(factory_slug: str, grantee: str) -> Pick:
    return labelled(
        f"grant-{factory_slug}-to-{grantee}",
        lambda w, r: ("ConsentGrant", r.grants[(factory_slug, grantee)]),
    )


def self_assessment(name: str) -> Pick:
    return labelled(
        f"self-assessment-{name}", lambda w, r: ("SelfAssessment", r.self_assessments[name])
    )


def organization(slug: str) -> Pick:
    return labelled(f"organization-{slug}", lambda w, r: ("Organization", w.organization_ids[slug]))


def user(email: str) -> Pick:
    return labelled(f"user-{email}", lambda w, r: ("User", r.users[email]))


def api_key() -> Pick:
    return labelled("api-key", lambda w, r: ("ApiKey", r.api_key))


HIDDEN = [
    # A brand: factories that never granted it, or whose grant expired; rows of a granted
    # factory beyond its scopes; other organisations' grants, users and keys.
    ("brand", factory(MITRA)),
    ("brand", factory(HANOI)),
    ("brand", assessment(MITRA, 1)),
    ("brand", finding(MITRA, 1)),
    ("brand", assessment(GAZIPUR, 2)),
    ("brand", grant("sinar-garmen", KEYED_HOST)),
    ("brand", grant("sinar-garmen", "lumen-basics")),
    ("brand", self_assessment(DHAKA)),
    ("brand", self_assessment("PT Cahaya Tekstil Nusantara")),
    ("brand", organization("lumen-basics")),
    ("brand", user("manager@sinar-garmen.demo")),
    ("brand", api_key()),
    # A granted brand still never sees a draft, nor its findings.
    ("lumen", assessment(GAZIPUR, 2)),
    ("lumen", finding(GAZIPUR, 2)),
    # A factory: other factories and their rows.
    ("manager", factory(MITRA)),
    ("manager", assessment(MITRA, 2)),
    ("manager", grant("mitra-busana", "harbour-outfitters")),
    ("manager", self_assessment(DHAKA)),
    ("manager", user("manager@mitra-busana.demo")),
    ("manager", api_key()),
    # A host: factories that did not grant it; grants to others.
    ("host", factory(MITRA)),
    ("host", grant("sinar-garmen", "northwind-apparel")),
    ("host", assessment(SINAR, 1)),
    # A programme: other countries, and the access log is never its.
    ("assessor", factory(DHAKA)),
    ("assessor", assessment(GAZIPUR, 2)),
    ("assessor", self_assessment(DHAKA)),
    # A constituent and the public: no factory's data at all.
    ("constituent", factory(SINAR)),
    ("constituent", finding(SINAR, 1)),
    ("inspectorate", assessment(SINAR, 1)),
    ("anonymous", factory(SINAR)),
    ("anonymous", finding(SINAR, 1)),
    ("anonymous", grant("sinar-garmen", "northwind-apparel")),
    ("anonymous", user("admin@millgate.demo")),
]


async def _post(api: Any, query: str, variables: dict[str, Any], auth: dict[str, str]) -> Any:
    response = await api.post(query, variables, **auth)
    return response.status_code, response.json()


@pytest.mark.parametrize("caller", sorted({caller for caller, _ in HIDDEN}))
async def test_node_answers_a_hidden_row_as_it_answers_no_row(
    api: Any, session: AsyncSession, world: DemoWorld, people: People, rows: Rows, caller: str
) -> None:
    auth = people.by_name(caller)
    events = await scalar(session, "SELECT count(*) FROM access_event")

    for pick in (p for c, p in HIDDEN if c == caller):
        kind, pk = pick(world, rows)
        label = pick.label  # type: ignore[attr-defined]
        hidden = await _post(api, NODE, {"id": gid(kind, pk)}, auth)
        nothing = await _post(api, NODE, {"id": gid(kind, NOWHERE)}, auth)
        assert hidden == nothing == (200, {"data": {"node": None}}), label
        if kind == "Factory":
            by_field = await _post(api, FACTORY, {"id": gid(kind, pk)}, auth)
            assert by_field == await _post(api, FACTORY, {"id": gid(kind, NOWHERE)}, auth)
            assert by_field == (200, {"data": {"factory": None}}), label

    # Nothing was read, so nothing is logged as read.
    assert await scalar(session, "SELECT count(*) FROM access_event") == events


@pytest.mark.writes
async def test_a_hidden_gateway_export_is_no_export(
    api: Any, session: AsyncSession, world: DemoWorld, people: People
) -> None:
    report = await run_once(api.runtime.sessionmaker, api.runtime.keys)
    assert report.exports_written > 0
    export = await scalar(session, "SELECT min(id) FROM gateway_export")

    for caller in ("brand", "manager", "assessor", "admin", "anonymous"):
        auth = people.by_name(caller)
        hidden = await _post(api, NODE, {"id": gid("GatewayExport", export)}, auth)
        nothing = await _post(api, NODE, {"id": gid("GatewayExport", NOWHERE)}, auth)
        assert hidden == nothing == (200, {"data": {"node": None}}), caller
    mine = await _post(api, NODE, {"id": gid("GatewayExport", export)}, people.by_name("host"))
    assert mine[1]["data"]["node"] == {
        "id": gid("GatewayExport", export),
        "__typename": "GatewayExport",
    }


# --- mutations: the ID of a row one may not see, against an ID that names nothing -----------

TODAY = "2026-01-05"

REVOKE = """mutation($id: ID!) { revokeConsent(input: {grantId: $id}) {
  grant { id } errors { code message field } } }"""
RELEASE = """mutation($id: ID!) { releaseAssessment(input: {assessmentId: $id,
  releasedOn: "2026-10-20"}) { assessment { id } errors { code message field } } }"""
RECORD = """mutation($id: ID!) { recordAssessment(input: {factoryId: $id, cycle: 3,
  kind: ONSITE, assessedOn: "2026-01-05", findings: []}) {
  assessment { id } errors { code message field } } }"""
GRANT_FACTORY = """mutation($id: ID!, $brand: ID!) { grantConsent(input: {factoryId: $id,
  granteeId: $brand, scopes: [ASSESSMENT]}) { grant { id } errors { code message field } } }"""
GRANT_GRANTEE = """mutation($factory: ID!, $id: ID!) { grantConsent(input: {factoryId: $factory,
  granteeId: $id, scopes: [ASSESSMENT]}) { grant { id } errors { code message field } } }"""
REGISTER = """mutation($id: ID!) { registerSlcp(input: {factoryId: $id, gatewayId: "GW-EVIL-1",
  confirmAssessmentSharing: true}) { factory { id } errors { code message field } } }"""
SUBMIT = """mutation($id: ID!) { submitSelfAssessment(input: {factoryId: $id, cycle: 3, step: 1,
  toolVersion: "CAF 1.4", answers: {x: 1}}) {
  selfAssessment { id } errors { code message field } } }"""
CREATE_USER = """mutation($id: ID!) { createUser(input: {organizationId: $id,
  email: "mole@evil.test", role: BRAND_VIEWER}) { user { id } errors { code message field } } }"""
DISABLE_USER = """mutation($id: ID!) { disableUser(input: {userId: $id}) {
  user { id } errors { code message field } } }"""
ISSUE_KEY = """mutation($id: ID!) { issueApiKey(input: {organizationId: $id}) {
  apiKey { id } secret errors { code message field } } }"""
REVOKE_KEY = """mutation($id: ID!) { revokeApiKey(input: {apiKeyId: $id}) {
  apiKey { id } errors { code message field } } }"""
WEBHOOK = """mutation($id: ID!) { setHostWebhook(input: {organizationId: $id,
  url: "https://evil.example.com/hook"}) { organization { id } errors { code message field } } }"""

MUTATIONS = [
    pytest.param(
        "manager",
        REVOKE,
        grant("mitra-busana", "harbour-outfitters"),
        id="factory-revokes-another-factorys-grant",
    ),
    pytest.param(
        "brand", REVOKE, grant("sinar-garmen", KEYED_HOST), id="brand-revokes-a-grant-it-cannot-see"
    ),
    pytest.param(
        "host", REVOKE, grant("sinar-garmen", "northwind-apparel"), id="host-revokes-a-brands-grant"
    ),
    pytest.param(
        "assessor", RELEASE, assessment(GAZIPUR, 2), id="programme-releases-another-countrys-draft"
    ),
    pytest.param(
        "lumen", RELEASE, assessment(GAZIPUR, 2), id="brand-releases-a-draft-of-its-factory"
    ),
    pytest.param("assessor", RECORD, factory(DHAKA), id="programme-records-in-another-country"),
    pytest.param("manager", GRANT_FACTORY, factory(MITRA), id="factory-grants-for-another-factory"),
    pytest.param(
        "mitra_manager", GRANT_FACTORY, factory(SINAR), id="other-factory-grants-for-sinar"
    ),
    pytest.param("brand", GRANT_FACTORY, factory(MITRA), id="brand-grants-itself-a-factory"),
    pytest.param("manager", GRANT_GRANTEE, organization("bw-id"), id="grant-to-a-programme"),
    pytest.param("manager", GRANT_GRANTEE, organization("sinar-garmen"), id="grant-to-a-factory"),
    pytest.param("manager", REGISTER, factory(MITRA), id="factory-registers-another-factory"),
    pytest.param("manager", SUBMIT, factory(MITRA), id="factory-submits-for-another-factory"),
    pytest.param(
        "brand", CREATE_USER, organization("sinar-garmen"), id="brand-adds-a-user-to-a-factory"
    ),
    pytest.param(
        "manager", DISABLE_USER, user("manager@mitra-busana.demo"), id="factory-disables-a-user"
    ),
    pytest.param("brand", ISSUE_KEY, organization(KEYED_HOST), id="brand-issues-a-host-key"),
    pytest.param("host", REVOKE_KEY, api_key(), id="host-revokes-its-key-by-id"),
    pytest.param("host", WEBHOOK, organization(KEYED_HOST), id="host-sets-its-own-webhook"),
]


@pytest.mark.parametrize(("caller", "document", "pick"), MUTATIONS)
async def test_a_mutation_on_a_hidden_row_answers_as_for_no_row_and_changes_nothing(
    api: Any,
    session: AsyncSession,
    world: DemoWorld,
    people: People,
    rows: Rows,
    caller: str,
    document: str,
    pick: Pick,
) -> None:
    kind, pk = pick(world, rows)
    auth = people.by_name(caller)
    extra = {
        "brand": gid("Organization", world.organization_ids["harbour-outfitters"]),
        "factory": gid("Factory", world.factory_ids[SINAR]),
    }
    used = {k: v for k, v in extra.items() if f"${k}" in document}
    before = await dump(session)

    hidden = await _post(api, document, {"id": gid(kind, pk), **used}, auth)
    nothing = await _post(api, document, {"id": gid(kind, NOWHERE), **used}, auth)

    assert hidden == nothing
    status, body = hidden
    assert status == 200 and "errors" not in body
    (payload,) = body["data"].values()
    assert [e["code"] for e in payload["errors"]] in (["NOT_FOUND"], ["FORBIDDEN"])
    assert await dump(session) == before


# --- forged and malformed IDs ----------------------------------------------------------------


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


FORGED = [
    pytest.param("", id="empty"),
    pytest.param("not base64 at all!", id="not-base64"),
    pytest.param("====", id="only-padding"),
    pytest.param("%00%ff", id="percent-escapes"),
    pytest.param(b64("Factory"), id="no-separator"),
    pytest.param(b64("Factory:"), id="no-number"),
    pytest.param(b64("Factory:abc"), id="letters"),
    pytest.param(b64("Factory:-1"), id="negative"),
    pytest.param(b64("Factory:1.0"), id="decimal"),
    pytest.param(b64("Factory:1e3"), id="exponent"),
    pytest.param(b64("Factory: 1"), id="space"),
    pytest.param(b64("Factory:1\x00"), id="nul-byte"),
    pytest.param(b64("Factory:0x1"), id="hex"),
    pytest.param(b64("Factory:" + "9" * 19), id="beyond-int64"),
    pytest.param(b64("Factory:" + "9" * 400), id="huge-number"),
    pytest.param(b64("factory:1"), id="wrong-case-type"),
    pytest.param(b64("Factory;1"), id="wrong-separator"),
    pytest.param(b64("Nope:1"), id="unknown-type"),
    pytest.param(b64("Factory:1:2"), id="two-numbers"),
    pytest.param(base64.urlsafe_b64encode("Factory:\u0661".encode()).decode(), id="arabic-digit"),
    pytest.param(
        base64.urlsafe_b64encode("Factory:\u00b2".encode()).decode(), id="superscript-digit"
    ),
    pytest.param("\u30d5\u30a1\u30af\u30c8\u30ea:1", id="unicode-text"),
    pytest.param("A" * 10_000, id="ten-thousand-chars"),
    pytest.param(b64("Factory:1' OR '1'='1"), id="sql-in-id"),
]


async def test_a_forged_or_malformed_id_is_nothing(
    api: Any, world: DemoWorld, people: People
) -> None:
    for forged in (f.values[0] for f in FORGED):
        for caller in ("anonymous", "brand", "admin"):
            auth = people.by_name(caller)
            by_node = await _post(api, NODE, {"id": forged}, auth)
            by_factory = await _post(api, FACTORY, {"id": forged}, auth)
            assert by_node == (200, {"data": {"node": None}}), (forged, caller, by_node)
            assert by_factory == (200, {"data": {"factory": None}}), (forged, caller)


async def test_a_forged_id_in_a_mutation_is_not_found(
    api: Any, session: AsyncSession, world: DemoWorld, people: People
) -> None:
    before = await dump(session)
    brand = gid("Organization", world.organization_ids["harbour-outfitters"])

    for forged in (f.values[0] for f in FORGED):
        variables = {"id": forged, "brand": brand}
        status, body = await _post(api, GRANT_FACTORY, variables, people.manager.auth)
        assert status == 200 and "errors" not in body, (forged, body)
        assert body["data"]["grantConsent"]["errors"] == [
            {"code": "NOT_FOUND", "message": "no such factory", "field": "factoryId"}
        ], forged

    assert await dump(session) == before


async def test_an_id_past_the_database_integer_range_is_nothing(
    api: Any, world: DemoWorld, people: People
) -> None:
    """18 digits pass the ID parser; PostgreSQL's INTEGER keys stop at 2**31 - 1."""
    for pk in (2**31, 10**17):
        for caller in ("anonymous", "brand"):
            auth = people.by_name(caller)
            assert await _post(api, NODE, {"id": gid("Factory", pk)}, auth) == (
                200,
                {"data": {"node": None}},
            )
            assert await _post(api, NODE, {"id": gid("ConsentGrant", pk)}, auth) == (
                200,
                {"data": {"node": None}},
            )


async def test_an_id_of_another_type_is_no_factory(
    api: Any, world: DemoWorld, people: People, rows: Rows
) -> None:
    visible_assessment = gid("Assessment", rows.assessments[(SINAR, 1)])

    for caller in ("brand", "manager", "admin"):
        found = await _post(api, FACTORY, {"id": visible_assessment}, people.by_name(caller))
        assert found == (200, {"data": {"factory": None}}), caller


async def test_only_the_canonical_encoding_of_an_id_names_a_row(
    api: Any, world: DemoWorld, people: People
) -> None:
    canonical = gid("Factory", world.factory_ids[SINAR])
    assert (await _post(api, FACTORY, {"id": canonical}, people.manager.auth))[1]["data"]["factory"]

    for variant in (canonical + "\n", canonical[:4] + " " + canonical[4:], "!" + canonical):
        found = await _post(api, FACTORY, {"id": variant}, people.manager.auth)
        assert found == (200, {"data": {"factory": None}}), variant
