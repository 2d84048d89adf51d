"""The enforcer holds many facts as flat links: decisions stay right at scale.

Speed itself is measured by ``bench/authz_bench.py`` (figures, not timed assertions); here
the structure that keeps it cheap is checked: links live in the flat role manager (one set
lookup per ``g()``), not in pycasbin's policy lists, and decisions at 10^4 links are right.
"""

from __future__ import annotations

import models as m
from authz.enforcer import FlatRoleManager, PolicyEnforcer, country_domain, factory_domain, org
from authz.principal import Principal

ASSESSOR = Principal(
    organization_id=50_000,
    organization_kind=m.OrganizationKind.PROGRAMME,
    role=m.Role.ASSESSOR,
    country_code="ID",
)


def brand(n: int) -> Principal:
    return Principal(
        organization_id=n, organization_kind=m.OrganizationKind.BRAND, role=m.Role.BRAND_VIEWER
    )


def test_links_go_to_the_flat_role_manager_not_to_policy_lists() -> None:
    enforcer = PolicyEnforcer()
    for factory in range(1, 10_001):
        enforcer.add(
            (org(100_000 + factory), "owner", factory_domain(factory)), f"factory:{factory}"
        )

    assert isinstance(enforcer.matcher.casbin.get_role_manager(), FlatRoleManager)
    assert enforcer.link_count == 10_000
    assert enforcer.matcher.casbin.get_model()["g"]["g"].policy == []


def test_decisions_at_ten_thousand_links_are_right() -> None:
    enforcer = PolicyEnforcer()
    for n in range(1, 1_001):
        enforcer.add((org(n), "brand", "*"), org(n))
        for f in range(n % 10, 100, 10):
            enforcer.add((org(n), "ASSESSMENT", factory_domain(f)), f"grant:{n}-{f}")
    enforcer.add((org(50_000), "programme", country_domain("ID")), org(50_000))

    assert enforcer.allows(ASSESSOR, "assessment", "write", factory_id=1, country="ID")
    assert not enforcer.allows(ASSESSOR, "assessment", "write", factory_id=1, country="VN")
    assert enforcer.allows(brand(7), "assessment", "read", factory_id=17, country="ID")
    assert not enforcer.allows(brand(7), "assessment", "read", factory_id=18, country="ID")
    assert not enforcer.allows(brand(7), "slcp", "read", factory_id=17, country="ID")
