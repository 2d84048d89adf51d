"""The GraphQL documents of the console's pages (each names its operation for the logs)."""

from __future__ import annotations

VIEWER = """query ConsoleViewer {
  viewer { user { email } organization { name kind } role factoryId }
}"""

GRANTS = """query ConsoleGrants($id: ID!) {
  factory(id: $id) {
    id name
    consentGrants {
      id scopes grantedAt expiresAt revokedAt active replacesId
      grantee { id name kind }
    }
  }
}"""

DIRECTORY = """query ConsoleDirectory($search: String, $kind: OrganizationKind) {
  directory(search: $search, kind: $kind, first: 20) {
    edges { node { id name kind country { name } } }
  }
}"""

_PAYLOAD = "{ grant { id scopes expiresAt active grantee { name } } errors { code message field } }"

GRANT = f"""mutation ConsoleGrant($input: GrantConsentInput!) {{
  grantConsent(input: $input) {_PAYLOAD}
}}"""

UPDATE = f"""mutation ConsoleUpdateConsent($input: UpdateConsentInput!) {{
  updateConsent(input: $input) {_PAYLOAD}
}}"""

REVOKE = f"""mutation ConsoleRevoke($input: RevokeConsentInput!) {{
  revokeConsent(input: $input) {_PAYLOAD}
}}"""

ACCESS_LOG = """query ConsoleAccessLog($id: ID!, $after: String) {
  factory(id: $id) {
    id name
    accessLog(first: 100, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { at operation via fields organization { id name kind } } }
    }
  }
}"""

ASSESSMENTS = """query ConsoleAssessments($id: ID!) {
  factory(id: $id) {
    id name
    assessments(first: 50) {
      edges { node { id cycle kind assessedOn status releasedOn gatewayReleaseOn } }
    }
    selfAssessments { id cycle step toolVersion submittedAt }
  }
}"""

AUDIT = """query ConsoleAudit($id: ID!, $after: String) {
  factory(id: $id) {
    id name
    auditLog(first: 50, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { seq at action target organization { name } } }
    }
    auditCheckpoint { seq headHash signedAt }
  }
}"""


def eligibility(cycles: list[int]) -> str:
    """One ``gatewayEligibility`` per cycle, each under the alias ``c<cycle>``."""
    wanted = "{ eligible reasons gatewayReleaseOn }"
    fields = "\n".join(
        f"    c{int(c)}: gatewayEligibility(cycle: {int(c)}) {wanted}" for c in cycles
    )
    return f"""query ConsoleGateway($id: ID!) {{
  factory(id: $id) {{
    id name
    slcp {{ gatewayId }}
{fields}
  }}
}}"""
