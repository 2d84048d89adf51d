"""Configuration from `MILLGATE_*` environment variables, validated once at start."""

from __future__ import annotations

from functools import cached_property
from ipaddress import ip_network
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

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
    checkpoint_dir: Path | None = Field(
        default=None,
        description="Signed audit checkpoints, outside the database; <data_dir>/checkpoints "
        "when unset.",
    )
    checkpoint_interval_seconds: int = Field(
        default=600, ge=0, description="The export worker's least time between checkpoints."
    )
    access_log_retention_months: int = Field(
        default=24,
        ge=0,
        description="Whole months of the access log kept before the current one; older "
        "monthly partitions are dropped by the export worker and `millgate access-log "
        "maintain` (0: kept for ever).",
    )
    webhook_allow_loopback: bool = Field(
        default=False,
        description="Development only: webhooks may go to http(s)://127.0.0.1 receivers.",
    )
    redis_url: str = Field(default="", description="Shared rate limits when set.")
    rate_limit_per_minute: int = Field(default=600, gt=0)
    statement_timeout_ms: int = Field(default=5000, gt=0)
    # PostgreSQL connections a process keeps open, and opens beyond them under a burst
    # (closed again when returned to a full pool). A request holds one for its duration.
    db_pool_size: int = Field(default=10, gt=0)
    db_max_overflow: int = Field(default=10, ge=0)
    max_page_size: int = Field(default=100, gt=0, le=1000)
    max_query_depth: int = Field(default=12, gt=0)
    max_query_tokens: int = Field(default=2000, gt=0)
    max_aliases: int = Field(default=30, gt=0)
    oidc_issuer: str = Field(
        default="",
        description="OpenID Provider issuers whose access tokens are accepted, comma-separated.",
    )
    oidc_audience: str = Field(default="", description="The `aud` those access tokens must carry.")
    console_oidc_client_id: str = Field(
        default="",
        description="The factory console's client id at the first OIDC issuer (docs/console.md).",
    )
    cors_origins: str = Field(
        default="", description="Browser origins allowed to call the API, comma-separated."
    )
    max_validation_cost: int = Field(
        default=5_000, gt=0, description="Pairs of fields validation may compare (api.documents)."
    )
    fast_executor: bool = Field(
        default=True, description="The fast GraphQL executor (api.fastpath); same answers."
    )
    planned_reads: bool = Field(
        default=True, description="Planned reads of known queries (api.planner); same answers."
    )
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

    @model_validator(mode="after")
    def _oidc_and_cors(self) -> Settings:
        for issuer in self.oidc_issuers:
            if not secure_or_loopback_url(issuer, self.production):
                raise ValueError(
                    f"MILLGATE_OIDC_ISSUER {issuer!r} must be https:// (http:// only on "
                    "loopback, outside production)"
                )
        if self.oidc_issuers and not self.oidc_audience:
            raise ValueError("MILLGATE_OIDC_ISSUER needs MILLGATE_OIDC_AUDIENCE")
        for origin in self.cors_origin_list:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise ValueError(f"MILLGATE_CORS_ORIGINS {origin!r} must be scheme://host[:port]")
        return self

    @property
    def oidc_issuers(self) -> tuple[str, ...]:
        return tuple(i.strip() for i in self.oidc_issuer.split(",") if i.strip())

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return tuple(o.strip() for o in self.cors_origins.split(",") if o.strip())

    @model_validator(mode="after")
    def _loopback_webhooks_not_in_production(self) -> Settings:
        if self.production and self.webhook_allow_loopback:
            raise ValueError("MILLGATE_WEBHOOK_ALLOW_LOOPBACK is for development, not production")
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
    def effective_checkpoint_dir(self) -> Path:
        return self.checkpoint_dir or self.data_dir / "checkpoints"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def secure_or_loopback_url(url: str, production: bool) -> bool:
    """https://, or http:// to this machine outside production (a test's own provider)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and not production and parts.hostname in LOOPBACK_HOSTS
