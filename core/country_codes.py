"""ISO 3166-1 alpha-2 country codes: the one shape check every input path shares.

The API's arguments and inputs, and the catalogue files, all accept a country code through
:func:`parse_alpha2`, so they cannot drift apart; each caller raises its own typed error.
"""

from __future__ import annotations


def parse_alpha2(value: str) -> str | None:
    """``value`` upper-cased when it is two ASCII letters, else None.

    ASCII is checked before upper-casing: ``"ß".upper()`` is ``"SS"``.

    Example:
        parse_alpha2("bd") == "BD"; parse_alpha2("BGD") is None
    """
    if len(value) != 2 or not value.isascii() or not value.isalpha():
        return None
    return value.upper()
