"""What ``policy.conf`` allows, restated as conditions the scoped query turns into SQL.

For a principal's *shape* (organisation kind, role, whether it has a country, whether it is
the labour inspectorate) and an (object, action), a probe asks the same matcher about a
hypothetical factory under every combination of relations the principal could have with it:
owner, ASSESSMENT grant, SELF_ASSESSMENT grant, factory in the principal's country. The
minimal combinations that the matcher allows become the condition: an OR of ANDs of
relations. So the rows a list returns and the answer of a point check come from one model.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import models as m
from authz.enforcer import Matcher, standing_links
from authz.principal import Principal

OWNER = "owner"
ASSESSMENT = m.DataScope.ASSESSMENT.value
SELF_ASSESSMENT = m.DataScope.SELF_ASSESSMENT.value
IN_COUNTRY = "in_country"
FACTORY_RELATIONS = (OWNER, ASSESSMENT, SELF_ASSESSMENT)
ATOMS = (*FACTORY_RELATIONS, IN_COUNTRY)

_PROBE_ORG = 1
_PROBE_FACTORY = 1
_HOME = "HOME"
_ELSEWHERE = "ELSEWHERE"


@dataclass(frozen=True, slots=True)
class Shape:
    kind: m.OrganizationKind | None
    role: str
    has_country: bool
    inspectorate: bool

    @classmethod
    def of(cls, principal: Principal) -> Shape:
        return cls(
            principal.organization_kind,
            principal.role_name,
            principal.country_code is not None,
            principal.labour_inspectorate,
        )


Clause = frozenset[str]


@dataclass(frozen=True, slots=True)
class Condition:
    """OR of clauses, each an AND of atoms; ``()`` never holds, ``(frozenset(),)`` always."""

    clauses: tuple[Clause, ...]

    @property
    def never(self) -> bool:
        return not self.clauses

    @property
    def always(self) -> bool:
        return any(not clause for clause in self.clauses)


_probe = Matcher()


def _subsets() -> list[Clause]:
    return [frozenset(c) for n in range(len(ATOMS) + 1) for c in combinations(ATOMS, n)]


@lru_cache(maxsize=4096)
def condition(shape: Shape, obj: str, act: str) -> Condition:
    """The condition under which a principal of ``shape`` may ``act`` on ``obj`` of a factory."""
    _probe.clear()
    if shape.kind is not None:
        _probe.add_links(
            standing_links(
                _PROBE_ORG, shape.kind, _HOME if shape.has_country else None, shape.inspectorate
            )
        )
    subject = "anonymous" if shape.kind is None else f"org:{_PROBE_ORG}"
    allowed: list[Clause] = []
    for clause in _subsets():  # smallest first, so supersets of an allowed clause are skipped
        if any(found <= clause for found in allowed):
            continue
        links = [(subject, rel, f"factory:{_PROBE_FACTORY}") for rel in clause if rel != IN_COUNTRY]
        _probe.add_links(links)
        country = _HOME if IN_COUNTRY in clause else _ELSEWHERE
        if _probe.check(
            subject, shape.role, f"factory:{_PROBE_FACTORY}", f"country:{country}", obj, act
        ):
            allowed.append(clause)
        _probe.remove_links(links)
    return Condition(tuple(allowed))


def decide(principal: Principal, obj: str, act: str, *, in_country: bool) -> bool:
    """A decision that depends on no factory (statistics, exports, admin objects)."""
    cond = condition(Shape.of(principal), obj, act)
    return any(
        not (clause - {IN_COUNTRY}) and (in_country or IN_COUNTRY not in clause)
        for clause in cond.clauses
    )
