"""Assessments and findings."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Protocol

import strawberry
from strawberry.types import Info

import models as m
from api.connections import Connection, Edge, page_of
from api.context import Context
from api.factory_of import factory_of
from api.fastpath import plain
from api.ids import to_global_id
from api.loaders import AssessmentRow, AssessmentSource, FindingFilter
from api.node import Node
from api.pagination import PageArgs, page_args
from core.crypto import DETAIL_PURPOSE, FieldCipher

if TYPE_CHECKING:
    from api.factories.types import Factory

AssessmentKind = strawberry.enum(m.AssessmentKind, name="AssessmentKind")
AssessmentStatus = strawberry.enum(m.AssessmentStatus, name="AssessmentStatus")
ComplianceCluster = strawberry.enum(m.ComplianceCluster, name="ComplianceCluster")


class FindingSource(Protocol):
    """A finding as loaded: an ``m.Finding``, or a row of its columns (pages load rows:
    building ORM objects for thousands of findings costs more than everything else)."""

    @property
    def id(self) -> int: ...
    @property
    def cluster(self) -> m.ComplianceCluster: ...
    @property
    def compliance_point(self) -> str: ...
    @property
    def question_code(self) -> str: ...
    @property
    def non_compliant(self) -> bool: ...
    @property
    def public_reporting(self) -> bool: ...
    @property
    def zero_tolerance(self) -> bool: ...
    @property
    def detail_encrypted(self) -> str | None: ...


@strawberry.type
class Finding(Node):
    cluster: ComplianceCluster  # type: ignore[valid-type]
    compliance_point: str
    question_code: str
    non_compliant: bool
    public_reporting: bool
    zero_tolerance: bool
    detail_encrypted: strawberry.Private[str | None]
    cipher: strawberry.Private[FieldCipher]

    @classmethod
    def of(cls, row: FindingSource, cipher: FieldCipher) -> Finding:
        return cls(
            id=to_global_id("Finding", row.id),
            cluster=row.cluster,
            compliance_point=row.compliance_point,
            question_code=row.question_code,
            non_compliant=row.non_compliant,
            public_reporting=row.public_reporting,
            zero_tolerance=row.zero_tolerance,
            detail_encrypted=row.detail_encrypted,
            cipher=cipher,
        )

    @strawberry.field(description="Free text that may name people; decrypted only when asked.")
    @plain
    def detail(self) -> str | None:
        if self.detail_encrypted is None:
            return None
        return self.cipher.decrypt(self.detail_encrypted, DETAIL_PURPOSE)


@strawberry.type
class FindingConnection(Connection[Finding]):
    assessment_id: strawberry.Private[int]
    flt: strawberry.Private[FindingFilter]

    @strawberry.field
    async def total_count(self, info: Info[Context, None]) -> int:
        return int(await info.context.loaders.finding_count.load((self.assessment_id, self.flt)))


@strawberry.type
class Assessment(Node):
    row: strawberry.Private[AssessmentSource]
    cycle: int
    kind: AssessmentKind  # type: ignore[valid-type]
    assessed_on: dt.date
    status: AssessmentStatus  # type: ignore[valid-type]
    released_on: dt.date | None
    gateway_release_on: dt.date | None

    @classmethod
    def of(cls, found: AssessmentRow) -> Assessment:
        row = found.row
        return cls(
            id=to_global_id("Assessment", row.id),
            row=row,
            cycle=found.cycle_number,
            kind=row.kind,
            assessed_on=row.assessed_on,
            status=row.status,
            released_on=row.released_on,
            gateway_release_on=row.gateway_release_on,
        )

    @strawberry.field(description="Virtual compliance checks are accepted and marked (Q22).")
    def virtual(self) -> bool:
        return self.row.kind == m.AssessmentKind.VIRTUAL_COMPLIANCE_CHECK

    @strawberry.field
    async def factory(
        self, info: Info[Context, None]
    ) -> Annotated[Factory, strawberry.lazy("api.factories.types")]:
        return await factory_of(info, self.row.factory_id)

    @strawberry.field
    async def findings(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        cluster: ComplianceCluster | None = None,  # type: ignore[valid-type]
        non_compliant_only: bool | None = None,
    ) -> FindingConnection:
        args = page_args(first, after, info.context.runtime.settings.max_page_size)
        flt = FindingFilter(cluster, bool(non_compliant_only))
        rows = await info.context.loaders.findings_page.load((self.row.id, (args, flt)))
        info.context.record_access(self.row.factory_id, info)
        cipher = info.context.runtime.keys.fields
        return finding_connection(rows, args, self.row.id, flt, cipher)


def finding_connection(
    rows: list[FindingSource],
    args: PageArgs,
    assessment_id: int,
    flt: FindingFilter,
    cipher: FieldCipher,
) -> FindingConnection:
    edges, page_info = page_of(
        rows,
        args.first,
        lambda r: Edge(node=Finding.of(r, cipher), key=(r.id,)),
    )
    return FindingConnection(edges=edges, page_info=page_info, assessment_id=assessment_id, flt=flt)


@strawberry.type
class AssessmentConnection(Connection[Assessment]):
    factory_id: strawberry.Private[int]

    @strawberry.field
    async def total_count(self, info: Info[Context, None]) -> int:
        return int(await info.context.loaders.assessment_count.load(self.factory_id))


def assessment_connection(
    rows: list[AssessmentRow], args: PageArgs, factory_id: int
) -> AssessmentConnection:
    edges, page_info = page_of(
        rows,
        args.first,
        lambda r: Edge(node=Assessment.of(r), key=(r.row.assessed_on, r.row.id)),
    )
    return AssessmentConnection(edges=edges, page_info=page_info, factory_id=factory_id)
