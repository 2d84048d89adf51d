"""Who is asking (``viewer``) and, for platform admins, every organisation."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

import models as m
from api.context import Context
from api.ids import to_global_id
from api.organizations.types import Organization, User, Viewer, load_organization


@strawberry.type
class ViewerQueries:
    @strawberry.field
    async def viewer(self, info: Info[Context, None]) -> Viewer:
        ctx = info.context
        p = ctx.principal
        user = None
        if p.user_id is not None:
            async with ctx.db() as session:
                row = await session.scalar(ctx.scope.users().where(m.User.id == p.user_id))
            user = None if row is None else User.of(row)
        org = (
            None if p.organization_id is None else await load_organization(info, p.organization_id)
        )
        return Viewer(
            user=user,
            organization=org,
            role=p.role,
            factory_id=None if p.factory_id is None else to_global_id("Factory", p.factory_id),
        )


@strawberry.type
class OrganizationQueries:
    @strawberry.field(description="Platform admins: organisations.")
    async def organizations(self, info: Info[Context, None]) -> list[Organization]:
        ctx = info.context
        async with ctx.db() as session:
            rows = (
                await session.scalars(ctx.scope.organizations().order_by(m.Organization.id))
            ).all()
        return [Organization.of(r) for r in rows]
