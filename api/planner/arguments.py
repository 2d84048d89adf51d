"""Variables and arguments, bound at execution, before any statement runs.

Only values whose meaning is certain are taken: an ``int`` in the 32-bit range for an
``Int``, a ``str`` for a ``String``, a ``bool`` for a ``Boolean``, a null where the type
allows it. Anything else (a value graphql-core would coerce or refuse, a page size out of
range, a malformed cursor or country) raises :class:`Fallback`: the standard executor
then answers the whole document, with its own errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    TypeNode,
)

import models as m
from api.errors import BadArgument
from api.loaders import FindingFilter
from api.pagination import DATE_ID_KEY, ID_KEY, PageArgs, page_args
from api.planner.grammar import Unplannable, Value
from core.country_codes import parse_alpha2


class Fallback(Exception):
    """This request's values are not for the planner: run the standard executor."""


MISSING: Any = object()
_INT_RANGE = range(-(2**31), 2**31)


def _int(value: object) -> bool:
    return type(value) is int and value in _INT_RANGE


_CHECKS: dict[str, Callable[[object], bool]] = {
    "Int": _int,
    "String": lambda value: type(value) is str,
    "Boolean": lambda value: type(value) is bool,
}

# A variable: its name, its check, whether it may be null.
Variable = tuple[str, Callable[[object], bool], bool]


def read_variables(operation: OperationDefinitionNode) -> tuple[Variable, ...]:
    """The operation's variables, each of a type the planner checks itself."""
    found: list[Variable] = []
    for definition in operation.variable_definitions or ():
        if definition.default_value is not None or definition.directives:
            raise Unplannable("a variable with a default or a directive")
        type_node: TypeNode = definition.type
        nullable = not isinstance(type_node, NonNullTypeNode)
        if isinstance(type_node, NonNullTypeNode):
            type_node = type_node.type
        if not isinstance(type_node, NamedTypeNode) or type_node.name.value not in _CHECKS:
            raise Unplannable("a variable of a type the planner does not check")
        found.append((definition.variable.name.value, _CHECKS[type_node.name.value], nullable))
    return tuple(found)


def bind_variables(
    variables: tuple[Variable, ...], values: dict[str, Any] | None
) -> dict[str, Any]:
    """The variables' values (MISSING for one not given); Fallback for any doubtful one."""
    given = values or {}
    bound: dict[str, Any] = {}
    for name, check, nullable in variables:
        value = given.get(name, MISSING)
        if value is MISSING or value is None:
            if not nullable:
                raise Fallback(name)
        elif not check(value):
            raise Fallback(name)
        bound[name] = value
    return bound


def value_of(arg: Value | None, bound: dict[str, Any]) -> Any:
    """An argument's value: None when absent, null, or a variable not given."""
    if arg is None:
        return None
    if arg.variable is None:
        return arg.literal
    value = bound[arg.variable]
    return None if value is MISSING else value


def _typed(value: Any, check: Callable[[object], bool]) -> Any:
    if value is not None and not check(value):
        raise Fallback("an argument of another type")  # validation makes this unreachable
    return value


def page_of(
    args: dict[str, Value], bound: dict[str, Any], cap: int, dated: bool = False
) -> PageArgs:
    """``first``/``after`` checked as :func:`api.pagination.page_args` checks them."""
    first = _typed(value_of(args.get("first"), bound), _int)
    after = _typed(value_of(args.get("after"), bound), _CHECKS["String"])
    try:
        return page_args(first, after, cap, DATE_ID_KEY if dated else ID_KEY)
    except BadArgument as error:
        raise Fallback(str(error)) from None


def country_of(args: dict[str, Value], bound: dict[str, Any]) -> str | None:
    raw = _typed(value_of(args.get("country"), bound), _CHECKS["String"])
    if raw is None:
        return None
    code = parse_alpha2(raw)
    if code is None:
        raise Fallback("country")
    return code


def finding_filter(args: dict[str, Value], bound: dict[str, Any]) -> FindingFilter:
    cluster = value_of(args.get("cluster"), bound)
    if cluster is not None:
        if not isinstance(cluster, str) or cluster not in m.ComplianceCluster.__members__:
            raise Fallback("cluster")
        cluster = m.ComplianceCluster[cluster]
    only = _typed(value_of(args.get("nonCompliantOnly"), bound), _CHECKS["Boolean"])
    return FindingFilter(cluster, bool(only))
