"""What validating a parsed document costs, measured on its AST before validation runs.

graphql-core's validation walks every selection set, and OverlappingFieldsCanBeMerged
compares every pair of fields that share a response name: repeating one field 600 times in
one selection (~1,200 tokens) cost 0.2 to 0.5 s of CPU. :func:`validation_cost` bounds that
work from above, and :func:`expanded_size` bounds the fields that fragments spread; both run
in time linear in what they count (the first stops at its budget), so :mod:`api.documents`
can refuse a document before validation instead of after.
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)


def validation_cost(document: DocumentNode, *, stop_above: int | None = None) -> int:
    """What validating ``document`` costs, in pairs of fields compared: the sum, over every
    group of fields that validation merges (same response name in the same selection, with
    fragments expanded, and their sub-selections merged in turn), of the group's size squared.

    OverlappingFieldsCanBeMerged compares the fields of a group pairwise, so this bounds its
    work from above; a document without repeated fields costs its number of fields. Fragment
    definitions count on their own too (validation visits them even when unused). The walk
    stops once the sum passes ``stop_above``, so it costs no more than the budget it checks.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    pending: list[list[SelectionSetNode]] = [
        [d.selection_set]
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    total = 0
    while pending:
        counts: dict[str, int] = {}
        merged: dict[str, list[SelectionSetNode]] = {}
        for selection_set in pending.pop():
            _group(selection_set, fragments, frozenset(), counts, merged)
        total += sum(n * n for n in counts.values())
        if stop_above is not None and total > stop_above:
            return total
        pending.extend(merged.values())
    return total


def _group(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    visiting: frozenset[str],
    counts: dict[str, int],
    merged: dict[str, list[SelectionSetNode]],
) -> None:
    """Counts the fields of a selection by response name, fragments expanded, and gathers
    the sub-selections that validation merges under each name."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            key = (selection.alias or selection.name).value
            counts[key] = counts.get(key, 0) + 1
            if selection.selection_set is not None:
                merged.setdefault(key, []).append(selection.selection_set)
        elif isinstance(selection, InlineFragmentNode):
            _group(selection.selection_set, fragments, visiting, counts, merged)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in visiting:
                _group(fragments[name].selection_set, fragments, visiting | {name}, counts, merged)


def expanded_size(document: DocumentNode) -> int:
    """The number of fields the document selects with every fragment spread expanded.

    Counted with one memo per fragment, so it takes linear time where a naive walk (as the
    depth and alias limiters do) takes time exponential in the nesting of fragments that
    spread each other twice: 20 such fragments, some 200 tokens, stall a process.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    memo: dict[str, int] = {}

    def size(selection_set: SelectionSetNode | None, visiting: frozenset[str]) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += 1 + size(selection.selection_set, visiting)
            elif isinstance(selection, InlineFragmentNode):
                total += size(selection.selection_set, visiting)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visiting or name not in fragments:
                    continue  # a cycle or an unknown fragment: validation refuses both
                if name not in memo:
                    memo[name] = size(fragments[name].selection_set, visiting | {name})
                total += memo[name]
        return total

    return sum(
        size(d.selection_set, frozenset())
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )
