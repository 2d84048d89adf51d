"""The GraphQL documents the benchmark sends (and the equivalence tests replay)."""

from __future__ import annotations

FINDING_FIELDS = (
    "id cluster compliancePoint questionCode nonCompliant publicReporting zeroTolerance detail"
)

# (1) A brand's page: the first visible factories, each with its latest released assessment,
# that assessment's finding count and its first 20 findings.
BRAND_PAGE = """
query BrandPage($first: Int!) {
  factories(first: $first) {
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        id
        name
        country { code }
        assessments(first: 1) {
          edges {
            node {
              id cycle kind assessedOn releasedOn
              findings(first: 20) {
                totalCount
                edges { node { FINDING_FIELDS } }
              }
            }
          }
        }
      }
    }
  }
}
""".replace("FINDING_FIELDS", FINDING_FIELDS)

# (2) A light page: 20 factories with counts only.
LIGHT_PAGE = """
query LightPage {
  factories(first: 20) {
    totalCount
    edges {
      node {
        id
        name
        assessments(first: 1) {
          totalCount
          edges { node { id findings(first: 0) { totalCount } } }
        }
      }
    }
  }
}
"""

# (3) One factory with everything a brand may see.
ONE_FACTORY = """
query OneFactory($id: ID!) {
  factory(id: $id) {
    id name enrolledOn highPerformance
    organization { id name kind }
    country { code name slcpRolloutOn overlayVersion betterWorkProgramme }
    slcp { gatewayId registeredOn verifierBody assessmentSharingConfirmedOn }
    assessments(first: 10) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        cursor
        node {
          id cycle kind assessedOn status releasedOn gatewayReleaseOn virtual
          findings(first: 100) {
            totalCount
            pageInfo { hasNextPage endCursor }
            edges { cursor node { FINDING_FIELDS } }
          }
        }
      }
    }
    selfAssessments { id }
    consentGrants { id scopes grantedAt expiresAt revokedAt active grantee { id name } }
  }
}
""".replace("FINDING_FIELDS", FINDING_FIELDS)

# (4) A host pulls a page of its exports.
EXPORTS_PAGE = """
query ExportsPage {
  gatewayExports(first: 20) {
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node { id factoryGatewayId cycle createdAt releaseOn contentSha256 schemaVersion envelope }
    }
  }
}
"""

# (5) A constituent's statistics of its country.
STATISTICS = """
query Statistics($country: String!) {
  countryStatistics(country: $country) { cluster factories nonComplianceRate suppressed }
}
"""

# (6) A factory grants a brand, then revokes the grant.
GRANT = """
mutation Grant($input: GrantConsentInput!) {
  grantConsent(input: $input) { grant { id active scopes } errors { code message field } }
}
"""
REVOKE = """
mutation Revoke($input: RevokeConsentInput!) {
  revokeConsent(input: $input) { grant { id active revokedAt } errors { code message field } }
}
"""
