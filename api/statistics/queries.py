"""Views of no single factory: country statistics, public findings, zero tolerance."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import strawberry
from strawberry.types import Info

import models as m
from api.assessments.types import ComplianceCluster
from api.context import Context
from api.errors import BadArgument
from api.ids import to_global_id
from api.statistics.disclosure import Contribution, K, public_on, published_cell
from core.country_codes import parse_alpha2
from core.crypto import DETAIL_PURPOSE

MIN_CELL = (
    K  # a cell, and each change of it, covers at least 5 factories (api/statistics/disclosure.py)
)


@strawberry.type(
    description="One cluster of a country, published in batches (docs/statistics.md): a cell shows once it covers at least 5 factories, and changes only when at least 5 more factories contributed since its last change, so no single release can be read off it."  # noqa: E501 - one line of contract text
)
class ClusterStatistic:
    cluster: ComplianceCluster  # type: ignore[valid-type]
    factories: int = strawberry.field(
        description="Factories assessed on the cluster, as of the cell's last closed batch."
    )
    non_compliance_rate: float | None = strawberry.field(
        description="Share of those factories found non-compliant, as of the same batch."
    )
    suppressed: bool = strawberry.field(
        description="True where the cell was withheld because it covers too few factories."
    )


@strawberry.type
class PublicFinding:
    factory_name: str
    country: str
    assessed_on: dt.date
    cluster: ComplianceCluster  # type: ignore[valid-type]
    compliance_point: str


@strawberry.type
class ZeroToleranceCase:
    factory_id: strawberry.ID
    factory_name: str
    assessed_on: dt.date
    cluster: ComplianceCluster  # type: ignore[valid-type]
    compliance_point: str
    question_code: str
    detail: str | None


def _country(code: str | None) -> str | None:
    if code is None:
        return None
    parsed = parse_alpha2(code)
    if parsed is None:
        raise BadArgument("country must be an ISO 3166-1 alpha-2 code")
    return parsed


async def country_statistics(info: Info[Context, None], country: str) -> list[ClusterStatistic]:
    ctx = info.context
    code = _country(country)
    assert code is not None
    async with ctx.db() as session:
        rows = (await session.execute(ctx.scope.statistics_rows(code))).all()
    if not ctx.scope.may("statistics", country=code):
        return []
    today = dt.datetime.now(dt.UTC).date()
    by_cluster: dict[m.ComplianceCluster, list[Contribution]] = defaultdict(list)
    for row in rows:
        by_cluster[m.ComplianceCluster(row.cluster)].append(
            Contribution(
                factory_id=row.factory_id,
                public_on=public_on(row.released_on, row.released_at),
                non_compliant=bool(row.nc),
            )
        )
    out = []
    for cluster in m.ComplianceCluster:
        cell = published_cell(by_cluster.get(cluster, []), today, MIN_CELL)
        if cell is None:
            out.append(
                ClusterStatistic(
                    cluster=cluster, factories=0, non_compliance_rate=None, suppressed=True
                )
            )
        else:
            out.append(
                ClusterStatistic(
                    cluster=cluster,
                    factories=cell.factories,
                    non_compliance_rate=round(cell.non_compliant / cell.factories, 4),
                    suppressed=False,
                )
            )
    return out


async def public_findings(
    info: Info[Context, None], country: str | None, first: int | None
) -> list[PublicFinding]:
    ctx = info.context
    cap = ctx.runtime.settings.max_page_size
    size = 20 if first is None else first
    if size < 0 or size > cap:
        raise BadArgument(f"first must be between 0 and {cap}")
    stmt = ctx.scope.public_findings()
    code = _country(country)
    if code is not None:
        stmt = stmt.where(m.Factory.country_code == code)
    stmt = stmt.order_by(m.Assessment.assessed_on.desc(), m.Finding.id).limit(size)
    async with ctx.db() as session:
        rows = (await session.execute(stmt)).all()
    return [
        PublicFinding(
            factory_name=factory.name,
            country=factory.country_code,
            assessed_on=assessment.assessed_on,
            cluster=finding.cluster,
            compliance_point=finding.compliance_point,
        )
        for finding, assessment, factory in rows
    ]


async def zero_tolerance_findings(
    info: Info[Context, None], country: str
) -> list[ZeroToleranceCase]:
    ctx = info.context
    code = _country(country)
    stmt = (
        ctx.scope.zero_tolerance_findings()
        .where(m.Factory.country_code == code)
        .order_by(m.Assessment.assessed_on.desc(), m.Finding.id)
        .limit(ctx.runtime.settings.max_page_size * 10)
    )
    async with ctx.db() as session:
        rows = (await session.execute(stmt)).all()
    fields = ctx.runtime.keys.fields
    out = []
    for finding, assessment, factory in rows:
        ctx.record_access(factory.id, info)
        out.append(
            ZeroToleranceCase(
                factory_id=to_global_id("Factory", factory.id),
                factory_name=factory.name,
                assessed_on=assessment.assessed_on,
                cluster=finding.cluster,
                compliance_point=finding.compliance_point,
                question_code=finding.question_code,
                detail=None
                if finding.detail_encrypted is None
                else fields.decrypt(finding.detail_encrypted, DETAIL_PURPOSE),
            )
        )
    return out


@strawberry.type
class StatisticsQueries:
    @strawberry.field(
        description="Consolidated statistics of a country (rule 12), for its programme and constituents: published in batches of at least 5 factories each, never per release (docs/statistics.md)."  # noqa: E501 - one line of contract text
    )
    async def country_statistics(
        self, info: Info[Context, None], country: str
    ) -> list[ClusterStatistic]:
        return await country_statistics(info, country)

    @strawberry.field
    async def public_findings(
        self, info: Info[Context, None], country: str | None = None, first: int | None = None
    ) -> list[PublicFinding]:
        return await public_findings(info, country, first)

    @strawberry.field(
        description="The labour inspectorate of a country: its zero-tolerance findings, whatever the consent."  # noqa: E501 - one line of contract text
    )
    async def zero_tolerance_findings(
        self, info: Info[Context, None], country: str
    ) -> list[ZeroToleranceCase]:
        return await zero_tolerance_findings(info, country)
