"""What the planner knows: the types and fields it can answer from rows, and a selection
read into a tree of them.

A selection is planned only when every field in it is one of :data:`FIELDS`, with no
directive, every fragment on the very type it is spread in, and every object-valued field
once per selection (leaves may repeat under other names: they answer the same value). The
document has passed validation already (the document cache says so), so field names, types
and argument literals are the schema's; anything else raises :class:`Unplannable`, and the
standard executor answers the whole document.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    BooleanValueNode,
    EnumValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)


class Unplannable(Exception):
    """The document holds something the planner does not answer itself."""


TYPENAME = "__typename"

# type -> field -> (the type of its value, or None for a leaf; the arguments it takes)
FIELDS: dict[str, dict[str, tuple[str | None, frozenset[str]]]] = {
    "Query": {"factories": ("FactoryConnection", frozenset({"first", "after", "country"}))},
    "FactoryConnection": {
        "totalCount": (None, frozenset()),
        "pageInfo": ("PageInfo", frozenset()),
        "edges": ("FactoryEdge", frozenset()),
    },
    "FactoryEdge": {"cursor": (None, frozenset()), "node": ("Factory", frozenset())},
    "Factory": {
        "id": (None, frozenset()),
        "name": (None, frozenset()),
        "enrolledOn": (None, frozenset()),
        "highPerformance": (None, frozenset()),
        "country": ("Country", frozenset()),
        "assessments": ("AssessmentConnection", frozenset({"first", "after"})),
    },
    "Country": {
        "code": (None, frozenset()),
        "name": (None, frozenset()),
        "slcpRolloutOn": (None, frozenset()),
        "overlayVersion": (None, frozenset()),
        "betterWorkProgramme": (None, frozenset()),
    },
    "AssessmentConnection": {
        "totalCount": (None, frozenset()),
        "pageInfo": ("PageInfo", frozenset()),
        "edges": ("AssessmentEdge", frozenset()),
    },
    "AssessmentEdge": {"cursor": (None, frozenset()), "node": ("Assessment", frozenset())},
    "Assessment": {
        "id": (None, frozenset()),
        "cycle": (None, frozenset()),
        "kind": (None, frozenset()),
        "assessedOn": (None, frozenset()),
        "status": (None, frozenset()),
        "releasedOn": (None, frozenset()),
        "gatewayReleaseOn": (None, frozenset()),
        "virtual": (None, frozenset()),
        "findings": (
            "FindingConnection",
            frozenset({"first", "after", "cluster", "nonCompliantOnly"}),
        ),
    },
    "FindingConnection": {
        "totalCount": (None, frozenset()),
        "pageInfo": ("PageInfo", frozenset()),
        "edges": ("FindingEdge", frozenset()),
    },
    "FindingEdge": {"cursor": (None, frozenset()), "node": ("Finding", frozenset())},
    "Finding": {
        "id": (None, frozenset()),
        "cluster": (None, frozenset()),
        "compliancePoint": (None, frozenset()),
        "questionCode": (None, frozenset()),
        "nonCompliant": (None, frozenset()),
        "publicReporting": (None, frozenset()),
        "zeroTolerance": (None, frozenset()),
        "detail": (None, frozenset()),
    },
    "PageInfo": {"hasNextPage": (None, frozenset()), "endCursor": (None, frozenset())},
}


@dataclass(frozen=True, slots=True)
class Value:
    """An argument as written: a literal, or a variable bound at execution."""

    literal: object = None
    variable: str | None = None


@dataclass(slots=True)
class Item:
    """One field of a selection, under its response key."""

    key: str
    name: str
    args: dict[str, Value] = field(default_factory=dict)
    selection: list[Item] | None = None  # None for a leaf

    def child(self, name: str) -> Item | None:
        """The (single) object-valued field ``name`` of this field's selection."""
        for item in self.selection or ():
            if item.name == name and item.selection is not None:
                return item
        return None


def _literal(node: ValueNode) -> Value:
    if isinstance(node, VariableNode):
        return Value(variable=node.name.value)
    if isinstance(node, IntValueNode):
        return Value(int(node.value))
    if isinstance(node, StringValueNode):
        return Value(node.value)
    if isinstance(node, BooleanValueNode):
        return Value(node.value)
    if isinstance(node, NullValueNode):
        return Value(None)
    if isinstance(node, EnumValueNode):
        return Value(node.value)
    raise Unplannable("a list or object argument")


def read_selection(
    type_name: str,
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> list[Item]:
    """The fields of ``selection_set`` on ``type_name``, fragments flattened, in order."""
    items: list[Item] = []
    seen: dict[str, str] = {}  # response key -> field name
    _collect(type_name, selection_set, fragments, items, seen, set())
    return items


def _collect(
    type_name: str,
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    items: list[Item],
    seen: dict[str, str],
    spread: set[str],
) -> None:
    known = FIELDS[type_name]
    for node in selection_set.selections:
        if node.directives:
            raise Unplannable("a directive")
        if isinstance(node, FieldNode):
            name = node.name.value
            key = (node.alias or node.name).value
            if name == TYPENAME:
                child: tuple[str | None, frozenset[str]] = (None, frozenset())
            elif name in known:
                child = known[name]
            else:
                raise Unplannable(f"{type_name}.{name}")
            if key in seen:
                # The same leaf twice answers once; anything else would need merging.
                if seen[key] == name and child[0] is None and not node.arguments:
                    continue
                raise Unplannable("a response key selected twice")
            if child[0] is not None and any(i.name == name for i in items):
                raise Unplannable("an object field selected twice")
            args: dict[str, Value] = {}
            for argument in node.arguments or ():
                if argument.name.value not in child[1]:
                    raise Unplannable("an unknown argument")
                args[argument.name.value] = _literal(argument.value)
            seen[key] = name
            if child[0] is None:
                if node.selection_set is not None:
                    raise Unplannable("a selection on a leaf")
                items.append(Item(key, name, args))
            else:
                if node.selection_set is None:
                    raise Unplannable("an object without a selection")
                inner = read_selection(child[0], node.selection_set, fragments)
                items.append(Item(key, name, args, inner))
            continue
        if isinstance(node, InlineFragmentNode):
            condition = node.type_condition
            inner_set = node.selection_set
        elif isinstance(node, FragmentSpreadNode):
            fragment = fragments.get(node.name.value)
            if fragment is None or fragment.directives or node.name.value in spread:
                raise Unplannable("a fragment")
            spread = spread | {node.name.value}
            condition = fragment.type_condition
            inner_set = fragment.selection_set
        else:
            raise Unplannable("an unknown selection")
        if condition is not None and condition.name.value != type_name:
            raise Unplannable("a fragment on another type")
        _collect(type_name, inner_set, fragments, items, seen, spread)
