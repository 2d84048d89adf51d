"""access event: the field paths read; assessment: when its release was recorded

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 04:10:00

The reader, user or API key, was recorded from the start (``user_id``, ``api_key_id``); what
an event lacked is what was read, as the server saw it. ``operation`` now holds the operation
type and root fields ("query:factories") instead of the reader's own operation name.
``assessment.released_at`` orders releases for the disclosure control of country statistics
(docs/statistics.md); releases made before it count from their release date.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("access_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fields", sa.Text(), nullable=True))
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("released_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_column("released_at")
    with op.batch_alter_table("access_event", schema=None) as batch_op:
        batch_op.drop_column("fields")
