"""The function app's settings, read from the environment by pydantic-settings.

| setting | variables (first set wins) | default |
| --- | --- | --- |
| ``db_url`` | ``WATCHIUM_FUNCTIONS_DB_URL``, ``SUPABASE_DB_URL``, ``WATCHIUM_DB_URL`` | required |
| ``jwt_secret`` | ``SUPABASE_JWT_SECRET``, ``WATCHIUM_JWT_SECRET`` | required |
| ``pool_min`` / ``pool_max`` | ``WATCHIUM_DB_POOL_MIN`` / ``WATCHIUM_DB_POOL_MAX`` | 2 / 10 |

Locally the database URL is the ``authenticator`` role's (it switches role per request, like
PostgREST); next to a hosted project, the connection pooler's.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["BODY_LIMIT", "FunctionsSettings"]

BODY_LIMIT = 64 * 1024
"""The largest request body the functions read (bytes)."""


class FunctionsSettings(BaseSettings):
    """What the function app needs: a database URL and the project's JWT secret."""

    model_config = SettingsConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    db_url: str = Field(
        validation_alias=AliasChoices(
            "db_url", "WATCHIUM_FUNCTIONS_DB_URL", "SUPABASE_DB_URL", "WATCHIUM_DB_URL"
        )
    )
    jwt_secret: str = Field(
        validation_alias=AliasChoices("jwt_secret", "SUPABASE_JWT_SECRET", "WATCHIUM_JWT_SECRET")
    )
    body_limit: int = BODY_LIMIT
    pool_min: int = Field(
        2, ge=0, validation_alias=AliasChoices("pool_min", "WATCHIUM_DB_POOL_MIN")
    )
    pool_max: int = Field(
        10, ge=1, validation_alias=AliasChoices("pool_max", "WATCHIUM_DB_POOL_MAX")
    )
    pool_timeout: float = 5.0
    statement_timeout: str = "10s"

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
                if field == "db_url":
                    problems.append(
                        "set SUPABASE_DB_URL (or WATCHIUM_FUNCTIONS_DB_URL) to the database URL"
                    )
                elif field == "jwt_secret":
                    problems.append("set SUPABASE_JWT_SECRET to the project's JWT secret")
                else:
                    problems.append(f"{field}: {error['msg']}")
            raise ValueError("; ".join(problems)) from None
