"""``node(id)``: any object by its global id, read through the caller's scope like any other."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

import models as m
from api.assessments.types import Assessment, Finding
from api.consent.types import ConsentGrant
from api.context import Context
from api.factories.types import load_factory
from api.gateway.types import GatewayExport
from api.ids import from_global_id
from api.node import Node
from api.organizations.types import ApiKey, User, load_organization
from api.self_assessments.types import SelfAssessment


async def _node(info: Info[Context, None], id: strawberry.ID) -> Node | None:
    parsed = from_global_id(id)
    if parsed is None:
        return None
    kind, pk = parsed
    ctx = info.context
    loaders = ctx.loaders
    if kind == "Factory":
        return await load_factory(info, pk)
    if kind == "Organization":
        return await load_organization(info, pk)
    if kind == "Assessment":
        found = await loaders.assessment.load(pk)
        if found is None:
            return None
        ctx.record_access(found.row.factory_id, info)
        return Assessment.of(found)
    async with ctx.db() as session:
        if kind == "Finding":
            hit = (
                await session.execute(
                    ctx.scope.findings()
                    .add_columns(m.Assessment.factory_id)
                    .where(m.Finding.id == pk)
                )
            ).first()
            if hit is None:
                return None
            ctx.record_access(hit[1], info)
            return Finding.of(hit[0], ctx.runtime.keys.fields)
        if kind == "ConsentGrant":
            grant = await session.scalar(ctx.scope.grants().where(m.ConsentGrant.id == pk))
            if grant is None:
                return None
            ctx.record_access(grant.factory_id, info)
            return ConsentGrant.of(grant)
        if kind == "SelfAssessment":
            sa = (
                await session.execute(
                    ctx.scope.self_assessments_with_cycle().where(m.SelfAssessment.id == pk)
                )
            ).first()
            if sa is None:
                return None
            ctx.record_access(sa[0].factory_id, info)
            return SelfAssessment.of(sa[0], sa[1])
        if kind == "User":
            user = await session.scalar(ctx.scope.users().where(m.User.id == pk))
            return None if user is None else User.of(user)
        if kind == "ApiKey":
            key = await session.scalar(ctx.scope.api_keys().where(m.ApiKey.id == pk))
            return None if key is None else ApiKey.of(key)
        if kind == "GatewayExport":
            export = await session.scalar(ctx.scope.exports().where(m.GatewayExport.id == pk))
            if export is None:
                return None
            ctx.record_access(export.factory_id, info)
            return GatewayExport.of(export)
    return None


@strawberry.type
class NodeQuery:
    @strawberry.field
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        return await _node(info, id)
