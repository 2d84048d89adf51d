"""Cursor pagination: page arguments, keyset cursors, and the shared PageInfo."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import strawberry

from api.errors import BadArgument
from api.ids import decode_cursor, encode_cursor

DEFAULT_PAGE = 20


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


MAX_ID = 2**31 - 1  # ids are 32-bit integers on every backend


def _id(text: str) -> int:
    if not text.isdigit() or len(text) > 10 or not 0 < int(text) <= MAX_ID:
        raise ValueError(text)
    return int(text)


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _datetime(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(text)
    return value


# The sort key a cursor holds, part by part.
ID_KEY: tuple[Callable[[str], Any], ...] = (_id,)
DATE_ID_KEY: tuple[Callable[[str], Any], ...] = (_date, _id)
TIME_ID_KEY: tuple[Callable[[str], Any], ...] = (_datetime, _id)


@dataclass(frozen=True, slots=True)
class PageArgs:
    """``first`` rows after the row whose sort key is ``after`` (already parsed and checked)."""

    first: int
    after: tuple[Any, ...] | None


def page_args(
    first: int | None,
    after: str | None,
    cap: int,
    key: tuple[Callable[[str], Any], ...] = ID_KEY,
) -> PageArgs:
    """Checks the page size and parses the cursor; anything malformed is a BAD_ARGUMENT."""
    size = DEFAULT_PAGE if first is None else first
    if size < 0 or size > cap:
        raise BadArgument(f"first must be between 0 and {cap}")
    try:
        parts = decode_cursor(after, len(key))
        parsed = (
            None if parts is None else tuple(parse(p) for parse, p in zip(key, parts, strict=True))
        )
    except ValueError:
        raise BadArgument("after is not a valid cursor") from None
    return PageArgs(size, parsed)


def cursor_of(*key: object) -> str:
    return encode_cursor(*key)
