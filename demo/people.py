"""The organisations of the demo world other than factories, and how its users are named."""

from __future__ import annotations

from dataclasses import dataclass

import models as m

Kind = m.OrganizationKind

# The local part of each role's demo address: ``manager@<organisation slug>.demo``.
MAILBOX = {
    m.Role.FACTORY_MANAGER: "manager",
    m.Role.WORKER_REPRESENTATIVE: "worker-rep",
    m.Role.BRAND_VIEWER: "viewer",
    m.Role.HOST_INTEGRATION: "integration",
    m.Role.ASSESSOR: "assessor",
    m.Role.CONSTITUENT_VIEWER: "viewer",
    m.Role.PLATFORM_ADMIN: "admin",
}


def email_of(role: m.Role, slug: str) -> str:
    """The demo address of the user holding ``role`` in the organisation ``slug``."""
    return f"{MAILBOX[role]}@{slug}.demo"


@dataclass(frozen=True, slots=True)
class OrgSpec:
    slug: str
    name: str
    kind: m.OrganizationKind
    role: m.Role
    country: str | None = None
    labour_inspectorate: bool = False


PLATFORM = OrgSpec("millgate", "Millgate Operations", Kind.PLATFORM, m.Role.PLATFORM_ADMIN)

PROGRAMMES = tuple(
    OrgSpec(f"bw-{code.lower()}", f"Better Work {name}", Kind.PROGRAMME, m.Role.ASSESSOR, code)
    for code, name in (
        ("ID", "Indonesia"),
        ("BD", "Bangladesh"),
        ("VN", "Viet Nam"),
        ("KH", "Cambodia"),
        ("ET", "Ethiopia"),
    )
)

BRANDS = (
    OrgSpec("northwind-apparel", "Northwind Apparel", Kind.BRAND, m.Role.BRAND_VIEWER),
    OrgSpec("harbour-outfitters", "Harbour & Field Outfitters", Kind.BRAND, m.Role.BRAND_VIEWER),
    OrgSpec("lumen-basics", "Lumen Basics", Kind.BRAND, m.Role.BRAND_VIEWER),
)

# The first host registers an X25519 key and gets an API key; the second has done neither yet.
KEYED_HOST = "open-audit-hub"
HOSTS = (
    OrgSpec(KEYED_HOST, "Open Audit Hub", Kind.HOST, m.Role.HOST_INTEGRATION),
    OrgSpec("fairtrace-platform", "FairTrace Platform", Kind.HOST, m.Role.HOST_INTEGRATION),
)

LABOUR_INSPECTORATE = "id-labour-inspectorate"
CONSTITUENTS = (
    OrgSpec(
        LABOUR_INSPECTORATE,
        "Directorate of Labour Inspection, Indonesia",
        Kind.CONSTITUENT,
        m.Role.CONSTITUENT_VIEWER,
        "ID",
        labour_inspectorate=True,
    ),
    OrgSpec(
        "id-garment-workers-federation",
        "Indonesian Garment Workers' Federation",
        Kind.CONSTITUENT,
        m.Role.CONSTITUENT_VIEWER,
        "ID",
    ),
    OrgSpec(
        "bd-garment-employers",
        "Bangladesh Garment Employers' Association",
        Kind.CONSTITUENT,
        m.Role.CONSTITUENT_VIEWER,
        "BD",
    ),
)

OTHER_ORGANIZATIONS = (PLATFORM, *PROGRAMMES, *BRANDS, *HOSTS, *CONSTITUENTS)
