"""What ``policy.conf`` allows, restated as conditions the scoped query turns into SQL.

For a principal's *shape* (organisation kind, role, whether it has a country, whether it is
the labour inspectorate) and an (object, action), a probe asks the same enforcer about a
hypothetical factory under every combination of relations the principal could have with it:
owner, ASSESSMENT grant, SELF_ASSESSMENT grant, factory in the principal's country. The
minimal combinations that the model allows become the condition: an OR of ANDs of
relations. So the rows a list returns and the answer of a point check come from one model.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import models as m
from authz.enforcer import ENFORCER, Relation, Subject, allows
from authz.principal import Principal

OWNER = "owner"
ASSESSMENT = m.DataScope.ASSESSMENT.value
SELF_ASSESSMENT = m.DataScope.SELF_ASSESSMENT.value
IN_COUNTRY = "in_country"
FACTORY_RELATIONS = (OWNER, ASSESSMENT, SELF_ASSESSMENT)
ATOMS = (*FACTORY_RELATIONS, IN_COUNTRY)


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


def _subsets() -> list[Clause]:
    return [frozenset(c) for n in range(len(ATOMS) + 1) for c in combinations(ATOMS, n)]


@lru_cache(maxsize=4096)
def condition(shape: Shape, obj: str, act: str) -> Condition:
    """The condition under which a principal of ``shape`` may ``act`` on ``obj`` of a factory."""
    subject = Subject("" if shape.kind is None else shape.kind.value, shape.inspectorate)
    allowed: list[Clause] = []
    for clause in _subsets():  # smallest first, so supersets of an allowed clause are skipped
        if any(found <= clause for found in allowed):
            continue
        rel = Relation(
            owner=OWNER in clause,
            grants=frozenset(clause & {ASSESSMENT, SELF_ASSESSMENT}),
            in_country=IN_COUNTRY in clause and shape.has_country,  # none without a country
        )
        if ENFORCER.decide(subject, shape.role, rel, obj, act):
            allowed.append(clause)
    return Condition(tuple(allowed))


def needs_grants(principal: Principal, obj: str, act: str) -> bool:
    """Whether the rule for this caller can turn on its grants: if not, none are read."""
    if principal.organization_id is None:
        return False
    clauses = condition(Shape.of(principal), obj, act).clauses
    return any(clause & {ASSESSMENT, SELF_ASSESSMENT} for clause in clauses)


def decide(principal: Principal, obj: str, act: str, *, in_country: bool) -> bool:
    """A decision that depends on no factory (statistics, exports, admin objects)."""
    return allows(principal, obj, act, Relation(in_country=in_country))
