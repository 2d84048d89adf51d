"""Casbin over ``policy.conf``: a point decision from the facts of one request.

A request to the model (see the header of ``policy.conf``) carries the caller
(:class:`Subject`), its role, and how it stands to the factory or country asked about
(:class:`Relation`: ownership, the scopes of its active grants there, same country). The
request reads those facts in its own transaction (:mod:`authz.facts`), so a grant, a
revocation or an enrolment holds for every process the moment it commits.

The enforcer holds the model and nothing else: no grant, no owner, no country. pycasbin
evaluates every decision; as a decision is a function of those few facts alone, answers are
remembered by them, in a table bounded by the kinds, roles, relations and objects there are,
whatever the number of factories or grants.

Example:
    rel = relation(principal, organization_id=row.organization_id, country=row.country_code)
    if not allows(principal, "consent", "write", rel):
        ...
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import casbin

from authz.principal import Principal

POLICY_PATH = Path(__file__).resolve().parent.parent / "policy.conf"
MEMO_SIZE = 4096  # far above the distinct fact combinations (a few hundred are ever asked)

# pycasbin logs every denied request at WARNING with its arguments: not in our logs.
for _name in ("casbin", "casbin.policy", "casbin.role", "casbin.enforcer"):
    logging.getLogger(_name).setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class Subject:
    """``r.sub``: what the caller's organisation is; ``kind`` "" for the anonymous public."""

    kind: str
    inspectorate: bool = False

    @classmethod
    def of(cls, principal: Principal) -> Subject:
        kind = principal.organization_kind
        return cls("" if kind is None else kind.value, principal.labour_inspectorate)


@dataclass(frozen=True, slots=True)
class Relation:
    """``r.rel``: how the caller stands to the factory (or country) a request is about."""

    owner: bool = False
    grants: frozenset[str] = field(default_factory=frozenset)
    in_country: bool = False


NO_RELATION = Relation()


def relation(
    principal: Principal,
    *,
    organization_id: int | None = None,
    country: str | None = None,
    grants: frozenset[str] = frozenset(),
) -> Relation:
    """The caller's relation to a factory of ``organization_id`` in ``country`` (both from the
    target row), or to ``country`` alone; ``grants``: its active scopes on that factory."""
    return Relation(
        owner=principal.organization_id is not None
        and principal.organization_id == organization_id,
        grants=grants,
        in_country=principal.country_code is not None and principal.country_code == country,
    )


class _MatcherParsedOnce(casbin.Enforcer):  # type: ignore[misc]
    """pycasbin parses the matcher's text on every ``enforce()``; ours never changes, so it is
    parsed once. That also keeps ``ast.parse`` off the request path, where CPython 3.11.7 can
    fail it ("AST constructor recursion depth mismatch") after an unrelated RecursionError."""

    def __init__(self, model: str) -> None:
        self._expressions: dict[str, Any] = {}
        super().__init__(model)

    def _get_expression(self, expr: str, functions: Any = None) -> Any:
        # The functions are pycasbin's built-ins (no role links): the same for every call.
        parsed = self._expressions.get(expr)
        if parsed is None:
            parsed = self._expressions[expr] = super()._get_expression(expr, functions)
        return parsed


class Enforcer:
    """pycasbin's enforcer over ``policy.conf``, its answers remembered by their facts."""

    def __init__(self, path: Path = POLICY_PATH, memo_size: int = MEMO_SIZE) -> None:
        self.casbin = _MatcherParsedOnce(str(path))
        self._decide = lru_cache(maxsize=memo_size)(self.enforce)
        self.enforce(Subject("", False), "", NO_RELATION, "public", "read")  # parse it now

    def enforce(self, sub: Subject, role: str, rel: Relation, obj: str, act: str) -> bool:
        """pycasbin's own evaluation of the matcher, every time."""
        return bool(self.casbin.enforce(sub, role, rel, obj, act))

    def decide(self, sub: Subject, role: str, rel: Relation, obj: str, act: str) -> bool:
        return self._decide(sub, role, rel, obj, act)

    @property
    def remembered(self) -> int:
        """How many distinct requests the table holds (bounded by ``memo_size``)."""
        return self._decide.cache_info().currsize


ENFORCER = Enforcer()


def allows(principal: Principal, obj: str, act: str, rel: Relation = NO_RELATION) -> bool:
    """May ``principal`` ``act`` on ``obj``, standing in ``rel`` to its factory or country?"""
    return ENFORCER.decide(Subject.of(principal), principal.role_name, rel, obj, act)
