"""Cursor pagination: page arguments, keyset cursors, and the shared PageInfo."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry

from api.errors import BadArgument
from api.ids import decode_cursor, encode_cursor

DEFAULT_PAGE = 20


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@dataclass(frozen=True, slots=True)
class PageArgs:
    """``first`` rows after the row whose sort key is ``after`` (a tuple of strings)."""

    first: int
    after: tuple[str, ...] | None


def page_args(first: int | None, after: str | None, cap: int, arity: int = 1) -> PageArgs:
    size = DEFAULT_PAGE if first is None else first
    if size < 0 or size > cap:
        raise BadArgument(f"first must be between 0 and {cap}")
    try:
        parts = decode_cursor(after, arity)
    except ValueError:
        raise BadArgument("after is not a valid cursor") from None
    return PageArgs(size, None if parts is None else tuple(parts))


def cursor_of(*key: object) -> str:
    return encode_cursor(*key)
