"""Which Millgate user an OpenID Provider's subject is: its link, or a first link by e-mail.

A person is known by ``(issuer, subject)`` once linked. The first sign-in links them to the
user an admin created with the same address, and only if the provider says the address is
verified; nobody is created here. A user already linked at that provider is not linked to a
second account there, so an address reused at the provider cannot take an account over.
"""

from __future__ import annotations

from sqlalchemy import func, select  # noqa: TID251 - reads marked with system_read
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import models as m
from authz.guard import system_read


async def linked_user(session: AsyncSession, issuer: str, subject: str) -> int | None:
    """The user linked to this subject of this issuer, if any (disabled or not)."""
    return (
        await session.execute(
            system_read(
                select(m.IdentityLink.user_id).where(
                    m.IdentityLink.issuer == issuer, m.IdentityLink.subject == subject
                ),
                "auth: the user behind a provider's subject",
            )
        )
    ).scalar_one_or_none()


async def link_by_email(
    sessions: async_sessionmaker[AsyncSession], issuer: str, subject: str, email: str
) -> int | None:
    """Links the subject to the enabled user with this (verified) address; the user's id, or
    None when there is no such user or it is linked to another subject of this issuer.

    Runs in a transaction of its own: the link holds whatever becomes of the request.
    """
    async with sessions() as session:
        matches = (
            (
                await session.execute(
                    system_read(
                        select(m.User.id)
                        .outerjoin(
                            m.IdentityLink,
                            (m.IdentityLink.user_id == m.User.id)
                            & (m.IdentityLink.issuer == issuer),
                        )
                        .where(
                            func.lower(m.User.email) == email.lower(),
                            m.User.disabled_at.is_(None),
                            m.IdentityLink.id.is_(None),
                        ),
                        "auth: the user a verified e-mail address names",
                    )
                )
            )
            .scalars()
            .all()
        )
        if len(matches) != 1:  # none, or addresses that differ only in case: ambiguous
            return None
        user_id = matches[0]
        session.add(m.IdentityLink(user_id=user_id, issuer=issuer, subject=subject))
        try:
            await session.commit()
        except IntegrityError:
            # A concurrent first sign-in of the same person linked it first.
            await session.rollback()
            return await linked_user(session, issuer, subject)
    return user_id
