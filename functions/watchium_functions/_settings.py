"""The function app's settings, read from the environment by pydantic-settings.

| setting | variables (first set wins) | default |
| --- | --- | --- |
| ``db_url`` | ``WATCHIUM_FUNCTIONS_DB_URL``, ``SUPABASE_DB_URL``, ``WATCHIUM_DB_URL`` | required |
| ``jwt_secret`` | ``SUPABASE_JWT_SECRET``, ``WATCHIUM_JWT_SECRET`` | required |
| ``pool_min`` / ``pool_max`` | ``WATCHIUM_DB_POOL_MIN`` / ``WATCHIUM_DB_POOL_MAX`` | 2 / 10 |

Only these variables are read (an unrelated ``DB_URL`` in the environment is not). Arguments
override the environment. Locally the database URL is the ``authenticator`` role's (it switches
role per request, like PostgREST); next to a hosted project, the connection pooler's.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

__all__ = ["BODY_LIMIT", "FunctionsSettings"]

BODY_LIMIT = 64 * 1024
"""The largest request body the functions read (bytes)."""

_VARIABLES: dict[str, tuple[str, ...]] = {
    "db_url": ("WATCHIUM_FUNCTIONS_DB_URL", "SUPABASE_DB_URL", "WATCHIUM_DB_URL"),
    "jwt_secret": ("SUPABASE_JWT_SECRET", "WATCHIUM_JWT_SECRET"),
    "pool_min": ("WATCHIUM_DB_POOL_MIN",),
    "pool_max": ("WATCHIUM_DB_POOL_MAX",),
}


class _DocumentedVariables(PydanticBaseSettingsSource):
    """The environment variables of the table above, first set (non-empty) one first."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        for name in _VARIABLES.get(field_name, ()):
            value = os.environ.get(name)
            if value:
                return value, name, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, _, _ = self.get_field_value(field, field_name)
            if value is not None:
                values[field_name] = value
        return values


class FunctionsSettings(BaseSettings):
    """What the function app needs: a database URL and the project's JWT secret."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    db_url: str
    jwt_secret: str
    body_limit: int = BODY_LIMIT
    pool_min: int = Field(2, ge=0)
    pool_max: int = Field(10, ge=1)
    pool_timeout: float = 5.0
    statement_timeout: str = "10s"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _DocumentedVariables(settings_cls)

    @classmethod
    def from_env(cls) -> FunctionsSettings:
        """Settings from the environment (see the module docstring).

        Raises:
            ValueError: a required setting is missing or a value is malformed; the message
                names the variable to set.
        """
        try:
            return cls()
        except ValidationError as exc:
            problems = []
            for error in exc.errors(include_url=False):
                field = str(error["loc"][0]) if error["loc"] else "?"
                names = " or ".join(_VARIABLES.get(field, (field,)))
                if error["type"] == "missing":
                    problems.append(f"set {names}")
                else:
                    problems.append(f"{names}: {error['msg']}")
            raise ValueError("; ".join(problems)) from None
