"""The test database: a throwaway PostgreSQL per test run, and SQL sessions that act as API roles.

``start_test_database`` starts a cluster in a temporary directory on a free port, applies the
bootstrap and the migrations (no seed data), and returns a :class:`TestDatabase`. With
``WATCHIUM_TEST_DOCKER=1`` and a reachable Docker engine it uses testcontainers' PostgreSQL instead
(started with ``wal_level=logical``).

:class:`SqlSession` wraps one connection inside a transaction that the test rolls back. It switches
identities exactly as PostgREST does (``set_config('role', ...)`` and ``request.jwt.claims``, both
transaction-local) and calls RPC functions with named arguments.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg.rows import dict_row

from watchium_stack._config import StackSettings
from watchium_stack.database import Database
from watchium_stack.harness import throwaway_database
from watchium_stack.postgres import Cluster

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass
class TestDatabase:
    """A migrated database for one test run: ``url`` is ``postgres``'s (which owns the schema and
    is not a superuser, as on hosted Supabase), ``admin_url`` the superuser's."""

    __test__ = False

    url: str
    database: Database | None
    cluster: Cluster | None
    admin_url: str = ""
    _cleanup: list[Any] = field(default_factory=list)

    def connect(self, *, autocommit: bool = True) -> psycopg.Connection[dict[str, Any]]:
        return psycopg.connect(self.url, autocommit=autocommit, row_factory=dict_row)

    def connect_admin(self) -> psycopg.Connection[dict[str, Any]]:
        """A superuser connection (autocommit): for what hosted Supabase's platform does."""
        return psycopg.connect(self.admin_url or self.url, autocommit=True, row_factory=dict_row)

    def close(self) -> None:
        for fn in reversed(self._cleanup):
            with contextlib.suppress(Exception):
                fn()


def _docker_reachable() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
    except Exception:
        return False
    return True


def start_test_database() -> TestDatabase:
    """Start and migrate the test run's database."""
    if os.environ.get("WATCHIUM_TEST_DOCKER") == "1" and _docker_reachable():
        return _start_container()
    return _start_local()


def _start_local() -> TestDatabase:
    stack = contextlib.ExitStack()
    db = stack.enter_context(throwaway_database(PROJECT_DIR))
    td = TestDatabase(url=db.url, database=db, cluster=db.cluster, admin_url=db.admin_url)
    td._cleanup.append(stack.close)
    return td


def _start_container() -> TestDatabase:
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer("postgres:16", username="postgres", password="postgres")
    container.with_command("postgres -c wal_level=logical -c max_replication_slots=20")
    container.start()
    url = container.get_connection_url(driver=None)
    config = StackSettings(
        project_dir=PROJECT_DIR, data_dir=Path(tempfile.mkdtemp()), external_db_url=url
    )
    db = Database(config)
    db.setup(seed=False)
    td = TestDatabase(url=url, database=db, cluster=None)
    td._cleanup.append(container.stop)
    return td


def with_database(url: str, name: str) -> str:
    """``url`` naming the database ``name`` instead."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def purge_rooms(conn: psycopg.Connection[Any], room_ids: list[str]) -> None:
    """Delete committed rooms and everything they left: comments outlive their room by design."""
    conn.execute("delete from comments where origin_room_id = any(%s)", (room_ids,))
    conn.execute("delete from rooms where room_id = any(%s)", (room_ids,))


def new_user() -> str:
    """A fresh user id, as auth.uid() would give."""
    return str(uuid.uuid4())


class SqlSession:
    """One connection inside a transaction that is rolled back after the test."""

    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    # -- identities ------------------------------------------------------------------------

    def _claims(self, role: str, claims: dict[str, Any] | None) -> None:
        self.conn.execute(
            "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
            (role, json.dumps(claims) if claims is not None else ""),
        )

    def as_user(self, user_id: str, **extra: Any) -> SqlSession:
        """Act as a signed-in user (role authenticated, sub = user_id)."""
        self._claims("authenticated", {"sub": user_id, "role": "authenticated", **extra})
        return self

    def as_anon(self) -> SqlSession:
        """Act as a caller with only the anon key."""
        self._claims("anon", {"role": "anon"})
        return self

    def as_service(self, user_id: str | None = None) -> SqlSession:
        """Act as a trusted server (service_role)."""
        claims: dict[str, Any] = {"role": "service_role"}
        if user_id:
            claims["sub"] = user_id
        self._claims("service_role", claims)
        return self

    def as_admin(self) -> SqlSession:
        """Back to ``postgres``, with no JWT claims (a direct database session)."""
        self._claims("postgres", None)
        return self

    # -- queries -----------------------------------------------------------------------------

    def rpc(self, function: str, **params: Any) -> Any:
        """Call public.<function> with named arguments p_<name> and return its result.

        Floats go as numeric, as PostgREST passes JSON numbers to numeric parameters.
        """
        params = {k: Decimal(repr(v)) if isinstance(v, float) else v for k, v in params.items()}
        args = ", ".join(f"p_{name} => %({name})s" for name in params)
        row = self.conn.execute(f"select public.{function}({args}) as result", params).fetchone()
        assert row is not None
        return row["result"]

    def one(self, query: str, params: Any = None) -> dict[str, Any] | None:
        return self.conn.execute(query, params).fetchone()

    def all(self, query: str, params: Any = None) -> list[dict[str, Any]]:
        return self.conn.execute(query, params).fetchall()

    def scalar(self, query: str, params: Any = None) -> Any:
        row = self.conn.execute(query, params).fetchone()
        return None if row is None else next(iter(row.values()))

    def count(self, table: str, where: str = "true", params: Any = None) -> int:
        """Rows of a table seen by ``postgres`` (RLS does not apply), whatever role is active."""
        with self.conn.transaction():
            self.conn.execute("set local role postgres")
            n = self.scalar(f"select count(*) from {table} where {where}", params)
        return int(n)

    @contextlib.contextmanager
    def raises(self, sqlstate: str) -> Iterator[pytest.ExceptionInfo[psycopg.Error]]:
        """Expect the block to fail with ``sqlstate``; the failure is rolled back to a savepoint."""
        with pytest.raises(psycopg.Error) as info:  # noqa: PT012
            with self.conn.transaction():
                yield info
        assert info.value.sqlstate == sqlstate, (
            f"expected SQLSTATE {sqlstate}, got {info.value.sqlstate}: {info.value}"
        )


PG_CRON_STAND_IN = """
create schema cron;
create table cron.job (
  jobid bigserial primary key,
  jobname text unique,
  schedule text not null,
  command text not null,
  username text not null default current_user,
  active boolean not null default true
);
create function cron.schedule(job_name text, schedule text, command text) returns bigint
language sql as $$
  insert into cron.job (jobname, schedule, command) values (job_name, schedule, command)
  on conflict (jobname) do update set schedule = excluded.schedule, command = excluded.command
  returning jobid
$$;
"""
"""pg_cron's ``cron.job`` and ``cron.schedule(name, schedule, command)`` as far as Watchium uses
them (scheduling a named job again updates it). pg_cron needs a server library this cluster does
not load (and Debian's release predates the seconds schedules Watchium uses), so the tests of the
scheduling run against this stand-in; on hosted Supabase it is the extension itself."""
