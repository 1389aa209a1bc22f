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
| key model | ``WATCHIUM_KEYS`` | ``current`` (or ``legacy``: see :class:`GatewaySettings`) |

:class:`EnvSettings` is what every settings class of the stack shares: the ``WATCHIUM_`` prefix,
empty variables counting as unset, and :meth:`~EnvSettings.from_env`, whose errors name the
variable to fix and the value found there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Self
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from watchium_stack.keys import KeyModel, SigningKeys, load_or_create_keys, signing_keys_path

__all__ = [
    "DEFAULT_DB_PASSWORD",
    "EnvSettings",
    "GatewaySettings",
    "Port",
    "StackSettings",
    "authenticator_url",
    "find_project_dir",
]

_KEY_FIELDS = ("jwt_secret", "anon_key", "service_role_key", "publishable_key", "secret_key")
ANONYMOUS_SIGNUPS_PER_HOUR = 30
"""Anonymous sign-ups per hour and client IP: Supabase's default."""

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
    key_model: KeyModel = Field("current", validation_alias="WATCHIUM_KEYS")

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


def authenticator_url(superuser_url: str, password: str = "postgres") -> str:
    """The same database as ``superuser_url``, as the ``authenticator`` role (local stack only:
    sql/local/00_roles.sql gives it the password ``postgres``)."""
    parts = urlsplit(superuser_url)
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"authenticator:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class GatewaySettings(EnvSettings):
    """Everything the gateway needs, from arguments, else the environment, else the local stack.

    | setting | variable | default |
    | --- | --- | --- |
    | host, port | ``WATCHIUM_HOST``, ``WATCHIUM_PORT`` | 127.0.0.1, 54321 |
    | db_url | ``WATCHIUM_DB_URL`` | the local cluster's superuser URL |
    | api_db_url | ``WATCHIUM_API_DB_URL`` | db_url as ``authenticator`` |
    | key model | ``WATCHIUM_KEYS`` (``current`` or ``legacy``) | ``current`` |
    | keys | ``WATCHIUM_PUBLISHABLE_KEY``, ``_SECRET_KEY``, ``_JWT_SECRET`` (and below) | data dir |
    | data directory (signing keys) | ``WATCHIUM_DATA_DIR`` | the local stack's |
    | JWKS cache of the functions | ``WATCHIUM_JWKS_TTL`` | 600 s |
    | ended sessions noticed within | ``WATCHIUM_SESSION_CHECK_INTERVAL`` | 10 s |
    | sign-up limit | ``WATCHIUM_ANON_SIGNUPS_PER_HOUR`` | 30 |
    | pool size | ``WATCHIUM_DB_POOL_MAX`` | 10 |
    | Realtime's replication slot | ``WATCHIUM_REALTIME_SLOT`` | the service's default |

    ``db_url`` is the superuser's (auth writes ``auth.*``, Realtime reads the WAL); the functions
    use ``api_db_url`` (``authenticator``, derived from ``db_url`` when not given). The five keys
    (the three above, ``WATCHIUM_ANON_KEY`` and ``WATCHIUM_SERVICE_ROLE_KEY``) come as a set:
    unless all are given, the local stack's data directory provides them (making them on first
    use), so they always match. The signing keys are always the data directory's
    (``signing_keys.json``), read again when it changes.

    The key model says what the stack issues: ``current``, as a project created today, signs
    sessions with its signing key (ES256) and leads with the publishable and secret keys;
    ``legacy`` signs them with the JWT secret (HS256) and publishes no signing key. Both accept
    every kind of API key, and tokens signed either way while the keys exist.
    """

    db_url: str
    jwt_secret: str
    anon_key: str
    service_role_key: str
    publishable_key: str
    secret_key: str
    key_model: KeyModel = Field("current", validation_alias="WATCHIUM_KEYS")
    data_dir: Path | None = None
    jwks_ttl: float = Field(600.0, ge=0)
    session_check_interval: float = Field(10.0, gt=0)
    host: str = "127.0.0.1"
    port: Port = 54321
    api_db_url: str | None = None
    anonymous_signups_per_hour: int = Field(
        ANONYMOUS_SIGNUPS_PER_HOUR, ge=1, validation_alias="WATCHIUM_ANON_SIGNUPS_PER_HOUR"
    )
    pool_max: int = Field(10, ge=1, validation_alias="WATCHIUM_DB_POOL_MAX")
    # The Realtime service's replication slot; None keeps the service's default. Two services on
    # one database (e.g. test runs) need different slots.
    realtime_slot: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _local_stack(cls, data: Any) -> Any:
        """Fills in the database URL and the keys of the local stack when they are not given."""
        if not isinstance(data, dict):
            return data
        need_db = not data.get("db_url")
        need_keys = not all(data.get(k) for k in _KEY_FIELDS)
        need_dir = not data.get("data_dir")
        if not (need_db or need_keys or need_dir):
            return data
        stack = StackSettings.from_env()
        filled = dict(data)
        if need_db:
            filled["db_url"] = stack.db_url
        if need_dir:
            filled["data_dir"] = stack.data_dir
        if need_keys:
            keys = load_or_create_keys(Path(filled["data_dir"]))
            filled.update({name: getattr(keys, name) for name in _KEY_FIELDS})
        return filled

    @property
    def functions_db_url(self) -> str:
        return self.api_db_url or authenticator_url(self.db_url)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def signing_keys(self) -> SigningKeys | None:
        """The project's signing keys (made on first use); None for the legacy key model.

        Raises:
            ValueError: the keys' file is damaged.
        """
        if self.key_model == "legacy":
            return None
        assert self.data_dir is not None  # filled in by the validator
        return SigningKeys.load_or_create(signing_keys_path(self.data_dir))
