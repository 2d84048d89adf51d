"""Access tokens for the demo world's users: the examples `millgate serve` prints and the
console's development sign-in picker. Development only: in production neither exists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from sqlalchemy import select  # noqa: TID251 - reads marked with system_read

import models as m
from authz.guard import system_read
from core.runtime import Runtime

K = TypeVar("K")


async def tokens_for_emails(runtime: Runtime, emails: Mapping[K, str]) -> dict[K, str]:
    """An access token for each of the given users, by the key (a role) each is given under."""

    ttl = runtime.settings.token_ttl_seconds
    async with runtime.sessionmaker() as session:
        users = {
            u.email: u
            for u in await session.scalars(
                system_read(
                    select(m.User).where(m.User.email.in_(emails.values())),
                    "demo: users to issue tokens for",
                )
            )
        }
    return {
        role: runtime.token_service.issue(users[email].id, ttl) for role, email in emails.items()
    }
