"""Which operation of a document a request runs, as the GraphQL spec's GetOperation says.

graphql-core and strawberry are lenient where the spec is not: a document of two operations
sent without ``operationName`` ran its first one (a mutation included), and a name that is
not in the document failed deep in strawberry as an unexpected error (HTTP 500). The spec
makes both a request error, and the GraphQL-over-HTTP draft answers a request error with a
4xx before anything executes: :func:`operation_to_run` says which, or raises
:class:`OperationNotChosen` with the stable code of the answer.

Example:
    try:
        operation = operation_to_run(document, data.get("operationName"))
    except OperationNotChosen as error:
        return error_response(400, error.message, error.code)
"""

from __future__ import annotations

from graphql import DocumentNode, OperationDefinitionNode

UNKNOWN_OPERATION = "UNKNOWN_OPERATION"
OPERATION_NAME_REQUIRED = "OPERATION_NAME_REQUIRED"
NO_OPERATION = "NO_OPERATION"


class OperationNotChosen(Exception):
    """Raised when the request does not name exactly one operation of its document."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def operation_to_run(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if not operations:
        raise OperationNotChosen(NO_OPERATION, "the document holds no operation")
    if name is None:
        if len(operations) > 1:
            raise OperationNotChosen(
                OPERATION_NAME_REQUIRED,
                "the document holds several operations: say which in operationName",
            )
        return operations[0]
    for operation in operations:
        if operation.name is not None and operation.name.value == name:
            return operation
    # The name is the client's own; echo it shortened, never anything of the schema.
    raise OperationNotChosen(UNKNOWN_OPERATION, f"no operation named {name[:60]!r} in the document")
