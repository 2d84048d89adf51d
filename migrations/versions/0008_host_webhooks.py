"""webhook_delivery: test events (no export), their event type and creation time

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 05:20:00

A host may send itself a test event, which names no export: ``export_id`` becomes nullable
and ``event`` says what a delivery announces. ``created_at`` orders the delivery listing;
rows written before it count from the migration.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.alter_column("export_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(
            sa.Column(
                "event", sa.String(length=40), nullable=False, server_default="export.created"
            )
        )
        batch_op.add_column(
            sa.Column(
                "created_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.func.current_timestamp(),
            )
        )
        batch_op.create_index("ix_webhook_delivery_host_id", ["host_id"], unique=False)


def downgrade() -> None:
    op.execute("DELETE FROM webhook_delivery WHERE export_id IS NULL")
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_delivery_host_id")
        batch_op.drop_column("created_at")
        batch_op.drop_column("event")
        batch_op.alter_column("export_id", existing_type=sa.Integer(), nullable=False)
