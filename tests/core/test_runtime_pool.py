"""A process's PostgreSQL pool is sized by MILLGATE_DB_POOL_SIZE and MILLGATE_DB_MAX_OVERFLOW."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from core.runtime import Runtime
from core.settings import Settings


@pytest.mark.parametrize(("size", "overflow"), [(None, None), (3, 0)])
async def test_the_pool_has_the_configured_size(
    database_url: str, tmp_path: Path, size: int | None, overflow: int | None
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("the embedded SQLite database keeps SQLAlchemy's own pool")
    # given the settings, with the pool's or without (the defaults)
    settings = Settings(database_url=database_url, data_dir=tmp_path)
    if size is not None and overflow is not None:
        settings = settings.model_copy(update={"db_pool_size": size, "db_max_overflow": overflow})

    # when a process's runtime is made
    runtime = Runtime.create(settings)
    try:
        pool: Any = runtime.engine.pool
        # then its pool keeps that many connections and opens at most that many more
        expected = (10, 10) if size is None else (size, overflow)
        assert (pool.size(), pool._max_overflow) == expected
    finally:
        await runtime.close()


@pytest.mark.parametrize("bad", [{"db_pool_size": 0}, {"db_max_overflow": -1}])
def test_a_pool_without_connections_is_refused(tmp_path: Path, bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings.model_validate({"data_dir": tmp_path, **bad})
    assert next(iter(bad)) in str(refused.value)
