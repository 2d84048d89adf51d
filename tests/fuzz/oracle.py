"""What each caller must never read, worked out from the database alone (not through the API).

Every finding detail and every self-assessment's answers are first rewritten to a marker
unique to the row (``FZD00042X``, ``FZA00007X``), so finding a marker in a response names the
row that leaked. Factory names and Gateway IDs are unique already. The rules here are the
access table of DESIGN.md written out plainly, on purpose independent of ``authz``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from authz.guard import system_read
from core.crypto import KeyMaterial

DETAIL_PURPOSE = "finding.detail"
ANSWERS_PURPOSE = "self_assessment.answers"


def detail_marker(finding_id: int) -> str:
    return f"FZD{finding_id:05d}X"


def answer_marker(self_assessment_id: int) -> str:
    return f"FZA{self_assessment_id:05d}X"


@dataclass(frozen=True)
class Who:
    """A caller, as the oracle sees it."""

    name: str
    kind: str  # brand, host, factory, programme, constituent, inspectorate, platform, public
    organization_id: int | None = None
    factory_id: int | None = None
    country: str | None = None


@dataclass
class Facts:
    names: dict[int, str] = field(default_factory=dict)
    countries: dict[int, str] = field(default_factory=dict)
    gateway_ids: dict[int, str] = field(default_factory=dict)
    enrolled: set[int] = field(default_factory=set)
    # (factory, grantee) -> (assessment scope, self-assessment scope) of active grants
    grants: dict[tuple[int, int], tuple[bool, bool]] = field(default_factory=dict)
    # finding id -> (factory, released by today, zero tolerance)
    findings: dict[int, tuple[int, bool, bool]] = field(default_factory=dict)
    # self-assessment id -> (factory, submitted)
    self_assessments: dict[int, tuple[int, bool]] = field(default_factory=dict)
    public_names: set[str] = field(default_factory=set)

    def granted(
        self, org: int | None, *, assessment: bool = False, answers: bool = False
    ) -> set[int]:
        return {
            f
            for (f, grantee), (a, s) in self.grants.items()
            if grantee == org and (a or not assessment) and (s or not answers)
        }

    def forbidden(self, who: Who) -> dict[str, str]:
        """Marker or value -> why the caller must not read it."""
        k = who.kind
        own = {who.factory_id} if who.factory_id else set()
        in_country = {f for f, c in self.countries.items() if c == who.country}
        granted = self.granted(who.organization_id)
        everyone = set(self.names)

        if k == "brand":
            profile, gateway = granted, set()
        elif k == "host":
            profile, gateway = granted | self.enrolled, granted | self.enrolled
        elif k == "factory":
            profile, gateway = own, own
        elif k == "programme":
            profile, gateway = in_country, in_country
        elif k == "platform":
            profile, gateway = everyone, everyone
        elif k == "inspectorate":
            profile = {
                f
                for f, released, zt in self.findings.values()
                if zt and released and f in in_country
            }
            gateway = set()
        else:  # constituents and the public
            profile, gateway = set(), set()

        out: dict[str, str] = {}
        for f, name in self.names.items():
            if f not in profile and name not in self.public_names:
                out[name] = f"the name of factory {f}"
            if f in self.gateway_ids and f not in gateway:
                out[self.gateway_ids[f]] = f"the Gateway ID of factory {f}"
        for finding, (f, released, zt) in self.findings.items():
            if k == "brand":
                ok = released and f in self.granted(who.organization_id, assessment=True)
            elif k == "factory":
                ok = released and f in own
            elif k == "programme":
                ok = f in in_country
            elif k == "platform":
                ok = released
            elif k == "inspectorate":
                ok = released and zt and f in in_country
            else:
                ok = False
            if not ok:
                out[detail_marker(finding)] = f"the detail of finding {finding} (factory {f})"
        for sa, (f, submitted) in self.self_assessments.items():
            if k == "brand":
                ok = submitted and f in self.granted(who.organization_id, answers=True)
            elif k == "factory":
                ok = f in own
            elif k == "programme":
                ok = submitted and f in in_country
            elif k == "platform":
                ok = submitted
            else:
                ok = False
            if not ok:
                out[answer_marker(sa)] = f"the answers of self-assessment {sa} (factory {f})"
        return out


async def mark_rows(session: AsyncSession, keys: KeyMaterial) -> None:
    """Gives every finding a detail and every self-assessment answers unique to the row."""
    ids = (await session.execute(text("SELECT id FROM finding"))).scalars().all()
    for finding_id in ids:
        sealed = keys.fields.encrypt(detail_marker(finding_id), DETAIL_PURPOSE)
        await session.execute(
            text("UPDATE finding SET detail_encrypted = :d WHERE id = :i"),
            {"d": sealed, "i": finding_id},
        )
    rows = (await session.execute(text("SELECT id FROM self_assessment"))).scalars().all()
    for sa_id in rows:
        sealed = keys.fields.encrypt_json({"CL.01.1": answer_marker(sa_id)}, ANSWERS_PURPOSE)
        await session.execute(
            text("UPDATE self_assessment SET answers_encrypted = :a WHERE id = :i"),
            {"a": sealed, "i": sa_id},
        )
    await session.commit()


async def read_facts(session: AsyncSession, public_names: set[str]) -> Facts:
    def read(stmt: object) -> object:
        return system_read(stmt, "test oracle")  # type: ignore[type-var]

    now = dt.datetime.now(dt.UTC)
    today = now.date()
    facts = Facts(public_names=public_names)
    for f in (await session.scalars(read(select(m.Factory)))).all():  # type: ignore[call-overload]
        facts.names[f.id] = f.name
        facts.countries[f.id] = f.country_code
        if f.slcp_gateway_id:
            facts.gateway_ids[f.id] = f.slcp_gateway_id
        if f.enrolled_on is not None:
            facts.enrolled.add(f.id)
    for g in (await session.scalars(read(select(m.ConsentGrant)))).all():  # type: ignore[call-overload]
        if g.active_at(now):
            held = facts.grants.get((g.factory_id, g.grantee_id), (False, False))
            facts.grants[(g.factory_id, g.grantee_id)] = (
                held[0] or g.scope_assessment,
                held[1] or g.scope_self_assessment,
            )
    assessments = {
        a.id: a
        for a in (await session.scalars(read(select(m.Assessment)))).all()  # type: ignore[call-overload]
    }
    for finding in (await session.scalars(read(select(m.Finding)))).all():  # type: ignore[call-overload]
        a = assessments[finding.assessment_id]
        released = (
            a.status == m.AssessmentStatus.RELEASED
            and a.released_on is not None
            and a.released_on <= today
        )
        facts.findings[finding.id] = (a.factory_id, released, finding.zero_tolerance)
    for sa in (await session.scalars(read(select(m.SelfAssessment)))).all():  # type: ignore[call-overload]
        facts.self_assessments[sa.id] = (sa.factory_id, sa.submitted_at is not None)
    await session.rollback()
    return facts
