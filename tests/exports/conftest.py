"""Fixtures of the export tests: a sessionmaker whose sessions refuse unmarked reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from authz.guard import install_guard

HERE = Path(__file__).parent
# core.crypto silences joserfc's RFC 9864 notice at import; pytest's "error" filter comes
# first in each test, so the export tests repeat the exemption (the contract says EdDSA).
EDDSA_NOTICE = pytest.mark.filterwarnings(
    "ignore:EdDSA is deprecated:joserfc.errors.SecurityWarning"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(EDDSA_NOTICE)


class GuardedSession(Session):
    """A Session class of its own, so the guard does not reach other tests' sessions."""


install_guard(GuardedSession)


@pytest.fixture
def guarded(db: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """What the job runs on in tests: every ORM read it issues must be marked."""
    return async_sessionmaker(
        db, expire_on_commit=False, autoflush=False, sync_session_class=GuardedSession
    )
