"""Millgate's SQLAlchemy models, one module per aggregate.

Import as ``import models as m`` and write ``m.Factory`` beside the GraphQL ``Factory``.
"""

from models.access_log import names_factory
from models.assessments import GATEWAY_DELAY_DAYS, RELEASE_WITHIN_DAYS, Assessment, Finding
from models.audit import AuditEntry
from models.base import Base, utcnow
from models.consent import AccessEvent, ConsentGrant
from models.enums import (
    ROLES_OF_KIND,
    AssessmentKind,
    AssessmentStatus,
    ComplianceCluster,
    DataScope,
    DeliveryState,
    OrganizationKind,
    Provenance,
    Role,
)
from models.exports import GatewayExport, WebhookDelivery
from models.factories import BETTER_WORK, Factory, SelfAssessment, ServiceCycle
from models.idempotency import IdempotencyRecord as IdempotencyRecord
from models.identities import IdentityLink
from models.organizations import ApiKey, Organization, User
from models.reference import Country, Question

__all__ = [
    "BETTER_WORK",
    "GATEWAY_DELAY_DAYS",
    "RELEASE_WITHIN_DAYS",
    "ROLES_OF_KIND",
    "AccessEvent",
    "ApiKey",
    "Assessment",
    "AssessmentKind",
    "AssessmentStatus",
    "AuditEntry",
    "Base",
    "ComplianceCluster",
    "ConsentGrant",
    "Country",
    "DataScope",
    "DeliveryState",
    "Factory",
    "Finding",
    "GatewayExport",
    "IdentityLink",
    "Organization",
    "OrganizationKind",
    "Provenance",
    "Question",
    "Role",
    "SelfAssessment",
    "ServiceCycle",
    "User",
    "WebhookDelivery",
    "names_factory",
    "utcnow",
]
