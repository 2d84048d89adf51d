"""One transaction per mutation: typed errors for expected failures, nothing half-written.

A mutation body raises :class:`UserInputError` for anything the caller got wrong; the runner
rolls the transaction back and returns the error in the payload. On success it commits;
there is nothing else to bring up to date: every decision reads its facts afresh.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

import models as m
from api.context import Context
from api.errors import FORBIDDEN, not_found
from authz.enforcer import allows, relation
from authz.facts import NO_GRANTS, factory_relation, grant_scopes
from authz.rules import needs_grants
from core.country_codes import parse_alpha2
from core.errors import UserInputError

T = TypeVar("T")

ALREADY_EXISTS = "ALREADY_EXISTS"
INVALID = "INVALID"
IMPORT_NOT_ACCEPTED = "IMPORT_NOT_ACCEPTED"


async def run(ctx: Context, body: Callable[[], Awaitable[T]]) -> T | UserInputError:
    """Runs ``body`` in the request's session as one transaction."""
    async with ctx.db() as session:
        try:
            result = await body()
            await session.commit()
        except UserInputError as error:
            await session.rollback()
            return error
        except IntegrityError:
            await session.rollback()
            return UserInputError(ALREADY_EXISTS, "conflicts with existing data", None)
        except BaseException:
            await session.rollback()
            raise
    return result


async def require(
    ctx: Context,
    obj: str,
    act: str = "write",
    *,
    factory: m.Factory | None = None,
    country: str | None = None,
) -> None:
    """A point decision on the facts of this request: the principal, the target row, and
    (where the rule can turn on them) the caller's grants on it, read in the mutation's own
    transaction. Raises FORBIDDEN for a visible target."""
    if factory is None:
        rel = relation(ctx.principal, country=country)
    else:
        grants = NO_GRANTS
        if needs_grants(ctx.principal, obj, act):
            found = await grant_scopes(ctx.session, ctx.scope, [factory.id])
            grants = found.get(factory.id, NO_GRANTS)
        rel = factory_relation(ctx.principal, factory, grants)
    if not allows(ctx.principal, obj, act, rel):
        raise UserInputError(FORBIDDEN, "not allowed for this caller", None)


async def visible_factory(
    ctx: Context, factory_pk: int | None, field: str, obj: str = "factory"
) -> m.Factory:
    """The target factory if the caller may see it; NOT_FOUND otherwise, as for no factory."""
    if factory_pk is None:
        raise not_found("factory", field)
    row = await ctx.session.scalar(ctx.scope.factories(obj).where(m.Factory.id == factory_pk))
    if row is None:
        raise not_found("factory", field)
    return row


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def check_text(value: str, field: str, *, max_len: int = 200, min_len: int = 1) -> str:
    cleaned = value.strip()
    if len(cleaned) < min_len or len(cleaned) > max_len:
        raise UserInputError(INVALID, f"must be {min_len} to {max_len} characters", field)
    if any(ord(c) < 32 for c in cleaned):
        raise UserInputError(INVALID, "must not contain control characters", field)
    return cleaned


EMAIL = re.compile(r"^[^@\s,;\"'<>()\x00-\x1f\x7f]{1,64}@[A-Za-z0-9.-]{1,200}\.[A-Za-z]{2,63}$")


def member_email(value: str, field: str) -> str:
    """A new user's email, lower-cased, or INVALID."""
    email = value.strip().lower()
    if len(email) > 320 or not EMAIL.match(email):  # 320: RFC 5321 and app_user.email
        raise UserInputError(INVALID, "not an email address", field)
    return email


def country_code(value: str, field: str) -> str:
    """An ISO 3166-1 alpha-2 code, or INVALID before it reaches any query."""
    code = parse_alpha2(value.strip())
    if code is None:
        raise UserInputError(INVALID, "must be an ISO 3166-1 alpha-2 country code", field)
    return code


def payload_errors(result: Any) -> list[Any]:
    from api.errors import UserError

    return [UserError.of(result)] if isinstance(result, UserInputError) else []


async def lock_factory(ctx: Context, factory_id: int) -> None:
    """Holds the factory's row (PostgreSQL) or the database's write lock (SQLite) until the
    transaction ends, so that a check-then-insert on its grants cannot race another."""
    await ctx.session.execute(
        update(m.Factory)
        .where(m.Factory.id == factory_id)
        .values(name=m.Factory.name)
        .execution_options(synchronize_session=False)
    )


async def open_cycle(ctx: Context, factory: m.Factory, number: int, field: str) -> m.ServiceCycle:
    """The factory's cycle ``number``, opened now if it is the next one."""
    if number < 1 or number > 1000:
        raise UserInputError(INVALID, "cycle must be between 1 and 1000", field)
    cycles = (
        await ctx.session.scalars(
            ctx.scope.cycles("factory").where(m.ServiceCycle.factory_id == factory.id)
        )
    ).all()
    for cycle in cycles:
        if cycle.number == number:
            return cycle
    latest = max((c.number for c in cycles), default=0)
    if number != latest + 1:
        raise UserInputError(INVALID, f"the next cycle of this factory is {latest + 1}", field)
    cycle = m.ServiceCycle(
        factory_id=factory.id, number=number, started_on=dt.datetime.now(dt.UTC).date()
    )
    ctx.session.add(cycle)
    await ctx.session.flush()
    return cycle
