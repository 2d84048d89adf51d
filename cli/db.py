"""`millgate db ...` commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the rest is imported when a command runs: --help stays quick
    from core.settings import Settings

app = typer.Typer(no_args_is_help=True, help="The database schema: migrations up and down.")


def database_url(settings: Settings | None = None) -> str:
    """The configured database; the embedded default's folder is created on first use."""
    from core.settings import Settings

    settings = settings or Settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.effective_database_url


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def upgrade() -> None:
    """Migrate the configured database to the latest schema."""
    from migrations import migrate

    url = database_url()
    migrate.upgrade(url)
    typer.echo(f"{_shown(url)} is at {', '.join(sorted(migrate.head_revisions()))}")


@app.command()
def downgrade(
    revision: str = typer.Argument("base", help="Target revision; 'base' drops every table."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Migrate the configured database down (by default to nothing: all data is lost)."""
    from migrations import migrate

    url = database_url()
    if not yes:
        typer.confirm(f"Downgrade {_shown(url)} to {revision}, dropping what it held?", abort=True)
    migrate.downgrade(url, revision)
    typer.echo(f"{_shown(url)} downgraded to {revision}")


@app.command()
def revision(
    message: str = typer.Option(..., "-m", "--message", help="What the revision changes."),
    autogenerate: bool = typer.Option(
        True, "--autogenerate/--empty", help="Diff the models against the database."
    ),
) -> None:
    """Write the next revision script (developers, in a source checkout; database at head)."""
    from migrations import migrate

    path = migrate.revision(database_url(), message, autogenerate=autogenerate)
    typer.echo(f"wrote {path}: review it before committing")
