"""Where the local stack keeps its files and which ports it uses.

Every setting has a default that works on a fresh clone and an environment variable that
overrides it:

| setting | env | default |
| --- | --- | --- |
| project directory | ``WATCHIUM_PROJECT_DIR`` | nearest parent with ``supabase/migrations`` |
| data directory | ``WATCHIUM_DATA_DIR`` | ``<project>/.watchium`` (git-ignored) |
| listen address | ``WATCHIUM_HOST`` | ``127.0.0.1`` |
| gateway port | ``WATCHIUM_PORT`` | ``54321`` (Supabase's API port) |
| database port | ``WATCHIUM_DB_PORT`` | ``54322`` (Supabase's database port) |
| external database | ``WATCHIUM_DB_URL`` | unset: the stack runs its own PostgreSQL |
| PostgreSQL binaries | ``WATCHIUM_PG_BINDIR`` | discovered (see :mod:`watchium_stack.postgres`) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["StackConfig", "find_project_dir", "DEFAULT_DB_PASSWORD"]

# The local cluster uses the same well-known credentials as `supabase start`. It listens on the
# loopback interface only.
DEFAULT_DB_PASSWORD = "postgres"


def find_project_dir(start: Path | None = None) -> Path:
    """Return the project directory: the nearest parent holding ``supabase/migrations``.

    Raises:
        FileNotFoundError: when no such directory exists above ``start``.
    """
    env = os.environ.get("WATCHIUM_PROJECT_DIR")
    if env:
        return Path(env).resolve()
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


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a port number, got {raw!r}") from None
    if not 0 < value < 65536:
        raise ValueError(f"{name} must be between 1 and 65535, got {value}")
    return value


@dataclass(frozen=True)
class StackConfig:
    """Paths and ports of one local stack."""

    project_dir: Path
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 54321
    db_port: int = 54322
    db_name: str = "postgres"
    db_user: str = "postgres"
    db_password: str = DEFAULT_DB_PASSWORD
    external_db_url: str | None = None
    pg_bindir: str | None = field(default=None)

    @classmethod
    def from_env(cls, project_dir: Path | None = None) -> StackConfig:
        """Build the configuration from the environment (see the module docstring)."""
        project = project_dir or find_project_dir()
        data = Path(os.environ.get("WATCHIUM_DATA_DIR") or project / ".watchium").resolve()
        return cls(
            project_dir=project,
            data_dir=data,
            host=os.environ.get("WATCHIUM_HOST") or "127.0.0.1",
            port=_int_env("WATCHIUM_PORT", 54321),
            db_port=_int_env("WATCHIUM_DB_PORT", 54322),
            external_db_url=os.environ.get("WATCHIUM_DB_URL") or None,
            pg_bindir=os.environ.get("WATCHIUM_PG_BINDIR") or None,
        )

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
