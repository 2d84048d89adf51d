"""`millgate access-log ...` commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the rest is imported when a command runs: --help stays quick
    from models.access_log import Maintenance

app = typer.Typer(no_args_is_help=True, help="The access log that factories read.")


async def _maintain(retention_months: int | None) -> Maintenance:
    from core.db import make_engine
    from core.settings import Settings
    from models.access_log import maintain

    settings = Settings()
    months = settings.access_log_retention_months if retention_months is None else retention_months
    engine = make_engine(settings.effective_database_url)  # no keys needed: DDL only
    try:
        async with engine.begin() as conn:
            return await maintain(conn, retention_months=months)
    finally:
        await engine.dispose()


@app.command("maintain")
def maintain(
    retention_months: int | None = typer.Option(
        None,
        "--retention-months",
        min=0,
        help="Whole months kept before the current one (default: "
        "MILLGATE_ACCESS_LOG_RETENTION_MONTHS; 0 keeps all).",
    ),
) -> None:
    """Make this month's and the next two months' partitions, and drop those wholly before
    the retention cutoff (PostgreSQL; on SQLite, delete the reads before it). Safe to run
    again at any time: the export worker runs the same on every pass."""
    import asyncio

    done = asyncio.run(_maintain(retention_months))
    typer.echo(done.summary())
