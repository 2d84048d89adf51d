"""`millgate token issue` and `millgate bootstrap`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the rest is imported when a command runs: --help stays quick
    pass

app = typer.Typer(no_args_is_help=True, help="Access tokens of users.")


async def _issue(email: str, ttl: int | None) -> str:
    from sqlalchemy import select  # noqa: TID251 - reads marked with system_read

    import models as m
    from authz.guard import system_read
    from core.runtime import Runtime
    from core.settings import Settings

    runtime = Runtime.create(Settings())
    try:
        async with runtime.sessionmaker() as session:
            user = await session.scalar(
                system_read(
                    select(m.User).where(
                        m.User.email == email.lower(), m.User.disabled_at.is_(None)
                    ),
                    "cli: token issue",
                )
            )
            kind = None
            if user is not None:
                kind = await session.scalar(
                    system_read(
                        select(m.Organization.kind).where(
                            m.Organization.id == user.organization_id
                        ),
                        "cli: token issue",
                    )
                )
        if user is None:
            raise typer.BadParameter("no active user with this email", param_hint="--user")
        if kind == m.OrganizationKind.FACTORY and runtime.settings.production:
            # The operator holds the signing key: a token it mints for a factory's user would
            # let the platform act as the factory (rule 1). Factory users sign in themselves.
            raise typer.BadParameter(
                "in production a factory's users sign in themselves; "
                "the operator never acts as a factory",
                param_hint="--user",
            )
        return runtime.token_service.issue(user.id, ttl or runtime.settings.token_ttl_seconds)
    finally:
        await runtime.close()


async def _bootstrap(email: str) -> str:
    from sqlalchemy import select  # noqa: TID251 - reads marked with system_read

    import audit
    import models as m
    from authz.guard import system_read
    from core.runtime import Runtime
    from core.settings import Settings

    runtime = Runtime.create(Settings())
    try:
        async with runtime.sessionmaker() as session:
            platform = await session.scalar(
                system_read(
                    select(m.Organization).where(
                        m.Organization.kind == m.OrganizationKind.PLATFORM
                    ),
                    "cli: bootstrap",
                )
            )
            if platform is None:
                platform = m.Organization(
                    name="Millgate platform", kind=m.OrganizationKind.PLATFORM
                )
                session.add(platform)
                await session.flush()
                await audit.append(
                    session,
                    None,
                    "organization.create",
                    f"Organization:{platform.id}",
                    details={"kind": "PLATFORM"},
                )
            user = await session.scalar(
                system_read(select(m.User).where(m.User.email == email.lower()), "cli: bootstrap")
            )
            if user is None:
                user = m.User(
                    email=email.lower(), organization_id=platform.id, role=m.Role.PLATFORM_ADMIN
                )
                session.add(user)
                await session.flush()
                await audit.append(
                    session,
                    None,
                    "user.create",
                    f"User:{user.id}",
                    details={"organization": platform.id, "role": "PLATFORM_ADMIN"},
                )
            elif user.role != m.Role.PLATFORM_ADMIN or user.organization_id != platform.id:
                raise typer.BadParameter(
                    "this email belongs to a user of another organisation",
                    param_hint="--admin-email",
                )
            await session.commit()
            return runtime.token_service.issue(user.id, runtime.settings.token_ttl_seconds)
    finally:
        await runtime.close()


@app.command("issue")
def issue(
    user: str = typer.Option(..., "--user", help="Email of an existing user."),
    ttl: int | None = typer.Option(None, "--ttl", min=60, max=86400 * 30, help="Seconds."),
) -> None:
    """Print an access token for an existing user."""
    import asyncio

    typer.echo(asyncio.run(_issue(user, ttl)))


def register(root: typer.Typer) -> None:
    @root.command()
    def bootstrap(
        admin_email: str = typer.Option(..., "--admin-email", help="The first platform admin."),
    ) -> None:
        """Create the platform organisation and its first admin (idempotent); print a token."""
        import asyncio

        from core.settings import Settings
        from migrations import migrate

        migrate.upgrade(Settings().effective_database_url)
        typer.echo(asyncio.run(_bootstrap(admin_email)))
