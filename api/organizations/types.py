"""Organisations, users, API keys, countries, and the viewer."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

import models as m
from api.context import Context
from api.ids import to_global_id
from api.node import Node

OrganizationKind = strawberry.enum(m.OrganizationKind, name="OrganizationKind")
Role = strawberry.enum(m.Role, name="Role")


@strawberry.type
class Country:
    code: str
    name: str
    slcp_rollout_on: dt.date | None
    overlay_version: str | None
    better_work_programme: bool

    @classmethod
    def of(cls, row: m.Country) -> Country:
        return cls(
            code=row.code,
            name=row.name,
            slcp_rollout_on=row.slcp_rollout_on,
            overlay_version=row.overlay_version,
            better_work_programme=row.betterwork_programme,
        )


async def load_country(info: Info[Context, None], code: str | None) -> Country | None:
    if code is None:
        return None
    row = await info.context.loaders.country.load(code)
    return None if row is None else Country.of(row)


@strawberry.type
class Organization(Node):
    row: strawberry.Private[m.Organization]
    name: str
    kind: OrganizationKind  # type: ignore[valid-type]

    @classmethod
    def of(cls, row: m.Organization) -> Organization:
        return cls(id=to_global_id("Organization", row.id), row=row, name=row.name, kind=row.kind)

    @strawberry.field
    async def country(self, info: Info[Context, None]) -> Country | None:
        return await load_country(info, self.row.country_code)

    @strawberry.field
    def labour_inspectorate(self) -> bool:
        return self.row.labour_inspectorate

    @strawberry.field(description="HOST only: whether exports can be encrypted to it yet.")
    def has_host_key(self) -> bool:
        return self.row.host_public_jwk is not None

    @strawberry.field(description="Its members: all for platform admins, yourself otherwise.")
    async def users(self, info: Info[Context, None]) -> list[User]:
        rows = await info.context.loaders.users_of.load(self.row.id)
        return [User.of(row) for row in rows]

    @strawberry.field(description="Platform admins: its API keys (prefixes, never secrets).")
    async def api_keys(self, info: Info[Context, None]) -> list[ApiKey]:
        rows = await info.context.loaders.api_keys_of.load(self.row.id)
        return [ApiKey.of(row) for row in rows]


async def load_organization(info: Info[Context, None], org_id: int) -> Organization | None:
    row = await info.context.loaders.organization.load(org_id)
    return None if row is None else Organization.of(row)


async def require_organization(info: Info[Context, None], org_id: int) -> Organization:
    """For parents that are visible only with their organisation (a factory, a grant)."""
    org = await load_organization(info, org_id)
    if org is None:  # a parent the scope showed always has a reachable organisation
        raise LookupError("organisation of a visible row is not reachable")
    return org


@strawberry.type
class User(Node):
    row: strawberry.Private[m.User]
    email: str
    role: Role  # type: ignore[valid-type]

    @classmethod
    def of(cls, row: m.User) -> User:
        return cls(id=to_global_id("User", row.id), row=row, email=row.email, role=row.role)

    @strawberry.field
    async def organization(self, info: Info[Context, None]) -> Organization:
        return await require_organization(info, self.row.organization_id)

    @strawberry.field(description="When the user was disabled; null while the user may sign in.")
    def disabled_at(self) -> dt.datetime | None:
        return self.row.disabled_at


@strawberry.type
class ApiKey(Node):
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @classmethod
    def of(cls, row: m.ApiKey) -> ApiKey:
        return cls(
            id=to_global_id("ApiKey", row.id),
            prefix=row.prefix,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )


@strawberry.type
class Viewer:
    user: User | None
    organization: Organization | None
    role: Role | None  # type: ignore[valid-type]
    factory_id: strawberry.ID | None = strawberry.field(
        description="The caller's own factory, for factory users."
    )
