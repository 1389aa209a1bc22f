"""The function app's settings from the environment (how it runs next to a hosted project)."""

from __future__ import annotations

import json

import pytest

from watchium_functions import FunctionsSettings, create_app
from watchium_functions.apikeys import new_api_key


def test_settings_from_supabase_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WATCHIUM_FUNCTIONS_DB_URL", "WATCHIUM_DB_URL", "WATCHIUM_JWT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SUPABASE_DB_URL", "postgresql://postgres.ref:pw@pooler:6543/postgres")
    monkeypatch.setenv("SUPABASE_JWT_SECRET", "s" * 40)
    monkeypatch.setenv("WATCHIUM_DB_POOL_MAX", "4")
    settings = FunctionsSettings.from_env()
    assert settings.db_url.endswith("@pooler:6543/postgres")
    assert settings.jwt_secret == "s" * 40 and settings.pool_max == 4
    assert create_app().settings == settings


def test_missing_settings_say_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WATCHIUM_FUNCTIONS_DB_URL", "SUPABASE_DB_URL", "WATCHIUM_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="SUPABASE_DB_URL"):
        FunctionsSettings.from_env()


def test_only_the_documented_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WATCHIUM_FUNCTIONS_DB_URL", "SUPABASE_DB_URL", "WATCHIUM_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DB_URL", "postgresql://elsewhere/db")
    monkeypatch.setenv("SUPABASE_JWT_SECRET", "s" * 40)
    with pytest.raises(ValueError, match="SUPABASE_DB_URL"):
        FunctionsSettings.from_env()


def test_arguments_name_the_fields() -> None:
    settings = FunctionsSettings(db_url="postgresql://h/db", jwt_secret="s" * 40, pool_max=3)
    assert settings.db_url == "postgresql://h/db" and settings.pool_max == 3


def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "WATCHIUM_FUNCTIONS_DB_URL",
        "WATCHIUM_DB_URL",
        "WATCHIUM_JWT_SECRET",
        "SUPABASE_JWT_SECRET",
        "SUPABASE_URL",
        "SUPABASE_JWKS_URL",
        "WATCHIUM_JWKS_URL",
        "SUPABASE_PUBLISHABLE_KEYS",
        "SUPABASE_PUBLISHABLE_KEY",
        "WATCHIUM_PUBLISHABLE_KEY",
        "SUPABASE_SECRET_KEYS",
        "SUPABASE_SECRET_KEY",
        "WATCHIUM_SECRET_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SUPABASE_DB_URL", "postgresql://watchium_functions.ref:pw@pooler/postgres")


def test_a_project_of_today_needs_no_jwt_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean(monkeypatch)
    publishable, other, secret = (
        new_api_key("publishable"),
        new_api_key("publishable"),
        new_api_key("secret"),
    )
    monkeypatch.setenv("SUPABASE_URL", "https://ref.supabase.co/")
    monkeypatch.setenv("SUPABASE_PUBLISHABLE_KEYS", json.dumps({"web": publishable, "ios": other}))
    monkeypatch.setenv("SUPABASE_SECRET_KEY", secret)
    monkeypatch.setenv("WATCHIUM_SESSION_CHECK_INTERVAL", "5")
    settings = FunctionsSettings.from_env()
    assert settings.jwt_secret is None
    assert settings.jwks_endpoint == "https://ref.supabase.co/auth/v1/.well-known/jwks.json"
    assert settings.publishable_keys == (publishable, other)
    assert settings.secret_keys == (secret,)
    assert settings.session_check_interval == 5 and settings.jwks_ttl == 600
    monkeypatch.setenv("SUPABASE_JWKS_URL", "https://keys.example.com/jwks.json")
    assert FunctionsSettings.from_env().jwks_endpoint == "https://keys.example.com/jwks.json"


def test_keys_of_the_wrong_kind_name_their_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean(monkeypatch)
    monkeypatch.setenv("SUPABASE_URL", "https://ref.supabase.co")
    monkeypatch.setenv("SUPABASE_PUBLISHABLE_KEY", new_api_key("secret"))
    with pytest.raises(ValueError, match="SUPABASE_PUBLISHABLE_KEYS or .*publishable keys"):
        FunctionsSettings.from_env()


def test_without_a_way_to_verify_tokens_it_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _clean(monkeypatch)
    monkeypatch.setenv("SUPABASE_PUBLISHABLE_KEY", new_api_key("publishable"))
    with pytest.raises(ValueError, match="set SUPABASE_URL .* or SUPABASE_JWT_SECRET"):
        FunctionsSettings.from_env()
    monkeypatch.delenv("SUPABASE_PUBLISHABLE_KEY")
    monkeypatch.setenv("SUPABASE_URL", "https://ref.supabase.co")
    with pytest.raises(ValueError, match="set SUPABASE_PUBLISHABLE_KEY"):
        FunctionsSettings.from_env()
