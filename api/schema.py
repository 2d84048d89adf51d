"""The Schema: query, mutations, and the limits every request runs under."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from opentelemetry.trace import TracerProvider
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from api.assessments.mutations import AssessmentMutations
from api.assessments.types import Assessment, Finding
from api.catalogue.queries import CatalogueQueries
from api.consent.mutations import ConsentChangeMutations, ConsentMutations
from api.consent.types import ConsentGrant
from api.directory.queries import DirectoryQueries
from api.documents import DocumentCache, DocumentCacheExtension, document_cache
from api.error_codes import ErrorCodes
from api.factories.mutations import EnrollmentMutations, RegistrationMutations
from api.factories.queries import FactoryQueries
from api.factories.types import Factory
from api.fastpath import executor_class
from api.gateway.queries import EnrolledFactoryQueries, GatewayExportQueries
from api.gateway.types import GatewayExport
from api.hosts import mutations as hosts
from api.hosts import queries as host_queries
from api.middleware.tracing import graphql_extension
from api.node_lookup import NodeQuery
from api.organizations.key_mutations import ApiKeyMutations
from api.organizations.mutations import HostMutations, OrganizationMutations
from api.organizations.queries import OrganizationQueries, ViewerQueries
from api.organizations.types import ApiKey, Organization, User
from api.organizations.user_mutations import UserMutations
from api.self_assessments.mutations import SelfAssessmentMutations
from api.self_assessments.types import SelfAssessment
from api.statistics.queries import StatisticsQueries
from core.settings import Settings

log = logging.getLogger("millgate.graphql")

# Each domain's root fields, one line each; the order is the printed order of the SDL.
Query = merge_types(
    "Query",
    (
        NodeQuery,
        ViewerQueries,
        FactoryQueries,
        GatewayExportQueries,
        StatisticsQueries,
        EnrolledFactoryQueries,
        CatalogueQueries,
        OrganizationQueries,
        DirectoryQueries,
        host_queries.HostQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        ConsentMutations,
        RegistrationMutations,
        SelfAssessmentMutations,
        ConsentChangeMutations,
        EnrollmentMutations,
        AssessmentMutations,
        OrganizationMutations,
        UserMutations,
        ApiKeyMutations,
        HostMutations,
        hosts.HostMutations,
    ),
)


def _unexpected(error: GraphQLError) -> bool:
    """Mask what came from our code by surprise; keep syntax, validation and BadArgument."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MillgateSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        context: Any = execution_context.context if execution_context else None
        request_id = getattr(context, "request_id", "-")
        for error in errors:
            if _unexpected(error):
                assert error.original_error is not None
                log.error(
                    "unexpected error in %s (request %s)",
                    ".".join(str(p) for p in error.path or []),
                    request_id,
                    exc_info=error.original_error,
                )


def build_schema(
    settings: Settings,
    documents: DocumentCache | None = None,
    tracer_provider: TracerProvider | None = None,
) -> strawberry.Schema:
    """The schema under ``settings``' limits. ``documents`` (by default a new one) keeps the
    parsed and validated documents: it must serve this schema only, whose rules it trusts."""
    # Not `documents or ...`: an empty cache is falsy.
    cache = documents if documents is not None else document_cache(settings)
    if cache.max_tokens != settings.max_query_tokens:
        raise ValueError("the document cache must parse under the settings' token limit")
    # Factories, not instances: strawberry builds a fresh extension for each request.
    extensions: list[Any] = [
        # First: outermost, so it sees errors after masking.
        lambda: ErrorCodes(production=settings.production),
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: MaskErrors(should_mask_error=_unexpected),
        # Skips parsing and validation of texts seen before: every validation rule (these,
        # and production's below) is fixed by the settings, so a pass holds for good.
        lambda: DocumentCacheExtension(cache),
    ]
    if settings.production:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    if tracer_provider is not None:  # a span per operation (OTEL_* variables, core.tracing)
        extensions.append(lambda: graphql_extension(tracer_provider))
    return MillgateSchema(
        query=Query,
        mutation=Mutation,
        types=[
            Factory,
            Assessment,
            Finding,
            ConsentGrant,
            SelfAssessment,
            Organization,
            User,
            ApiKey,
            GatewayExport,
        ],
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=settings.production),
        # fast_executor (default on): same answers, less per-field work (api.fastpath).
        execution_context_class=executor_class(settings.fast_executor),
    )


def sdl(settings: Settings | None = None) -> str:
    """The printed schema (development settings: it is the same in production)."""
    return build_schema(settings or Settings()).as_str() + "\n"
