"""access event: one row per request and set of field paths, naming the factories read

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 12:40:00

``access_event.factory_id`` becomes ``factory_ids``: the factories one request read with
the same field paths (PostgreSQL: ``integer[]`` with a GIN index; SQLite: a JSON array).
On PostgreSQL the table is partitioned by month on ``at`` (``access_event_pYYYYMM``): the
months of the rows moved, and this month and the next two, are made here; later ones by
``millgate access-log maintain`` and the export worker. Each existing row moves as it is,
naming its one factory (its id kept). ``access_read`` is a view of one row per factory read.
The downgrade gives back one row per factory read, numbered anew in the order of the rows.
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AHEAD = 2

READ_VIEW = {
    "postgresql": "CREATE VIEW access_read AS"
    " SELECT e.id, e.at, f.factory_id, e.organization_id, e.user_id, e.api_key_id,"
    " e.operation, e.fields"
    " FROM access_event e CROSS JOIN LATERAL unnest(e.factory_ids) AS f(factory_id)",
    "sqlite": "CREATE VIEW access_read AS"
    " SELECT e.id, e.at, CAST(f.value AS INTEGER) AS factory_id, e.organization_id,"
    " e.user_id, e.api_key_id, e.operation, e.fields"
    " FROM access_event e, json_each(e.factory_ids) AS f",
}


def _add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def _month(value: dt.date) -> dt.date:
    return dt.date(value.year, value.month, 1)


def _sqlite_table(name: str, old: bool) -> None:
    """The table in either shape, under ``name`` (renamed to ``access_event`` after)."""
    reads = (
        [sa.Column("factory_id", sa.Integer(), nullable=False)]
        if old
        else [sa.Column("factory_ids", sa.JSON(), nullable=False)]
    )
    factory_fk = (
        [sa.ForeignKeyConstraint(["factory_id"], ["factory.id"], name="fk_access_event_factory_id_factory")]
        if old
        else []
    )
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        *reads,
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("operation", sa.String(length=120), nullable=False),
        sa.Column("fields", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], name="fk_access_event_api_key_id_api_key"),
        *factory_fk,
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organization.id"], name="fk_access_event_organization_id_organization"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name="fk_access_event_user_id_app_user"),
        sa.PrimaryKeyConstraint("id", name="pk_access_event"),
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS access_read")
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgresql()
    else:
        _downgrade_sqlite()


def _upgrade_sqlite() -> None:
    _sqlite_table("access_event_0009", old=False)
    op.execute(
        "INSERT INTO access_event_0009"
        " (id, at, factory_ids, organization_id, user_id, api_key_id, operation, fields)"
        " SELECT id, at, json_array(factory_id), organization_id, user_id, api_key_id,"
        " operation, fields FROM access_event ORDER BY id"
    )
    op.drop_index("ix_access_event_factory_at", table_name="access_event")
    op.drop_table("access_event")
    op.rename_table("access_event_0009", "access_event")
    op.create_index("ix_access_event_at", "access_event", ["at"], unique=False)
    op.execute(READ_VIEW["sqlite"])


def _downgrade_sqlite() -> None:
    _sqlite_table("access_event_0008", old=True)
    op.execute(
        "INSERT INTO access_event_0008"
        " (at, factory_id, organization_id, user_id, api_key_id, operation, fields)"
        " SELECT e.at, CAST(f.value AS INTEGER), e.organization_id, e.user_id, e.api_key_id,"
        " e.operation, e.fields FROM access_event e, json_each(e.factory_ids) AS f"
        " WHERE CAST(f.value AS INTEGER) IN (SELECT id FROM factory)"
        " ORDER BY e.id, CAST(f.value AS INTEGER)"
    )
    op.drop_index("ix_access_event_at", table_name="access_event")
    op.drop_table("access_event")
    op.rename_table("access_event_0008", "access_event")
    op.create_index("ix_access_event_factory_at", "access_event", ["factory_id", "at"], unique=False)


def _upgrade_postgresql() -> None:
    bind = op.get_bind()
    op.execute("ALTER TABLE access_event RENAME TO access_event_0008")
    op.execute("ALTER INDEX pk_access_event RENAME TO pk_access_event_0008")
    op.execute("ALTER SEQUENCE access_event_id_seq RENAME TO access_event_0008_id_seq")
    op.execute("DROP INDEX ix_access_event_factory_at")
    op.execute(
        "CREATE TABLE access_event ("
        " id BIGSERIAL NOT NULL,"
        " at TIMESTAMP WITH TIME ZONE NOT NULL,"
        " factory_ids INTEGER[] NOT NULL,"
        " organization_id INTEGER NOT NULL,"
        " user_id INTEGER,"
        " api_key_id INTEGER,"
        " operation VARCHAR(120) NOT NULL,"
        " fields TEXT,"
        " CONSTRAINT pk_access_event PRIMARY KEY (id, at),"
        " CONSTRAINT fk_access_event_organization_id_organization"
        " FOREIGN KEY (organization_id) REFERENCES organization (id),"
        " CONSTRAINT fk_access_event_user_id_app_user FOREIGN KEY (user_id) REFERENCES app_user (id),"
        " CONSTRAINT fk_access_event_api_key_id_api_key"
        " FOREIGN KEY (api_key_id) REFERENCES api_key (id)"
        ") PARTITION BY RANGE (at)"
    )
    oldest, newest = bind.execute(sa.text("SELECT min(at), max(at) FROM access_event_0008")).one()
    this_month = _month(dt.datetime.now(dt.UTC).date())
    first = min(_month(oldest.date()), this_month) if oldest else this_month
    last = max(_month(newest.date()), _add_months(this_month, AHEAD)) if newest else _add_months(this_month, AHEAD)
    month = first
    while month <= last:
        op.execute(
            f"CREATE TABLE access_event_p{month.year:04d}{month.month:02d} PARTITION OF access_event"
            f" FOR VALUES FROM ('{month.isoformat()}') TO ('{_add_months(month, 1).isoformat()}')"
            " WITH (parallel_workers = 0)"
        )
        month = _add_months(month, 1)
    # A read of a month with no partition yet lands here (maintenance moves it later).
    op.execute(
        "CREATE TABLE access_event_default PARTITION OF access_event DEFAULT"
        " WITH (parallel_workers = 0)"
    )
    op.execute(
        "INSERT INTO access_event"
        " (id, at, factory_ids, organization_id, user_id, api_key_id, operation, fields)"
        " SELECT id, at, ARRAY[factory_id], organization_id, user_id, api_key_id, operation,"
        " fields FROM access_event_0008"
    )
    op.execute(
        "SELECT setval('access_event_id_seq', max(id)) FROM access_event HAVING max(id) IS NOT NULL"
    )
    op.drop_table("access_event_0008")
    op.execute("CREATE INDEX ix_access_event_at ON access_event (at)")
    op.execute("CREATE INDEX ix_access_event_factory_ids ON access_event USING gin (factory_ids)")
    op.execute(READ_VIEW["postgresql"])


def _downgrade_postgresql() -> None:
    op.execute("ALTER TABLE access_event RENAME TO access_event_0009")
    op.execute("ALTER INDEX pk_access_event RENAME TO pk_access_event_0009")
    op.execute("ALTER INDEX ix_access_event_at RENAME TO ix_access_event_at_0009")
    op.execute("ALTER INDEX ix_access_event_factory_ids RENAME TO ix_access_event_factory_ids_0009")
    op.execute("ALTER SEQUENCE access_event_id_seq RENAME TO access_event_0009_id_seq")
    op.create_table(
        "access_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("factory_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("operation", sa.String(length=120), nullable=False),
        sa.Column("fields", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], name="fk_access_event_api_key_id_api_key"),
        sa.ForeignKeyConstraint(["factory_id"], ["factory.id"], name="fk_access_event_factory_id_factory"),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organization.id"], name="fk_access_event_organization_id_organization"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name="fk_access_event_user_id_app_user"),
        sa.PrimaryKeyConstraint("id", name="pk_access_event"),
    )
    op.execute(
        "INSERT INTO access_event"
        " (at, factory_id, organization_id, user_id, api_key_id, operation, fields)"
        " SELECT e.at, f.factory_id, e.organization_id, e.user_id, e.api_key_id, e.operation,"
        " e.fields FROM access_event_0009 e"
        " CROSS JOIN LATERAL unnest(e.factory_ids) AS f(factory_id)"
        " WHERE f.factory_id IN (SELECT id FROM factory)"
        " ORDER BY e.id, f.factory_id"
    )
    op.execute("DROP TABLE access_event_0009")  # and its partitions
    op.create_index("ix_access_event_factory_at", "access_event", ["factory_id", "at"], unique=False)
