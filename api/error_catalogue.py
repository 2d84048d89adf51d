"""Every code a client may meet, with its meaning: the one list the schema and docs quote.

``UserError.code`` (typed errors of mutation payloads), ``extensions.code`` (GraphQL and
HTTP errors) and ``GatewayEligibility.reasons`` are stable strings a client switches on.
Their meanings live here once; the schema descriptions are built from these tables, and
``tests/api/test_error_catalogue.py`` checks that the code raises no code missing here and
that ``docs/errors.md`` lists each with the same meaning.
"""

from __future__ import annotations

from collections.abc import Mapping

USER_ERROR_CODES: Mapping[str, str] = {
    "NOT_FOUND": "The row named by `field` does not exist, or the caller may not see it: "
    "the two are never told apart.",
    "FORBIDDEN": "The caller sees the target but may not do this to it (a worker "
    "representative granting, a grantee changing its grant, anyone but the platform "
    "administering).",
    "INVALID": "The value of `field` is malformed or out of range; the message says which "
    "rule it breaks (e.g. expiresAt in the past, no scope, not an email address).",
    "ALREADY_EXISTS": "The change would duplicate a row: an active grant to this "
    "organisation (change it with updateConsent), a user with this email, or a conflict "
    "the database found.",
    "NOT_ACTIVE": "The grant or API key has already ended: revoked, expired, or replaced "
    "by updateConsent.",
    "NO_CHANGE": "updateConsent: the grant already has these scopes and this expiry; "
    "nothing was written.",
    "ALREADY_REGISTERED": "registerSlcp: the factory is registered under another Gateway ID.",
    "ALREADY_SUBMITTED": "submitSelfAssessment: this step was submitted and is read-only.",
    "UNKNOWN_QUESTION": "submitSelfAssessment: an answer names a question that is not in "
    "the country's catalogue for this step (field `answers.<code>`).",
    "WHOLE_SHARE_REQUIRED": "grantConsent to a host: a Gateway share is one verified data "
    "set, the self-assessment with Better Work's assessment of it (Q26, Q28, Q36), so a "
    "host's grant carries both scopes.",
    "IMPORT_NOT_ACCEPTED": "Self-assessments made elsewhere and data of other verifiers are "
    "not imported (rule 10, Q29, Q40).",
    "ALREADY_RELEASED": "releaseAssessment: the assessment is already released.",
    "RELEASE_TOO_LATE": "releaseAssessment: past the 28 days after the assessment (Q6); "
    "only a platform admin may release it then, with overrideDeadline.",
}

# `extensions.code` of the entries of a response's top-level `errors`.
REQUEST_ERROR_CODES: Mapping[str, str] = {
    "BAD_ARGUMENT": "An argument out of range: a page size, a cursor, a country code, a "
    "directory search.",
    "GRAPHQL_PARSE_FAILED": "The document is not GraphQL.",
    "GRAPHQL_VALIDATION_FAILED": "The document does not fit the schema, or exceeds a query "
    "limit (depth, aliases, tokens).",
    "QUERY_TOO_COMPLEX": "The query expands to too many fields, or would cost validation "
    "too much (HTTP 400); refused before it is validated.",
    "OPERATION_NAME_REQUIRED": "The document holds several operations: name one in "
    "operationName (HTTP 400, nothing runs).",
    "UNKNOWN_OPERATION": "operationName names no operation of the document (HTTP 400).",
    "NO_OPERATION": "The document holds no operation (HTTP 400).",
    "INTERNAL": "An unexpected error, logged with the request id; the message says nothing more.",
    "UNAUTHENTICATED": "The bearer token or API key does not verify, has expired, or "
    "belongs to a disabled user or a revoked key (HTTP 401, no detail).",
    "BAD_REQUEST": "The body is not one GraphQL request as a JSON object (HTTP 400).",
    "METHOD_NOT_ALLOWED": "Use POST with a JSON body (HTTP 405).",
    "UNSUPPORTED_MEDIA_TYPE": "Send application/json (HTTP 415).",
    "TOO_LARGE": "The request body is too large (HTTP 413).",
    "RATE_LIMITED": "Too many requests: wait for Retry-After (HTTP 429).",
    "IDEMPOTENCY_KEY_REUSED": "The Idempotency-Key was used with another request (HTTP 409).",
    "UNAVAILABLE": "The request did not complete: retry with the same Idempotency-Key (HTTP 503).",
}

ELIGIBILITY_REASONS: Mapping[str, str] = {
    "NOT_REGISTERED": "The factory has no SLCP Gateway registration.",
    "WRONG_VERIFIER_BODY": "It registered naming a verifier body other than Better Work.",
    "SHARING_NOT_CONFIRMED": "It never confirmed that assessment data may be shared.",
    "REGISTERED_LATE": "It registered on or after the assessment date (Q27).",
    "SHARING_CONFIRMED_LATE": "It confirmed the sharing on or after the assessment date.",
    "NO_SELF_ASSESSMENT": "The cycle's step 1 self-assessment was never submitted.",
    "SELF_ASSESSMENT_LATE": "The step 1 self-assessment was submitted on or after the "
    "assessment date (the UTC date of its submission counts).",
    "COUNTRY_NOT_ROLLED_OUT": "The factory's country has no SLCP roll-out date (Q42).",
    "COUNTRY_ROLLED_OUT_LATE": "The country rolled out after the assessment date.",
    "NO_ASSESSMENT": "The cycle has no assessment yet (or none released that the caller may see).",
    "NOT_RELEASED": "The assessment is a draft, or its release date has not come.",
    "GATEWAY_RELEASE_PENDING": "Released, but the Gateway release date (release + 15 days) "
    "has not come: the one reason that leaves `eligible` true.",
    "NO_SUCH_CYCLE": "The factory has no cycle with this number.",
}


def described(intro: str, codes: Mapping[str, str]) -> str:
    """A schema description: ``intro``, then one ``CODE: meaning`` line per code."""
    return "\n".join([intro, *(f"- {code}: {meaning}" for code, meaning in codes.items())])
