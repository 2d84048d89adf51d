"""Configuration from `MILLGATE_*` environment variables, validated once at start."""

from __future__ import annotations

from functools import cached_property
from ipaddress import ip_network
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of a Millgate process.

    Example:
        MILLGATE_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/millgate millgate serve
    """

    model_config = SettingsConfigDict(env_prefix="MILLGATE_", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path("var"), description="Folder of the embedded default.")
    database_url: str = Field(
        default="", description="SQLAlchemy async URL; empty means SQLite under data_dir."
    )
    production: bool = Field(default=False, description="Hides GraphiQL and introspection.")
    field_keys_file: Path | None = Field(
        default=None, description="JSON {kid: base64 AES-256 key, ...} and 'current' kid."
    )
    signing_keys_file: Path | None = Field(
        default=None, description="JSON set of Ed25519 private JWKs; the last one signs."
    )
    api_key_pepper_file: Path | None = Field(
        default=None, description="Secret that API keys are HMACed with."
    )
    token_issuer: str = "millgate"  # noqa: S105 - not a secret
    token_audience: str = "millgate-api"  # noqa: S105 - not a secret
    token_ttl_seconds: int = Field(default=3600, gt=0, le=86400 * 30)
    redis_url: str = Field(default="", description="Shared rate limits when set.")
    rate_limit_per_minute: int = Field(default=600, gt=0)
    statement_timeout_ms: int = Field(default=5000, gt=0)
    max_page_size: int = Field(default=100, gt=0, le=1000)
    max_query_depth: int = Field(default=12, gt=0)
    max_query_tokens: int = Field(default=2000, gt=0)
    max_aliases: int = Field(default=30, gt=0)
    log_format: Literal["json", "console"] = Field(
        default="json", description="json: one object a line; console: for a terminal."
    )
    trusted_proxies: str = Field(
        default="",
        description="Addresses or networks (comma-separated) of the reverse proxies whose "
        "X-Forwarded-For/-Proto are believed; '*' trusts every peer.",
    )
    metrics_allow: str = Field(
        default="",
        description="Production: addresses or networks (comma-separated) that may read "
        "/metrics (empty: nobody). Development serves it to everyone.",
    )
    gc_young_threshold: int = Field(
        default=20_000,
        ge=0,
        description="Allocations between young-generation collections of a serving process "
        "(core.gc_tuning); 0 keeps Python's default.",
    )

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            if value.startswith(("postgresql://", "postgres://")):
                return "postgresql+asyncpg://" + value.split("://", 1)[1]
            raise ValueError(
                "MILLGATE_DATABASE_URL must be sqlite+aiosqlite://... or postgresql+asyncpg://..."
            )
        return value

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _addresses(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",")):
            if part and part != "*":
                ip_network(part, strict=False)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _production_needs_keys(self) -> Settings:
        if self.production:
            missing = [
                name
                for name in ("field_keys_file", "signing_keys_file", "api_key_pepper_file")
                if getattr(self, name) is None
            ]
            if missing or not self.database_url:
                wanted = ", ".join(f"MILLGATE_{n.upper()}" for n in [*missing, "database_url"])
                raise ValueError(f"production mode needs explicit {wanted}")
        return self

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'millgate.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"
