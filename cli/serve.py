"""`millgate serve` and `millgate schema`."""

from __future__ import annotations

import asyncio
import logging

import typer
import uvicorn

import models as m
from cli.tokens import tokens_for_emails
from core import demo, migrate
from core.runtime import Runtime
from core.settings import Settings

log = logging.getLogger("millgate")


async def _seed_demo(runtime: Runtime) -> dict[m.Role, str] | None:
    """Seeds the demo world into an empty database; the example tokens, one per role."""
    async with runtime.sessionmaker() as session:
        if not await demo.is_empty(session):
            return None
        world = await demo.seed_demo(session, runtime.keys)
        await session.commit()
    tokens = await tokens_for_emails(runtime, dict(world.emails))
    tokens[m.Role.HOST_INTEGRATION] = f"X-Api-Key: {world.host_api_key}"
    return tokens


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(8000, help="Port to listen on."),
        no_demo: bool = typer.Option(False, "--no-demo", help="Do not seed the demo world."),
        workers: int = typer.Option(1, help="Worker processes (PostgreSQL only)."),
    ) -> None:
        """Migrate, seed demo data into an empty database, and serve the API."""
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
        settings = Settings()
        runtime = Runtime.create(settings)
        migrate.upgrade(settings.effective_database_url)
        tokens = None if no_demo else asyncio.run(_seed_demo(runtime))
        asyncio.run(runtime.close())
        typer.echo(f"Millgate serves GraphQL at http://{host}:{port}/graphql")
        if tokens:
            typer.echo("Demo world seeded. Example credentials (Authorization: Bearer <token>):")
            for role, token in tokens.items():
                typer.echo(f"  {role.value:<22} {token}")
        elif not no_demo:
            typer.echo(
                "The database is not empty: no demo data seeded "
                "(`millgate token issue --user EMAIL` prints a token)."
            )
        if workers > 1 and settings.is_sqlite:
            raise typer.BadParameter("several workers need PostgreSQL", param_hint="--workers")
        uvicorn.run(
            "api.main:app",
            host=host,
            port=port,
            workers=workers,
            factory=False,
            log_level="info",
            proxy_headers=False,
        )

    @app.command()
    def schema() -> None:
        """Print the GraphQL schema (SDL)."""
        from api.schema import sdl

        typer.echo(sdl(), nl=False)
