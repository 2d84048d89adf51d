"""Typed errors of mutation payloads, and the one GraphQL error callers may see."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from api.error_catalogue import USER_ERROR_CODES, described
from core.errors import UserInputError


@strawberry.type(description="An expected failure of a mutation: nothing was written.")
class UserError:
    code: str = strawberry.field(
        description=described("A stable code to switch on:", USER_ERROR_CODES)
    )
    message: str
    field: str | None = None

    @classmethod
    def of(cls, error: UserInputError) -> UserError:
        return cls(code=error.code, message=error.message, field=error.field)


NOT_FOUND = "NOT_FOUND"
FORBIDDEN = "FORBIDDEN"


def not_found(what: str, field: str | None) -> UserInputError:
    """The same answer for a row that does not exist and one the caller may not see."""
    return UserInputError(NOT_FOUND, f"no such {what}", field)


class BadArgument(GraphQLError):
    """An argument out of range (page size, cursor): shown, with a stable code."""

    def __init__(self, message: str, code: str = "BAD_ARGUMENT") -> None:
        super().__init__(message, extensions={"code": code})
