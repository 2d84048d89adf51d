"""`millgate serve` and `millgate schema`.

The heavy modules (uvicorn, SQLAlchemy, the schema) are imported inside the commands:
`millgate --help` must not pay for them.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.errors import OperatorError

if TYPE_CHECKING:
    import models as m
    from core.runtime import Runtime


DEMO_HOST_KEY_FILE = "demo-host-key.json"


def keep_demo_host_key(data_dir: Path, private_jwk: dict[str, str]) -> Path:
    """Writes the demo host's private JWK under the data folder (mode 0600), replacing the
    key of an earlier demo world, so that the README's host example can be opened."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / DEMO_HOST_KEY_FILE
    fd, temporary = tempfile.mkstemp(dir=data_dir, prefix=".demo-host-key-")  # mode 0600
    with os.fdopen(fd, "w") as handle:
        json.dump(private_jwk, handle)
    os.replace(temporary, path)
    return path


async def _prepare(runtime: Runtime, seed: bool) -> dict[m.Role, str] | None:
    """Seeds the demo world into an empty database (if ``seed``); the example tokens, one per
    role. The engine is closed in the same event loop that opened its connections."""
    import demo
    import models as m
    from demo import KEYED_HOST
    from demo.tokens import tokens_for_emails

    try:
        if not seed:
            return None
        async with runtime.sessionmaker() as session:
            if not await demo.is_empty(session):
                return None
            world = await demo.seed_demo(session, runtime.keys)
            await session.commit()
        kept = keep_demo_host_key(runtime.settings.data_dir, world.host_private_jwk)
        typer.echo(f"Private key of the demo host {KEYED_HOST} kept in {kept} (mode 0600).")
        tokens = await tokens_for_emails(runtime, dict(world.emails))
        tokens[m.Role.HOST_INTEGRATION] = f"X-Api-Key: {world.host_api_key}"
        return tokens
    finally:
        await runtime.close()


def claim_port(host: str, port: int) -> None:
    """Raises OperatorError when ``host:port`` cannot be bound (in use, or not ours)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise OperatorError(
                    f"{host}:{port} is in use: stop the process that holds it, or pass --port"
                ) from None
            raise OperatorError(f"cannot listen on {host}:{port}: {error.strerror}") from None


def _shared_metrics_dir(workers: int) -> None:
    """Several workers sum their metrics through files in one folder (see core.metrics)."""
    from core.metrics import MULTIPROC_ENV

    if workers > 1 and not os.environ.get(MULTIPROC_ENV):
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="millgate-metrics-")
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:  # values of earlier runs would add up with this one's (this process's stay)
        os.makedirs(folder, exist_ok=True)
        own = f"_{os.getpid()}.db"
        for name in os.listdir(folder):
            if name.endswith(".db") and not name.endswith(own):
                os.remove(os.path.join(folder, name))


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(8000, help="Port to listen on."),
        no_demo: bool = typer.Option(False, "--no-demo", help="Do not seed the demo world."),
        workers: int = typer.Option(1, help="Worker processes (PostgreSQL only)."),
    ) -> None:
        """Migrate, seed demo data into an empty database, and serve the API."""
        import asyncio

        from core.logs import configure_logging
        from core.settings import Settings

        configure_logging()
        settings = Settings()
        if workers > 1 and settings.is_sqlite:
            raise typer.BadParameter("several workers need PostgreSQL", param_hint="--workers")
        claim_port(host, port)  # before anything says the server is up

        import uvicorn

        from core.runtime import Runtime
        from migrations import migrate

        runtime = Runtime.create(settings)
        migrate.upgrade(settings.effective_database_url)
        tokens = asyncio.run(_prepare(runtime, seed=not no_demo))
        _shared_metrics_dir(workers)
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
        uvicorn.run(
            "api.main:app",
            host=host,
            port=port,
            workers=workers,
            factory=False,
            log_config=None,  # core.logs routes uvicorn's records
            log_level="info",
            access_log=False,  # api.middleware.request_log writes one line a request
            proxy_headers=False,  # api.app trusts MILLGATE_TRUSTED_PROXIES alone
        )

    @app.command()
    def schema() -> None:
        """Print the GraphQL schema (SDL)."""
        from api.schema import sdl

        typer.echo(sdl(), nl=False)
