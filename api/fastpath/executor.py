"""graphql-core's executor, with the per-field machinery taken off the plain fields.

graphql-core resolves every field the same way: build a ``GraphQLResolveInfo``, look for
arguments, call the resolver, ask whether the result is awaitable, then walk
``complete_value``'s chain of type tests. For a brand page (100 factories x 20 findings,
~20,000 fields) that costs more than everything else together, and most of those fields
are plain attributes (``Finding.questionCode``, ``FindingEdge.cursor``) whose strawberry
resolver ignores the info object it is handed.

:class:`FastExecutor` keeps the standard algorithm and its order, and changes only how a
field without arguments is run, with a plan made once per selection set and request:

- a *basic* strawberry field (no resolver, no field extension: strawberry's own resolver
  for it never reads ``info``) is resolved without building an info object;
- ``__typename`` is the parent type's name, as the standard meta-field resolver returns;
- its value is completed by a completer compiled from the field's type (non-null, list,
  leaf, object), which does the same checks in the same order as ``complete_value`` and
  raises the same errors; anything unusual (an awaitable, an abstract type, something not
  a list where a list is due, a custom ``is_type_of``) is handed to the standard method
  with a real info object, built only then.

Everything else goes through the standard ``execute_field``: fields with arguments, root
fields, mutations (run serially by the base class), and every field when a schema
extension wraps resolvers (then the executor is the standard one throughout). Errors are
located and propagated by the base class's own ``handle_field_error`` with the same path,
so data and errors come out exactly as the standard executor gives them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.executor import invalid_return_type_error, to_nodes
from graphql.pyutils import Path, Undefined
from graphql.pyutils.gather_with_cancel import gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.fastpath import metrics
from api.fastpath.projection import BASIC as _BASIC
from api.fastpath.projection import RESOLVER as _RESOLVER
from api.fastpath.projection import TYPENAME as _TYPENAME
from api.fastpath.projection import Projector

# (executor, field group, path, value, position context, info maker) -> completed value
Completer = Callable[[Any, Any, Path, Any, Any, Callable[[], GraphQLResolveInfo[Any]]], Any]

_PLAIN = (str, int, float, bool)  # never awaitable, never an exception


def executor_class(enabled: bool) -> type[StrawberryGraphQLCoreExecutionContext] | None:
    """The executor the schema should use: :class:`FastExecutor` when ``enabled`` (the
    setting ``fast_executor``), else None for the standard one."""
    return FastExecutor if enabled else None


def _is_strawberry_is_type_of(fn: Any) -> bool:
    """Strawberry's generated ``is_type_of`` never reads its info argument."""
    return getattr(fn, "__qualname__", "").endswith("_get_is_type_of.<locals>.is_type_of")


def _is_basic(resolve: Any) -> bool:
    """Strawberry's resolver of a field with no resolver and no field extension."""
    return getattr(resolve, "__name__", "") == "_get_basic_result" and bool(
        getattr(resolve, "_is_default", False)
    )


class FastExecutor(StrawberryGraphQLCoreExecutionContext):
    """The standard executor with plain fields completed by compiled plans (see module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # Middleware wraps every resolver: then no field is plain, use the base class.
        self._fast = manager is None or not manager.middlewares
        self._plans: dict[int, tuple[Any, Any]] = {}
        self._completers: dict[tuple[int, str], Completer] = {}
        self._projector = Projector(self.collect_subfields, self._spec, _is_strawberry_is_type_of)

    # -- plans ------------------------------------------------------------------------

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> Any:
        # Keyed by identity like collect_subfields, and kept alive beside the plan.
        cached = self._plans.get(id(grouped_field_set))
        if cached is not None and cached[0] is grouped_field_set:
            return cached[1]
        fields = [
            (name, group, self._spec(parent_type, group) if self._fast else None)
            for name, group in grouped_field_set.items()
        ]
        plan = (fields, self._inline(fields))
        self._plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return plan

    def _inline(self, fields: list[tuple[str, Any, Any]]) -> list[Any] | None:
        """Steps for a selection whose every field is planned: leaves of basic fields are
        read and coerced in one loop; the rest (resolvers, objects, lists) run as planned
        fields. None when some field must go the standard way."""
        steps: list[Any] = []
        for name, group, spec in fields:
            if spec is None:
                return None
            kind, field_def, _resolve, _complete = spec
            if kind == _TYPENAME:
                steps.append((name, _TYPENAME, None, None, False, group, spec))
                continue
            named = field_def.type.of_type if is_non_null_type(field_def.type) else field_def.type
            definition = field_def.extensions.get("strawberry-definition")
            if kind == _BASIC and is_leaf_type(named) and definition is not None:
                # What strawberry's basic resolver returns: default_resolver(source, name).
                default, attr = definition.default_resolver, definition.python_name
                read = attrgetter(attr) if default is getattr else partial(_read, default, attr)
                steps.append(
                    (
                        name,
                        _BASIC,
                        read,
                        named.coerce_output_value,
                        is_non_null_type(field_def.type),
                        group,
                        spec,
                    )
                )
            else:
                steps.append((name, _RESOLVER, None, None, False, group, spec))
        return steps

    def _run_inline(
        self,
        steps: list[Any],
        parent_type: GraphQLObjectType,
        source: Any,
        path: Path | None,
        position_context: Any,
    ) -> Any:
        """One object's fields; None (nothing run) when a leaf is anything but plain, so
        that the caller takes the field-by-field way and its exact errors."""
        type_name = parent_type.name
        results: dict[str, Any] = {}
        later: list[Any] = []
        is_awaitable = self.is_awaitable
        try:
            for step in steps:
                name, kind, read, coerce, non_null = step[:5]
                if kind == _BASIC:
                    value = read(source)
                    if value is None:
                        if non_null:
                            return None
                        results[name] = None
                        continue
                    if not isinstance(value, _PLAIN) and (
                        isinstance(value, Exception) or is_awaitable(value)
                    ):
                        return None
                    coerced = coerce(value)
                    if coerced is None or coerced is Undefined:
                        return None
                    results[name] = coerced
                elif kind == _TYPENAME:
                    results[name] = type_name
                else:
                    results[name] = None  # keeps the selection's order; filled below
                    later.append(step)
        except Exception:  # a leaf that does not coerce: the field-by-field way says how
            return None
        if not later:
            return results
        awaitable_fields: list[str] = []
        try:
            for name, _kind, _read, _coerce, _non_null, group, spec in later:
                result = self._run_field(
                    spec, parent_type, source, group, Path(path, name, type_name), position_context
                )
                results[name] = result
                if is_awaitable(result):
                    awaitable_fields.append(name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[f] for f in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return _gather_fields(results, awaitable_fields)

    def _spec(self, parent_type: GraphQLObjectType, group: Any) -> Any:
        node = group[0].node
        name = node.name.value
        field_def = self.schema.get_field(parent_type, name)
        if field_def is None:
            return None
        if name == "__typename":
            return (_TYPENAME, field_def, None, None)
        resolve = field_def.resolve
        if resolve is None or field_def.args or node.arguments:
            return None
        kind = _BASIC if _is_basic(resolve) else _RESOLVER
        complete = self._completer(field_def.type, f"{parent_type}.{name}")
        return (kind, field_def, resolve, complete)

    def _completer(self, return_type: GraphQLOutputType, label: str) -> Completer:
        key = (id(return_type), label)
        found = self._completers.get(key)
        if found is None:
            found = self._compile(return_type, label)
            self._completers[key] = found
        return found

    def _compile(self, return_type: GraphQLOutputType, label: str) -> Completer:
        if is_non_null_type(return_type):
            assert isinstance(return_type, GraphQLNonNull)
            return self._compile_non_null(return_type, label)
        if is_list_type(return_type):
            assert isinstance(return_type, GraphQLList)
            return self._compile_list(return_type, label)
        if is_leaf_type(return_type):
            return self._compile_leaf(return_type)
        if is_object_type(return_type):
            assert isinstance(return_type, GraphQLObjectType)
            return self._compile_object(return_type)
        return self._compile_standard(return_type)

    def _compile_non_null(self, return_type: GraphQLNonNull[Any], label: str) -> Completer:
        inner = self._completer(return_type.of_type, label)
        message = f"Cannot return null for non-nullable field {label}."

        def complete(ex: Any, group: Any, path: Path, result: Any, pc: Any, info: Any) -> Any:
            completed = inner(ex, group, path, result, pc, info)
            if completed is None:
                raise TypeError(message)
            return completed

        return complete

    def _compile_leaf(self, return_type: Any) -> Completer:
        coerce = return_type.coerce_output_value
        standard = self.complete_leaf_value

        def complete(ex: Any, group: Any, path: Path, result: Any, pc: Any, info: Any) -> Any:
            if isinstance(result, Exception):
                raise result
            if result is None or result is Undefined:
                return None
            coerced = coerce(result)
            if coerced is Undefined or coerced is None:
                return standard(return_type, result)  # raises the standard error
            return coerced

        return complete

    def _compile_object(self, return_type: GraphQLObjectType) -> Completer:
        is_type_of = return_type.is_type_of
        if is_type_of is not None and not _is_strawberry_is_type_of(is_type_of):
            return self._compile_standard(return_type)

        def complete(ex: Any, group: Any, path: Path, result: Any, pc: Any, info: Any) -> Any:
            if isinstance(result, Exception):
                raise result
            if result is None or result is Undefined:
                return None
            if is_type_of is not None and not is_type_of(result, None):  # type: ignore[arg-type]
                raise invalid_return_type_error(return_type, result, group)
            project = ex._projector.object(return_type, group) if ex._fast else None
            if project is not None:
                try:
                    return project(result)
                except Exception:  # Fallback or a failing read: the standard way
                    metrics.OBJECT.inc()
            return ex.collect_and_execute_subfields(return_type, group, path, result, pc)

        return complete

    def _compile_standard(self, return_type: GraphQLOutputType) -> Completer:
        def complete(ex: Any, group: Any, path: Path, result: Any, pc: Any, info: Any) -> Any:
            return ex.complete_value(return_type, group, info(), path, result, pc)

        return complete

    def _compile_list(self, return_type: GraphQLList[Any], label: str) -> Completer:
        item_type = return_type.of_type
        item = self._completer(item_type, label)

        def complete(ex: Any, group: Any, path: Path, result: Any, pc: Any, info: Any) -> Any:
            if isinstance(result, Exception):
                raise result
            if result is None or result is Undefined:
                return None
            if type(result) is not list and type(result) is not tuple:
                # Async iterables, other iterables, non-iterables: the standard way.
                return ex.complete_list_value(return_type, group, info(), path, result, pc)
            project = ex._projector.items(item_type, group) if ex._fast else None
            if project is not None:
                try:
                    return project(result)
                except Exception:  # Fallback or a failing read: the standard way
                    metrics.LIST.inc()
            return ex._complete_items(item_type, item, group, path, result, pc, info)

        return complete

    # -- execution ----------------------------------------------------------------------

    def _complete_items(
        self,
        item_type: Any,
        item: Completer,
        group: Any,
        path: Path,
        items: Any,
        pc: Any,
        info: Callable[[], GraphQLResolveInfo[Any]],
    ) -> Any:
        """``complete_iterable_value`` for a list or tuple (no @stream in this schema)."""
        is_awaitable = self.is_awaitable
        completed_results: list[Any] = []
        append = completed_results.append
        awaitable_indices: list[int] = []
        try:
            for index, value in enumerate(items):
                item_path = Path(path, index, None)
                if is_awaitable(value):
                    append(
                        self.complete_awaitable_list_item_value(
                            value, item_type, group, info(), item_path, pc
                        )
                    )
                    awaitable_indices.append(index)
                    continue
                try:
                    completed = item(self, group, item_path, value, pc, info)
                    if is_awaitable(completed):
                        append(self._await_item(completed, item_type, group, item_path))
                        awaitable_indices.append(index)
                    else:
                        append(completed)
                except Exception as raw_error:
                    self.handle_field_error(raw_error, item_type, group, item_path)
                    append(None)
        except Exception:
            pending = [completed_results[i] for i in awaitable_indices]
            if pending:
                self.settle_in_background(pending)
            raise
        if not awaitable_indices:
            return completed_results

        async def get_completed_results() -> list[Any]:
            if len(awaitable_indices) == 1:
                index = awaitable_indices[0]
                completed_results[index] = await completed_results[index]
            else:
                awaited = await gather_with_cancel(
                    *(completed_results[i] for i in awaitable_indices)
                )
                for index, sub_result in zip(awaitable_indices, awaited, strict=True):
                    completed_results[index] = sub_result
            return completed_results

        return get_completed_results()

    async def _await_item(self, completed: Any, item_type: Any, group: Any, path: Path) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, item_type, group, path)
            return None

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """The base class's loop, with planned fields run by :meth:`_run_field`."""
        fields, inline = self._plan(parent_type, grouped_field_set)
        if inline is not None:
            done = self._run_inline(inline, parent_type, source_value, path, position_context)
            if done is not None:
                return done
            metrics.INLINE.inc()
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        type_name = parent_type.name
        try:
            for response_name, group, spec in fields:
                field_path = Path(path, response_name, type_name)
                if spec is None:
                    result = self.execute_field(
                        parent_type, source_value, group, field_path, position_context
                    )
                elif spec[0] == _TYPENAME:
                    result = type_name
                else:
                    result = self._run_field(
                        spec, parent_type, source_value, group, field_path, position_context
                    )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[f] for f in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return _gather_fields(results, awaitable_fields)

    def _run_field(
        self,
        spec: Any,
        parent_type: GraphQLObjectType,
        source: Any,
        group: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        """``execute_field`` for a field without arguments, its info built only if needed."""
        kind, field_def, resolve, complete = spec
        made: list[GraphQLResolveInfo[Any]] = []

        def info() -> GraphQLResolveInfo[Any]:
            if not made:
                made.append(self.build_resolve_info(field_def, to_nodes(group), parent_type, path))
            return made[0]

        return_type = field_def.type
        try:
            result = resolve(source, None) if kind == _BASIC else resolve(source, info())
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    return_type, group, info(), path, result, position_context
                )
            completed = complete(self, group, path, result, position_context, info)
            if self.is_awaitable(completed):
                return self._await_field(completed, return_type, group, path)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, group, path)
            return None
        return completed

    async def _await_field(
        self, completed: Any, return_type: GraphQLOutputType, group: Any, path: Path
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, group, path)
            return None


def _read(default: Callable[[Any, str], Any], attr: str, source: Any) -> Any:
    return default(source, attr)


async def _gather_fields(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
    """The base class's ``get_results``: awaits the awaitable fields in place."""
    if len(awaitable_fields) == 1:
        field = awaitable_fields[0]
        results[field] = await results[field]
    else:
        awaited = await gather_with_cancel(*(results[f] for f in awaitable_fields))
        results.update(zip(awaitable_fields, awaited, strict=True))
    return results
