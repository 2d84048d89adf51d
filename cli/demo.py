"""`millgate demo ...` commands."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the rest is imported when a command runs: --help stays quick
    from core.settings import Settings
    from demo import DemoWorld

app = typer.Typer(no_args_is_help=True, help="The demo world of factories, brands and hosts.")


async def _seed(settings: Settings) -> DemoWorld | None:
    from core.runtime import Runtime
    from demo import is_empty, seed_demo

    runtime = Runtime.create(settings)
    try:
        async with runtime.sessionmaker() as session:
            if not await is_empty(session):
                return None
            world = await seed_demo(session, runtime.keys)
            await session.commit()
            return world
    finally:
        await runtime.close()


def _write_private(path: Path, content: str) -> None:
    # O_EXCL: never overwrite (or widen the mode of) an existing file.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)


def _report(world: DemoWorld) -> None:
    from demo import KEYED_HOST

    typer.echo(
        f"Seeded {len(world.factory_ids)} factories and "
        f"{len(world.organization_ids)} organisations. One user of each role:"
    )
    for role, email in world.emails.items():
        typer.echo(f"  {role.value:<22} {email}")
    typer.echo(
        "Every organisation has users named <role>@<slug>.demo; "
        "`millgate token issue --user EMAIL` signs in as one."
    )
    typer.echo(f"API key of the host {KEYED_HOST} (shown once): {world.host_api_key}")


@app.command()
def seed(
    host_key_out: Path | None = typer.Option(
        None, help="Write the demo host's private X25519 JWK here (to open its exports)."
    ),
) -> None:
    """Migrate the configured database, then seed the demo world if it holds no organisation."""
    import asyncio

    from cli.db import database_url
    from core.settings import Settings
    from demo import KEYED_HOST
    from migrations import migrate

    settings = Settings()
    migrate.upgrade(database_url(settings))
    if host_key_out is not None and host_key_out.exists():
        raise typer.BadParameter(f"{host_key_out} exists; it is never overwritten")
    world = asyncio.run(_seed(settings))
    if world is None:
        typer.echo("The database already holds organisations: nothing seeded.")
        return
    _report(world)
    if host_key_out is not None:
        _write_private(host_key_out, json.dumps(world.host_private_jwk))
        typer.echo(f"Private key of {KEYED_HOST} written to {host_key_out} (mode 0600).")
    else:
        typer.echo(f"The private key of {KEYED_HOST} was not kept (see --host-key-out).")
