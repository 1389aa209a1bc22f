"""The ``watchium`` client commands' settings, read from the environment by pydantic-settings.

| setting | variable | default |
| --- | --- | --- |
| ``url`` | ``WATCHIUM_URL`` | the local stack's |
| ``key`` | ``WATCHIUM_PUBLISHABLE_KEY``, else ``WATCHIUM_ANON_KEY`` (legacy) | the local stack's |
| ``config_dir`` | ``WATCHIUM_CONFIG_DIR`` | the platform's config directory for ``watchium`` |
| ``username`` | ``WATCHIUM_USERNAME``, else ``USER``, ``USERNAME``, ``LOGNAME`` | ``viewer`` |
| ``host``, ``port`` | ``WATCHIUM_HOST``, ``WATCHIUM_PORT`` | ``127.0.0.1``, ``54321`` |

``host`` and ``port`` say where the local stack is when no plugin knows better (the SDK installed
without the local stack); ``--url``/``--key`` on the command line override the first two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["CliSettings"]


def _port(value: Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise ValueError("must be a port number (1-65535)")
    return port


class CliSettings(BaseSettings):
    """Where the client commands find the server, who the user is, and where sessions are kept."""

    model_config = SettingsConfigDict(
        env_prefix="WATCHIUM_",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    url: str | None = None
    key: str | None = Field(
        None, validation_alias=AliasChoices("WATCHIUM_PUBLISHABLE_KEY", "WATCHIUM_ANON_KEY")
    )
    config_dir: Path | None = None
    username: str | None = Field(
        None, validation_alias=AliasChoices("WATCHIUM_USERNAME", "USER", "USERNAME", "LOGNAME")
    )
    host: str = "127.0.0.1"
    port: Annotated[int, BeforeValidator(_port)] = 54321

    @property
    def local_url(self) -> str:
        """The local stack's URL from ``host`` and ``port``."""
        return f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls) -> CliSettings:
        """The settings from the environment (see the module docstring).

        Raises:
            ValueError: a variable holds a malformed value; the message names it and the value.
        """
        try:
            return cls()
        except ValidationError as exc:
            problems = []
            for error in exc.errors(include_url=False):
                field = str(error["loc"][0]) if error["loc"] else ""
                aliases = {"username": "WATCHIUM_USERNAME", "key": "WATCHIUM_PUBLISHABLE_KEY"}
                variable = aliases.get(field, f"WATCHIUM_{field}")
                cause = (error.get("ctx") or {}).get("error")
                reason = str(cause) if cause is not None else error["msg"]
                problems.append(f"{variable.upper()}: {reason}, got {error['input']!r}")
            raise ValueError("; ".join(problems)) from None
