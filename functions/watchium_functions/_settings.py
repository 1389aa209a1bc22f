"""The function app's settings, read from the environment by pydantic-settings.

| setting | variables (first set wins) | default |
| --- | --- | --- |
| ``db_url`` | ``WATCHIUM_FUNCTIONS_DB_URL``, ``SUPABASE_DB_URL``, ``WATCHIUM_DB_URL`` | required |
| ``supabase_url`` | ``SUPABASE_URL`` | unset |
| ``jwks_url`` | ``SUPABASE_JWKS_URL``, ``WATCHIUM_JWKS_URL`` | from ``supabase_url`` |
| ``publishable_keys`` | ``SUPABASE_PUBLISHABLE_KEYS``, ``SUPABASE_PUBLISHABLE_KEY`` | none |
| ``secret_keys`` | ``SUPABASE_SECRET_KEYS``, ``SUPABASE_SECRET_KEY`` | none |
| ``jwt_secret`` (legacy) | ``SUPABASE_JWT_SECRET``, ``WATCHIUM_JWT_SECRET`` | unset |
| ``jwks_ttl`` | ``WATCHIUM_JWKS_TTL`` | 600 (seconds) |
| ``session_check_interval`` | ``WATCHIUM_SESSION_CHECK_INTERVAL`` | 10 (seconds) |
| ``pool_min`` / ``pool_max`` | ``WATCHIUM_DB_POOL_MIN`` / ``WATCHIUM_DB_POOL_MAX`` | 2 / 10 |
| ``client_address_header`` | ``WATCHIUM_CLIENT_ADDRESS_HEADER`` | unset: the peer's address |

The JWKS is ``<supabase_url>/auth/v1/.well-known/jwks.json`` unless ``jwks_url`` says otherwise.
``WATCHIUM_PUBLISHABLE_KEY`` and ``WATCHIUM_SECRET_KEY`` are read after the ``SUPABASE_`` names.

A project of today's Supabase gives its URL (its signing keys are fetched from its JWKS) and its
publishable and secret keys (``..._KEYS`` as Supabase names several: a JSON object or list, or
keys separated by commas); a project still on the legacy keys gives its JWT secret, which then
verifies the ``anon`` and ``service_role`` keys and HS256 access tokens. Both may be given, as
while a project moves from one to the other. At least one way to verify tokens and one way to
recognise API keys is required.

Only these variables are read (an unrelated ``DB_URL`` in the environment is not). Arguments
override the environment. Locally the database URL is the ``authenticator`` role's (it switches
role per request, like PostgREST); next to a hosted project, the connection pooler's as the
``watchium_functions`` role (migration 017).
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from watchium_functions.apikeys import KeyKind, key_kind
from watchium_functions.jwks import JWKS_PATH

__all__ = ["BODY_LIMIT", "FunctionsSettings"]

BODY_LIMIT = 64 * 1024
"""The largest request body the functions read (bytes)."""

_VARIABLES: dict[str, tuple[str, ...]] = {
    "db_url": ("WATCHIUM_FUNCTIONS_DB_URL", "SUPABASE_DB_URL", "WATCHIUM_DB_URL"),
    "supabase_url": ("SUPABASE_URL",),
    "jwks_url": ("SUPABASE_JWKS_URL", "WATCHIUM_JWKS_URL"),
    "publishable_keys": (
        "SUPABASE_PUBLISHABLE_KEYS",
        "SUPABASE_PUBLISHABLE_KEY",
        "WATCHIUM_PUBLISHABLE_KEY",
    ),
    "secret_keys": ("SUPABASE_SECRET_KEYS", "SUPABASE_SECRET_KEY", "WATCHIUM_SECRET_KEY"),
    "jwt_secret": ("SUPABASE_JWT_SECRET", "WATCHIUM_JWT_SECRET"),
    "jwks_ttl": ("WATCHIUM_JWKS_TTL",),
    "session_check_interval": ("WATCHIUM_SESSION_CHECK_INTERVAL",),
    "pool_min": ("WATCHIUM_DB_POOL_MIN",),
    "pool_max": ("WATCHIUM_DB_POOL_MAX",),
    "client_address_header": ("WATCHIUM_CLIENT_ADDRESS_HEADER",),
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


def _key_list(kind: KeyKind) -> BeforeValidator:
    """Keys of ``kind`` from a tuple, or from text: a JSON object (``{"default": "sb_..."}``, as
    Supabase names its keys) or list, or keys separated by commas."""

    def parse(value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith(("{", "[")):
                try:
                    parsed = json.loads(text)
                except ValueError:
                    raise ValueError("must be a JSON object or list of keys") from None
                value = list(parsed.values()) if isinstance(parsed, dict) else parsed
            else:
                value = [part.strip() for part in text.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            for key in value:
                if not isinstance(key, str) or key_kind(key) != kind:
                    raise ValueError(f"must hold {kind} keys (sb_{kind}_...)")
        return value

    return BeforeValidator(parse)


class FunctionsSettings(BaseSettings):
    """What the function app needs: a database URL, and the project's keys (see the module
    docstring)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    db_url: str
    supabase_url: str | None = None
    jwks_url: str | None = None
    publishable_keys: Annotated[tuple[str, ...], _key_list("publishable")] = ()
    secret_keys: Annotated[tuple[str, ...], _key_list("secret")] = ()
    jwt_secret: str | None = None
    jwks_ttl: float = Field(600.0, ge=0)
    session_check_interval: float = Field(10.0, gt=0)
    body_limit: int = BODY_LIMIT
    pool_min: int = Field(2, ge=0)
    pool_max: int = Field(10, ge=1)
    pool_timeout: float = 5.0
    statement_timeout: str = "10s"
    client_address_header: str | None = None
    """Behind a proxy: the header it appends the client's address to (``x-forwarded-for``);
    the last address in it is the client's. Unset: the address of the connection's peer."""

    @model_validator(mode="after")
    def _enough_keys(self) -> Self:
        if self.jwks_endpoint is None and not self.jwt_secret:
            raise ValueError(
                "set SUPABASE_URL (the project's signing keys are read from its JWKS) "
                "or SUPABASE_JWT_SECRET (the legacy JWT secret)"
            )
        if not (self.publishable_keys or self.secret_keys or self.jwt_secret):
            raise ValueError(
                "set SUPABASE_PUBLISHABLE_KEY (and SUPABASE_SECRET_KEY) to accept the "
                "project's API keys, or SUPABASE_JWT_SECRET for its legacy keys"
            )
        return self

    @property
    def jwks_endpoint(self) -> str | None:
        """Where the project's signing keys are published, if anywhere."""
        if self.jwks_url:
            return self.jwks_url
        if self.supabase_url:
            return self.supabase_url.rstrip("/") + JWKS_PATH
        return None

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
                if not error["loc"]:
                    cause = (error.get("ctx") or {}).get("error")
                    problems.append(str(cause) if cause is not None else error["msg"])
                    continue
                field = str(error["loc"][0])
                names = " or ".join(_VARIABLES.get(field, (field,)))
                if error["type"] == "missing":
                    problems.append(f"set {names}")
                else:
                    cause = (error.get("ctx") or {}).get("error")
                    problems.append(f"{names}: {cause if cause is not None else error['msg']}")
            raise ValueError("; ".join(problems)) from None
