"""decisions per request: drop the policy change log and its revision

Point decisions read their facts in the request's own transaction, so no process follows a
log of role links any more.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table('policy_revision')
    with op.batch_alter_table('policy_change', schema=None) as batch_op:
        batch_op.drop_index('ix_policy_change_revision')
    op.drop_table('policy_change')


def downgrade() -> None:
    # Empty, as a process of the older release expects on a fresh start: it loads its links
    # from the grants, factories and organisations, and logs the changes from then on.
    op.create_table('policy_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.Column('op', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('relation', sa.String(length=64), nullable=False),
    sa.Column('domain', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.CheckConstraint("op IN ('add', 'remove')", name=op.f('ck_policy_change_op')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_change'))
    )
    with op.batch_alter_table('policy_change', schema=None) as batch_op:
        batch_op.create_index('ix_policy_change_revision', ['revision'], unique=False)

    op.create_table('policy_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_policy_revision_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_revision'))
    )
