"""The path of a read as the schema names it: what the access log records.

The operation's name and the aliases of a query are the reader's to choose, so neither enters
the log. A read is named by the schema fields it went through, from the root
(``factories.assessments.findings``), with the connection wrappers (``edges`` and the ``node``
under it) left out; the response keys of the path are matched back to their fields in the
executed document, fragments included.

Example:
    ctx.record_access(factory_id, field_path(info))   # "factories.assessments"
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
    is_abstract_type,
)
from graphql.pyutils import Path
from strawberry.types import Info


def _applies(raw: GraphQLResolveInfo[Any], condition: Any, typename: str | None) -> bool:
    """Whether a fragment on ``condition`` applies to an object of type ``typename``."""
    if condition is None or typename is None:
        return True
    name = condition.name.value
    if name == typename:
        return True
    abstract = raw.schema.get_type(name)
    concrete = raw.schema.get_type(typename)
    return (
        abstract is not None
        and concrete is not None
        and is_abstract_type(abstract)
        and raw.schema.is_sub_type(abstract, concrete)
    )


def _field(
    raw: GraphQLResolveInfo[Any], selection: SelectionSetNode, key: str, typename: str | None
) -> FieldNode | None:
    """The field answered under the response key ``key`` on an object of ``typename``."""
    for node in selection.selections:
        if isinstance(node, FieldNode):
            if (node.alias or node.name).value == key:
                return node
            continue
        if isinstance(node, InlineFragmentNode):
            inner: SelectionSetNode | None = node.selection_set
            condition = node.type_condition
        elif isinstance(node, FragmentSpreadNode):
            fragment = raw.fragments.get(node.name.value)
            if fragment is None:
                continue
            inner, condition = fragment.selection_set, fragment.type_condition
        else:
            continue
        if inner is not None and _applies(raw, condition, typename):
            found = _field(raw, inner, key, typename)
            if found is not None:
                return found
    return None


def field_path(info: Info[Any, Any]) -> str:
    """``factories.assessments.findings`` for a resolver of findings under a brand's page."""
    raw: GraphQLResolveInfo[Any] = info._raw_info  # strawberry keeps graphql-core's info here
    steps: list[tuple[str, str | None]] = []
    path: Path | None = raw.path
    while path is not None:
        if isinstance(path.key, str):
            steps.append((path.key, path.typename))
        path = path.prev
    steps.reverse()
    names: list[str] = []
    selection: SelectionSetNode | None = raw.operation.selection_set
    for key, typename in steps:
        node = None if selection is None else _field(raw, selection, key, typename)
        if node is None:  # cannot happen in a validated document; never log the alias
            names.append(raw.field_name if key == steps[-1][0] else "?")
            selection = None
            continue
        names.append(node.name.value)
        selection = node.selection_set
    kept = [
        name
        for i, name in enumerate(names)
        if name != "edges" and not (name == "node" and i > 0 and names[i - 1] == "edges")
    ]
    return ".".join(kept)
