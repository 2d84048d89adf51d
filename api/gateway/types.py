"""What hosts pull: Gateway exports and the rolling list of enrolled factories (rule 17)."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

import models as m
from api.connections import Connection, count_of
from api.context import Context
from api.ids import to_global_id
from api.node import Node


@strawberry.type
class GatewayExport(Node):
    export_id: str = strawberry.field(
        description="The payload's id: the exportId a webhook notice names."
    )
    factory_gateway_id: str
    cycle: int
    created_at: dt.datetime
    release_on: dt.date
    content_sha256: str
    schema_version: str
    envelope: str = strawberry.field(
        description="Compact JWE to the recipient host's registered key, wrapping a compact JWS (EdDSA)."  # noqa: E501 - one line of contract text
    )

    @classmethod
    def of(cls, row: m.GatewayExport) -> GatewayExport:
        return cls(
            id=to_global_id("GatewayExport", row.id),
            export_id=row.export_uid,
            factory_gateway_id=row.factory_gateway_id,
            cycle=row.cycle_number,
            created_at=row.created_at,
            release_on=row.release_on,
            content_sha256=row.content_sha256,
            schema_version=row.schema_version,
            envelope=row.envelope,
        )


@strawberry.type
class GatewayExportConnection(Connection[GatewayExport]):
    count_stmt: strawberry.Private[object]

    @strawberry.field(description="The exports addressed to the caller in all.")
    async def total_count(self, info: Info[Context, None]) -> int:
        return await count_of(info, self.count_stmt)


@strawberry.type
class EnrolledFactory:
    name: str
    country: str
    enrolled_on: dt.date
    slcp_gateway_id: str | None
    cursor: str = strawberry.field(description="Pass as `after` to continue the list.")
