"""Whole selections of plain fields answered in one pass, with no per-field machinery.

A brand page holds thousands of findings, each an edge with a node of eight fields. Even
the planned fields of :class:`api.fastpath.executor.FastExecutor` cost a path, an awaitable
test and a completer call per field. Most of those selections are *plain*: every field is
``__typename``, a basic field (an attribute) or a :func:`api.fastpath.plain` resolver, and
every value is an object, a list or a leaf. Such a selection is compiled, once per field
group and request, into a function that builds the answer's dicts directly.

A projection is an attempt, never a second set of rules: it takes only values whose answer
is certain (an ``str`` for a ``String``, an ``int`` in range for an ``Int``, an object of
the selection's own class, ...), and on anything else (a null where none may be, an
exception, an awaitable, an unexpected type) it raises :class:`Fallback`. The caller then
completes the same value the standard way, which gives the standard answer and errors.
Reading an attribute or calling a plain resolver twice changes nothing, so starting over
is safe.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import EnumMeta
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.pyutils import Undefined

from api.fastpath.plain import plain_function

Project = Callable[[Any], Any]
MAX_INT, MIN_INT = 2**31 - 1, -(2**31)


# The executor's field kinds (its specs start with one): a basic field (an attribute), a
# field with a resolver, ``__typename``.
BASIC, RESOLVER, TYPENAME = 0, 1, 2


class Fallback(Exception):
    """This value is not certain here: complete it the standard way."""


def _strict_str(value: Any) -> Any:
    if type(value) is str:
        return value
    raise Fallback


def _strict_int(value: Any) -> Any:
    if type(value) is int and MIN_INT <= value <= MAX_INT:
        return value
    raise Fallback


def _strict_bool(value: Any) -> Any:
    if type(value) is bool:
        return value
    raise Fallback


_STRICT = {
    GraphQLString.name: _strict_str,
    GraphQLID.name: _strict_str,
    GraphQLInt.name: _strict_int,
    GraphQLBoolean.name: _strict_bool,
}
_PLAIN_VALUES = (str, int, float, bool)


def _enum_names(named: Any) -> dict[Any, str] | None:
    """Member -> name, as strawberry's enum type answers it: the first name whose value
    equals the member's value (``CustomGraphQLEnumType.coerce_output_value``)."""
    wrapped = getattr(named, "wrapped_cls", None)
    if not isinstance(named, GraphQLEnumType) or not isinstance(wrapped, EnumMeta):
        return None
    names: dict[Any, str] = {}
    member: Any
    for member in wrapped:
        for name, value in named.values.items():
            if member.value == value.value:
                names[member] = name
                break
    return names


def _strict_leaf(named: Any) -> Project | None:
    """The leaf's check for the built-in scalars and strawberry enums: it takes only the
    values whose answer is certain, and raises :class:`Fallback` on the rest, None
    included."""
    strict = _STRICT.get(named.name)
    if strict is not None and named in (GraphQLString, GraphQLID, GraphQLInt, GraphQLBoolean):
        return strict
    names = _enum_names(named)
    if names is not None:
        wrapped = named.wrapped_cls

        def enum(value: Any) -> Any:
            if type(value) is wrapped:
                return names[value]
            raise Fallback

        return enum
    return None


def _leaf(named: Any) -> Project:
    strict = _strict_leaf(named)
    if strict is not None:
        return strict
    coerce = named.coerce_output_value  # dates, custom scalars: their own coercion

    def leaf(value: Any) -> Any:
        if not isinstance(value, _PLAIN_VALUES) and (
            isinstance(value, Exception) or hasattr(value, "__await__")
        ):
            raise Fallback
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise Fallback
        return coerced

    return leaf


def _nullable(inner: Project) -> Project:
    def nullable(value: Any) -> Any:
        return None if value is None else inner(value)

    return nullable


def _non_null(inner: Project) -> Project:
    def non_null(value: Any) -> Any:
        if value is None:
            raise Fallback
        return inner(value)

    return non_null


def _items(item: Project) -> Project:
    def items(values: Any) -> list[Any]:
        return [item(v) for v in values]

    return items


def _list(item: Project) -> Project:
    def items(value: Any) -> Any:
        if type(value) is not list and type(value) is not tuple:
            raise Fallback
        return [item(v) for v in value]

    return items


class Projector:
    """Compiles plain selections for one execution (see the module).

    ``collect`` is the executor's memoized ``collect_subfields``; ``spec`` its field spec
    (kind, field definition, resolver, completer) or None for a field it will not plan.
    """

    def __init__(
        self,
        collect: Callable[[GraphQLObjectType, Any], Any],
        spec: Callable[[GraphQLObjectType, Any], Any],
        is_strawberry_type_of: Callable[[Any], bool],
    ) -> None:
        self._collect = collect
        self._spec = spec
        self._is_strawberry_type_of = is_strawberry_type_of
        self._objects: dict[tuple[str, int], tuple[Any, Project | None]] = {}
        self._lists: dict[tuple[int, int], tuple[Any, Project | None]] = {}

    def items(self, item_type: GraphQLOutputType, group: Any) -> Project | None:
        """A function from a list (or tuple) of ``item_type`` values to its answer, or
        None when the items' selection is not plain. Memoized like :meth:`object`."""
        key = (id(item_type), id(group))
        hit = self._lists.get(key)
        if hit is not None and hit[0] is group:
            return hit[1]
        item = self.value(item_type, group)
        built = None if item is None else _items(item)
        self._lists[key] = (group, built)
        return built

    def object(self, object_type: GraphQLObjectType, group: Any) -> Project | None:
        """A function from a (non-null) value of ``object_type`` to its answer, or None
        when the selection is not plain. Memoized like ``collect_subfields``."""
        key = (object_type.name, id(group))
        hit = self._objects.get(key)
        if hit is not None and hit[0] is group:
            return hit[1]
        self._objects[key] = (group, None)  # a selection that reaches itself is not plain
        built = self._object(object_type, group)
        self._objects[key] = (group, built)
        return built

    def value(self, return_type: GraphQLOutputType, group: Any) -> Project | None:
        """A function from a field's value to its answer (nulls included), or None."""
        if is_non_null_type(return_type):
            assert isinstance(return_type, GraphQLNonNull)
            named = return_type.of_type
            strict = _strict_leaf(named) if is_leaf_type(named) else None
            if strict is not None:
                return strict  # refuses None itself: one call, not three
            inner = self.value(named, group)
            return None if inner is None else _non_null(inner)
        if is_list_type(return_type):
            assert isinstance(return_type, GraphQLList)
            item = self.value(return_type.of_type, group)
            return None if item is None else _nullable(_list(item))
        if is_leaf_type(return_type):
            return _nullable(_leaf(return_type))
        if is_object_type(return_type):
            assert isinstance(return_type, GraphQLObjectType)
            found = self.object(return_type, group)
            return None if found is None else _nullable(found)
        return None  # interfaces and unions: the standard way resolves the type

    def _object(self, object_type: GraphQLObjectType, group: Any) -> Project | None:
        definition = object_type.extensions.get("strawberry-definition")
        cls = getattr(definition, "origin", None)
        if cls is None:
            return None
        if object_type.is_type_of is not None and not self._is_strawberry_type_of(
            object_type.is_type_of
        ):
            return None
        grouped, new_defer_usages, *_ = self._collect(object_type, group)
        if new_defer_usages:
            return None
        steps: list[tuple[str, Project, Project]] = []
        for name, field_group in grouped.items():
            spec = self._spec(object_type, field_group)
            if spec is None:
                return None
            kind, field_def = spec[0], spec[1]
            if kind == TYPENAME:
                steps.append((name, _constant(object_type.name), _same))
                continue
            field = field_def.extensions.get("strawberry-definition")
            if field is None:
                return None
            read: Project | None
            if kind == BASIC:
                read = attrgetter(field.python_name) if field.default_resolver is getattr else None
            else:
                read = plain_function(field)
            finish = self.value(field_def.type, field_group)
            if read is None or finish is None:
                return None
            steps.append((name, read, finish))

        def project(source: Any) -> dict[str, Any]:
            # Strawberry's is_type_of accepts the class (and casts): only the class is
            # certain here; anything else goes the standard way.
            if type(source) is not cls:
                raise Fallback
            return {name: finish(read(source)) for name, read, finish in steps}

        return project


def _same(value: Any) -> Any:
    return value


def _constant(value: str) -> Project:
    def constant(_source: Any) -> str:
        return value

    return constant
