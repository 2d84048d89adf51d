"""`millgate token issue` and `millgate bootstrap`."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)


def register(app: typer.Typer) -> None:
    pass
