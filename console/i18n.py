"""The console's languages: gettext catalogues compiled when first used, Babel formats.

A language is a folder ``locale/<code>/LC_MESSAGES/messages.po``; its ``.mo`` is compiled
from the ``.po`` in memory at first use, so there is no build step at install time. English
is the source language (its catalogue may stay empty).
"""

from __future__ import annotations

import datetime as dt
import io
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from starlette.requests import Request

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT = "en"
LANG_COOKIE = "millgate_console_lang"


def languages() -> tuple[str, ...]:
    """The languages with a catalogue, the default first."""
    found = sorted(p.name for p in LOCALE_DIR.iterdir() if (p / "LC_MESSAGES").is_dir())
    return (DEFAULT, *(code for code in found if code != DEFAULT))


@cache
def translations(code: str) -> Translations:
    po = LOCALE_DIR / code / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return Translations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=code)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def language_name(code: str) -> str:
    """The language's name in itself ("Bahasa Indonesia"), as a switch shows it."""
    try:
        return str(Locale.parse(code).get_display_name(code)).capitalize()
    except (UnknownLocaleError, ValueError):
        return code


def chosen_language(request: Request) -> str:
    """``?lang=``, then the switch's cookie, then Accept-Language, then English."""
    known = languages()
    for asked in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if asked in known:
            return asked
    header = request.headers.get("accept-language", "")
    preferred = []
    for part in header.split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        if tag:
            preferred.append((weight, tag.strip().replace("-", "_")))
    ordered = [tag for _, tag in sorted(preferred, key=lambda p: -p[0])]
    negotiated = Locale.negotiate(ordered, known, sep="_")
    return str(negotiated) if negotiated is not None else DEFAULT


class Formats:
    """Dates, times and numbers in one language's conventions (Babel)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def date(self, value: str | dt.date | None) -> str:
        if value is None or value == "":
            return ""
        day = dt.date.fromisoformat(value) if isinstance(value, str) else value
        return format_date(day, format="medium", locale=self.code)

    def datetime(self, value: str | dt.datetime | None) -> str:
        if value is None or value == "":
            return ""
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        return format_datetime(moment, format="medium", tzinfo=dt.UTC, locale=self.code) + " UTC"

    def number(self, value: int | float) -> str:
        return format_decimal(value, locale=self.code)
