"""The export job: turns each releasable cycle into one export per granted host.

One pass (:func:`run_once`) plans, then claims work one export at a time:

1. Plan: the (cycle, host) pairs with an active ASSESSMENT grant, a released assessment old
   enough and no export yet; the pure rules of :mod:`exports.eligibility` keep the cycles
   that may go; hosts without a registered key are counted and wait.
2. Claim and write, one transaction per export: ``SELECT ... FOR UPDATE OF assessment SKIP
   LOCKED LIMIT 1`` takes a pending pair whose cycle no other worker holds, the export and
   its webhook outbox row are written, and the commit releases the cycle. A worker killed
   in between leaves nothing behind; the unique (host, cycle) constraint is the last guard.

The pass ends when nothing is left to claim, so several workers on one PostgreSQL database
share the work and write each export exactly once. SQLite has no row locks (its writers
are serialised anyway) and ignores the ``FOR UPDATE`` clause.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Exists, Row, Select, and_, exists, select  # noqa: TID251 - marked reads
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import models as m
from audit.checkpoints import CheckpointSchedule
from authz.guard import system_read
from core import metrics
from core.crypto import (
    KeyMaterial,
    encrypt_for_host,
    sha256_hex,
    sign_export,
    validate_host_public_jwk,
)
from core.errors import CryptoError
from exports.eligibility import gateway_eligibility
from exports.facts import facts_by_cycle
from exports.grants import active_assessment_grant
from exports.payload import SCHEMA_VERSION, CycleContent, canonical_json, cycle_content
from exports.snapshot import SnapshotIncomplete, load_snapshot
from exports.webhooks import deliver_pending
from models.access_log import Maintenance, maintain

log = logging.getLogger("millgate.exports")


@dataclass(frozen=True)
class HostFailure:
    """A host that got nothing this pass because of something of its own (its key)."""

    host_id: int
    reason: str


@dataclass
class RunReport:
    """What one pass did."""

    exports_written: int = 0
    # Cycles with a granted host that may not go yet or ever (see gatewayEligibility).
    cycles_not_releasable: int = 0
    # (cycle, host) pairs that wait for the host to register its public key.
    waiting_for_host_key: int = 0
    # Pairs another worker exported between our plan and our claim.
    done_elsewhere: int = 0
    errors: list[str] = field(default_factory=list)
    # Hosts left out of this pass; each is also one line of ``errors``.
    failed_hosts: list[HostFailure] = field(default_factory=list)

    def fail_host(self, host_id: int, reason: str) -> None:
        self.failed_hosts.append(HostFailure(host_id, reason))
        metrics.EXPORT_FAILURES.labels(str(host_id)).inc()
        self.errors.append(f"host {host_id}: {reason}")

    @property
    def pass_failed(self) -> bool:
        """An error that is not one host's own: the pass itself did not do its work."""
        return len(self.errors) > len(self.failed_hosts)

    def summary(self) -> str:
        return (
            f"{self.exports_written} exports written, "
            f"{self.waiting_for_host_key} waiting for a host key, "
            f"{self.cycles_not_releasable} cycles not releasable, "
            f"{self.done_elsewhere} done by another worker, {len(self.errors)} errors"
        )


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _already_exported() -> Exists:
    return exists().where(
        m.GatewayExport.host_id == m.ConsentGrant.grantee_id,
        m.GatewayExport.cycle_id == m.Assessment.cycle_id,
    )


def _pending(today: dt.date) -> Select[*tuple[Any, ...]]:
    """(cycle, host, grant) rows that want an export, newest grant of a host first."""
    # Facts decide later; this only narrows to assessments past the Gateway's 15 days.
    cutoff = today - dt.timedelta(days=m.GATEWAY_DELAY_DAYS)
    host = and_(
        m.Organization.id == m.ConsentGrant.grantee_id,
        m.Organization.kind == m.OrganizationKind.HOST,
    )
    return (
        select(
            m.Assessment.cycle_id,
            m.Assessment.id.label("assessment_id"),
            m.Assessment.factory_id,
            m.ConsentGrant.grantee_id.label("host_id"),
            m.ConsentGrant.id.label("grant_id"),
            m.Organization.host_public_jwk,
            m.Organization.webhook_url,
        )
        .join(
            m.ConsentGrant,
            and_(m.ConsentGrant.factory_id == m.Assessment.factory_id, active_assessment_grant()),
        )
        .join(m.Organization, host)
        .where(
            m.Assessment.status == m.AssessmentStatus.RELEASED,
            m.Assessment.released_on <= cutoff,
            ~_already_exported(),
        )
        .order_by(m.Assessment.cycle_id, m.ConsentGrant.grantee_id, m.ConsentGrant.id.desc())
    )


@dataclass
class _Plan:
    cycles: set[int]  # releasable cycles
    hosts: set[int]  # hosts with a registered key
    # Per cycle, what its exports share: decrypted once a pass, whatever the number of hosts.
    contents: dict[int, CycleContent] = field(default_factory=dict)


async def _plan(session: AsyncSession, today: dt.date, report: RunReport) -> _Plan:
    rows = (await session.execute(system_read(_pending(today), "exports: plan"))).all()
    facts = await facts_by_cycle(session, (row.cycle_id for row in rows))
    cycles: set[int] = set()
    for cycle_id, cycle_facts in facts.items():
        if gateway_eligibility(cycle_facts, today).releasable(today):
            cycles.add(cycle_id)
        else:
            report.cycles_not_releasable += 1
    due = [row for row in rows if row.cycle_id in cycles]
    hosts = {row.host_id for row in due if row.host_public_jwk is not None}
    waiting = {(row.cycle_id, row.host_id) for row in due if row.host_public_jwk is None}
    report.waiting_for_host_key = len(waiting)
    return _Plan(cycles, hosts)


def _claim(
    today: dt.date, cycles: Collection[int], hosts: Collection[int]
) -> Select[*tuple[Any, ...]]:
    stmt = (
        _pending(today)
        .where(m.Assessment.cycle_id.in_(cycles), m.ConsentGrant.grantee_id.in_(hosts))
        .limit(1)
        .with_for_update(of=m.Assessment, skip_locked=True)
    )
    return system_read(stmt, "exports: claim")


class _HostKeyUnusable(Exception):
    """Raised when no envelope can be made to a host's registered key."""


def _seal_for_host(registered: object, signed: str) -> str:
    """The signed export encrypted to the host's key as registered now (not at planning).

    Whatever goes wrong here belongs to this host alone (its key), so it is caught broadly
    and raised as :class:`_HostKeyUnusable`: one host's key never stops the others' exports.
    The platform's own part, the signature, is made before and fails the pass as before.
    """
    try:
        return encrypt_for_host(signed, validate_host_public_jwk(registered))
    except CryptoError as error:
        raise _HostKeyUnusable(str(error)) from error
    except Exception as error:
        raise _HostKeyUnusable(f"{type(error).__name__}: {error}") from error


async def _write_export(
    session: AsyncSession,
    claim: Row[*tuple[Any, ...]],
    content: CycleContent,
    export_uid: str,
    payload: bytes,
    envelope: str,
) -> None:
    export = m.GatewayExport(
        export_uid=export_uid,
        host_id=claim.host_id,
        factory_id=claim.factory_id,
        cycle_id=claim.cycle_id,
        grant_id=claim.grant_id,
        factory_gateway_id=content.factory_gateway_id,
        cycle_number=content.cycle_number,
        release_on=content.gateway_release_on,
        schema_version=SCHEMA_VERSION,
        content_sha256=sha256_hex(payload),
        envelope=envelope,
    )
    session.add(export)
    if claim.webhook_url:
        await session.flush()  # the outbox row needs the export's id
        session.add(m.WebhookDelivery(export_id=export.id, host_id=claim.host_id))


async def _claim_and_write(
    sessionmaker: async_sessionmaker[AsyncSession],
    keys: KeyMaterial,
    today: dt.date,
    plan: _Plan,
    report: RunReport,
) -> bool:
    """One transaction: claims one pending pair and writes its export. False: nothing left."""
    claim = None
    try:
        async with sessionmaker() as session, session.begin():
            claim = (await session.execute(_claim(today, plan.cycles, plan.hosts))).first()
            if claim is None:
                return False
            # The claim's snapshot may predate another worker's commit: look again.
            done = select(m.GatewayExport.id).where(
                m.GatewayExport.host_id == claim.host_id,
                m.GatewayExport.cycle_id == claim.cycle_id,
            )
            if await session.scalar(system_read(done, "exports: recheck")) is not None:
                report.done_elsewhere += 1
                return True
            content = plan.contents.get(claim.cycle_id)
            if content is None:  # the first host of this cycle: load and decrypt it once
                snapshot = await load_snapshot(session, claim.cycle_id)
                content = plan.contents[claim.cycle_id] = cycle_content(snapshot, keys.fields)
            export_uid = str(uuid.uuid4())
            payload = canonical_json(content.payload(export_uid))
            signed = sign_export(payload, keys.signing)
            try:
                envelope = _seal_for_host(claim.host_public_jwk, signed)
            except _HostKeyUnusable as error:
                # This host waits for a usable key; the pass goes on for every other one.
                report.fail_host(claim.host_id, str(error))
                plan.hosts.discard(claim.host_id)
                return True
            await _write_export(session, claim, content, export_uid, payload, envelope)
    except (SnapshotIncomplete, CryptoError, IntegrityError) as error:
        # Nothing was committed; leave the cycle to the next pass.
        assert claim is not None
        report.errors.append(f"cycle {claim.cycle_id}, host {claim.host_id}: {error}")
        metrics.EXPORT_FAILURES.labels(str(claim.host_id)).inc()
        plan.cycles.discard(claim.cycle_id)
        return True
    report.exports_written += 1
    metrics.EXPORTS_WRITTEN.inc()
    return True


async def run_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    keys: KeyMaterial,
    today: dt.date | None = None,
) -> RunReport:
    """One pass: writes every export that is due and not written yet.

    ``today`` (UTC date by default) decides release dates; grant expiry is judged by the
    database clock. Running it again, or in several workers at once, writes nothing twice.
    """
    today = today or utc_today()
    report = RunReport()
    async with sessionmaker() as session, session.begin():
        plan = await _plan(session, today, report)
    while plan.cycles and plan.hosts:
        if not await _claim_and_write(sessionmaker, keys, today, plan, report):
            break
    metrics.EXPORT_LAST_PASS.set_to_current_time()
    log.info("export pass: %s", report.summary())
    for error in report.errors:
        log.warning("export not written: %s", error)
    return report


async def _checkpoint(
    sessionmaker: async_sessionmaker[AsyncSession], keys: KeyMaterial, schedule: CheckpointSchedule
) -> None:
    try:
        async with sessionmaker() as session:
            made = await schedule.run(session, keys.signing)
    except Exception:  # a full disk must not end the exports either
        log.exception("audit checkpoint failed")
        return
    if made is not None:
        log.info("audit checkpoint %d:%s signed", made.seq, made.head_hash)


async def maintain_access_log(
    sessionmaker: async_sessionmaker[AsyncSession], retention_months: int
) -> Maintenance | None:
    """The access log's partitions ahead made and old ones dropped (models.access_log);
    a failure is logged and the next pass tries again."""
    try:
        async with sessionmaker() as session:
            done = await maintain(await session.connection(), retention_months=retention_months)
            await session.commit()
    except Exception:  # a lock timeout or a blip must not end the worker
        log.exception("access log maintenance failed")
        return None
    if done.created or done.dropped or done.deleted_rows:
        log.info(done.summary())
    return done


async def run_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    keys: KeyMaterial,
    *,
    interval: float,
    stop: asyncio.Event | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    allow_loopback: bool = False,
    checkpoints: CheckpointSchedule | None = None,
    access_log_retention_months: int | None = None,
) -> None:
    """The worker: a pass and a round of webhook deliveries every ``interval`` seconds, a
    signed checkpoint of the audit chain's head when ``checkpoints`` says one is due, and
    the access log's maintenance when ``access_log_retention_months`` is given.

    Returns once ``stop`` is set; a failing pass is logged and the next one tries again.
    """
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            await run_once(sessionmaker, keys)
            await deliver_pending(
                sessionmaker, keys, transport=transport, allow_loopback=allow_loopback
            )
        except Exception:  # a database blip must not end the worker
            log.exception("export pass failed")
        if checkpoints is not None:
            await _checkpoint(sessionmaker, keys, checkpoints)
        if access_log_retention_months is not None:
            await maintain_access_log(sessionmaker, access_log_retention_months)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
