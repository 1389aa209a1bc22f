"""Finding PostgreSQL's server programs (``initdb``, ``pg_ctl``, ``postgres``) and their version.

Directories are tried in this order, first hit wins:

1. ``WATCHIUM_PG_BINDIR`` (an explicit override);
2. ``pg_config --bindir``;
3. ``/usr/lib/postgresql/<major>/bin``, newest major first (Debian and Ubuntu);
4. the ``pgserver`` wheel, which bundles PostgreSQL 16.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["INSTALL_HINT", "Binaries", "BinariesNotFound", "PostgresError", "find_binaries"]

_SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")

INSTALL_HINT = (
    "install PostgreSQL (Debian/Ubuntu: `sudo apt-get install postgresql`; macOS: "
    "`brew install postgresql@16`), or the bundled build with "
    "`pip install 'watchium[bundled-postgres]'`, or point WATCHIUM_PG_BINDIR at a directory "
    "holding initdb, pg_ctl and postgres"
)


class PostgresError(RuntimeError):
    """The local PostgreSQL cluster could not be set up or controlled."""


class BinariesNotFound(PostgresError):
    """No PostgreSQL server binaries were found."""


@dataclass(frozen=True)
class Binaries:
    """A directory of PostgreSQL server programs and the major version they belong to."""

    bindir: Path
    major: int
    source: str

    def path(self, program: str) -> str:
        return str(self.bindir / program)


def _has_server_programs(bindir: Path) -> bool:
    return all(os.access(bindir / p, os.X_OK) for p in _SERVER_PROGRAMS)


def _major_of(bindir: Path) -> int:
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    m = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
    if not m:
        raise PostgresError(f"cannot tell the version of {bindir / 'postgres'}: {out.strip()!r}")
    return int(m.group(1))


def _candidates(
    explicit: str | None, debian_root: Path, path_env: str | None
) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    if explicit:
        return [(Path(explicit), "WATCHIUM_PG_BINDIR")]
    pg_config = shutil.which("pg_config", path=path_env)
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
            if out:
                found.append((Path(out), "pg_config --bindir"))
    if debian_root.is_dir():
        majors = sorted(
            (d for d in debian_root.iterdir() if d.name.isdigit()),
            key=lambda d: int(d.name),
            reverse=True,
        )
        found.extend((d / "bin", str(debian_root)) for d in majors)
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin is not None:
        found.append((Path(spec.origin).parent / "pginstall" / "bin", "pgserver wheel"))
    return found


def find_binaries(
    explicit: str | None = None,
    *,
    debian_root: Path = Path("/usr/lib/postgresql"),
    path_env: str | None = None,
) -> Binaries:
    """Find PostgreSQL server binaries (see the module docstring for the search order).

    ``debian_root`` and ``path_env`` (the PATH searched for pg_config) default to the system's.

    Raises:
        BinariesNotFound: with the command to install them.
    """
    tried: list[str] = []
    for bindir, source in _candidates(explicit, debian_root, path_env):
        if _has_server_programs(bindir):
            return Binaries(bindir=bindir, major=_major_of(bindir), source=source)
        tried.append(f"{bindir} ({source})")
    where = "; tried " + ", ".join(tried) if tried else ""
    if explicit:
        raise BinariesNotFound(
            f"WATCHIUM_PG_BINDIR={explicit} does not hold initdb, pg_ctl and postgres{where}"
        )
    raise BinariesNotFound(f"no PostgreSQL server binaries found{where}. To fix: {INSTALL_HINT}")
