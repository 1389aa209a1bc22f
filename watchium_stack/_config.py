"""Where the local stack keeps its files and which ports it uses, read by pydantic-settings.

Every setting has a default that works on a fresh clone and an environment variable that
overrides it; a value given as an argument overrides both:

| setting | env | default |
| --- | --- | --- |
| project directory | ``WATCHIUM_PROJECT_DIR`` | nearest parent with ``supabase/migrations`` |
| data directory | ``WATCHIUM_DATA_DIR`` | ``<project>/.watchium`` (git-ignored) |
| listen address | ``WATCHIUM_HOST`` | ``127.0.0.1`` |
| gateway port | ``WATCHIUM_PORT`` | ``54321`` (Supabase's API port) |
| database port | ``WATCHIUM_DB_PORT`` | ``54322`` (Supabase's database port) |
| external database | ``WATCHIUM_DB_URL`` | unset: the stack runs its own PostgreSQL |
| PostgreSQL binaries | ``WATCHIUM_PG_BINDIR`` | discovered (see :mod:`watchium_stack.postgres`) |

:class:`EnvSettings` is what every settings class of the stack shares: the ``WATCHIUM_`` prefix,
empty variables counting as unset, and :meth:`~EnvSettings.from_env`, whose errors name the
variable to fix and the value found there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Self

from pydantic import AliasChoices, BeforeValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "DEFAULT_DB_PASSWORD",
    "EnvSettings",
    "Port",
    "StackSettings",
    "find_project_dir",
]

# The local cluster uses the same well-known credentials as `supabase start`. It listens on the
# loopback interface only.
DEFAULT_DB_PASSWORD = "postgres"


def _port(value: Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise ValueError("must be a port number (1-65535)")
    return port


Port = Annotated[int, BeforeValidator(_port)]
"""A TCP port, 1-65535."""


def find_project_dir(start: Path | None = None) -> Path:
    """Return the project directory: the nearest parent of ``start`` (the working directory)
    holding ``supabase/migrations``, else the source tree this package lives in.

    Raises:
        FileNotFoundError: when no such directory exists.
    """
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "supabase" / "migrations").is_dir():
            return candidate
    # Fall back to the source tree this package lives in (editable installs and tests).
    source_root = Path(__file__).resolve().parent.parent
    if (source_root / "supabase" / "migrations").is_dir():
        return source_root
    raise FileNotFoundError(
        "no Watchium project found: run this inside the repository (a directory with "
        "supabase/migrations) or set WATCHIUM_PROJECT_DIR"
    )


class EnvSettings(BaseSettings):
    """Settings from arguments, else ``WATCHIUM_*`` environment variables, else defaults."""

    model_config = SettingsConfigDict(
        env_prefix="WATCHIUM_",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    @classmethod
    def from_env(cls, **values: Any) -> Self:
        """The settings from ``values``, the environment and the defaults, in that order.

        Raises:
            ValueError: a value is malformed; the message names the variable and the value.
        """
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ValueError(describe_errors(exc, cls)) from None


def _variable(model: type[BaseSettings], field: str) -> str:
    """The environment variable a field is read from."""
    info = model.model_fields.get(field)
    if info is None:
        return field
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    if isinstance(alias, str):
        return alias
    return f"{model.model_config.get('env_prefix', '')}{field}".upper()


def describe_errors(exc: ValidationError, model: type[BaseSettings]) -> str:
    """One clause per invalid setting: its variable, what is wrong, and the value found."""
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        if error["type"] == "default_factory_not_called":
            continue  # a consequence of another error, not one of its own
        cause = (error.get("ctx") or {}).get("error")
        reason = str(cause) if cause is not None else error["msg"][:1].lower() + error["msg"][1:]
        if not error["loc"]:
            problems.append(reason)
            continue
        name = _variable(model, str(error["loc"][0]))
        if error["type"] == "missing":
            problems.append(f"{name} is not set")
        else:
            problems.append(f"{name}: {reason}, got {error['input']!r}")
    return "; ".join(problems) or str(exc)


class StackSettings(EnvSettings):
    """Paths and ports of one local stack (see the module docstring)."""

    project_dir: Path = Field(default_factory=find_project_dir)
    data_dir: Path = Field(default_factory=lambda data: data["project_dir"] / ".watchium")
    host: str = "127.0.0.1"
    port: Port = 54321
    db_port: Port = 54322
    external_db_url: str | None = Field(None, validation_alias="WATCHIUM_DB_URL")
    pg_bindir: str | None = None

    # Fixed, like `supabase start`'s: not settings.
    db_name: ClassVar[str] = "postgres"
    db_user: ClassVar[str] = "postgres"
    db_password: ClassVar[str] = DEFAULT_DB_PASSWORD

    @field_validator("project_dir", "data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

    @property
    def pgdata(self) -> Path:
        """The PostgreSQL cluster directory."""
        return self.data_dir / "pgdata"

    @property
    def migrations_dir(self) -> Path:
        return self.project_dir / "supabase" / "migrations"

    @property
    def seed_file(self) -> Path:
        return self.project_dir / "supabase" / "seed.sql"

    @property
    def bootstrap_dir(self) -> Path:
        return self.project_dir / "sql" / "local"

    @property
    def db_url(self) -> str:
        """The superuser URL of the database the stack uses."""
        if self.external_db_url:
            return self.external_db_url
        return (
            f"postgresql://{self.db_user}:{self.db_password}@{self.host}:{self.db_port}"
            f"/{self.db_name}"
        )

    @property
    def api_url(self) -> str:
        """The gateway's base URL (what supabase-py calls ``SUPABASE_URL``)."""
        return f"http://{self.host}:{self.port}"
