"""Memberships: users created, disabled and enabled, by platform admins or (a factory's)
its own managers.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

import audit
import models as m
from api.context import Context
from api.errors import FORBIDDEN, UserError, not_found
from api.ids import pk_of, to_global_id
from api.mutations.base import (
    INVALID,
    member_email,
    payload_errors,
    require,
    run,
)
from api.organizations.mutations import organization_by_id
from api.organizations.types import Role, User
from core.errors import UserInputError


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


async def _member_target(ctx: Context, global_id: str, field: str) -> m.Organization:
    """The organisation whose membership changes, once the caller may change it.

    Platform admins change the membership of organisations; a factory's, rule 1, only its
    own managers (policy: ``membership`` of the factory), the platform never.
    """
    if not ctx.scope.may("admin", "write"):
        own = ctx.principal.organization_id
        if ctx.principal.factory_id is None or pk_of(global_id, "Organization") != own:
            await require(ctx, "admin")  # FORBIDDEN, as for any admin mutation
    org = await organization_by_id(ctx, global_id, field)
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
    org = await organization_by_id(ctx, to_global_id("Organization", row.organization_id), "userId")
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


def _user_payload(result: m.User | UserInputError) -> UserPayload:
    user = None if isinstance(result, UserInputError) else User.of(result)
    return UserPayload(user=user, errors=payload_errors(result))


@strawberry.type
class UserMutations:
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
