"""The real Supabase CLI in the suite, and the database it migrates.

The CLI is the npm package ``supabase``, pinned in tests/js/package.json and installed by ``make
setup`` (``npm ci --prefix tests/js``). :class:`SupabaseCli` runs it offline against the test
run's cluster: telemetry and update checks off, its home in a directory of its own, the project's
``supabase/`` folder (config.toml, migrations, seed) copied into a work directory so its
``supabase/.temp`` stays out of the checkout.

:func:`start_pushed_database` makes a fresh database in the run's cluster, bootstraps it like a
hosted project (sql/local: ``postgres`` not a superuser, Realtime's partitioned
``realtime.messages``, supautils' grants), pushes every migration and the seed with ``supabase db
push --db-url`` as ``postgres``, records what the seed made, and removes it, so the database starts
where the runner's does: the schema, no demo rooms. Tests parametrised over both databases
(:func:`over_both_databases`) then run against it too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests._pg import PROJECT_DIR, TestDatabase, purge_rooms, with_database
from watchium_stack.migrate import bootstrap

CLI = PROJECT_DIR / "tests" / "js" / "node_modules" / ".bin" / "supabase"
PUSHED_DATABASE = "watchium_pushed"

# The CLI reports usage and checks for new releases over the network unless told not to.
_OFFLINE = {
    "SUPABASE_TELEMETRY_DISABLED": "1",
    "DO_NOT_TRACK": "1",
    "SUPABASE_NO_UPDATE_NOTIFIER": "1",
}


def cli_url(url: str) -> str:
    """A URL for ``--db-url``: the local server speaks no TLS."""
    return url + ("&" if "?" in url else "?") + "sslmode=disable"


class SupabaseCli:
    """The Supabase CLI with a work directory holding a copy of the project's ``supabase/``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        shutil.copytree(PROJECT_DIR / "supabase", workdir / "supabase", dirs_exist_ok=True)
        shutil.rmtree(workdir / "supabase" / ".temp", ignore_errors=True)
        home = workdir / "home"
        home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUPABASE_")}
        self.env = {**env, **_OFFLINE, "HOME": str(home), "SUPABASE_HOME": str(home / ".supabase")}

    @staticmethod
    def available() -> str | None:
        """Why the CLI cannot run here, or None when it can."""
        if shutil.which("node") is None:
            return "node is not installed (the Supabase CLI is an npm package)"
        if not CLI.exists():
            return f"the Supabase CLI is not installed ({CLI}): `make setup` installs it"
        return None

    def run(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """Run ``supabase <args>`` in the work directory.

        Raises:
            AssertionError: ``check`` and a non-zero exit (with its output).
        """
        proc = subprocess.run(
            [str(CLI), *args, "--workdir", str(self.workdir)],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert proc.returncode == 0, (
                f"supabase {' '.join(args)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    def json(self, *args: str) -> Any:
        """Run a command with ``--output-format json`` and parse what it printed."""
        proc = self.run(*args, "--output-format", "json")
        return json.loads(proc.stdout) if proc.stdout.strip() else None


@dataclass
class PushedDatabase(TestDatabase):
    """The database ``supabase db push`` migrated, with what the push said and the seed made."""

    cli: SupabaseCli | None = None
    push_output: str = ""
    seeded_rooms: list[dict[str, Any]] = field(default_factory=list)


def start_pushed_database(database: TestDatabase) -> PushedDatabase:
    """Create, bootstrap and push the database (see the module docstring).

    Raises:
        pytest.skip.Exception: the CLI is not installed here.
    """
    missing = SupabaseCli.available()
    if missing:
        pytest.skip(missing)
    workdir = Path(tempfile.mkdtemp(prefix="watchium-supabase-cli-"))
    cli = SupabaseCli(workdir)
    with database.connect_admin() as admin:
        admin.execute(f"drop database if exists {PUSHED_DATABASE} with (force)")
        admin.execute(f"create database {PUSHED_DATABASE}")
    admin_url = with_database(database.admin_url or database.url, PUSHED_DATABASE)
    url = with_database(database.url, PUSHED_DATABASE)
    pushed = PushedDatabase(url=url, database=None, cluster=None, admin_url=admin_url, cli=cli)
    pushed._cleanup.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    pushed._cleanup.append(lambda: _drop(database))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        bootstrap(admin, PROJECT_DIR / "sql" / "local")
    proc = cli.run("db", "push", "--db-url", cli_url(url), "--include-seed", "--yes")
    pushed.push_output = proc.stdout + proc.stderr
    with pushed.connect() as conn:
        pushed.seeded_rooms = conn.execute(
            "select r.*, k.access_key from rooms r "
            "left join watchium.room_access_keys k using (room_id) order by r.title"
        ).fetchall()
        purge_rooms(conn, [r["room_id"] for r in pushed.seeded_rooms])
        conn.execute("delete from watchium.rate_limit_buckets")
    return pushed


def _drop(database: TestDatabase) -> None:
    with database.connect_admin() as admin:
        admin.execute(
            "select pg_drop_replication_slot(slot_name) from pg_replication_slots "
            "where database = %s and not active",
            (PUSHED_DATABASE,),
        )
        admin.execute(f"drop database if exists {PUSHED_DATABASE} with (force)")


BOTH = ("runner", "supabase-cli")
"""The two ways a test database is migrated: by the local runner, and by ``supabase db push``."""


def over_both_databases(metafunc: pytest.Metafunc) -> None:
    """Run a test against both databases: parametrise the ``database`` and ``stack`` it uses.

    Per module: the gateway on the pushed database (``pushed_stack``) then runs only while the
    modules that use it do, so its Realtime server's replication connection is gone before the
    tests that restart the cluster.
    """
    names = [n for n in ("database", "stack") if n in metafunc.fixturenames]
    if not names:
        return
    values = [tuple([kind] * len(names)) for kind in BOTH] if len(names) > 1 else list(BOTH)
    metafunc.parametrize(",".join(names), values, indirect=True, ids=list(BOTH), scope="module")
