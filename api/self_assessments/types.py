"""Self-assessments (CAF steps 1-3), answers decrypted only when asked."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

import models as m
from api.context import Context
from api.ids import to_global_id
from api.node import Node
from core.crypto import ANSWERS_PURPOSE


@strawberry.type
class SelfAssessment(Node):
    row: strawberry.Private[m.SelfAssessment]
    cycle: int
    step: int
    tool_version: str
    submitted_at: dt.datetime | None

    @classmethod
    def of(cls, row: m.SelfAssessment, cycle_number: int) -> SelfAssessment:
        return cls(
            id=to_global_id("SelfAssessment", row.id),
            row=row,
            cycle=cycle_number,
            step=row.step,
            tool_version=row.tool_version,
            submitted_at=row.submitted_at,
        )

    @strawberry.field
    def answers(self, info: Info[Context, None]) -> JSON:
        return info.context.runtime.keys.fields.decrypt_json(  # type: ignore[no-any-return]
            self.row.answers_encrypted, ANSWERS_PURPOSE
        )
