"""The Casbin enforcer over ``policy.conf`` and the facts that feed it.

Facts enter as role links (see the header of ``policy.conf``): factory ownership, active
consent grants with their scopes, programme and constituent countries, and the kind of
each grantee and of the operator. A check is a few hash lookups, whatever the number of
grants. Changes are written as :class:`models.PolicyChange` rows in the transaction that
makes them; every process replays the rows past its revision (see :mod:`authz.sync`).

``allows()`` evaluates the matcher compiled once to Python bytecode instead of re-parsing
it on each call as pycasbin's generic ``enforce()`` does; a test checks both agree.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import casbin
from casbin.rbac.default_role_manager import RoleManager
from casbin.util.builtin_operators import generate_g_function
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from authz.clock import db_now
from authz.guard import system_read
from authz.principal import Principal

POLICY_PATH = Path(__file__).resolve().parent.parent / "policy.conf"

# pycasbin logs every denied request at WARNING with its arguments: not in our logs.
logging.getLogger("casbin").setLevel(logging.ERROR)
logging.getLogger("casbin.policy").setLevel(logging.ERROR)
logging.getLogger("casbin.role").setLevel(logging.ERROR)
logging.getLogger("casbin.enforcer").setLevel(logging.ERROR)

Link = tuple[str, str, str]

KIND_RELATION = {
    m.OrganizationKind.BRAND: "brand",
    m.OrganizationKind.HOST: "host",
    m.OrganizationKind.PLATFORM: "platform",
}
SCOPE_RELATIONS = (m.DataScope.ASSESSMENT.value, m.DataScope.SELF_ASSESSMENT.value)


def org(org_id: int) -> str:
    return f"org:{org_id}"


def factory_domain(factory_id: int) -> str:
    return f"factory:{factory_id}"


def country_domain(code: str) -> str:
    return f"country:{code}"


def standing_links(
    org_id: int, kind: m.OrganizationKind, country: str | None, inspectorate: bool
) -> list[Link]:
    """Links an organisation holds by what it is, whatever factory is asked about."""
    subject = org(org_id)
    links: list[Link] = []
    if kind in KIND_RELATION:
        links.append((subject, KIND_RELATION[kind], "*"))
    if country and kind == m.OrganizationKind.PROGRAMME:
        links.append((subject, "programme", country_domain(country)))
    if country and kind == m.OrganizationKind.CONSTITUENT:
        links.append((subject, "constituent", country_domain(country)))
        if inspectorate:
            links.append((subject, "inspectorate", country_domain(country)))
    return links


def grant_source(grant: m.ConsentGrant) -> str:
    return f"grant:{grant.id}"


def grant_links(grant: m.ConsentGrant) -> list[Link]:
    return [
        (org(grant.grantee_id), scope.value, factory_domain(grant.factory_id))
        for scope in grant.scopes
    ]


class FlatRoleManager(RoleManager):  # type: ignore[misc]
    """pycasbin's role manager for our links, which are flat facts: a relation is never
    itself a subject, so ``g(sub, rel, dom)`` is one set lookup. (The default manager keeps
    lists and rebuilds per-domain managers, which makes loading 10^4 links take seconds.)"""

    def __init__(self) -> None:
        self._links: set[Link] = set()

    def clear(self) -> None:
        self._links.clear()

    def add_link(self, name1: str, name2: str, *domain: str) -> None:
        self._links.add((name1, name2, domain[0] if domain else ""))

    def delete_link(self, name1: str, name2: str, *domain: str) -> None:
        self._links.discard((name1, name2, domain[0] if domain else ""))

    def has_link(self, name1: str, name2: str, *domain: str) -> bool:
        return name1 == name2 or (name1, name2, domain[0] if domain else "") in self._links

    def get_roles(self, name: str, *domain: str) -> list[str]:
        dom = domain[0] if domain else ""
        return [r for s, r, d in self._links if s == name and d == dom]

    def get_users(self, name: str, *domain: str) -> list[str]:
        dom = domain[0] if domain else ""
        return [s for s, r, d in self._links if r == name and d == dom]

    def print_roles(self) -> None:
        pass


class Matcher:
    """``policy.conf`` parsed by pycasbin, its matcher compiled once.

    Links go straight to the role manager: pycasbin's policy list would only be scanned.
    ``self.casbin.enforce(...)`` still answers from the same links (a test compares both).
    """

    def __init__(self, path: Path = POLICY_PATH) -> None:
        self.casbin = casbin.Enforcer(str(path))
        self.roles = FlatRoleManager()
        self.casbin.set_role_manager(self.roles)
        self.casbin.build_role_links()
        model = self.casbin.get_model()
        self._r_tokens: list[str] = list(model["r"]["r"].tokens)
        self._p_empty = {token: "" for token in model["p"]["p"].tokens}
        expression = model["m"]["m"].value
        # The matcher is our own file, never input: compiling it is as safe as importing code.
        self._code = compile(expression, str(path), "eval")
        self._globals: dict[str, Any] = {
            "__builtins__": {},
            "g": generate_g_function(self.roles),
        }

    def check(self, *request: str) -> bool:
        names = dict(zip(self._r_tokens, request, strict=True))
        names.update(self._p_empty)
        return bool(eval(self._code, self._globals, names))  # noqa: S307 - see __init__

    def add_links(self, links: Iterable[Link]) -> None:
        for link in links:
            self.roles.add_link(*link)

    def remove_links(self, links: Iterable[Link]) -> None:
        for link in links:
            self.roles.delete_link(*link)

    def clear(self) -> None:
        self.roles.clear()


@dataclass(order=True, frozen=True)
class _Expiry:
    at: dt.datetime
    link: Link
    source: str


class PolicyEnforcer:
    """The process's enforcer: point decisions for one principal on one factory or country.

    Each link remembers the facts that hold it (``grant:17``, ``factory:3``, ``org:5``): adding
    a fact twice is harmless (a load overlapping a replay), and the end of one grant — by
    revocation or expiry — never removes the link another grant holds.
    """

    def __init__(self, path: Path = POLICY_PATH) -> None:
        self.matcher = Matcher(path)
        self.revision = 0
        self._sources: dict[Link, set[str]] = {}
        self._expiries: list[_Expiry] = []

    # -- decisions ---------------------------------------------------------------------

    def allows(
        self,
        principal: Principal,
        obj: str,
        act: str,
        *,
        factory_id: int | None = None,
        country: str | None = None,
    ) -> bool:
        self._expire(m.utcnow())
        return self.matcher.check(
            principal.subject,
            principal.role_name,
            factory_domain(factory_id) if factory_id is not None else "",
            country_domain(country) if country else "",
            obj,
            act,
        )

    # -- facts -------------------------------------------------------------------------

    def add(self, link: Link, source: str, expires_at: dt.datetime | None = None) -> None:
        holders = self._sources.setdefault(link, set())
        if not holders:
            self.matcher.add_links([link])
        holders.add(source)
        if expires_at is not None:
            heapq.heappush(self._expiries, _Expiry(expires_at, link, source))

    def remove(self, link: Link, source: str) -> None:
        holders = self._sources.get(link)
        if not holders or source not in holders:
            return
        holders.discard(source)
        if not holders:
            del self._sources[link]
            self.matcher.remove_links([link])

    def _expire(self, now: dt.datetime) -> None:
        while self._expiries and self._expiries[0].at <= now:
            due = heapq.heappop(self._expiries)
            self.remove(due.link, due.source)

    @property
    def link_count(self) -> int:
        return len(self._sources)

    async def load(self, session: AsyncSession) -> None:
        """Reads every fact from the database (start-up, or after losing track).

        The revision is read first: a change committed while the facts are read is then
        replayed too, which the per-fact sources make harmless.
        """
        revision = await session.scalar(
            system_read(select(m.PolicyRevision.revision), "enforcer: revision")
        )
        facts: list[tuple[Link, str, dt.datetime | None]] = []
        factories = await session.execute(
            system_read(select(m.Factory.id, m.Factory.organization_id), "enforcer: owners")
        )
        facts += [
            ((org(o), "owner", factory_domain(f)), f"factory:{f}", None) for f, o in factories
        ]
        orgs = await session.execute(
            system_read(
                select(
                    m.Organization.id,
                    m.Organization.kind,
                    m.Organization.country_code,
                    m.Organization.labour_inspectorate,
                ),
                "enforcer: organisations",
            )
        )
        for org_id, kind, country, inspectorate in orgs:
            facts += [
                (link, org(org_id), None)
                for link in standing_links(org_id, kind, country, inspectorate)
            ]
        grants = await session.scalars(
            system_read(
                select(m.ConsentGrant).where(
                    m.ConsentGrant.revoked_at.is_(None),
                    or_(m.ConsentGrant.expires_at.is_(None), m.ConsentGrant.expires_at > db_now()),
                ),
                "enforcer: active grants",
            )
        )
        for grant in grants:
            facts += [(link, grant_source(grant), grant.expires_at) for link in grant_links(grant)]
        self.matcher.clear()
        self._sources.clear()
        self._expiries.clear()
        for link, source, expires_at in facts:
            self.add(link, source, expires_at)
        self.revision = revision or 0

    def apply(self, changes: Iterable[m.PolicyChange]) -> None:
        """Replays changes past the revision held on entry (overlapping catch-ups skip them)."""
        held = self.revision
        for change in changes:
            if change.revision <= held:
                continue
            link = (change.subject, change.relation, change.domain)
            if change.op == "add":
                self.add(link, change.source, change.expires_at)
            else:
                self.remove(link, change.source)
            self.revision = max(self.revision, change.revision)
