"""Assessments (on-site or virtual) and their findings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, enum_column, utcnow
from models.enums import AssessmentKind, AssessmentStatus, ComplianceCluster

RELEASE_WITHIN_DAYS = 28  # Q6: Better Work releases at the latest 28 days after the assessment
GATEWAY_DELAY_DAYS = 15  # Q6: the Gateway releases 15 days after Better Work's release


class Assessment(Base):
    __tablename__ = "assessment"
    __table_args__ = (
        CheckConstraint(
            "(status = 'RELEASED') = (released_on IS NOT NULL)", name="released_has_date"
        ),
        CheckConstraint("released_on IS NULL OR released_on >= assessed_on", name="release_after"),
        CheckConstraint(
            "(released_on IS NULL) = (gateway_release_on IS NULL)", name="gateway_date_with_release"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # One assessment per cycle.
    cycle_id: Mapped[int] = mapped_column(ForeignKey("service_cycle.id"), unique=True)
    factory_id: Mapped[int] = mapped_column(ForeignKey("factory.id"), index=True)
    kind: Mapped[AssessmentKind] = mapped_column(enum_column(AssessmentKind, "assessment_kind"))
    assessed_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[AssessmentStatus] = mapped_column(
        enum_column(AssessmentStatus, "assessment_status"), default=AssessmentStatus.DRAFT
    )
    released_on: Mapped[dt.date | None] = mapped_column(Date)
    gateway_release_on: Mapped[dt.date | None] = mapped_column(Date)
    # When the release was recorded through the API (NULL for seeded and older rows): a release
    # dated in the past counts for the statistics from this day (api/statistics/disclosure.py).
    released_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Question codes a virtual check covered; step 1 answers outside it stay self-assessed.
    virtual_scope: Mapped[str | None] = mapped_column(Text)
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    def release(self, on: dt.date) -> None:
        self.status = AssessmentStatus.RELEASED
        self.released_on = on
        self.gateway_release_on = on + dt.timedelta(days=GATEWAY_DELAY_DAYS)

    def latest_release_on(self) -> dt.date:
        return self.assessed_on + dt.timedelta(days=RELEASE_WITHIN_DAYS)


class Finding(Base):
    """One finding; ``detail`` may name people and is stored encrypted."""

    __tablename__ = "finding"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"), index=True)
    cluster: Mapped[ComplianceCluster] = mapped_column(
        enum_column(ComplianceCluster, "finding_cluster")
    )
    compliance_point: Mapped[str] = mapped_column(String(120))
    question_code: Mapped[str] = mapped_column(String(40))
    non_compliant: Mapped[bool] = mapped_column(Boolean)
    public_reporting: Mapped[bool] = mapped_column(Boolean, default=False)
    zero_tolerance: Mapped[bool] = mapped_column(Boolean, default=False)
    detail_encrypted: Mapped[str | None] = mapped_column(Text)
