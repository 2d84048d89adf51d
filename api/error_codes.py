"""Every GraphQL error carries ``extensions.code``, so clients never parse messages."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from core import metrics

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INTERNAL = "INTERNAL"
MASKED_MESSAGE = "Unexpected error."


def _code_of(error: GraphQLError) -> str:
    if error.message == MASKED_MESSAGE and error.original_error is None:
        return INTERNAL
    if error.message.startswith("Syntax Error"):
        return PARSE_FAILED
    if error.original_error is not None and not isinstance(error.original_error, GraphQLError):
        return INTERNAL
    return VALIDATION_FAILED


def with_code(error: GraphQLError) -> GraphQLError:
    if error.extensions and "code" in error.extensions:
        return error
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "code": _code_of(error)},
    )


def without_suggestions(error: GraphQLError) -> GraphQLError:
    """Production: no 'Did you mean ...?' naming real fields, arguments, types or values."""
    message, cut, _ = error.message.partition(" Did you mean")
    if not cut:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )


class ErrorCodes(SchemaExtension):
    """Runs outermost (first in the list), after masking: masked errors read INTERNAL."""

    def __init__(self, *, production: bool = False) -> None:
        self.production = production

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            errors = [with_code(error) for error in result.errors]
            for error in errors:
                metrics.GRAPHQL_ERRORS.labels(str((error.extensions or {})["code"])).inc()
            if self.production:
                errors = [without_suggestions(error) for error in errors]
            result.errors = errors
