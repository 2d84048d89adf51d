"""What an operator reads when a command fails: one line that says what to do, exit 1.

Settings that are missing or invalid (one line each), a database that cannot be reached or
does not exist, key files that cannot be read: each is told in a sentence. Any other failure
is named by its type and first line. ``--debug`` (or ``MILLGATE_DEBUG=1``) shows the
traceback instead.

Example:
    run(app)  # the console script's entry point
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from typing import NoReturn

import typer

DEBUG_ENV = "MILLGATE_DEBUG"


class OperatorError(Exception):
    """Raised by a command for a fault the operator must fix; its message says how."""


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _settings_lines(error: BaseException) -> list[str] | None:
    from pydantic import ValidationError

    if not isinstance(error, ValidationError):
        return None
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        loc = [str(part) for part in item["loc"]]
        name = f"MILLGATE_{loc[0].upper()}: " if loc else ""
        lines.append(f"invalid setting: {name}{message}")
    return lines


def _database_url() -> str:
    from sqlalchemy.engine import make_url

    url = os.environ.get("MILLGATE_DATABASE_URL", "")
    try:
        return make_url(url).render_as_string(hide_password=True) if url else "the database"
    except Exception:  # a URL that does not parse is shown as its scheme
        return url.split("://", 1)[0] + "://…"


def _database_line(error: BaseException) -> str | None:
    from sqlalchemy.exc import DBAPIError, InterfaceError

    for cause in _chain(error):
        name = type(cause).__name__
        if name == "InvalidCatalogNameError":
            return (
                f"{_database_url()}: {_first_line(cause)}; create it (createdb) and run "
                "`millgate db upgrade`"
            )
        if name in ("InvalidPasswordError", "InvalidAuthorizationSpecificationError"):
            return f"{_database_url()}: {_first_line(cause)}; check MILLGATE_DATABASE_URL"
    for cause in _chain(error):
        if isinstance(cause, ConnectionError | TimeoutError) or (
            isinstance(cause, OSError) and cause.errno is not None and "connect" in str(cause)
        ):
            return (
                f"{_database_url()} is unreachable ({_first_line(cause)}); is the database "
                "running, and is MILLGATE_DATABASE_URL right?"
            )
        if isinstance(cause, DBAPIError | InterfaceError) and cause.connection_invalidated:
            return f"{_database_url()}: the connection was lost; is the database running?"
    for cause in _chain(error):
        if isinstance(cause, DBAPIError) and "unable to open database file" in str(cause):
            return (
                f"{_database_url()}: the SQLite file cannot be opened; check MILLGATE_DATA_DIR "
                "and its permissions"
            )
    return None


def _key_line(error: BaseException) -> str | None:
    from core.errors import CryptoError

    for cause in _chain(error):
        if isinstance(cause, CryptoError):
            return f"{_first_line(cause)} (`millgate keys generate --out DIR` writes a new set)"
    return None


def explain(error: BaseException) -> list[str]:
    """The lines that tell the operator what went wrong and what to do."""
    if isinstance(error, OperatorError):
        return [str(error)]
    lines = _settings_lines(error)
    if lines:
        return lines
    for reader in (_key_line, _database_line):
        line = reader(error)
        if line:
            return [line]
    return [f"{type(error).__name__}: {_first_line(error)} (run with --debug for the traceback)"]


def debugging(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def run(app: typer.Typer, argv: Sequence[str] | None = None) -> NoReturn:
    """Runs the command line; a failure is told in a line each (traceback with --debug)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = debugging(args)
    # Taken out here rather than declared as an option: typer would then coerce it through
    # pydantic on every command, which costs `millgate COMMAND --help` a fifth of a second.
    args = [arg for arg in args if arg != "--debug"]
    command = typer.main.get_command(app)
    try:
        command.main(args=args, prog_name="millgate", standalone_mode=True)
    except Exception as error:
        if debug:
            raise
        for line in explain(error):
            typer.echo(f"error: {line}", err=True)
        sys.exit(1)
    sys.exit(0)
