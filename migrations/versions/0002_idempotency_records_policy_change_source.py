"""idempotency records, policy change source

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 17:34:40.222219
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('idempotency_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=80), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_record')),
    sa.UniqueConstraint('scope', 'key', name=op.f('uq_idempotency_record_scope_key'))
    )
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.create_index('ix_idempotency_record_created_at', ['created_at'], unique=False)

    # Rows logged before this revision name no source: '' fills them, then the default goes
    # so that every new row must name its own.
    with op.batch_alter_table('policy_change', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('source', sa.String(length=64), nullable=False, server_default='')
        )
    with op.batch_alter_table('policy_change', schema=None) as batch_op:
        batch_op.alter_column('source', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('policy_change', schema=None) as batch_op:
        batch_op.drop_column('source')
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.drop_index('ix_idempotency_record_created_at')

    op.drop_table('idempotency_record')
