"""Consent grants and the access log."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

import models as m
from api.connections import Connection, Edge, page_of
from api.context import Context
from api.factory_of import factory_of
from api.ids import to_global_id
from api.node import Node
from api.organizations.types import Organization, require_organization
from api.pagination import PageArgs

if TYPE_CHECKING:
    from api.factories.types import Factory

DataScope = strawberry.enum(m.DataScope, name="DataScope")


@strawberry.type
class ConsentGrant(Node):
    row: strawberry.Private[m.ConsentGrant]
    scopes: list[DataScope]  # type: ignore[valid-type]
    granted_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @classmethod
    def of(cls, row: m.ConsentGrant) -> ConsentGrant:
        return cls(
            id=to_global_id("ConsentGrant", row.id),
            row=row,
            scopes=row.scopes,
            granted_at=row.granted_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
        )

    @strawberry.field
    def active(self) -> bool:
        return self.row.active_at(m.utcnow())

    @strawberry.field(
        description="The grant this one succeeded (updateConsent): it ended as this one began."
    )
    def replaces_id(self) -> strawberry.ID | None:
        if self.row.replaces_id is None:
            return None
        return to_global_id("ConsentGrant", self.row.replaces_id)

    @strawberry.field
    async def factory(
        self, info: Info[Context, None]
    ) -> Annotated[Factory, strawberry.lazy("api.factories.types")]:
        return await factory_of(info, self.row.factory_id)

    @strawberry.field
    async def grantee(self, info: Info[Context, None]) -> Organization:
        return await require_organization(info, self.row.grantee_id)


@strawberry.type
class AccessEvent:
    row: strawberry.Private[m.AccessEvent]
    # The factory whose log shows the event (a row may name many).
    factory_id: strawberry.Private[int]
    at: dt.datetime
    operation: str = strawberry.field(
        description='The operation type and the root fields read, as the server parsed the document, e.g. "query:factories".'  # noqa: E501 - one line of contract text
    )

    @strawberry.field
    async def organization(self, info: Info[Context, None]) -> Organization:
        # By the event's key: the reader of an event in hand, not among all of the log's.
        row = await info.context.loaders.event_reader.load((self.row.id, self.factory_id))
        if row is None:  # an event the scope showed always has its reader
            raise LookupError("reader of a visible access event is not reachable")
        return Organization.of(row)

    @strawberry.field(description="How the reader authenticated: USER or API_KEY.")
    def via(self) -> str:
        return "API_KEY" if self.row.api_key_id is not None else "USER"

    @strawberry.field(
        description="The reader within its organisation: the global ID of its user or API key, never a name or email (a brand's user is personal data; the organisation, and for support the platform, can say who it is). The access log is its factory's alone."  # noqa: E501 - one line of contract text
    )
    def reader_id(self) -> strawberry.ID | None:
        if self.row.api_key_id is not None:
            return to_global_id("ApiKey", self.row.api_key_id)
        if self.row.user_id is not None:
            return to_global_id("User", self.row.user_id)
        return None

    @strawberry.field(
        description="Every field read, as the schema names it (e.g. factories.assessments.findings), whatever the reader called its operation."  # noqa: E501 - one line of contract text
    )
    def fields(self) -> list[str]:
        return (self.row.fields or "").split()


@strawberry.type
class AccessEventConnection(Connection[AccessEvent]):
    factory_id: strawberry.Private[int]

    @strawberry.field(description="Reads of the factory's data in all, not only this page.")
    async def total_count(self, info: Info[Context, None]) -> int:
        # Asked for only: a page without it costs no count.
        return int(await info.context.loaders.access_count.load(self.factory_id))


def access_connection(
    rows: list[m.AccessEvent], args: PageArgs, factory_id: int
) -> AccessEventConnection:
    edges, page_info = page_of(
        rows,
        args.first,
        lambda r: Edge(
            node=AccessEvent(row=r, factory_id=factory_id, at=r.at, operation=r.operation),
            key=(r.at.isoformat(), r.id),
        ),
    )
    return AccessEventConnection(edges=edges, page_info=page_info, factory_id=factory_id)
