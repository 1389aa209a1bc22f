"""The function app's settings from the environment (how it runs next to a hosted project)."""

from __future__ import annotations

import pytest

from watchium_functions import FunctionsSettings, create_app


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
