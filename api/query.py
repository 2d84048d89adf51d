"""The root Query: every read starts from the caller's scope."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

import models as m
from api import gateway, statistics
from api.assessments import Assessment, Finding
from api.consent import ConsentGrant
from api.context import Context
from api.directory import DirectoryConnection, directory_page
from api.errors import BadArgument
from api.factories import Factory, FactoryConnection, load_factory
from api.gateway import EnrolledFactory, GatewayExportConnection
from api.ids import from_global_id, pk_of, to_global_id
from api.node import Node
from api.organizations import (
    ApiKey,
    Organization,
    OrganizationKind,
    User,
    Viewer,
    load_organization,
)
from api.pagination import PageInfo, cursor_of, page_args
from api.questions import Question, question_page
from api.self_assessments import SelfAssessment
from api.statistics import ClusterStatistic, PublicFinding, ZeroToleranceCase
from authz.paging import count


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
            return gateway.GatewayExport.of(export)
    return None


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        return await _node(info, id)

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

    @strawberry.field
    async def factories(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        country: str | None = None,
    ) -> FactoryConnection:
        ctx = info.context
        args = page_args(first, after, ctx.runtime.settings.max_page_size)
        stmt = ctx.scope.factories()
        if country is not None:
            if len(country) != 2 or not country.isalpha():
                raise BadArgument("country must be an ISO 3166-1 alpha-2 code")
            stmt = stmt.where(m.Factory.country_code == country.upper())
        count_stmt = count(stmt)
        if args.after is not None:
            stmt = stmt.where(m.Factory.id > args.after[0])
        async with ctx.db() as session:
            rows = list(
                (await session.scalars(stmt.order_by(m.Factory.id).limit(args.first + 1))).all()
            )
        page = rows[: args.first]
        return FactoryConnection(
            rows=page,
            page_info=PageInfo(
                has_next_page=len(rows) > args.first,
                end_cursor=cursor_of(page[-1].id) if page else None,
            ),
            count_stmt=count_stmt,
        )

    @strawberry.field
    async def factory(self, info: Info[Context, None], id: strawberry.ID) -> Factory | None:
        pk = pk_of(id, "Factory")
        return None if pk is None else await load_factory(info, pk)

    @strawberry.field
    async def gateway_exports(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        since: Annotated[
            dt.datetime | None,
            strawberry.argument(description="Only exports made at or after this instant."),
        ] = None,
    ) -> GatewayExportConnection:
        return await gateway.gateway_exports(info, first, after, since)

    @strawberry.field(
        description="Consolidated statistics of a country (rule 12), for its programme and constituents: published in batches of at least 5 factories each, never per release (docs/statistics.md)."  # noqa: E501 - one line of contract text
    )
    async def country_statistics(
        self, info: Info[Context, None], country: str
    ) -> list[ClusterStatistic]:
        return await statistics.country_statistics(info, country)

    @strawberry.field
    async def public_findings(
        self, info: Info[Context, None], country: str | None = None, first: int | None = None
    ) -> list[PublicFinding]:
        return await statistics.public_findings(info, country, first)

    @strawberry.field(
        description="The labour inspectorate of a country: its zero-tolerance findings, whatever the consent."  # noqa: E501 - one line of contract text
    )
    async def zero_tolerance_findings(
        self, info: Info[Context, None], country: str
    ) -> list[ZeroToleranceCase]:
        return await statistics.zero_tolerance_findings(info, country)

    @strawberry.field(description="Hosts and the platform: the rolling list of enrolled factories.")
    async def enrolled_factories(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> list[EnrolledFactory]:
        return await gateway.enrolled_factories(info, first, after)

    @strawberry.field(
        description="Anyone: a country's current question catalogue (of toolVersion if given)."
    )
    async def questions(
        self,
        info: Info[Context, None],
        country: str,
        tool_version: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> list[Question]:
        return await question_page(info, country, tool_version, first, after)

    @strawberry.field(description="Platform admins: organisations.")
    async def organizations(self, info: Info[Context, None]) -> list[Organization]:
        ctx = info.context
        async with ctx.db() as session:
            rows = (
                await session.scalars(ctx.scope.organizations().order_by(m.Organization.id))
            ).all()
        return [Organization.of(r) for r in rows]

    @strawberry.field(
        description="Factory managers and platform admins: the brands and hosts a factory may "
        "grant to, by name (case-insensitive `search`) and `kind`; empty for anyone else."
    )
    async def directory(
        self,
        info: Info[Context, None],
        search: str | None = None,
        kind: OrganizationKind | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> DirectoryConnection:
        return await directory_page(info, search, kind, first, after)
