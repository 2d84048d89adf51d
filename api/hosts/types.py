"""The types of a host's self-service: payloads and the webhook delivery listing."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

import models as m
from api.context import Context
from api.errors import UserError
from api.ids import to_global_id
from api.organizations.types import ApiKey, Organization, require_organization
from api.pagination import PageInfo

DeliveryState = strawberry.enum(m.DeliveryState, name="DeliveryState")


@strawberry.input
class RegisterOwnHostKeyInput:
    public_jwk: JSON = strawberry.field(
        description="Public JWK (OKP, X25519) to which your exports are encrypted from now on."
    )


@strawberry.input
class SetOwnWebhookInput:
    url: str | None = strawberry.field(
        default=None,
        description="https URL told of each new export; null removes it. Each call makes a "
        "new secret.",
    )


@strawberry.input
class RevokeOwnApiKeyInput:
    api_key_id: strawberry.ID


@strawberry.type
class HostIntegrationPayload:
    organization: Organization | None
    errors: list[UserError]


@strawberry.type
class OwnWebhookPayload:
    organization: Organization | None
    secret: str | None = strawberry.field(
        description="The Standard Webhooks secret (whsec_...), shown once and never again."
    )
    errors: list[UserError]


@strawberry.type
class OwnApiKeyPayload:
    api_key: ApiKey | None
    secret: str | None = strawberry.field(description="The key itself, shown once and never again.")
    errors: list[UserError]


@strawberry.type(description="One webhook notice to a host and how its delivery goes.")
class WebhookDelivery:
    id: strawberry.ID
    host_id: strawberry.Private[int]
    event: str = strawberry.field(description="export.created or webhook.test.")
    webhook_id: str = strawberry.field(description="The webhook-id header: the same on retries.")
    export_id: str | None = strawberry.field(
        description="The exportId of an export.created notice, as in GatewayExport.exportId."
    )
    state: DeliveryState  # type: ignore[valid-type]
    attempts: int
    last_error: str | None
    next_attempt_at: dt.datetime | None = strawberry.field(
        description="When the next attempt is due; null once delivered or failed."
    )
    delivered_at: dt.datetime | None
    created_at: dt.datetime

    @strawberry.field(description="The host it is sent to (for the platform's listing).")
    async def host(self, info: Info[Context, None]) -> Organization:
        return await require_organization(info, self.host_id)

    @classmethod
    def of(cls, row: m.WebhookDelivery, export_uid: str | None) -> WebhookDelivery:
        from exports.webhooks import message_id

        pending = row.state == m.DeliveryState.PENDING
        return cls(
            id=to_global_id("WebhookDelivery", row.id),
            host_id=row.host_id,
            event=row.event,
            webhook_id=message_id(row, export_uid),
            export_id=export_uid,
            state=row.state,
            attempts=row.attempts,
            last_error=row.last_error,
            next_attempt_at=row.next_attempt_at if pending else None,
            delivered_at=row.delivered_at,
            created_at=row.created_at,
        )


@strawberry.type
class WebhookDeliveryEdge:
    node: WebhookDelivery
    cursor: str


@strawberry.type
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo
    count_stmt: strawberry.Private[object]

    @strawberry.field(description="The deliveries the caller may see in all.")
    async def total_count(self, info: Info[Context, None]) -> int:
        async with info.context.db() as session:
            return int(await session.scalar(self.count_stmt) or 0)  # type: ignore[call-overload]


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None
    errors: list[UserError]
