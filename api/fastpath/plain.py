"""The mark of a resolver the fast executor may call as a plain function of its object.

A resolver marked :func:`plain` promises: it reads only its object (no ``info``, no
arguments, no database), it is synchronous, and it has no side effect, so calling it
twice gives the same answer. The executor then calls it directly, without building an
info object or going through strawberry's argument handling, and may run it again on the
standard path when a selection falls back (see :mod:`api.fastpath.projection`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

MARK = "__millgate_plain__"


def plain(fn: F) -> F:
    setattr(fn, MARK, True)
    return fn


def plain_function(definition: Any) -> Callable[[Any], Any] | None:
    """The function to call with the object, when the strawberry field ``definition`` is a
    :func:`plain` resolver that strawberry would call with the object alone; else None."""
    resolver = getattr(definition, "base_resolver", None)
    if resolver is None or definition.extensions or definition.arguments:
        return None
    fn = resolver.wrapped_func
    if not getattr(fn, MARK, False) or resolver.is_async:
        return None
    if resolver.info_parameter or resolver.root_parameter or resolver.parent_parameter:
        return None
    if resolver.self_parameter is None:
        return None
    return fn  # type: ignore[no-any-return]
