"""The long-lived parts of one process: settings, engine, sessions and key material."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.crypto import KeyMaterial, TokenService, load_key_material
from core.db import make_engine, make_sessionmaker
from core.settings import Settings

# Tokens whose verified signatures a process keeps (~1.1 KB each with the token: 4.4 MB at most).
TOKENS_REMEMBERED = 4096


@dataclass(eq=False)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    keys: KeyMaterial

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        keys = load_key_material(
            settings.field_keys_file,
            settings.signing_keys_file,
            settings.api_key_pepper_file,
            settings.keys_dir,
            create_missing=not settings.production,
        )
        pool: dict[str, int] = {}
        if not settings.is_sqlite:
            pool = {"pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}
        engine = make_engine(
            settings.effective_database_url,
            statement_timeout_ms=settings.statement_timeout_ms,
            **pool,
        )
        return cls(settings, engine, make_sessionmaker(engine), keys)

    @cached_property
    def token_service(self) -> TokenService:
        # Remembers the signatures of the tokens in use: clients send one on every request.
        return TokenService(
            self.keys.signing,
            self.settings.token_issuer,
            self.settings.token_audience,
            remember=TOKENS_REMEMBERED,
        )

    async def close(self) -> None:
        await self.engine.dispose()
