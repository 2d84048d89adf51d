"""Consent grants and the access log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    or_,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, utcnow
from models.enums import DataScope


class ConsentGrant(Base):
    """Factory → grantee, with scopes. Never deleted, never edited but to end it.

    A change of scopes or expiry ends the grant and starts its successor in one transaction;
    the successor names the grant it replaces, so the history keeps what was granted when.
    """

    __tablename__ = "consent_grant"
    __table_args__ = (
        CheckConstraint("scope_assessment OR scope_self_assessment", name="some_scope"),
        CheckConstraint("expires_at IS NULL OR expires_at > granted_at", name="expiry_after"),
        CheckConstraint("revoked_at IS NULL OR revoked_at >= granted_at", name="revoked_after"),
        Index("ix_consent_grant_grantee_factory", "grantee_id", "factory_id"),
        Index("ix_consent_grant_factory", "factory_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    factory_id: Mapped[int] = mapped_column(ForeignKey("factory.id"))
    grantee_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    # One column a scope, so the scoped query tests a scope without parsing a list.
    scope_assessment: Mapped[bool] = mapped_column(Boolean, default=False)
    scope_self_assessment: Mapped[bool] = mapped_column(Boolean, default=False)
    granted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    granted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("consent_grant.id"), unique=True)

    @property
    def scopes(self) -> list[DataScope]:
        return [
            scope
            for scope, held in (
                (DataScope.ASSESSMENT, self.scope_assessment),
                (DataScope.SELF_ASSESSMENT, self.scope_self_assessment),
            )
            if held
        ]

    # The one definition of an active grant, on a row and in SQL (where ``now`` is usually
    # the database clock, ``authz.scope.active_grant``).
    @hybrid_method
    def active_at(self, now: Any) -> bool:
        """Neither revoked nor expired at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @active_at.expression
    @classmethod
    def _active_at_expression(cls, now: Any) -> ColumnElement[bool]:
        return and_(cls.revoked_at.is_(None), or_(cls.expires_at.is_(None), cls.expires_at > now))


class AccessEvent(Base):
    """Who read which factories' data, when, through which operation. Append-only.

    One row per request and distinct set of field paths, naming every factory read with
    those paths (a brand page of 100 factories is one row, not 100). A factory's log is the
    rows whose ``factory_ids`` name it: on PostgreSQL an ``integer[]`` with a GIN index, the
    table partitioned by month on ``at`` (the primary key there is ``(id, at)``, as a
    partitioned table requires; see :mod:`models.access_log`); on SQLite a JSON array.
    """

    __tablename__ = "access_event"
    __table_args__ = (
        Index("ix_access_event_at", "at"),
        Index("ix_access_event_factory_ids", "factory_ids", postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
        {"postgresql_partition_by": "RANGE (at)"},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The factories read, ascending; never empty.
    factory_ids: Mapped[list[int]] = mapped_column(
        postgresql.ARRAY(Integer).with_variant(JSON(), "sqlite")
    )
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_key.id"))
    # "query:factories": the operation type and the root fields, as the server parsed them.
    operation: Mapped[str] = mapped_column(String(120))
    # Every field path read, space-separated ("factories factories.assessments"); NULL before
    # it was recorded.
    fields: Mapped[str | None] = mapped_column(Text)
