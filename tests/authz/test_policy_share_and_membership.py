"""The rules added to policy.conf: a host's share facts by scope, a factory's membership.

- ``shared_assessment`` / ``shared_self_assessment``: what a host's Gateway share carries,
  readable by a host only under the scope it was granted (gatewayEligibility's facts).
- ``membership`` (write): a factory's users are added and removed by its managers alone; the
  platform, the programme and everyone else never (rule 1).
"""

from __future__ import annotations

import pytest

import models as m
from authz.rules import ASSESSMENT, OWNER, SELF_ASSESSMENT, Condition, Shape, condition

K = m.OrganizationKind
SHAPES = {
    "factory manager": Shape(K.FACTORY, "FACTORY_MANAGER", False, False),
    "worker representative": Shape(K.FACTORY, "WORKER_REPRESENTATIVE", False, False),
    "brand": Shape(K.BRAND, "BRAND_VIEWER", False, False),
    "host": Shape(K.HOST, "HOST_INTEGRATION", False, False),
    "programme": Shape(K.PROGRAMME, "ASSESSOR", True, False),
    "platform admin": Shape(K.PLATFORM, "PLATFORM_ADMIN", False, False),
    "anonymous": Shape(None, "ANONYMOUS", False, False),
}
NEVER = Condition(())


def _only(*atoms: str) -> Condition:
    return Condition((frozenset(atoms),))


@pytest.mark.parametrize("shape", list(SHAPES))
def test_given_a_caller_when_asking_a_hosts_share_facts_then_only_a_host_under_its_scope(
    shape: str,
) -> None:
    assessment = condition(SHAPES[shape], "shared_assessment", "read")
    self_assessment = condition(SHAPES[shape], "shared_self_assessment", "read")

    if shape == "host":
        assert assessment == _only(ASSESSMENT)
        assert self_assessment == _only(SELF_ASSESSMENT)
    else:
        assert assessment == NEVER and self_assessment == NEVER


@pytest.mark.parametrize("shape", list(SHAPES))
def test_given_a_caller_when_changing_a_factorys_membership_then_only_its_managers(
    shape: str,
) -> None:
    found = condition(SHAPES[shape], "membership", "write")

    assert found == (_only(OWNER) if shape == "factory manager" else NEVER)
