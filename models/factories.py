"""Factories, their SLCP registration, service cycles and self-assessments."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, utcnow

BETTER_WORK = "Better Work"


class Factory(Base):
    __tablename__ = "factory"
    __table_args__ = (
        CheckConstraint(
            "(slcp_gateway_id IS NULL) = (slcp_registered_on IS NULL)"
            " AND (slcp_gateway_id IS NULL) = (slcp_verifier_body IS NULL)",
            name="slcp_registration_complete",
        ),
        CheckConstraint(
            "slcp_sharing_confirmed_on IS NULL OR slcp_gateway_id IS NOT NULL",
            name="sharing_needs_registration",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"), index=True)
    enrolled_on: Mapped[dt.date | None] = mapped_column(Date)
    high_performance: Mapped[bool] = mapped_column(Boolean, default=False)
    slcp_gateway_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    slcp_registered_on: Mapped[dt.date | None] = mapped_column(Date)
    slcp_verifier_body: Mapped[str | None] = mapped_column(String(120))
    slcp_sharing_confirmed_on: Mapped[dt.date | None] = mapped_column(Date)

    def sharing_ready_before(self, day: dt.date) -> bool:
        """Rule 3a: registered naming Better Work as verifier and sharing confirmed before ``day``."""  # noqa: E501 - one line of contract text
        return (
            self.slcp_verifier_body == BETTER_WORK
            and self.slcp_registered_on is not None
            and self.slcp_registered_on < day
            and self.slcp_sharing_confirmed_on is not None
            and self.slcp_sharing_confirmed_on < day
        )


class ServiceCycle(Base):
    __tablename__ = "service_cycle"
    __table_args__ = (
        UniqueConstraint("factory_id", "number"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    factory_id: Mapped[int] = mapped_column(ForeignKey("factory.id"))
    number: Mapped[int] = mapped_column(Integer)
    started_on: Mapped[dt.date] = mapped_column(Date)


class SelfAssessment(Base):
    """One CAF step of a cycle; answers are encrypted at rest and frozen once submitted."""

    __tablename__ = "self_assessment"
    __table_args__ = (
        UniqueConstraint("cycle_id", "step"),
        CheckConstraint("step IN (1, 2, 3)", name="step"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("service_cycle.id"))
    # Denormalised so the scoped query filters without a join.
    factory_id: Mapped[int] = mapped_column(ForeignKey("factory.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    tool_version: Mapped[str] = mapped_column(String(40))
    answers_encrypted: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    submitted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
