"""Parsed GraphQL documents kept by query text, and whether they passed validation.

Clients send the same few query texts over and over; parsing a small one costs some 100 µs
and validating it over a millisecond (graphql-core runs some thirty rules over it).
:class:`DocumentCache` keeps, per app, the document each text parses to, and
:class:`DocumentCacheExtension` lets strawberry skip parsing a cached text and validating one
that passed before.

Why a passed validation stays valid: validation depends on the document and the schema's
rules only, not on the caller or the variables, and the rules are fixed when the schema is
built (depth, aliases, introspection in production all come from the settings). Hence one
cache per schema, never a module-level one shared by apps with other settings.

What is never kept: errors (a syntax error is raised again by the next parse, validation
errors are made afresh on every request: GraphQLError objects are changed downstream, by
:mod:`api.error_codes` and error masking) and texts longer than ``max_query_length``.
A text that parses is kept even if it then fails validation (it is validated again every
time); the app parses before it authenticates, so the cache's bounds are what hold back a
flood of distinct texts. Authorization is not the cache's business: a cached document still
runs every resolver for whoever sends it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from strawberry.extensions import SchemaExtension


class CachedDocument:
    """One cached text's document; ``validated`` once it has passed validation with no error."""

    __slots__ = ("document", "validated")

    def __init__(self, document: DocumentNode, *, validated: bool = False) -> None:
        self.document = document
        self.validated = validated


class DocumentCache:
    """A least-recently-used map from query text to its parsed document.

    Bounded by entries and by the total length of the texts kept: a document with its
    tokens takes some 70 to 300 bytes per character of query, so ``max_total_length`` is
    what bounds the memory (some 70 MB at worst with the defaults, a few MB in practice).
    Not thread-safe: one event loop per process uses it.
    """

    def __init__(
        self,
        *,
        max_tokens: int,
        max_entries: int = 512,
        max_query_length: int = 20_000,
        max_total_length: int = 250_000,
    ) -> None:
        self.max_tokens = max_tokens
        self.max_entries = max_entries
        self.max_query_length = max_query_length
        self.max_total_length = max_total_length
        self._entries: OrderedDict[str, CachedDocument] = OrderedDict()
        self._total_length = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, query: object) -> bool:
        return query in self._entries

    def get(self, query: str) -> CachedDocument | None:
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
        return entry

    def parse(self, query: str) -> DocumentNode:
        """``graphql.parse(query, max_tokens=...)``, at most once while the text stays cached.

        Raises the parse's GraphQLError, which is not kept.
        """
        entry = self.get(query)
        if entry is not None:
            return entry.document
        document = parse(query, max_tokens=self.max_tokens)
        self._put(query, CachedDocument(document))
        return document

    def mark_validated(self, query: str, document: DocumentNode) -> None:
        """Records that ``document``, parsed from ``query``, passed validation with no error."""
        entry = self.get(query)
        if entry is None:
            self._put(query, CachedDocument(document, validated=True))
        else:
            entry.validated = True  # same text, same parse options: an equal document

    def _put(self, query: str, entry: CachedDocument) -> None:
        if len(query) > self.max_query_length or query in self._entries:
            return
        self._entries[query] = entry
        self._total_length += len(query)
        while len(self._entries) > self.max_entries or self._total_length > self.max_total_length:
            evicted, _ = self._entries.popitem(last=False)
            self._total_length -= len(evicted)


class DocumentCacheExtension(SchemaExtension):
    """Skips the parse of a cached text and the validation of a document that passed it.

    Strawberry's ``_parse_operation_document`` does not parse when
    ``execution_context.graphql_document`` is set, and ``_run_validation`` does not validate
    when ``pre_execution_errors`` is not None: an empty list reads as "no errors".
    """

    def __init__(self, cache: DocumentCache) -> None:
        self.cache = cache

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None and context.graphql_document is None:
            entry = self.cache.get(context.query)
            if entry is not None:
                context.graphql_document = entry.document
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        query, document = context.query, context.graphql_document
        if query is None or document is None:
            yield
            return
        entry = self.cache.get(query)
        if entry is not None and entry.validated and entry.document is document:
            context.pre_execution_errors = []
            yield
            return
        yield
        # Validation ran and found nothing; a document strawberry parsed is kept only if it
        # was parsed as the cache would (MaxTokensLimiter's limit is the cache's).
        if (
            context.pre_execution_errors == []
            and context.parse_options.get("max_tokens") == self.cache.max_tokens
        ):
            self.cache.mark_validated(query, document)


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
