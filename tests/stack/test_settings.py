"""The stack's and the gateway's settings: defaults, the environment, and errors naming the
variable to fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests._pg import PROJECT_DIR
from watchium_stack._config import StackSettings
from watchium_stack.gateway import GatewaySettings
from watchium_stack.keys import load_or_create_keys


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("WATCHIUM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WATCHIUM_PROJECT_DIR", str(PROJECT_DIR))
    monkeypatch.setenv("WATCHIUM_DATA_DIR", str(tmp_path / "data"))


def test_stack_defaults_and_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = StackSettings.from_env()
    assert settings.project_dir == PROJECT_DIR.resolve()
    assert settings.data_dir == (tmp_path / "data").resolve()
    assert (settings.host, settings.port, settings.db_port) == ("127.0.0.1", 54321, 54322)
    assert settings.db_url == "postgresql://postgres:postgres@127.0.0.1:54322/postgres"
    assert settings.api_url == "http://127.0.0.1:54321"

    monkeypatch.delenv("WATCHIUM_DATA_DIR")
    monkeypatch.setenv("WATCHIUM_DB_PORT", "6543")
    monkeypatch.setenv("WATCHIUM_PORT", "")  # empty counts as unset
    monkeypatch.setenv("WATCHIUM_DB_URL", "postgresql://u:p@db.example.com/app")
    settings = StackSettings.from_env()
    assert settings.data_dir == PROJECT_DIR.resolve() / ".watchium"
    assert settings.db_port == 6543 and settings.port == 54321
    assert settings.db_url == "postgresql://u:p@db.example.com/app"
    # An argument beats the environment.
    assert StackSettings.from_env(external_db_url=None).db_url.endswith("@127.0.0.1:6543/postgres")


@pytest.mark.parametrize("value", ["abc", "0", "70000"])
def test_a_bad_port_names_the_variable_and_the_value(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("WATCHIUM_DB_PORT", value)
    with pytest.raises(ValueError) as info:
        StackSettings.from_env()
    assert str(info.value) == f"WATCHIUM_DB_PORT: must be a port number (1-65535), got {value!r}"


def test_the_gateway_takes_the_local_stack_when_nothing_else_is_given(tmp_path: Path) -> None:
    settings = GatewaySettings.from_env()
    keys = load_or_create_keys(tmp_path / "data")
    assert settings.db_url == StackSettings.from_env().db_url
    assert (settings.jwt_secret, settings.anon_key, settings.service_role_key) == (
        keys.jwt_secret,
        keys.anon_key,
        keys.service_role_key,
    )
    assert (settings.publishable_key, settings.secret_key) == (
        keys.publishable_key,
        keys.secret_key,
    )
    assert settings.publishable_key.startswith("sb_publishable_")
    assert settings.secret_key.startswith("sb_secret_")
    # A project created today: sessions signed with a signing key, published as a JWKS.
    assert settings.key_model == "current"
    signing = settings.signing_keys()
    assert signing is not None and signing.current().alg == "ES256"
    assert [k["kid"] for k in signing.jwks()["keys"]] == [signing.current().kid]
    assert settings.functions_db_url.startswith("postgresql://authenticator:")
    assert (settings.anonymous_signups_per_hour, settings.pool_max) == (30, 10)
    assert settings.realtime_slot is None and settings.url == "http://127.0.0.1:54321"


def test_the_gateway_reads_its_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    keys = load_or_create_keys(tmp_path / "data")
    # A partial set of keys would not match: the data directory's set is used.
    monkeypatch.setenv("WATCHIUM_JWT_SECRET", "x" * 40)
    assert GatewaySettings.from_env().jwt_secret == keys.jwt_secret

    monkeypatch.setenv("WATCHIUM_ANON_KEY", "anon")
    monkeypatch.setenv("WATCHIUM_SERVICE_ROLE_KEY", "service")
    monkeypatch.setenv("WATCHIUM_PUBLISHABLE_KEY", "publishable")
    monkeypatch.setenv("WATCHIUM_SECRET_KEY", "secret")
    monkeypatch.setenv("WATCHIUM_KEYS", "legacy")
    monkeypatch.setenv("WATCHIUM_JWKS_TTL", "30")
    monkeypatch.setenv("WATCHIUM_SESSION_CHECK_INTERVAL", "2.5")
    monkeypatch.setenv("WATCHIUM_DB_URL", "postgresql://postgres:pw@db:5432/app")
    monkeypatch.setenv("WATCHIUM_API_DB_URL", "postgresql://api@db/app")
    monkeypatch.setenv("WATCHIUM_ANON_SIGNUPS_PER_HOUR", "7")
    monkeypatch.setenv("WATCHIUM_DB_POOL_MAX", "3")
    monkeypatch.setenv("WATCHIUM_REALTIME_SLOT", "slot_a")
    monkeypatch.setenv("WATCHIUM_PORT", "6000")
    settings = GatewaySettings.from_env(port=7000)
    assert (settings.jwt_secret, settings.anon_key, settings.service_role_key) == (
        "x" * 40,
        "anon",
        "service",
    )
    assert (settings.publishable_key, settings.secret_key) == ("publishable", "secret")
    assert settings.key_model == "legacy" and settings.signing_keys() is None
    assert (settings.jwks_ttl, settings.session_check_interval) == (30, 2.5)
    assert settings.db_url == "postgresql://postgres:pw@db:5432/app"
    assert settings.functions_db_url == "postgresql://api@db/app"
    assert (settings.anonymous_signups_per_hour, settings.pool_max) == (7, 3)
    assert settings.realtime_slot == "slot_a"
    assert settings.port == 7000, "an argument beats the environment"


def test_bad_gateway_values_name_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHIUM_ANON_SIGNUPS_PER_HOUR", "lots")
    monkeypatch.setenv("WATCHIUM_DB_POOL_MAX", "0")
    with pytest.raises(ValueError) as info:
        GatewaySettings.from_env()
    message = str(info.value)
    assert "WATCHIUM_ANON_SIGNUPS_PER_HOUR: " in message and "got 'lots'" in message
    assert "WATCHIUM_DB_POOL_MAX: " in message and "got '0'" in message
    monkeypatch.setenv("WATCHIUM_KEYS", "newest")
    with pytest.raises(ValueError, match="WATCHIUM_KEYS: .*'current' or 'legacy', got 'newest'"):
        GatewaySettings.from_env()
