"""End to end: a small world, a release, one pass of the job, the host's view of it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any

import jsonschema
import pytest
import rfc8785
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import models as m
from authz.guard import UnscopedRead, system_read
from core.crypto import KeyMaterial, encrypt_for_host
from exports import job
from exports.job import run_once
from tests.builders import (
    ASSESSED_ON,
    DETAIL,
    EXPORT_SCHEMA,
    GATEWAY_ON,
    RELEASED_ON,
    host_exports_query,
    make_export_grant,
    make_host,
    make_organization,
    make_released_cycle,
)
from tests.exports.jose import open_envelope
from tests.world import World, make_world


async def host_exports(session: AsyncSession, host: m.Organization) -> list[m.GatewayExport]:
    return list(await session.scalars(host_exports_query(host.id)))


async def count(session: AsyncSession, model: type[m.Base]) -> int:
    stmt = system_read(select(func.count()).select_from(model), "test")
    return int(await session.scalar(stmt) or 0)


def expected_payload(world: World, export_id: str) -> dict[str, Any]:
    """The database content of the world, written out by hand."""
    return {
        "schemaVersion": "1.0",
        "exportId": export_id,
        "factory": {"gatewayId": "SLCP-BD-0001", "name": "Sunrise Garments Ltd", "country": "BD"},
        "cycle": 1,
        "toolVersion": "CAF 1.4",
        "overlayVersion": "BD-2023.1",
        "verifierBody": "Better Work",
        "assessment": {
            "kind": "ONSITE",
            "virtual": False,
            "assessedOn": ASSESSED_ON.isoformat(),
            "releasedOn": RELEASED_ON.isoformat(),
            "gatewayReleaseOn": GATEWAY_ON.isoformat(),
        },
        "answers": [
            {
                "step": 1,
                "questionCode": "CL.01.1",
                "cafRef": "RH-CL01-01",
                "answer": "NO",
                "provenance": "ASSESSED",
            },
            {
                "step": 1,
                "questionCode": "OSH.01.1",
                "cafRef": "HS-OSH01-01",
                "answer": True,
                "provenance": "ASSESSED",
            },
            {
                "step": 1,
                "questionCode": "WT.01.1",
                "cafRef": "WH-WT01-01",
                "answer": 64,
                "provenance": "ASSESSED",
            },
            {
                "step": 2,
                "questionCode": "MS.01.1",
                "cafRef": "MS-01-01",
                "answer": "PARTLY",
                "provenance": "SELF_ASSESSED",
            },
            {
                "step": 3,
                "questionCode": "AB.01.1",
                "cafRef": "AB-01-01",
                "answer": {"since": 2022, "text": "Day-care centre"},
                "provenance": "SELF_ASSESSED",
            },
        ],
        "findings": [
            {
                "questionCode": "CL.01.1",
                "cafRef": "RH-CL01-01",
                "cluster": "CHILD_LABOUR",
                "compliancePoint": "Child labourers",
                "nonCompliant": False,
                "zeroTolerance": True,
                "detail": None,
            },
            {
                "questionCode": "WT.01.1",
                "cafRef": "WH-WT01-01",
                "cluster": "WORKING_TIME",
                "compliancePoint": "Overtime",
                "nonCompliant": True,
                "zeroTolerance": False,
                "detail": DETAIL,
            },
        ],
    }


async def test_unmarked_reads_fail_here_so_the_jobs_reads_are_all_marked(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # tests/conftest.py installs the guard; every pass below runs under it
    async with sessionmaker() as session:
        with pytest.raises(UnscopedRead):
            await session.scalars(select(m.GatewayExport))


async def test_released_cycle_reaches_its_host_signed_and_encrypted(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    # given an eligible factory whose cycle was released, and a host it granted
    world = await make_world(session, keys)

    # when the job runs on the Gateway release day
    report = await run_once(sessionmaker, keys, today=GATEWAY_ON)

    # then the host sees one export it can decrypt and verify with another JOSE library
    assert report.exports_written == 1 and report.errors == []
    [export] = await host_exports(session, world.host.organization)
    plaintext = open_envelope(export.envelope, world.host.private_key, keys.signing.public_jwks())
    payload = json.loads(plaintext)
    assert payload == expected_payload(world, export.export_uid)
    jsonschema.validate(payload, EXPORT_SCHEMA, format_checker=jsonschema.FormatChecker())
    assert plaintext == rfc8785.dumps(payload)  # canonical: anyone recomputes the same hash
    assert export.content_sha256 == hashlib.sha256(plaintext).hexdigest()
    assert (export.factory_gateway_id, export.cycle_number) == ("SLCP-BD-0001", 1)
    assert (export.release_on, export.schema_version) == (GATEWAY_ON, "1.0")
    assert (export.grant_id, export.cycle_id) == (world.grant.id, world.cycle.id)


async def test_better_work_questions_and_origin_never_leave(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    world = await make_world(session, keys)

    await run_once(sessionmaker, keys, today=GATEWAY_ON)

    [export] = await host_exports(session, world.host.organization)
    text = open_envelope(export.envelope, world.host.private_key, keys.signing.public_jwks())
    assert b"BW.01.1" not in text and b"BW only" not in text and b"ZZ.9" not in text
    payload = json.loads(text)
    for finding in payload["findings"]:
        assert set(finding) == {
            "questionCode",
            "cafRef",
            "cluster",
            "compliancePoint",
            "nonCompliant",
            "zeroTolerance",
            "detail",
        }


@pytest.mark.parametrize(
    ("virtual_scope", "assessed_codes"),
    [("CL.01.1, WT.01.1", {"CL.01.1", "WT.01.1"}), (None, set())],
    ids=["scope of two codes", "no scope"],
)
async def test_virtual_check_is_marked_and_assesses_only_its_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    keys: KeyMaterial,
    virtual_scope: str | None,
    assessed_codes: set[str],
) -> None:
    world = await make_world(
        session, keys, kind=m.AssessmentKind.VIRTUAL_COMPLIANCE_CHECK, virtual_scope=virtual_scope
    )

    await run_once(sessionmaker, keys, today=GATEWAY_ON)

    [export] = await host_exports(session, world.host.organization)
    payload = json.loads(
        open_envelope(export.envelope, world.host.private_key, keys.signing.public_jwks())
    )
    assert payload["assessment"]["kind"] == "VIRTUAL_COMPLIANCE_CHECK"
    assert payload["assessment"]["virtual"] is True
    provenance = {a["questionCode"]: a["provenance"] for a in payload["answers"]}
    assert {code for code, p in provenance.items() if p == "ASSESSED"} == assessed_codes
    assert provenance["MS.01.1"] == provenance["AB.01.1"] == "SELF_ASSESSED"
    jsonschema.validate(payload, EXPORT_SCHEMA)


async def test_unsubmitted_self_assessment_stays_out(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    world = await make_world(session, keys)
    await session.execute(
        update(m.SelfAssessment)
        .where(m.SelfAssessment.cycle_id == world.cycle.id, m.SelfAssessment.step == 3)
        .values(submitted_at=None)
    )
    await session.commit()

    await run_once(sessionmaker, keys, today=GATEWAY_ON)

    [export] = await host_exports(session, world.host.organization)
    payload = json.loads(
        open_envelope(export.envelope, world.host.private_key, keys.signing.public_jwks())
    )
    assert [a["step"] for a in payload["answers"]] == [1, 1, 1, 2]


async def test_running_twice_writes_nothing_new(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    world = await make_world(
        session, keys, webhook_url="https://host.example/hook", webhook_secret="s3cret"
    )
    await run_once(sessionmaker, keys, today=GATEWAY_ON)
    [first] = await host_exports(session, world.host.organization)

    second = await run_once(sessionmaker, keys, today=GATEWAY_ON + dt.timedelta(days=30))

    assert second.exports_written == 0
    assert await count(session, m.GatewayExport) == 1
    assert await count(session, m.WebhookDelivery) == 1
    [again] = await host_exports(session, world.host.organization)
    assert (again.id, again.envelope) == (first.id, first.envelope)


async def test_outbox_row_only_for_a_host_with_a_webhook(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    world = await make_world(session, keys)
    hooked = await make_host(
        session, keys, "Hooked Host", webhook_url="https://h.example/x", webhook_secret="s3cret"
    )
    await make_export_grant(session, world.factory, hooked.organization)
    await session.commit()

    report = await run_once(sessionmaker, keys, today=GATEWAY_ON)

    assert report.exports_written == 2
    deliveries = list(await session.scalars(system_read(select(m.WebhookDelivery), "test")))
    assert [(d.host_id, d.state, d.attempts) for d in deliveries] == [
        (hooked.organization.id, m.DeliveryState.PENDING, 0)
    ]


async def test_nothing_before_the_gateway_release_date(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    await make_world(session, keys)

    early = await run_once(sessionmaker, keys, today=GATEWAY_ON - dt.timedelta(days=1))
    assert early.exports_written == 0
    assert await count(session, m.GatewayExport) == 0

    on_time = await run_once(sessionmaker, keys, today=GATEWAY_ON)
    assert on_time.exports_written == 1


async def test_host_without_a_key_gets_nothing_until_it_registers_one(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    world = await make_world(session, keys, host_key=False)

    waiting = await run_once(sessionmaker, keys, today=GATEWAY_ON)

    assert (waiting.exports_written, waiting.waiting_for_host_key) == (0, 1)
    assert await count(session, m.GatewayExport) == 0

    keyed = await make_host(session, keys, "Key donor")
    await session.execute(
        update(m.Organization)
        .where(m.Organization.id == world.host.organization.id)
        .values(host_public_jwk=keyed.organization.host_public_jwk)
    )
    await session.commit()
    later = await run_once(sessionmaker, keys, today=GATEWAY_ON)
    assert (later.exports_written, later.waiting_for_host_key) == (1, 0)


async def test_brands_and_ungranted_hosts_get_nothing(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    world = await make_world(session, keys)
    brand = await make_organization(session, m.OrganizationKind.BRAND, "Brand")
    await make_export_grant(session, world.factory, brand)
    stranger = await make_host(session, keys, "Stranger Host")
    only_self = await make_host(session, keys, "Self-assessment-only Host")
    await make_export_grant(
        session, world.factory, only_self.organization, assessment=False, self_assessment=True
    )
    await session.commit()

    report = await run_once(sessionmaker, keys, today=GATEWAY_ON)

    assert report.exports_written == 1
    assert await host_exports(session, stranger.organization) == []
    assert await host_exports(session, only_self.organization) == []
    exported_to = await session.scalars(system_read(select(m.GatewayExport.host_id), "test"))
    assert list(exported_to) == [world.host.organization.id]


async def test_reshared_to_a_second_host_is_just_another_grant(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    # given a cycle already exported to one host (rule 9)
    world = await make_world(session, keys)
    await run_once(sessionmaker, keys, today=GATEWAY_ON)

    # when the factory grants a second host later
    second = await make_host(session, keys, "Second Host")
    await make_export_grant(session, world.factory, second.organization)
    await session.commit()
    report = await run_once(sessionmaker, keys, today=GATEWAY_ON + dt.timedelta(days=60))

    # then the second host gets its own export, readable with its own key only
    assert report.exports_written == 1
    [export] = await host_exports(session, second.organization)
    payload = json.loads(
        open_envelope(export.envelope, second.private_key, keys.signing.public_jwks())
    )
    assert payload["factory"]["gatewayId"] == "SLCP-BD-0001"


async def test_revoked_grant_stops_new_exports_and_serving_old_ones(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    world = await make_world(session, keys)
    await run_once(sessionmaker, keys, today=GATEWAY_ON)
    assert len(await host_exports(session, world.host.organization)) == 1

    # when the factory revokes the grant, then releases a second cycle
    await session.execute(
        update(m.ConsentGrant)
        .where(m.ConsentGrant.id == world.grant.id)
        .values(revoked_at=m.utcnow())
    )
    await make_released_cycle(
        session,
        keys.fields,
        world.factory,
        2,
        submitted_at=dt.datetime(2025, 2, 1, tzinfo=dt.UTC),
        assessed_on=dt.date(2025, 3, 4),
        released_on=dt.date(2025, 3, 20),
    )
    await session.commit()
    report = await run_once(sessionmaker, keys, today=dt.date(2025, 6, 1))

    # then the old export is no longer served and the new cycle is not exported
    assert report.exports_written == 0
    assert await host_exports(session, world.host.organization) == []
    assert await count(session, m.GatewayExport) == 1

    # and a new grant shows the old export again and sends the new cycle
    await make_export_grant(session, world.factory, world.host.organization)
    await session.commit()
    renewed = await run_once(sessionmaker, keys, today=dt.date(2025, 6, 1))
    assert renewed.exports_written == 1
    cycles = [e.cycle_number for e in await host_exports(session, world.host.organization)]
    assert sorted(cycles) == [1, 2]


async def test_expired_grant_stops_new_exports_and_serving_old_ones(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    world = await make_world(session, keys)
    await run_once(sessionmaker, keys, today=GATEWAY_ON)
    now = m.utcnow()
    await session.execute(
        update(m.ConsentGrant)
        .where(m.ConsentGrant.id == world.grant.id)
        .values(granted_at=now - dt.timedelta(days=30), expires_at=now - dt.timedelta(seconds=5))
    )
    expired_before = await make_host(session, keys, "Host of an expired grant")
    await make_export_grant(
        session,
        world.factory,
        expired_before.organization,
        granted_at=now - dt.timedelta(days=30),
        expires_at=now - dt.timedelta(days=1),
    )
    await session.commit()

    report = await run_once(sessionmaker, keys, today=GATEWAY_ON)

    assert report.exports_written == 0
    assert await host_exports(session, world.host.organization) == []
    assert await host_exports(session, expired_before.organization) == []


async def test_grant_expiring_later_still_serves(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    world = await make_world(session, keys)
    await session.execute(
        update(m.ConsentGrant)
        .where(m.ConsentGrant.id == world.grant.id)
        .values(expires_at=m.utcnow() + dt.timedelta(hours=1))
    )
    await session.commit()

    await run_once(sessionmaker, keys, today=GATEWAY_ON)

    assert len(await host_exports(session, world.host.organization)) == 1


MISSED: list[tuple[str, dict[str, Any]]] = [
    ("registered on the assessment day", {"factory": {"registered_on": ASSESSED_ON}}),
    (
        "sharing confirmed after the assessment",
        {"factory": {"sharing_on": ASSESSED_ON + dt.timedelta(days=1)}},
    ),
    ("another verifier body", {"factory": {"verifier_body": "Another Verifier Ltd"}}),
    ("sharing never confirmed", {"factory": {"sharing_on": None}}),
    (
        "step 1 on the assessment day",
        {"submitted_at": dt.datetime(2024, 3, 4, 8, 0, tzinfo=dt.UTC)},
    ),
    ("step 1 never submitted", {"submitted_at": None}),
    ("country not rolled out", {"country_rollout_on": None}),
    (
        "country rolled out after the assessment",
        {"country_rollout_on": ASSESSED_ON + dt.timedelta(days=1)},
    ),
]


@pytest.mark.parametrize("world_changes", [c[1] for c in MISSED], ids=[c[0] for c in MISSED])
async def test_cycle_that_missed_a_precondition_is_never_exported(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    keys: KeyMaterial,
    world_changes: dict[str, Any],
) -> None:
    await make_world(session, keys, **world_changes)

    for today in (GATEWAY_ON, GATEWAY_ON + dt.timedelta(days=3650)):
        report = await run_once(sessionmaker, keys, today=today)
        assert (report.exports_written, report.cycles_not_releasable) == (0, 1)
    assert await count(session, m.GatewayExport) == 0


async def test_draft_assessment_is_not_exported(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    await make_world(session, keys, released_on=None)

    report = await run_once(sessionmaker, keys, today=GATEWAY_ON + dt.timedelta(days=3650))

    assert report.exports_written == 0
    assert await count(session, m.GatewayExport) == 0


async def test_later_cycle_of_a_factory_that_missed_the_first_is_exported(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    # given cycle 1 assessed before the factory registered (Q28: only a later cycle can go)
    world = await make_world(
        session,
        keys,
        factory={"registered_on": dt.date(2024, 6, 1), "sharing_on": dt.date(2024, 6, 1)},
    )
    await make_released_cycle(
        session,
        keys.fields,
        world.factory,
        2,
        submitted_at=dt.datetime(2025, 2, 1, tzinfo=dt.UTC),
        assessed_on=dt.date(2025, 3, 4),
        released_on=dt.date(2025, 3, 20),
    )
    await session.commit()

    report = await run_once(sessionmaker, keys, today=dt.date(2025, 6, 1))

    assert (report.exports_written, report.cycles_not_releasable) == (1, 1)
    [export] = await host_exports(session, world.host.organization)
    assert export.cycle_number == 2


async def test_country_without_overlay_version_is_reported_not_exported(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    world = await make_world(session, keys)
    await session.execute(
        update(m.Country).where(m.Country.code == world.country.code).values(overlay_version=None)
    )
    await session.commit()

    report = await run_once(sessionmaker, keys, today=GATEWAY_ON)

    assert report.exports_written == 0
    assert len(report.errors) == 1 and "overlay version" in report.errors[0]
    assert await count(session, m.GatewayExport) == 0


def test_report_summary_names_every_figure() -> None:
    from exports.job import RunReport

    report = dataclasses.replace(RunReport(), exports_written=3, waiting_for_host_key=2)

    assert report.summary().startswith("3 exports written, 2 waiting for a host key")


async def test_host_with_an_unusable_key_does_not_hold_up_the_others(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    world = await make_world(session, keys)
    broken = await make_host(session, keys, "Broken Key Host")
    await session.execute(
        update(m.Organization)
        .where(m.Organization.id == broken.organization.id)
        .values(host_public_jwk={"kty": "OKP", "crv": "X25519", "x": "too-short"})
    )
    await make_export_grant(session, world.factory, broken.organization)
    await session.commit()

    report = await run_once(sessionmaker, keys, today=GATEWAY_ON)

    assert report.exports_written == 1
    assert report.errors == [
        f"host {broken.organization.id}: publicJwk 'x' is not a valid X25519 public key"
    ]
    assert len(await host_exports(session, world.host.organization)) == 1
    assert await host_exports(session, broken.organization) == []


async def _host_before_the_world_with(
    session: AsyncSession, keys: KeyMaterial, public_jwk: dict[str, str]
) -> tuple[World, m.Organization]:
    """A host whose key is stored as given (no validation), claimed before the world's host."""
    first = await make_host(session, keys, "First In Line Host")
    await session.execute(
        update(m.Organization)
        .where(m.Organization.id == first.organization.id)
        .values(host_public_jwk=public_jwk)
    )
    world = await make_world(session, keys)
    await make_export_grant(session, world.factory, first.organization)
    await session.commit()
    assert first.organization.id < world.host.organization.id
    return world, first.organization


async def test_an_all_zero_host_key_fails_that_host_only(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> None:
    # given a host whose all-zero X25519 key was written past the API's validation
    zero = {"kty": "OKP", "crv": "X25519", "x": "A" * 43}
    world, broken = await _host_before_the_world_with(session, keys, zero)

    # when a pass runs (twice: the broken host must not stall later passes either)
    first = await run_once(sessionmaker, keys, today=GATEWAY_ON)
    second = await run_once(sessionmaker, keys, today=GATEWAY_ON)

    # then the other host gets its export and the broken one is named
    assert first.exports_written == 1
    assert [f.host_id for f in first.failed_hosts] == [broken.id]
    assert "not a valid X25519 public key" in first.failed_hosts[0].reason
    assert len(await host_exports(session, world.host.organization)) == 1
    assert await host_exports(session, broken) == []
    assert (second.exports_written, [f.host_id for f in second.failed_hosts]) == (0, [broken.id])


async def test_any_failure_sealing_for_one_host_leaves_the_others_their_exports(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    keys: KeyMaterial,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not only keys the validation knows to refuse: whatever one host's envelope raises."""
    odd = await make_host(session, keys, "Odd Host")
    odd_jwk = odd.organization.host_public_jwk
    assert odd_jwk is not None
    world, broken = await _host_before_the_world_with(session, keys, odd_jwk)

    def fails_for_one_host(signed: str, host_jwk: Any) -> str:
        if host_jwk["kid"] == odd_jwk["kid"]:
            raise ValueError("Error computing shared key.")
        return encrypt_for_host(signed, host_jwk)

    monkeypatch.setattr(job, "encrypt_for_host", fails_for_one_host)

    report = await run_once(sessionmaker, keys, today=GATEWAY_ON)

    assert report.exports_written == 1
    assert [(f.host_id, f.reason) for f in report.failed_hosts] == [
        (broken.id, "ValueError: Error computing shared key.")
    ]
    assert len(await host_exports(session, world.host.organization)) == 1
    assert await host_exports(session, broken) == []
