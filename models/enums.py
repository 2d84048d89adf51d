"""The closed vocabularies of the domain (mirrored by the GraphQL enums)."""

from __future__ import annotations

import enum


class OrganizationKind(enum.StrEnum):
    FACTORY = "FACTORY"
    BRAND = "BRAND"
    HOST = "HOST"
    PROGRAMME = "PROGRAMME"
    CONSTITUENT = "CONSTITUENT"
    PLATFORM = "PLATFORM"


class Role(enum.StrEnum):
    FACTORY_MANAGER = "FACTORY_MANAGER"
    WORKER_REPRESENTATIVE = "WORKER_REPRESENTATIVE"
    BRAND_VIEWER = "BRAND_VIEWER"
    HOST_INTEGRATION = "HOST_INTEGRATION"
    ASSESSOR = "ASSESSOR"
    CONSTITUENT_VIEWER = "CONSTITUENT_VIEWER"
    PLATFORM_ADMIN = "PLATFORM_ADMIN"


# Which roles a member of each kind of organisation may hold.
ROLES_OF_KIND: dict[OrganizationKind, frozenset[Role]] = {
    OrganizationKind.FACTORY: frozenset({Role.FACTORY_MANAGER, Role.WORKER_REPRESENTATIVE}),
    OrganizationKind.BRAND: frozenset({Role.BRAND_VIEWER}),
    OrganizationKind.HOST: frozenset({Role.HOST_INTEGRATION}),
    OrganizationKind.PROGRAMME: frozenset({Role.ASSESSOR}),
    OrganizationKind.CONSTITUENT: frozenset({Role.CONSTITUENT_VIEWER}),
    OrganizationKind.PLATFORM: frozenset({Role.PLATFORM_ADMIN}),
}


class DataScope(enum.StrEnum):
    ASSESSMENT = "ASSESSMENT"
    SELF_ASSESSMENT = "SELF_ASSESSMENT"


class AssessmentKind(enum.StrEnum):
    ONSITE = "ONSITE"
    VIRTUAL_COMPLIANCE_CHECK = "VIRTUAL_COMPLIANCE_CHECK"


class AssessmentStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    RELEASED = "RELEASED"


class ComplianceCluster(enum.StrEnum):
    CHILD_LABOUR = "CHILD_LABOUR"
    DISCRIMINATION = "DISCRIMINATION"
    FORCED_LABOUR = "FORCED_LABOUR"
    FREEDOM_OF_ASSOCIATION = "FREEDOM_OF_ASSOCIATION"
    COMPENSATION = "COMPENSATION"
    CONTRACTS_AND_HUMAN_RESOURCES = "CONTRACTS_AND_HUMAN_RESOURCES"
    OCCUPATIONAL_SAFETY_AND_HEALTH = "OCCUPATIONAL_SAFETY_AND_HEALTH"
    WORKING_TIME = "WORKING_TIME"


class Provenance(enum.StrEnum):
    """Where an answer in an export comes from."""

    ASSESSED = "ASSESSED"
    SELF_ASSESSED = "SELF_ASSESSED"


class DeliveryState(enum.StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
