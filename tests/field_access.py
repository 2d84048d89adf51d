"""Who may read each field of each type: the deny-by-default table (DESIGN "who sees what").

``tests/test_schema.py`` introspects the served schema and fails on any field of any type
(Query and Mutation have their own tables there) that has no entry here, and on any entry
whose field is gone. To add a field, add one line::

    "Type.field": "who may read it",  # or a rule below, e.g. AS_PARENT

A rule names who sees the field, not how it is computed; a field that needs nothing beyond
its object's own rule says so with AS_PARENT (or the named rule of its type).
"""

from __future__ import annotations

AS_PARENT = "whoever may read the object it hangs on: no rule of its own"
CONNECTION = "paging of a list whose rows each keep their own rule"
PAYLOAD = "the caller of the mutation that returns it, about its own change"
ASSESSMENTS = (
    "the factory, ASSESSMENT grantees (released only, rule 5), its country's programme "
    "(drafts too), the platform; authz.scope"
)
FINDINGS = "as the assessment it belongs to (rule 7: no mark of origin)"
SELF_ASSESSMENTS = "the factory, SELF_ASSESSMENT grantees, its country's programme (read)"
FACTORIES = "the factory, active grantees, its country's programme, the platform; authz.scope"
SLCP_ONLY = (
    "never a brand (rule 8): the factory, hosts with a grant, its country's programme, the platform"
)
OWN_FACTORY_ONLY = "the factory itself only"
GRANTS = "the factory (manages), the grantee (its own), its country's programme (read)"
EXPORTS = "HOST: its own exports while a grant is active"
STATISTICS = "PROGRAMME and CONSTITUENT of the country; cells of 5 factories or more"
REFERENCE = "anyone: reference data"
PUBLIC = "anyone, anonymous included: findings flagged public of released assessments (rule 13)"
ZERO_TOLERANCE = (
    "the labour inspectorate and programme of the country, ASSESSMENT grantees, "
    "the platform (rule 15)"
)
ENROLLED = "HOST and the platform (rule 17)"
ORGANIZATIONS = "the platform; anyone else its own organisation and the parties of its grants"
USERS = "platform admins all; anyone else itself"
API_KEYS = "platform admins: prefixes, never secrets"
ISSUED_SECRET = "the platform admin who issued it, once, in the mutation's answer"
VIEWER = "the caller itself"
DELIVERIES = "the host it was sent to (HOST_INTEGRATION), platform admins"
OWN_SECRET = "the host's own integration that asked for it, once, in the mutation's answer"
DIRECTORY = "factory managers and platform admins: names, kinds and countries of brands and hosts"


def each(type_name: str, fields: str, rule: str) -> dict[str, str]:
    return {f"{type_name}.{field}": rule for field in fields.split()}


FIELD_ACCESS: dict[str, str] = {
    **each("AccessEvent", "at operation organization via fields readerId", OWN_FACTORY_ONLY),
    **each("AccessEventConnection", "edges pageInfo totalCount", CONNECTION),
    **each("AccessEventEdge", "node cursor", CONNECTION),
    **each("ApiKey", "id prefix createdAt revokedAt", API_KEYS),
    **each("ApiKeyPayload", "apiKey errors", PAYLOAD),
    "ApiKeyPayload.secret": ISSUED_SECRET,
    **each(
        "Assessment",
        "id cycle kind assessedOn status releasedOn gatewayReleaseOn virtual",
        ASSESSMENTS,
    ),
    "Assessment.factory": FACTORIES,
    "Assessment.findings": FINDINGS,
    **each("AssessmentConnection", "edges pageInfo totalCount", CONNECTION),
    **each("AssessmentEdge", "node cursor", CONNECTION),
    **each("AssessmentPayload", "assessment errors", PAYLOAD),
    **each("AuditEntry", "seq at action target details organization", OWN_FACTORY_ONLY),
    **each("AuditCheckpoint", "seq headHash signedAt jws", OWN_FACTORY_ONLY),
    **each("AuditEntryConnection", "edges pageInfo totalCount", CONNECTION),
    **each("AuditEntryEdge", "node cursor", CONNECTION),
    **each("ClusterStatistic", "cluster factories nonComplianceRate suppressed", STATISTICS),
    **each("ConsentGrant", "id scopes grantedAt expiresAt revokedAt active replacesId", GRANTS),
    "ConsentGrant.factory": FACTORIES,
    "ConsentGrant.grantee": ORGANIZATIONS,
    **each("ConsentGrantPayload", "grant errors", PAYLOAD),
    **each("Country", "code name slcpRolloutOn overlayVersion betterWorkProgramme", REFERENCE),
    **each("CountryPayload", "country errors", PAYLOAD),
    **each(
        "Question",
        "code cluster compliancePoint cafRef step publicReporting zeroTolerance toolVersion "
        "overlayVersion cursor",
        REFERENCE,
    ),
    **each("DirectoryConnection", "edges pageInfo totalCount", CONNECTION),
    **each("DirectoryEdge", "node cursor", CONNECTION),
    **each("DirectoryEntry", "id name kind country", DIRECTORY),
    **each("EnrolledFactory", "name country enrolledOn slcpGatewayId cursor", ENROLLED),
    **each("Factory", "id name enrolledOn highPerformance organization country", FACTORIES),
    "Factory.slcp": SLCP_ONLY,
    "Factory.gatewayEligibility": SLCP_ONLY,
    "Factory.assessments": ASSESSMENTS,
    "Factory.selfAssessments": SELF_ASSESSMENTS,
    "Factory.consentGrants": GRANTS,
    "Factory.accessLog": OWN_FACTORY_ONLY,
    "Factory.auditLog": OWN_FACTORY_ONLY,
    "Factory.auditCheckpoint": OWN_FACTORY_ONLY,
    **each("FactoryConnection", "pageInfo edges totalCount", CONNECTION),
    **each("FactoryEdge", "node cursor", CONNECTION),
    **each("FactoryPayload", "factory errors", PAYLOAD),
    **each(
        "Finding",
        "id cluster compliancePoint questionCode nonCompliant publicReporting zeroTolerance",
        FINDINGS,
    ),
    "Finding.detail": FINDINGS + "; encrypted at rest, decrypted only when asked",
    **each("FindingConnection", "edges pageInfo totalCount", CONNECTION),
    **each("FindingEdge", "node cursor", CONNECTION),
    **each("GatewayEligibility", "eligible reasons gatewayReleaseOn", SLCP_ONLY),
    **each(
        "GatewayExport",
        "id exportId factoryGatewayId cycle createdAt releaseOn contentSha256 schemaVersion "
        "envelope",
        EXPORTS,
    ),
    **each("GatewayExportConnection", "edges pageInfo totalCount", CONNECTION),
    **each("GatewayExportEdge", "node cursor", CONNECTION),
    **each("HostWebhookPayload", "organization errors", PAYLOAD),
    "HostWebhookPayload.secret": ISSUED_SECRET,
    **each("HostIntegrationPayload", "organization errors", PAYLOAD),
    **each("OwnApiKeyPayload", "apiKey errors", PAYLOAD),
    "OwnApiKeyPayload.secret": OWN_SECRET,
    **each("OwnWebhookPayload", "organization errors", PAYLOAD),
    "OwnWebhookPayload.secret": OWN_SECRET,
    **each(
        "WebhookDelivery",
        "id event webhookId exportId state attempts lastError nextAttemptAt deliveredAt createdAt "
        "host",
        DELIVERIES,
    ),
    **each("WebhookDeliveryConnection", "edges pageInfo totalCount", CONNECTION),
    **each("WebhookDeliveryEdge", "node cursor", CONNECTION),
    **each("WebhookDeliveryPayload", "delivery errors", PAYLOAD),
    "Node.id": "each type by the scope of its rows (null when not visible)",
    **each("Organization", "id name kind country labourInspectorate", ORGANIZATIONS),
    "Organization.hasHostKey": ORGANIZATIONS + "; meaningful for HOST only",
    "Organization.users": USERS,
    "Organization.apiKeys": API_KEYS,
    **each("OrganizationPayload", "organization errors", PAYLOAD),
    **each("PageInfo", "hasNextPage endCursor", CONNECTION),
    **each("PublicFinding", "factoryName country assessedOn cluster compliancePoint", PUBLIC),
    **each("SelfAssessment", "id cycle step toolVersion submittedAt answers", SELF_ASSESSMENTS),
    **each("SelfAssessmentPayload", "selfAssessment errors", PAYLOAD),
    **each(
        "SlcpRegistration",
        "gatewayId registeredOn verifierBody assessmentSharingConfirmedOn",
        SLCP_ONLY,
    ),
    **each("User", "id email role organization disabledAt", USERS),
    **each("UserError", "code message field", PAYLOAD),
    **each("UserPayload", "user errors", PAYLOAD),
    **each("Viewer", "user organization role factoryId", VIEWER),
    **each(
        "ZeroToleranceCase",
        "factoryId factoryName assessedOn cluster compliancePoint questionCode detail",
        ZERO_TOLERANCE,
    ),
}
