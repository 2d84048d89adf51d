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

Validation is what a hostile text makes costly: OverlappingFieldsCanBeMerged compares every
pair of fields that share a response name, so 600 ``role`` fields in one selection (~1,200
tokens, well inside the token limit) took 0.2 to 0.5 s of CPU. Hence, before validation,
:meth:`DocumentCache.admit` bounds a document's validation cost and expanded size (see
:mod:`api.document_cost`: measured on the parsed AST, in time bounded by the budget), and
remembers a refusal by the text's hash (a few bytes each, bounded), so that sending the same
text again costs one hash. A document that passed the bounds but failed validation keeps its
errors on its entry: sent again, it is answered with copies of them, not validated again.

What is never kept: syntax errors (raised again by the next parse: parsing is linear and
bounded by ``max_tokens``) and texts longer than ``max_query_length``. Remembered validation
errors are handed out as fresh copies: GraphQLError objects are changed downstream, by
:mod:`api.error_codes` and error masking. The app parses before it authenticates, so the
cache's bounds (and the rate limit, charged by cost) are what hold back a flood of distinct
texts. Authorization is not the
cache's business: a cached document still runs every resolver for whoever sends it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator

from graphql import (
    DocumentNode,
    GraphQLError,
    parse,
)
from strawberry.extensions import SchemaExtension

from api.document_cost import expanded_size, validation_cost
from core.settings import Settings

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"


class DocumentRefused(Exception):
    """Raised by :meth:`DocumentCache.admit` when a document would cost too much to validate."""

    def __init__(self, message: str, cost: int, code: str = QUERY_TOO_COMPLEX) -> None:
        super().__init__(message)
        self.message = message
        self.cost = cost  # at least this: what the caller is charged for it
        self.code = code


class CachedDocument:
    """One cached text's document and its :func:`validation_cost`; ``validated`` once it has
    passed validation with no error, ``errors`` the errors of a validation it failed."""

    __slots__ = ("cost", "document", "errors", "validated")

    def __init__(
        self, document: DocumentNode, *, validated: bool = False, cost: int | None = None
    ) -> None:
        self.document = document
        self.validated = validated
        self.cost = cost
        self.errors: tuple[GraphQLError, ...] | None = None


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
        max_cost: int = 5_000,
        max_entries: int = 512,
        max_query_length: int = 20_000,
        max_total_length: int = 250_000,
        max_refused: int = 4_096,
    ) -> None:
        self.max_tokens = max_tokens
        self.max_cost = max_cost
        # Fragments spread in fragments make few tokens select many fields: bounded first,
        # as the cost below walks the expanded selection.
        self.max_expanded = max_tokens * 5
        self.max_entries = max_entries
        self.max_query_length = max_query_length
        self.max_total_length = max_total_length
        self.max_refused = max_refused
        self._entries: OrderedDict[str, CachedDocument] = OrderedDict()
        self._total_length = 0
        self._refused: OrderedDict[bytes, DocumentRefused] = OrderedDict()

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

    def admit(self, query: str) -> CachedDocument:
        """The entry of ``query``'s document once its validation cost is within the bounds.

        Raises :class:`DocumentRefused` (remembered by the text's hash) past them, and the
        parse's GraphQLError (not kept) on a syntax error.

        Example:
            try:
                entry = documents.admit(query)
            except DocumentRefused as refusal:
                ...  # 400, refusal.code, refusal.message
        """
        digest = hashlib.sha256(query.encode()).digest()
        refusal = self._refused.get(digest)
        if refusal is not None:
            self._refused.move_to_end(digest)
            raise refusal
        document = self.parse(query)
        entry = self.get(query) or CachedDocument(document)  # a text too long to keep
        if entry.cost is None:
            try:
                entry.cost = self._cost(document)
            except DocumentRefused as refused:
                self._forget(query)
                self._refused[digest] = refused
                while len(self._refused) > self.max_refused:
                    self._refused.popitem(last=False)
                raise
        return entry

    def _cost(self, document: DocumentNode) -> int:
        if expanded_size(document) > self.max_expanded:
            raise DocumentRefused("the query expands to too many fields", self.max_cost + 1)
        cost = validation_cost(document, stop_above=self.max_cost)
        if cost > self.max_cost:
            raise DocumentRefused("the query repeats too many fields to be checked", cost)
        return cost

    def remember_errors(self, query: str, errors: list[GraphQLError]) -> None:
        """Records the errors of a failed validation of the cached text ``query``."""
        entry = self.get(query)
        if entry is not None:
            entry.errors = tuple(errors)

    def mark_validated(self, query: str, document: DocumentNode) -> None:
        """Records that ``document``, parsed from ``query``, passed validation with no error."""
        entry = self.get(query)
        if entry is None:
            self._put(query, CachedDocument(document, validated=True))
        else:
            entry.validated = True  # same text, same parse options: an equal document

    def _forget(self, query: str) -> None:
        if self._entries.pop(query, None) is not None:
            self._total_length -= len(query)

    def _put(self, query: str, entry: CachedDocument) -> None:
        if len(query) > self.max_query_length or query in self._entries:
            return
        self._entries[query] = entry
        self._total_length += len(query)
        while len(self._entries) > self.max_entries or self._total_length > self.max_total_length:
            evicted, _ = self._entries.popitem(last=False)
            self._total_length -= len(evicted)


def document_cache(settings: Settings) -> DocumentCache:
    """A cache under ``settings``' limits, for one schema."""
    return DocumentCache(
        max_tokens=settings.max_query_tokens, max_cost=settings.max_validation_cost
    )


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
        if entry is not None and entry.document is document:
            if entry.validated:
                context.pre_execution_errors = []
                yield
                return
            if entry.errors is not None:  # failed before: the same errors, not validated again
                context.pre_execution_errors = [_copy(error) for error in entry.errors]
                yield
                return
        yield
        errors = context.pre_execution_errors
        if errors and entry is not None and entry.document is document:
            self.cache.remember_errors(query, errors)
        # Validation ran and found nothing; a document strawberry parsed is kept only if it
        # was parsed as the cache would (MaxTokensLimiter's limit is the cache's).
        if errors == [] and context.parse_options.get("max_tokens") == self.cache.max_tokens:
            self.cache.mark_validated(query, document)


def _copy(error: GraphQLError) -> GraphQLError:
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )
