"""reference data: versioned question catalogue; countries and catalogue loaded with the schema

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 04:30:00

Questions gain the CAF tool version they belong to ('CAF 1.4' for those already seeded),
and every database then holds the ISO 3166-1 countries and the shipped catalogue: reference data
belongs to the schema, not to the demo. Running the upgrade again adds nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from reference import catalogue
from reference.loader import load_reference

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('question', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('tool_version', sa.String(length=40), nullable=False,
                      server_default='CAF 1.4')
        )
        batch_op.drop_constraint('uq_question_country_code_overlay_version_code', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_question_country_code_tool_version_overlay_version_code'),
            ['country_code', 'tool_version', 'overlay_version', 'code'],
        )
    with op.batch_alter_table('question', schema=None) as batch_op:
        batch_op.alter_column('tool_version', server_default=None)

    # A catalogue seeded before versions existed is kept as it was (strict=False).
    load_reference(op.get_bind(), catalogue(), strict=False)


def downgrade() -> None:
    # The reference rows stay: organisations and factories refer to the countries.
    # Only the first tool version fits the older unique constraint.
    op.execute("DELETE FROM question WHERE tool_version <> 'CAF 1.4'")
    with op.batch_alter_table('question', schema=None) as batch_op:
        batch_op.drop_constraint(
            'uq_question_country_code_tool_version_overlay_version_code', type_='unique'
        )
        batch_op.create_unique_constraint(
            batch_op.f('uq_question_country_code_overlay_version_code'),
            ['country_code', 'overlay_version', 'code'],
        )
        batch_op.drop_column('tool_version')
