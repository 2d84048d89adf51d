"""Re-encrypts every value encrypted at rest under the current field key, in batches.

Each batch is one transaction, and each row is rewritten only if it still holds the
ciphertext that was read (a value changed meanwhile by the API is left for the next pass), so
a run killed at any moment loses nothing: every value is under the old key or the new one,
both in the ring. Running it again resumes with what is left. It touches ciphertexts only,
never a row of any principal's view, which is why it stands outside the scoped query builder.

Example:
    async for done in rewrap(engine, cipher, batch_size=500):
        progress.advance(done)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import func, select  # noqa: TID251 - ciphertexts only, see the docstring
from sqlalchemy.ext.asyncio import AsyncEngine

from core.crypto import ANSWERS_PURPOSE, DETAIL_PURPOSE, WEBHOOK_SECRET_PURPOSE, FieldCipher


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    table: str
    column: str
    purpose: str

    def sql(self) -> tuple[sa.TableClause, sa.ColumnClause[int], sa.ColumnClause[str]]:
        row_id, value = sa.column("id", sa.Integer), sa.column(self.column, sa.Text)
        return sa.table(self.table, row_id, value), row_id, value


# Every column Millgate encrypts with the field key (core.crypto's purposes).
ENCRYPTED_COLUMNS = (
    EncryptedColumn("finding", "detail_encrypted", DETAIL_PURPOSE),
    EncryptedColumn("self_assessment", "answers_encrypted", ANSWERS_PURPOSE),
    EncryptedColumn("organization", "webhook_secret_encrypted", WEBHOOK_SECRET_PURPOSE),
)


def _stale(value: sa.ColumnClause[str], current: str) -> sa.ColumnElement[bool]:
    # Kids are letters and digits: no LIKE wildcard to escape.
    return sa.and_(value.is_not(None), sa.not_(value.like(f"{current}.%")))


async def count_stale(engine: AsyncEngine, current: str) -> int:
    """How many values are not under the key ``current`` yet."""
    total = 0
    async with engine.connect() as conn:
        for column in ENCRYPTED_COLUMNS:
            table, _, value = column.sql()
            stmt = select(func.count()).select_from(table).where(_stale(value, current))
            total += int(await conn.scalar(stmt) or 0)
    return total


async def rewrap(
    engine: AsyncEngine, cipher: FieldCipher, *, batch_size: int = 500
) -> AsyncIterator[int]:
    """Re-encrypts under ``cipher.current``; yields the values committed by each batch."""
    for column in ENCRYPTED_COLUMNS:
        table, row_id, value = column.sql()
        last = 0
        while True:
            async with engine.begin() as conn:
                rows = (
                    await conn.execute(
                        select(row_id, value)
                        .where(_stale(value, cipher.current), row_id > last)
                        .order_by(row_id)
                        .limit(batch_size)
                    )
                ).all()
                if not rows:
                    break
                await conn.execute(
                    table.update()
                    .where(row_id == sa.bindparam("b_id"), value == sa.bindparam("b_old"))
                    .values({column.column: sa.bindparam("b_new")}),
                    [
                        {"b_id": pk, "b_old": old, "b_new": cipher.rewrap(old, column.purpose)}
                        for pk, old in rows
                    ],
                )
            last = rows[-1][0]
            yield len(rows)
