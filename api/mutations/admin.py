"""Mutations of platform admins: organisations, users, keys, countries, host keys.

The platform never acts for a factory (rule 1): none of these grants, revokes, registers
or submits anything of a factory's.
"""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

import models as m
from api.context import Context
from api.errors import FORBIDDEN, UserError, not_found
from api.ids import pk_of, to_global_id
from api.mutations.base import (
    INVALID,
    check_text,
    country_code,
    member_email,
    payload_errors,
    require,
    run,
)
from api.organizations import ApiKey, Country, Organization, OrganizationKind, Role, User
from core import audit
from core.crypto import WEBHOOK_SECRET_PURPOSE, new_webhook_secret, validate_host_public_jwk
from core.errors import CryptoError, UserInputError
from exports.public_address import AddressRefused, check_webhook_url


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
class CreateUserInput:
    organization_id: strawberry.ID
    email: str
    role: Role  # type: ignore[valid-type]


@strawberry.input
class DisableUserInput:
    user_id: strawberry.ID


@strawberry.input
class EnableUserInput:
    user_id: strawberry.ID


@strawberry.type
class UserPayload:
    user: User | None
    errors: list[UserError]


@strawberry.input
class IssueApiKeyInput:
    organization_id: strawberry.ID


@strawberry.type
class ApiKeyPayload:
    api_key: ApiKey | None
    secret: str | None = strawberry.field(description="The key itself, shown once and never again.")
    errors: list[UserError]


@strawberry.input
class RevokeApiKeyInput:
    api_key_id: strawberry.ID


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


def _webhook_url(ctx: Context, url: str) -> str:
    """Webhooks go to the host's public endpoint, never to addresses inside our network."""
    allow_loopback = ctx.runtime.settings.webhook_allow_loopback
    try:
        return check_webhook_url(url, allow_loopback=allow_loopback)
    except AddressRefused as error:
        raise UserInputError(INVALID, str(error), "url") from None


async def _organization(ctx: Context, global_id: str, field: str) -> m.Organization:
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


async def _member_target(ctx: Context, global_id: str, field: str) -> m.Organization:
    """The organisation whose membership changes, once the caller may change it.

    Platform admins change the membership of organisations; a factory's, rule 1, only its
    own managers (policy: ``membership`` of the factory), the platform never.
    """
    if not ctx.scope.may("admin", "write"):
        own = ctx.principal.organization_id
        if ctx.principal.factory_id is None or pk_of(global_id, "Organization") != own:
            await require(ctx, "admin")  # FORBIDDEN, as for any admin mutation
    org = await _organization(ctx, global_id, field)
    if org.kind == m.OrganizationKind.FACTORY:
        await factory_membership(ctx, org, field)
    else:
        await require(ctx, "admin")
    return org


async def factory_membership(ctx: Context, org: m.Organization, field: str) -> m.Factory:
    """The factory of ``org`` if the caller may change its users (its managers alone)."""
    factory = await ctx.session.scalar(
        ctx.scope.factories().where(m.Factory.organization_id == org.id)
    )
    if factory is None or not await ctx.allows("membership", "write", factory):
        raise UserInputError(
            FORBIDDEN, "a factory's users are added and removed by its managers alone", field
        )
    return factory


async def _create_user(ctx: Context, data: CreateUserInput) -> m.User:
    org = await _member_target(ctx, data.organization_id, "organizationId")
    email = member_email(data.email, "email")
    role = m.Role(data.role)
    if role not in m.ROLES_OF_KIND[org.kind]:
        raise UserInputError(INVALID, f"a {org.kind.value} member cannot be {role.value}", "role")
    taken = await ctx.session.scalar(ctx.scope.users().where(m.User.email == email))
    if taken is not None:
        raise UserInputError("ALREADY_EXISTS", "a user with this email exists", "email")
    row = m.User(email=email, organization_id=org.id, role=role)
    ctx.session.add(row)
    await ctx.session.flush()
    await audit.append(
        ctx.session,
        ctx.principal,
        "user.create",
        f"User:{row.id}",
        factory_id=ctx.principal.factory_id if org.kind == m.OrganizationKind.FACTORY else None,
        details={"organization": org.id, "role": role.value},
    )
    return row


async def _member_user(ctx: Context, user_id: str) -> tuple[m.User, m.Factory | None]:
    """A user whose standing the caller may change, with the factory it belongs to: platform
    admins for other organisations, a factory's managers alone for theirs (rule 1)."""
    pk = pk_of(user_id, "User")
    admin = ctx.scope.may("admin", "write")
    users = ctx.scope.users() if admin else ctx.scope.own_factory_members()
    row = None if pk is None else await ctx.session.scalar(users.where(m.User.id == pk))
    if row is None and not admin:
        await require(ctx, "admin")  # FORBIDDEN, as for any admin mutation
    if row is None:
        raise not_found("user", "userId")
    org = await _organization(ctx, to_global_id("Organization", row.organization_id), "userId")
    factory = None
    if org.kind == m.OrganizationKind.FACTORY:
        factory = await factory_membership(ctx, org, "userId")
    else:
        await require(ctx, "admin")
    return row, factory


async def _disable_user(ctx: Context, data: DisableUserInput) -> m.User:
    row, factory = await _member_user(ctx, data.user_id)
    if row.disabled_at is None:
        row.disabled_at = m.utcnow()
    await ctx.session.flush()
    await audit.append(
        ctx.session,
        ctx.principal,
        "user.disable",
        f"User:{row.id}",
        factory_id=factory.id if factory else None,
    )
    return row


async def _enable_user(ctx: Context, data: EnableUserInput) -> m.User:
    row, factory = await _member_user(ctx, data.user_id)
    if row.disabled_at is not None:
        # Tokens issued before the disable stay refused: only new sign-ins work again.
        row.tokens_issued_after = row.disabled_at
        row.disabled_at = None
    await ctx.session.flush()
    await audit.append(
        ctx.session,
        ctx.principal,
        "user.enable",
        f"User:{row.id}",
        factory_id=factory.id if factory else None,
    )
    return row


async def _issue_key(ctx: Context, data: IssueApiKeyInput) -> tuple[m.ApiKey, str]:
    await require(ctx, "admin")
    org = await _organization(ctx, data.organization_id, "organizationId")
    if org.kind != m.OrganizationKind.HOST:
        raise UserInputError(INVALID, "API keys are for host integrations", "organizationId")
    secret, prefix, digest = ctx.runtime.keys.api_keys.new_key()
    row = m.ApiKey(
        organization_id=org.id,
        prefix=prefix,
        secret_hmac=digest,
        created_by_user_id=ctx.principal.user_id,
    )
    ctx.session.add(row)
    await ctx.session.flush()
    await audit.append(
        ctx.session,
        ctx.principal,
        "api_key.issue",
        f"ApiKey:{row.id}",
        details={"organization": org.id, "prefix": prefix},
    )
    return row, secret


async def _revoke_key(ctx: Context, data: RevokeApiKeyInput) -> m.ApiKey:
    await require(ctx, "admin")
    pk = pk_of(data.api_key_id, "ApiKey")
    row = (
        None
        if pk is None
        else await ctx.session.scalar(ctx.scope.api_keys().where(m.ApiKey.id == pk))
    )
    if row is None:
        raise not_found("API key", "apiKeyId")
    if row.revoked_at is not None:
        raise UserInputError("NOT_ACTIVE", "the key is already revoked", "apiKeyId")
    row.revoked_at = m.utcnow()
    await ctx.session.flush()
    await audit.append(ctx.session, ctx.principal, "api_key.revoke", f"ApiKey:{row.id}")
    return row


async def _host_key(ctx: Context, data: RegisterHostKeyInput) -> m.Organization:
    await require(ctx, "admin")
    org = await _organization(ctx, data.organization_id, "organizationId")
    if org.kind != m.OrganizationKind.HOST:
        raise UserInputError(INVALID, "only hosts receive exports", "organizationId")
    try:
        jwk = validate_host_public_jwk(data.public_jwk)
    except CryptoError as error:
        raise UserInputError(INVALID, str(error), "publicJwk") from error
    org.host_public_jwk = jwk
    await ctx.session.flush()
    await audit.append(
        ctx.session,
        ctx.principal,
        "host_key.register",
        f"Organization:{org.id}",
        details={"kid": jwk["kid"]},
    )
    return org


async def _host_webhook(
    ctx: Context, data: SetHostWebhookInput
) -> tuple[m.Organization, str | None]:
    await require(ctx, "admin")
    org = await _organization(ctx, data.organization_id, "organizationId")
    if org.kind != m.OrganizationKind.HOST:
        raise UserInputError(INVALID, "only hosts receive exports", "organizationId")
    secret = None
    if data.url is None:
        org.webhook_url = None
        org.webhook_secret_encrypted = None
    else:
        org.webhook_url = _webhook_url(ctx, data.url)
        secret = new_webhook_secret()  # whsec_: what Standard Webhooks libraries take
        org.webhook_secret_encrypted = ctx.runtime.keys.fields.encrypt(
            secret, WEBHOOK_SECRET_PURPOSE
        )
    await ctx.session.flush()
    await audit.append(
        ctx.session,
        ctx.principal,
        "host_webhook.set",
        f"Organization:{org.id}",
        details={"url": org.webhook_url},
    )
    return org, secret


def _org_payload(result: m.Organization | UserInputError) -> OrganizationPayload:
    org = None if isinstance(result, UserInputError) else Organization.of(result)
    return OrganizationPayload(organization=org, errors=payload_errors(result))


def _user_payload(result: m.User | UserInputError) -> UserPayload:
    user = None if isinstance(result, UserInputError) else User.of(result)
    return UserPayload(user=user, errors=payload_errors(result))


@strawberry.type
class AdminMutations:
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

    @strawberry.mutation
    async def create_user(self, info: Info[Context, None], input: CreateUserInput) -> UserPayload:
        return _user_payload(await run(info.context, lambda: _create_user(info.context, input)))

    @strawberry.mutation(
        description="Removes a membership: the user's tokens stop working at once."
    )
    async def disable_user(self, info: Info[Context, None], input: DisableUserInput) -> UserPayload:
        return _user_payload(await run(info.context, lambda: _disable_user(info.context, input)))

    @strawberry.mutation(
        description="Undoes disableUser: the user may sign in again; tokens issued before the "
        "disable stay refused."
    )
    async def enable_user(self, info: Info[Context, None], input: EnableUserInput) -> UserPayload:
        return _user_payload(await run(info.context, lambda: _enable_user(info.context, input)))

    @strawberry.mutation
    async def issue_api_key(
        self, info: Info[Context, None], input: IssueApiKeyInput
    ) -> ApiKeyPayload:
        result = await run(info.context, lambda: _issue_key(info.context, input))
        if isinstance(result, UserInputError):
            return ApiKeyPayload(api_key=None, secret=None, errors=payload_errors(result))
        row, secret = result
        return ApiKeyPayload(api_key=ApiKey.of(row), secret=secret, errors=[])

    @strawberry.mutation
    async def revoke_api_key(
        self, info: Info[Context, None], input: RevokeApiKeyInput
    ) -> ApiKeyPayload:
        result = await run(info.context, lambda: _revoke_key(info.context, input))
        key = None if isinstance(result, UserInputError) else ApiKey.of(result)
        return ApiKeyPayload(api_key=key, secret=None, errors=payload_errors(result))

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
