"""Gateway exports and their webhook deliveries (the outbox)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, enum_column, utcnow
from models.enums import DeliveryState


class GatewayExport(Base):
    """An immutable snapshot of one factory's cycle for one host."""

    __tablename__ = "gateway_export"
    __table_args__ = (
        UniqueConstraint("host_id", "cycle_id"),
        Index("ix_gateway_export_host_created", "host_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    export_uid: Mapped[str] = mapped_column(String(36), unique=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    factory_id: Mapped[int] = mapped_column(ForeignKey("factory.id"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("service_cycle.id"))
    # The grant under which it was made: revoking it stops serving the export.
    grant_id: Mapped[int] = mapped_column(ForeignKey("consent_grant.id"), index=True)
    factory_gateway_id: Mapped[str] = mapped_column(String(64))
    cycle_number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    release_on: Mapped[dt.date] = mapped_column(Date)
    schema_version: Mapped[str] = mapped_column(String(16))
    content_sha256: Mapped[str] = mapped_column(String(64))
    envelope: Mapped[str] = mapped_column(Text)


class WebhookDelivery(Base):
    """Outbox row: tell a host that an export exists (id and hash only), or, with no export,
    a test event the host asked for."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    export_id: Mapped[int | None] = mapped_column(ForeignKey("gateway_export.id"), unique=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    # Standard Webhooks event type: "export.created", or "webhook.test" (no export).
    event: Mapped[str] = mapped_column(String(40), default="export.created")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    state: Mapped[DeliveryState] = mapped_column(
        enum_column(DeliveryState, "delivery_state"), default=DeliveryState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
