"""Mutations of a factory itself: SLCP registration (its users) and enrolment (programme
assessors)."""

from __future__ import annotations

import datetime as dt
import re

import strawberry
from strawberry.types import Info

import audit
import models as m
from api.context import Context
from api.errors import UserError
from api.factories.types import Factory
from api.ids import pk_of
from api.mutations.base import (
    INVALID,
    check_text,
    country_code,
    member_email,
    payload_errors,
    require,
    run,
    today,
    visible_factory,
)
from core.errors import UserInputError

GATEWAY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$")


@strawberry.input
class EnrollFactoryInput:
    name: str
    country: str
    enrolled_on: dt.date
    manager_email: str | None = strawberry.field(
        default=None,
        description="The factory's first manager, named once at enrolment; after it only the factory's managers add or remove its users (rule 1).",  # noqa: E501 - one line of contract text
    )


@strawberry.input
class RegisterSlcpInput:
    factory_id: strawberry.ID
    gateway_id: str
    confirm_assessment_sharing: bool


@strawberry.type
class FactoryPayload:
    factory: Factory | None
    errors: list[UserError]


async def _enroll(ctx: Context, data: EnrollFactoryInput) -> m.Factory:
    session = ctx.session
    name = check_text(data.name, "name")
    code = country_code(data.country, "country")
    country = await session.scalar(ctx.scope.countries().where(m.Country.code == code))
    if country is None:
        raise UserInputError("NOT_FOUND", "no such country", "country")
    await require(ctx, "factory", country=code)
    if data.enrolled_on > today() + dt.timedelta(days=366):
        raise UserInputError(INVALID, "enrolledOn is too far in the future", "enrolledOn")
    organization = m.Organization(name=name, kind=m.OrganizationKind.FACTORY)
    session.add(organization)
    await session.flush()
    factory = m.Factory(
        organization_id=organization.id, name=name, country_code=code, enrolled_on=data.enrolled_on
    )
    session.add(factory)
    await session.flush()
    await audit.append(
        session,
        ctx.principal,
        "factory.enroll",
        f"Factory:{factory.id}",
        factory_id=factory.id,
        details={"country": code},
    )
    if data.manager_email is not None:
        manager = m.User(
            email=member_email(data.manager_email, "managerEmail"),
            organization_id=organization.id,
            role=m.Role.FACTORY_MANAGER,
        )
        session.add(manager)
        await session.flush()  # a taken email: ALREADY_EXISTS, nothing written
        await audit.append(
            session,
            ctx.principal,
            "user.create",
            f"User:{manager.id}",
            factory_id=factory.id,
            details={"organization": organization.id, "role": m.Role.FACTORY_MANAGER.value},
        )
    return factory


async def _register(ctx: Context, data: RegisterSlcpInput) -> m.Factory:
    session = ctx.session
    factory = await visible_factory(ctx, pk_of(data.factory_id, "Factory"), "factoryId")
    await require(ctx, "slcp", factory=factory)
    gateway_id = data.gateway_id.strip()
    if not GATEWAY_ID.match(gateway_id):
        raise UserInputError(INVALID, "3-64 letters, digits, '-' or '_'", "gatewayId")
    today = dt.datetime.now(dt.UTC).date()
    if factory.slcp_gateway_id is not None and factory.slcp_gateway_id != gateway_id:
        raise UserInputError(
            "ALREADY_REGISTERED", "the factory is registered under another Gateway ID", "gatewayId"
        )
    if factory.slcp_gateway_id is None:
        factory.slcp_gateway_id = gateway_id
        factory.slcp_registered_on = today
        factory.slcp_verifier_body = m.BETTER_WORK
    if data.confirm_assessment_sharing and factory.slcp_sharing_confirmed_on is None:
        factory.slcp_sharing_confirmed_on = today
    await session.flush()
    await audit.append(
        session,
        ctx.principal,
        "slcp.register",
        f"Factory:{factory.id}",
        factory_id=factory.id,
        details={"gatewayId": gateway_id, "sharingConfirmed": data.confirm_assessment_sharing},
    )
    return factory


@strawberry.type
class RegistrationMutations:
    @strawberry.mutation
    async def register_slcp(
        self, info: Info[Context, None], input: RegisterSlcpInput
    ) -> FactoryPayload:
        result = await run(info.context, lambda: _register(info.context, input))
        factory = None if isinstance(result, UserInputError) else Factory.of(result)
        return FactoryPayload(factory=factory, errors=payload_errors(result))


@strawberry.type
class EnrollmentMutations:
    @strawberry.mutation(description="Programme assessors.")
    async def enroll_factory(
        self, info: Info[Context, None], input: EnrollFactoryInput
    ) -> FactoryPayload:
        result = await run(info.context, lambda: _enroll(info.context, input))
        factory = None if isinstance(result, UserInputError) else Factory.of(result)
        return FactoryPayload(factory=factory, errors=payload_errors(result))
