"""Countries and the question catalogue: the reference data every rule leans on."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, enum_column
from models.enums import ComplianceCluster

FIRST_TOOL_VERSION = "CAF 1.4"  # of the questions seeded before catalogues were versioned


class Country(Base):
    __tablename__ = "country"
    __table_args__ = (CheckConstraint("length(code) = 2", name="iso_code"),)

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    betterwork_programme: Mapped[bool] = mapped_column(Boolean, default=False)
    # The day the national law overlay was signed off; before it nothing goes to the Gateway.
    slcp_rollout_on: Mapped[dt.date | None] = mapped_column(Date)
    overlay_version: Mapped[str | None] = mapped_column(String(40))


class Question(Base):
    """One question of a country's catalogue; ``caf_ref`` None marks Better Work's own."""

    __tablename__ = "question"
    __table_args__ = (
        UniqueConstraint("country_code", "tool_version", "overlay_version", "code"),
        CheckConstraint("step IS NULL OR step IN (1, 2, 3)", name="step"),
        CheckConstraint("caf_ref IS NOT NULL OR step IS NULL", name="bw_questions_have_no_step"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"), index=True)
    # The CAF tool version and the country's overlay version: one catalogue version. Versions
    # are added, never changed; a country's current one is its most recently loaded (highest
    # id), so answers and findings recorded under an older one keep their questions.
    tool_version: Mapped[str] = mapped_column(String(40), default=FIRST_TOOL_VERSION)
    overlay_version: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(40))
    cluster: Mapped[ComplianceCluster | None] = mapped_column(
        enum_column(ComplianceCluster, "question_cluster")
    )
    compliance_point: Mapped[str] = mapped_column(String(120))
    caf_ref: Mapped[str | None] = mapped_column(String(40))
    # CAF step the question belongs to (1 compliance, 2 management systems, 3 above & beyond).
    step: Mapped[int | None] = mapped_column(Integer)
    public_reporting: Mapped[bool] = mapped_column(Boolean, default=False)
    zero_tolerance: Mapped[bool] = mapped_column(Boolean, default=False)
