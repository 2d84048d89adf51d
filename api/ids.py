"""Opaque global IDs (``base64url("Type:pk")``) and cursors."""

from __future__ import annotations

import base64
import binascii
import re

import strawberry

_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


def _enc(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def _dec(text: str) -> str | None:
    # Only the canonical alphabet: base64 decoders skip stray characters, and a second
    # spelling of an id must not name the same row.
    if not _ALPHABET.fullmatch(text):
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(_enc(f"{type_name}:{pk}"))


def from_global_id(global_id: str, type_name: str | None = None) -> tuple[str, int] | None:
    """``(type, pk)``, or None for anything malformed or of another type."""
    if not isinstance(global_id, str) or len(global_id) > 200:
        return None
    decoded = _dec(global_id)
    if decoded is None or ":" not in decoded:
        return None
    kind, _, raw = decoded.partition(":")
    if not raw.isdigit() or len(raw) > 10 or (type_name is not None and kind != type_name):
        return None
    if not 0 < int(raw) < 2**31:  # ids are 32-bit integers on every backend
        return None
    return kind, int(raw)


def pk_of(global_id: str, type_name: str) -> int | None:
    parsed = from_global_id(global_id, type_name)
    return None if parsed is None else parsed[1]


def encode_cursor(*parts: object) -> str:
    return _enc("|".join(str(p) for p in parts))


def decode_cursor(cursor: str | None, arity: int) -> list[str] | None:
    """The parts of a cursor, or None for no cursor; raises ValueError for a garbage one."""
    if cursor is None:
        return None
    decoded = _dec(cursor) if len(cursor) <= 200 else None
    if decoded is None:
        raise ValueError("invalid cursor")
    parts = decoded.split("|")
    if len(parts) != arity:
        raise ValueError("invalid cursor")
    return parts
