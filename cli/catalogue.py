"""`millgate catalogue load FILE`: add a version of the question catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the rest is imported when a command runs: --help stays quick
    from reference import Catalogue
    from reference.loader import LoadReport

app = typer.Typer(no_args_is_help=True, help="The question catalogue (reference data).")


async def _load(url: str, ref: Catalogue) -> LoadReport:
    from core.db import make_engine
    from reference.loader import load_reference

    engine = make_engine(url)
    try:
        async with engine.begin() as conn:  # one transaction: all of the file or nothing
            return await conn.run_sync(load_reference, ref)
    finally:
        await engine.dispose()


@app.command()
def load(
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        readable=True,
        help="A catalogue in the shipped format (catalogue.json).",
    ),
) -> None:
    """Validate a catalogue file and add its versions; loaded versions are never changed."""
    import asyncio

    from cli.db import database_url
    from core.errors import CatalogueError
    from migrations import migrate
    from reference import parse_text

    try:
        ref = parse_text(file.read_text(encoding="utf-8"))
    except (CatalogueError, UnicodeDecodeError) as error:
        typer.echo(f"error: {file}: {error}", err=True)
        raise typer.Exit(1) from error
    url = database_url()
    migrate.upgrade(url)
    try:
        report = asyncio.run(_load(url, ref))
    except CatalogueError as error:
        typer.echo(f"error: {file}: {error}; nothing written", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"{file}: {report.summary()}")
