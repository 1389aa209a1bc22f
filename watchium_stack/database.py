"""The stack's database: the local cluster (or ``WATCHIUM_DB_URL``), bootstrapped and migrated.

The local cluster has hosted Supabase's roles: its superuser is ``supabase_admin``, and
``postgres``, which owns the schema, runs the migrations and is what everything else connects
as, is not a superuser (sql/local/00_roles.sql lists what it may do). ``initdb`` makes
``postgres`` the superuser; the first setup of a new cluster renames that role
``supabase_admin`` and creates an ordinary ``postgres``. A cluster made before, with migrations
applied as the superuser ``postgres``, keeps working as it is, with a warning:
``watchium db reset`` rebuilds it with hosted's roles.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from watchium_stack._config import StackSettings
from watchium_stack.migrate import (
    Migration,
    applied_versions,
    bootstrap,
    migrate,
    record_seed,
    run_sql_file,
)
from watchium_stack.postgres import Cluster, PostgresError, free_port
from watchium_stack.watchdog import ClusterWatchdog

__all__ = ["Database", "DatabaseError", "SUPERUSER", "throwaway_database"]

SUPERUSER = "supabase_admin"
"""The local cluster's superuser, named as on hosted Supabase."""

# A superuser that exists only while the role named postgres is renamed: a session cannot rename
# its own role.
_RENAMER = "watchium_cluster_setup"

logger = logging.getLogger(__name__)


class DatabaseError(RuntimeError):
    """The database could not be reached or prepared."""


class Database:
    """The database a stack uses: its own cluster, or an external one named by WATCHIUM_DB_URL."""

    def __init__(self, config: StackSettings, cluster: Cluster | None = None) -> None:
        self.config = config
        if cluster is None and not config.external_db_url:
            cluster = Cluster(
                config.pgdata,
                port=config.db_port,
                host=config.host,
                password=config.db_password,
                bindir=config.pg_bindir,
            )
        self.cluster = cluster
        self._adopted = False  # whether the local cluster's superuser is supabase_admin

    @property
    def external(self) -> bool:
        return self.cluster is None

    @property
    def url(self) -> str:
        if self.cluster is not None:
            return self.cluster.url(self.config.db_name)
        return self.config.db_url

    @property
    def admin_url(self) -> str:
        """The superuser's URL: ``supabase_admin`` on the local cluster (``postgres`` on a cluster
        made before hosted's roles), the URL's user on an external database."""
        if self.cluster is not None and self._admin_user() != self.config.db_user:
            return self.cluster.url(self.config.db_name, user=SUPERUSER)
        return self.url

    def connect(self, *, autocommit: bool = True, dbname: str | None = None) -> psycopg.Connection:
        """A connection as ``postgres``, which owns the schema (autocommit by default).

        Raises:
            DatabaseError: when the database does not answer.
        """
        url = self.url
        if dbname is not None and self.cluster is not None:
            url = self.cluster.url(dbname)
        return self._connect(url, autocommit=autocommit)

    def connect_admin(self, *, dbname: str | None = None) -> psycopg.Connection:
        """A superuser connection (autocommit): for the bootstrap, and to drop the database.

        Raises:
            DatabaseError: when the database does not answer.
        """
        if self.cluster is None:
            return self.connect()
        user = self._admin_user()
        return self._connect(self.cluster.url(dbname or self.config.db_name, user=user))

    def _admin_user(self) -> str:
        """Who the local cluster's superuser is: ``supabase_admin``, or ``postgres`` (older)."""
        assert self.cluster is not None
        if not self._adopted:
            try:
                with psycopg.connect(
                    self.cluster.url("template1", user=SUPERUSER), connect_timeout=10
                ):
                    self._adopted = True
            except psycopg.OperationalError:
                return self.config.db_user
        return SUPERUSER

    def _connect(self, url: str, *, autocommit: bool = True) -> psycopg.Connection:
        try:
            return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
        except psycopg.OperationalError as exc:
            where = (
                "WATCHIUM_DB_URL"
                if self.external
                else f"the local cluster on port {self.config.db_port}"
            )
            hint = "" if self.external else " (is it running? `watchium db start`)"
            raise DatabaseError(f"cannot connect to {where}{hint}: {exc}".strip()) from exc

    def start(self) -> None:
        """Start the local cluster (creating it on first use); check an external one answers."""
        if self.cluster is not None:
            self.cluster.start()
        with self.connect():
            pass

    def stop(self) -> bool:
        if self.cluster is None:
            return False
        return self.cluster.stop()

    def supervised(self) -> contextlib.AbstractContextManager[object]:
        """While in this context, the local cluster is started again whenever it goes down
        without being stopped (:class:`~watchium_stack.watchdog.ClusterWatchdog`); nothing for
        an external database."""
        if self.cluster is None:
            return contextlib.nullcontext()
        return ClusterWatchdog(self.cluster)

    def setup(
        self,
        *,
        seed: bool | None = None,
        progress: Callable[[Migration], None] | None = None,
    ) -> list[Migration]:
        """Bootstrap (plain PostgreSQL only), apply pending migrations and load seed.sql.

        ``seed=None`` loads the seed data only into a fresh database (no migration applied before).
        """
        self._adopt_hosted_roles()
        with self.connect_admin() as admin:
            bootstrap(admin, self.config.bootstrap_dir)
        with self.connect() as conn:
            fresh = not applied_versions(conn)
            applied = migrate(conn, self.config.migrations_dir, progress=progress)
            seed_file = self.config.seed_file
            if (fresh if seed is None else seed) and seed_file.is_file():
                run_sql_file(conn, seed_file)
                record_seed(
                    conn, seed_file, seed_file.relative_to(self.config.project_dir).as_posix()
                )
        return applied

    def _adopt_hosted_roles(self) -> None:
        """Give a new local cluster hosted Supabase's roles (see the module docstring)."""
        if self.cluster is None or self._admin_user() == SUPERUSER:
            return
        with self.connect() as conn:
            row = conn.execute("select rolsuper from pg_roles where rolname = current_user")
            found = row.fetchone()
            if not (found and found[0]):
                raise DatabaseError(
                    f"the local cluster in {self.cluster.pgdata} has no superuser the stack can "
                    "use (neither supabase_admin nor postgres): `watchium db reset --hard` "
                    "rebuilds it"
                )
            if applied_versions(conn):
                logger.warning(
                    "this local database was migrated when postgres was the superuser, so "
                    "migrations still run as a superuser here (on hosted Supabase they do not): "
                    "`watchium db reset` rebuilds it with hosted Supabase's roles"
                )
                return
            secret = secrets.token_urlsafe(24)
            conn.execute(
                sql.SQL("create role {} superuser login password {}").format(
                    sql.Identifier(_RENAMER), sql.Literal(secret)
                )
            )
        url = f"postgresql://{_RENAMER}:{secret}@{self.cluster.host}:{self.cluster.port}/template1"
        password = sql.Literal(self.cluster.password)
        try:
            with self._connect(url, autocommit=False) as conn:
                conn.execute(
                    sql.SQL("alter role postgres rename to {}").format(sql.Identifier(SUPERUSER))
                )
                conn.execute(
                    sql.SQL("alter role {} password {}").format(sql.Identifier(SUPERUSER), password)
                )
                conn.execute(sql.SQL("create role postgres login password {}").format(password))
        finally:
            with self.connect_admin() as conn:
                conn.execute(sql.SQL("drop role {}").format(sql.Identifier(_RENAMER)))
        logger.info("local cluster: superuser %s, postgres an ordinary role", SUPERUSER)

    def reset(
        self,
        *,
        hard: bool = False,
        seed: bool = True,
        progress: Callable[[Migration], None] | None = None,
    ) -> list[Migration]:
        """Drop the database and build it again from the migrations (and seed.sql).

        ``hard`` deletes the whole local cluster first (for a cluster of another PostgreSQL
        version).

        Raises:
            DatabaseError: on an external database (use ``supabase db reset`` there).
        """
        if self.cluster is None:
            raise DatabaseError(
                "refusing to reset an external database (WATCHIUM_DB_URL); on a Supabase "
                "project use `supabase db reset`"
            )
        if hard:
            self.cluster.destroy()
            self._adopted = False  # a new cluster: its superuser is postgres until setup
        self.cluster.start()
        name = self.config.db_name
        with self.connect_admin(dbname="template1") as conn:
            # A logical replication slot pins its database: drop this database's slots first,
            # ending the Realtime server's stream if it is connected.
            conn.execute(
                "select pg_terminate_backend(active_pid) from pg_replication_slots "
                "where database = %s and active_pid is not null",
                (name,),
            )
            conn.execute(
                "select pg_drop_replication_slot(slot_name) from pg_replication_slots "
                "where database = %s",
                (name,),
            )
            conn.execute(f'drop database if exists "{name}" with (force)'.encode())
            conn.execute(f'create database "{name}"'.encode())
        return self.setup(seed=seed, progress=progress)

    def ensure_ready(self, progress: Callable[[Migration], None] | None = None) -> list[Migration]:
        """Start (if local) and migrate: what `watchium up` and `watchium db start` do."""
        try:
            self.start()
        except PostgresError as exc:
            raise DatabaseError(str(exc)) from exc
        return self.setup(progress=progress)


@contextlib.contextmanager
def throwaway_database(
    project_dir: Path, *, settings: dict[str, str] | None = None, parent: Path | None = None
) -> Iterator[Database]:
    """A migrated database in a new cluster (temporary directory, free port), deleted afterwards.

    For tests and benchmarks: no seed data. ``settings`` go into the cluster's configuration;
    ``parent`` is where its directory is made (the system's temporary directory by default: a
    fault test puts it on a small file system of its own).
    """
    tmp = Path(tempfile.mkdtemp(prefix="watchium-", dir=parent))
    # Pinned rather than read from the environment: WATCHIUM_HOST or WATCHIUM_DB_URL set for a
    # developer's own stack must not move a throwaway database.
    config = StackSettings(
        project_dir=project_dir,
        data_dir=tmp,
        host="127.0.0.1",
        db_port=free_port(),
        external_db_url=None,
    )
    cluster = Cluster(
        config.pgdata,
        port=config.db_port,
        host=config.host,
        password=config.db_password,
        settings=settings,
    )
    db = Database(config, cluster)
    try:
        db.start()
        db.setup(seed=False)
        yield db
    finally:
        cluster.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
