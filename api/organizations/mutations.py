"""Mutations of platform admins on organisations: creation, country roll-out, hosts' export
key and webhook.

The platform never acts for a factory (rule 1): none of these grants, revokes, registers
or submits anything of a factory's.
"""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

import audit
import models as m
from api.context import Context
from api.errors import UserError, not_found
from api.ids import pk_of
from api.mutations.base import (
    INVALID,
    check_text,
    country_code,
    payload_errors,
    require,
    run,
)
from api.organizations import host_integration as integration
from api.organizations.types import Country, Organization, OrganizationKind
from core.errors import UserInputError


@strawberry.input
class CreateOrganizationInput:
    name: str
    kind: OrganizationKind  # type: ignore[valid-type]
    country: str | None = strawberry.field(
        default=None, description="Required for PROGRAMME and CONSTITUENT organisations."
    )
    labour_inspectorate: bool | None = strawberry.field(
        default=None, description="A CONSTITUENT that is its country's labour inspectorate."
    )


@strawberry.type
class OrganizationPayload:
    organization: Organization | None
    errors: list[UserError]


@strawberry.input
class SetCountryRolloutInput:
    code: str
    slcp_rollout_on: dt.date | None = None


@strawberry.type
class CountryPayload:
    country: Country | None
    errors: list[UserError]


@strawberry.input
class RegisterHostKeyInput:
    organization_id: strawberry.ID
    public_jwk: JSON = strawberry.field(
        description="Public JWK (OKP, X25519) to which the host's exports are encrypted."
    )


@strawberry.input
class SetHostWebhookInput:
    organization_id: strawberry.ID
    url: str | None = strawberry.field(
        default=None, description="https URL told of each new export; null removes it."
    )


@strawberry.type
class HostWebhookPayload:
    organization: Organization | None
    secret: str | None = strawberry.field(
        description="The Standard Webhooks secret (whsec_...), shown once and never again."
    )
    errors: list[UserError]


async def organization_by_id(ctx: Context, global_id: str, field: str) -> m.Organization:
    """The organisation of a global id, or NOT_FOUND on `field` (hidden is as absent)."""
    pk = pk_of(global_id, "Organization")
    row = None
    if pk is not None:
        row = await ctx.session.scalar(ctx.scope.organizations().where(m.Organization.id == pk))
    if row is None:
        raise not_found("organization", field)
    return row


async def _create_org(ctx: Context, data: CreateOrganizationInput) -> m.Organization:
    await require(ctx, "admin")
    name = check_text(data.name, "name")
    kind = m.OrganizationKind(data.kind)
    if kind in (m.OrganizationKind.FACTORY, m.OrganizationKind.PLATFORM):
        raise UserInputError(
            INVALID, "factories are enrolled by their programme; there is one platform", "kind"
        )
    code = None
    if data.country is not None:
        code = country_code(data.country, "country")
        if await ctx.session.scalar(ctx.scope.countries().where(m.Country.code == code)) is None:
            raise UserInputError("NOT_FOUND", "no such country", "country")
    if kind in (m.OrganizationKind.PROGRAMME, m.OrganizationKind.CONSTITUENT) and code is None:
        raise UserInputError(INVALID, "programmes and constituents need a country", "country")
    inspectorate = bool(data.labour_inspectorate)
    if inspectorate and kind != m.OrganizationKind.CONSTITUENT:
        raise UserInputError(
            INVALID, "only a constituent can be a labour inspectorate", "labourInspectorate"
        )
    row = m.Organization(name=name, kind=kind, country_code=code, labour_inspectorate=inspectorate)
    ctx.session.add(row)
    await ctx.session.flush()
    await audit.append(
        ctx.session,
        ctx.principal,
        "organization.create",
        f"Organization:{row.id}",
        details={"kind": kind.value, "country": code, "labourInspectorate": inspectorate},
    )
    return row


async def _set_rollout(ctx: Context, data: SetCountryRolloutInput) -> m.Country:
    await require(ctx, "admin")
    code = country_code(data.code, "code")
    row = await ctx.session.scalar(ctx.scope.countries().where(m.Country.code == code))
    if row is None:
        raise UserInputError("NOT_FOUND", "no such country", "code")
    row.slcp_rollout_on = data.slcp_rollout_on
    if data.slcp_rollout_on is not None and row.overlay_version is None:
        # The overlay signed off is the newest loaded for the country: exports name it.
        newest = await ctx.session.scalar(ctx.scope.current_questions(code).limit(1))
        row.overlay_version = None if newest is None else newest.overlay_version
    await ctx.session.flush()
    await audit.append(
        ctx.session,
        ctx.principal,
        "country.rollout",
        f"Country:{code}",
        details={
            "slcpRolloutOn": data.slcp_rollout_on.isoformat() if data.slcp_rollout_on else None
        },
    )
    return row


async def _host_key(ctx: Context, data: RegisterHostKeyInput) -> m.Organization:
    await require(ctx, "admin")
    org = await organization_by_id(ctx, data.organization_id, "organizationId")
    if org.kind != m.OrganizationKind.HOST:
        raise UserInputError(INVALID, "only hosts receive exports", "organizationId")
    return await integration.register_key(ctx, org, data.public_jwk, by_host=False)


async def _host_webhook(
    ctx: Context, data: SetHostWebhookInput
) -> tuple[m.Organization, str | None]:
    await require(ctx, "admin")
    org = await organization_by_id(ctx, data.organization_id, "organizationId")
    if org.kind != m.OrganizationKind.HOST:
        raise UserInputError(INVALID, "only hosts receive exports", "organizationId")
    return org, await integration.set_webhook(ctx, org, data.url, by_host=False)


def _org_payload(result: m.Organization | UserInputError) -> OrganizationPayload:
    org = None if isinstance(result, UserInputError) else Organization.of(result)
    return OrganizationPayload(organization=org, errors=payload_errors(result))


@strawberry.type
class OrganizationMutations:
    @strawberry.mutation(description="Platform admins.")
    async def create_organization(
        self, info: Info[Context, None], input: CreateOrganizationInput
    ) -> OrganizationPayload:
        return _org_payload(await run(info.context, lambda: _create_org(info.context, input)))

    @strawberry.mutation
    async def set_country_rollout(
        self, info: Info[Context, None], input: SetCountryRolloutInput
    ) -> CountryPayload:
        result = await run(info.context, lambda: _set_rollout(info.context, input))
        country = None if isinstance(result, UserInputError) else Country.of(result)
        return CountryPayload(country=country, errors=payload_errors(result))


@strawberry.type
class HostMutations:
    @strawberry.mutation(description="Where a host is told of new exports (id and hash only).")
    async def set_host_webhook(
        self, info: Info[Context, None], input: SetHostWebhookInput
    ) -> HostWebhookPayload:
        result = await run(info.context, lambda: _host_webhook(info.context, input))
        if isinstance(result, UserInputError):
            return HostWebhookPayload(organization=None, secret=None, errors=payload_errors(result))
        org, secret = result
        return HostWebhookPayload(organization=Organization.of(org), secret=secret, errors=[])

    @strawberry.mutation
    async def register_host_key(
        self, info: Info[Context, None], input: RegisterHostKeyInput
    ) -> OrganizationPayload:
        return _org_payload(await run(info.context, lambda: _host_key(info.context, input)))
