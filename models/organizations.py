"""Organisations, their users and their API keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, enum_column, utcnow
from models.enums import OrganizationKind, Role


class Organization(Base):
    __tablename__ = "organization"
    __table_args__ = (
        CheckConstraint(
            "kind NOT IN ('PROGRAMME', 'CONSTITUENT') OR country_code IS NOT NULL",
            name="country_for_programme_and_constituent",
        ),
        CheckConstraint(
            "NOT labour_inspectorate OR kind = 'CONSTITUENT'", name="inspectorate_is_constituent"
        ),
        CheckConstraint("host_public_jwk IS NULL OR kind = 'HOST'", name="host_key_only_for_hosts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrganizationKind] = mapped_column(enum_column(OrganizationKind, "org_kind"))
    country_code: Mapped[str | None] = mapped_column(ForeignKey("country.code"), index=True)
    labour_inspectorate: Mapped[bool] = mapped_column(Boolean, default=False)
    # HOST only: the X25519 public JWK exports are encrypted to, and an optional webhook.
    host_public_jwk: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # A removed membership takes effect at once: tokens of a disabled user stop working.
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Set when a disabled user is enabled again: tokens issued up to then stay refused, so
    # enabling a user never revives a token held before the disable.
    tokens_issued_after: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class ApiKey(Base):
    """A host integration's key; only an HMAC of the secret is kept."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hmac: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
