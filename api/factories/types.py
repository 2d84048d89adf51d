"""Factories: profile, SLCP registration (rule 8), and everything nested under them."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

import models as m
from api.assessments.types import AssessmentConnection, assessment_connection
from api.audit.types import AuditCheckpoint, AuditEntryConnection, audit_page, latest_checkpoint
from api.connections import Edge, count_of
from api.consent.types import AccessEventConnection, ConsentGrant, access_connection
from api.context import Context
from api.gateway.eligibility import GatewayEligibility, eligibility_of
from api.ids import to_global_id
from api.node import Node
from api.organizations.types import Country, Organization, load_country, require_organization
from api.pagination import DATE_ID_KEY, TIME_ID_KEY, PageInfo, page_args
from api.self_assessments.types import SelfAssessment


@strawberry.type
class SlcpRegistration:
    gateway_id: str
    registered_on: dt.date
    verifier_body: str
    assessment_sharing_confirmed_on: dt.date | None


@strawberry.type
class Factory(Node):
    row: strawberry.Private[m.Factory]
    name: str
    enrolled_on: dt.date | None
    high_performance: bool

    @classmethod
    def of(cls, row: m.Factory) -> Factory:
        return cls(
            id=to_global_id("Factory", row.id),
            row=row,
            name=row.name,
            enrolled_on=row.enrolled_on,
            high_performance=row.high_performance,
        )

    @strawberry.field
    async def organization(self, info: Info[Context, None]) -> Organization:
        return await require_organization(info, self.row.organization_id)

    @strawberry.field
    async def country(self, info: Info[Context, None]) -> Country:
        country = await load_country(info, self.row.country_code)
        assert country is not None  # a foreign key
        return country

    @strawberry.field(
        description="Null for every caller that may not know SLCP participation (brands among them)."  # noqa: E501 - one line of contract text
    )
    async def slcp(self, info: Info[Context, None]) -> SlcpRegistration | None:
        if not await info.context.allows("slcp", "read", self.row):
            return None
        info.context.record_access(self.row.id, info)
        row = self.row
        if row.slcp_gateway_id is None or row.slcp_registered_on is None:
            return None
        return SlcpRegistration(
            gateway_id=row.slcp_gateway_id,
            registered_on=row.slcp_registered_on,
            verifier_body=row.slcp_verifier_body or "",
            assessment_sharing_confirmed_on=row.slcp_sharing_confirmed_on,
        )

    @strawberry.field
    async def assessments(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> AssessmentConnection:
        args = page_args(first, after, info.context.runtime.settings.max_page_size, DATE_ID_KEY)
        rows = await info.context.loaders.assessments_page.load((self.row.id, args))
        info.context.record_access(self.row.id, info)
        return assessment_connection(rows, args, self.row.id)

    @strawberry.field
    async def self_assessments(self, info: Info[Context, None]) -> list[SelfAssessment]:
        rows = await info.context.loaders.self_assessments.load(self.row.id)
        info.context.record_access(self.row.id, info)
        return [SelfAssessment.of(row, number) for row, number in rows]

    @strawberry.field
    async def consent_grants(self, info: Info[Context, None]) -> list[ConsentGrant]:
        rows = await info.context.loaders.grants.load(self.row.id)
        info.context.record_access(self.row.id, info)
        return [ConsentGrant.of(row) for row in rows]

    @strawberry.field
    async def access_log(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> AccessEventConnection:
        # Newest first by (at, id): the cursor holds both.
        args = page_args(first, after, info.context.runtime.settings.max_page_size, TIME_ID_KEY)
        rows = await info.context.loaders.access_page.load((self.row.id, args))
        return access_connection(rows, args, self.row.id)

    @strawberry.field(description="Changes to this factory's data (the audit trail): its own.")
    async def audit_log(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> AuditEntryConnection:
        args = page_args(first, after, info.context.runtime.settings.max_page_size)
        return await audit_page(info, self.row.id, args)

    @strawberry.field(
        description="The newest signed checkpoint of the audit chain (its own); null if none."
    )
    async def audit_checkpoint(self, info: Info[Context, None]) -> AuditCheckpoint | None:
        return await latest_checkpoint(info, self.row.id)

    @strawberry.field(
        description="Null for every caller that may not know SLCP participation (brands among them)."  # noqa: E501 - one line of contract text
    )
    async def gateway_eligibility(
        self, info: Info[Context, None], cycle: int
    ) -> GatewayEligibility | None:
        if not await info.context.allows("slcp", "read", self.row):
            return None
        return await eligibility_of(info, self.row, cycle)


def factory_out(info: Info[Context, None], row: m.Factory) -> Factory:
    """A factory handed to the caller: logged when the caller is not the factory itself."""
    info.context.record_access(row.id, info)
    return Factory.of(row)


async def load_factory(info: Info[Context, None], factory_id: int) -> Factory | None:
    row = await info.context.loaders.factory.load(factory_id)
    return None if row is None else factory_out(info, row)


async def require_factory(info: Info[Context, None], factory_id: int) -> Factory:
    """The factory of a visible child row (assessment, grant)."""
    found = await load_factory(info, factory_id)
    if found is None:
        raise LookupError("factory of a visible row is not visible")
    return found


@strawberry.type
class FactoryConnection:
    """Not a :class:`~api.connections.Connection`: its edges are made (and logged as reads)
    only when asked for, so a bare ``totalCount`` reads no factory."""

    rows: strawberry.Private[list[m.Factory]]
    page_info: PageInfo
    count_stmt: strawberry.Private[object]

    @strawberry.field
    def edges(self, info: Info[Context, None]) -> list[Edge[Factory]]:
        return [Edge(node=factory_out(info, r), key=(r.id,)) for r in self.rows]

    @strawberry.field
    async def total_count(self, info: Info[Context, None]) -> int:
        return await count_of(info, self.count_stmt)
