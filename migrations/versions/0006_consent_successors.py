"""consent grant successors, tokens refused after re-enabling a user

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consent_grant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replaces_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_consent_grant_replaces_id"), ["replaces_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_consent_grant_replaces_id_consent_grant"),
            "consent_grant",
            ["replaces_id"],
            ["id"],
        )
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tokens_issued_after", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("tokens_issued_after")
    with op.batch_alter_table("consent_grant", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_consent_grant_replaces_id_consent_grant"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_consent_grant_replaces_id"), type_="unique")
        batch_op.drop_column("replaces_id")
