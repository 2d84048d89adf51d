"""The provider settings are checked at start: https issuers (http only to this machine,
outside production, for tests), an audience whenever an issuer is set."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings

AUDIENCE = "https://api.millgate.test"


def test_several_issuers_are_comma_separated() -> None:
    settings = Settings(
        oidc_issuer="https://login.a.example, https://login.b.example/realms/x",
        oidc_audience=AUDIENCE,
    )

    assert settings.oidc_issuers == ("https://login.a.example", "https://login.b.example/realms/x")


@pytest.mark.parametrize(
    "issuer",
    ["http://login.example", "http://10.0.0.5:8080", "ftp://login.example", "login.example"],
)
def test_an_issuer_must_be_https_unless_on_loopback(issuer: str) -> None:
    with pytest.raises(ValueError, match="MILLGATE_OIDC_ISSUER"):
        Settings(oidc_issuer=issuer, oidc_audience=AUDIENCE)


@pytest.mark.parametrize("issuer", ["http://127.0.0.1:9000", "http://localhost:9000"])
def test_a_loopback_http_issuer_is_for_development_only(issuer: str, tmp_path: Path) -> None:
    assert Settings(oidc_issuer=issuer, oidc_audience=AUDIENCE).oidc_issuers == (issuer,)
    with pytest.raises(ValueError, match="MILLGATE_OIDC_ISSUER"):
        Settings(
            oidc_issuer=issuer,
            oidc_audience=AUDIENCE,
            production=True,
            database_url="postgresql://db/millgate",
            field_keys_file=tmp_path / "f",
            signing_keys_file=tmp_path / "s",
            api_key_pepper_file=tmp_path / "p",
        )


def test_an_issuer_needs_an_audience() -> None:
    with pytest.raises(ValueError, match="MILLGATE_OIDC_AUDIENCE"):
        Settings(oidc_issuer="https://login.example")
