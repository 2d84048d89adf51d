"""Finding details and self-assessment answers are stored encrypted, and survive key rotation.

The demo world is seeded with key material of this module's own, so that the test knows the
field key and can rotate it (in a copy of the key folder of its own).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import models as m
from core.crypto import FieldCipher, KeyMaterial, load_key_material
from core.errors import CryptoError
from demo import ANSWERS_PURPOSE, DETAIL_PURPOSE, known_plaintexts, seed_demo, seed_reference
from demo.observations import DETAILS, NOTES
from tests.world import kept_world

# Tests here only read the world `seeded` keeps (tests/world.py).
pytestmark = pytest.mark.reads_only


@pytest.fixture(scope="session")
def module_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This module's key folder, made once for the run (each test process)."""
    folder = tmp_path_factory.mktemp("encryption-at-rest") / "keys"
    load_key_material(None, None, None, folder, create_missing=True)
    return folder


@pytest.fixture
def key_dir(module_keys: Path, tmp_path: Path) -> Path:
    """A copy of this module's key folder: a test may rotate the keys in its own."""
    return Path(shutil.copytree(module_keys, tmp_path / "keys"))


@pytest.fixture
async def seeded(db: AsyncEngine, session: AsyncSession, key_dir: Path) -> KeyMaterial:
    """The demo seeded with this module's keys: seeded once per database, then restored or
    kept (tests/world.py); the keys as read from the test's own copy of their folder."""
    keys = load_key_material(None, None, None, key_dir, create_missing=False)

    async def seed() -> None:
        await seed_reference(session)
        await seed_demo(session, keys)
        await session.commit()

    await kept_world(db, "demo, keys of test_encryption_at_rest", seed)
    await session.rollback()  # a fresh snapshot: the copy was written on another connection
    return keys


async def raw(session: AsyncSession, sql: str) -> list[str]:
    return [row[0] for row in (await session.execute(text(sql))).all()]


async def every_stored_value(session: AsyncSession) -> str:
    """Every column of every row of every table, as text: where a leak would show."""
    dumps = []
    for table in m.Base.metadata.sorted_tables:
        everything = text(f'SELECT * FROM "{table.name}"')  # noqa: S608  our own table names
        for row in (await session.execute(everything)).all():
            dumps.append(" ".join(str(value) for value in row))
    return "\n".join(dumps)


def _notes(answers: dict[str, Any]) -> set[str]:
    return {a["note"] for a in answers.values() if "note" in a}


async def test_no_secret_text_is_stored_in_the_clear(
    seeded: KeyMaterial, session: AsyncSession
) -> None:
    stored = await every_stored_value(session)

    assert "PT Sinar Garmen Jaya" in stored  # the dump does see the data
    leaked = [p for p in known_plaintexts() if p in stored]
    assert leaked == []
    for name in ("Siti R.", "Hasan Basri", "Nguyen Thi Hoa", "Chan Dara"):
        assert name not in stored


async def test_the_sqlite_file_holds_no_secret_text(
    seeded: KeyMaterial, backend: str, database_url: str
) -> None:
    if backend != "sqlite":
        pytest.skip("a file scan needs the SQLite file")
    main = Path(database_url.split("///", 1)[1])
    # With WAL, committed pages may sit in the -wal file until a checkpoint.
    content = b"".join(p.read_bytes() for p in main.parent.glob(main.name + "*"))

    assert b"PT Sinar Garmen Jaya" in content
    assert [p for p in known_plaintexts() if p.encode() in content] == []


async def test_stored_values_decrypt_to_every_known_text(
    seeded: KeyMaterial, session: AsyncSession
) -> None:
    details = await raw(
        session, "SELECT detail_encrypted FROM finding WHERE detail_encrypted IS NOT NULL"
    )
    answers = await raw(session, "SELECT answers_encrypted FROM self_assessment")

    assert all(v.startswith(seeded.fields.current + ".") for v in (*details, *answers))
    assert {seeded.fields.decrypt(v, DETAIL_PURPOSE) for v in details} == set(DETAILS.values())
    notes = set().union(*(_notes(seeded.fields.decrypt_json(v, ANSWERS_PURPOSE)) for v in answers))
    assert notes == set(NOTES.values())


async def test_a_value_cannot_be_moved_to_another_column(
    seeded: KeyMaterial, session: AsyncSession
) -> None:
    detail = (
        await raw(
            session, "SELECT detail_encrypted FROM finding WHERE detail_encrypted IS NOT NULL"
        )
    )[0]

    with pytest.raises(CryptoError):
        seeded.fields.decrypt(detail, ANSWERS_PURPOSE)


async def test_old_values_stay_readable_after_a_new_key_becomes_current(
    seeded: KeyMaterial, session: AsyncSession, key_dir: Path
) -> None:
    # Rotation as an operator does it: add a key to the ring file and make it current.
    ring_file = key_dir / "field-keys.json"
    ring = json.loads(ring_file.read_text())
    new_key = os.urandom(32)
    ring["keys"]["rotated"] = base64.urlsafe_b64encode(new_key).decode().rstrip("=")
    ring["current"] = "rotated"
    ring_file.write_text(json.dumps(ring))
    rotated = FieldCipher.from_file(ring_file)
    details = await raw(
        session, "SELECT detail_encrypted FROM finding WHERE detail_encrypted IS NOT NULL"
    )

    assert [rotated.decrypt(v, DETAIL_PURPOSE) for v in details] == [
        seeded.fields.decrypt(v, DETAIL_PURPOSE) for v in details
    ]
    fresh = rotated.encrypt("after rotation", DETAIL_PURPOSE)
    assert fresh.startswith("rotated.")
    with pytest.raises(CryptoError):
        seeded.fields.decrypt(fresh, DETAIL_PURPOSE)  # the old ring lacks the new key
    with pytest.raises(CryptoError):  # and dropping the old key would lose the old values
        FieldCipher({"rotated": new_key}, "rotated").decrypt(details[0], DETAIL_PURPOSE)
