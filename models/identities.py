"""Identities at OpenID Providers, linked to the users an admin created."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, utcnow


class IdentityLink(Base):
    """A person's account at one provider: ``(issuer, subject)`` → user.

    Written at the person's first sign-in, matched by a verified e-mail address; from then on
    the subject alone is trusted, so a changed address at the provider moves nothing. A user
    has at most one account per provider.
    """

    __tablename__ = "identity_link"
    __table_args__ = (UniqueConstraint("issuer", "subject"), UniqueConstraint("user_id", "issuer"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    issuer: Mapped[str] = mapped_column(String(512))
    subject: Mapped[str] = mapped_column(String(255))
    linked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
