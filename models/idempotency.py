"""Idempotency records: the first response to a mutation sent with an ``Idempotency-Key``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, utcnow


class IdempotencyRecord(Base):
    """Written in the transaction of the mutation it answers, so both commit or neither does.

    ``scope`` is the caller (organisation and user or API key): one caller's key never
    answers another's request. ``fingerprint`` is the SHA-256 of the request, so the same
    key with another request is refused instead of answered.
    """

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        Index("ix_idempotency_record_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
