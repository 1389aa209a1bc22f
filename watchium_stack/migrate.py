"""Apply the Supabase compatibility bootstrap, the migrations and the seed data.

Migrations are the files ``supabase/migrations/<version>_<name>.sql``, applied in version
order, each in its own transaction, and recorded in ``supabase_migrations.schema_migrations``
(the table the Supabase CLI keeps, with the same columns), so that ``supabase db push`` and this
runner agree on what has been applied. Applying is idempotent. A failing migration stops the run:
its transaction is rolled back and :class:`MigrationError` names the file, the line and
PostgreSQL's message. A migration that changed after it was applied is refused: migrations are
immutable, a change is a new migration.

Statements are cut and recorded as the CLI cuts and records them (:mod:`._statements`), and a
migration counts as changed only when its statements differ beyond comments and whitespace, so
either tool recognises what the other applied. The seed file, once run, is recorded like the CLI's
seeds (``supabase_migrations.seed_files``: path and SHA-256), so ``supabase db push
--include-seed`` does not run it again.

The bootstrap (``sql/local/*.sql``) makes a plain PostgreSQL look like a Supabase database, with
its privilege model (roles, ``auth``, ``extensions``, ``realtime``, the ``supabase_realtime``
publication, supautils' grants); it needs a superuser connection, where the migrations and the
seed run as ``postgres``. It is skipped on a real Supabase database, recognised by the history
table of Supabase Auth (GoTrue), ``auth.schema_migrations``, which the bootstrap never creates.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from watchium_stack._statements import Statement, essence, split_statements

__all__ = [
    "MigrationError",
    "Migration",
    "Statement",
    "split_statements",
    "essence",
    "load_migrations",
    "is_supabase",
    "bootstrap",
    "migrate",
    "applied_versions",
    "run_sql_file",
    "record_seed",
    "SUPABASE_DATABASE_QUERY",
]

logger = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^(?P<version>[0-9]+)_(?P<name>.+)\.sql$")
_LOCK_KEY = 0x57_41_54_43  # "WATC": one migration runner at a time per database


class MigrationError(RuntimeError):
    """A migration (or bootstrap or seed file) failed; nothing of that file was applied."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def statements(self) -> list[Statement]:
        return split_statements(self.path.read_text())


def load_migrations(directory: Path) -> list[Migration]:
    """The migrations of ``directory`` in version order.

    Raises:
        MigrationError: for a file not named ``<version>_<name>.sql``, or a duplicate version.
    """
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _FILE_RE.match(path.name)
        if not m:
            raise MigrationError(path, None, "migration files are named <version>_<name>.sql")
        version = m.group("version")
        if version in found:
            other = found[version].path.name
            raise MigrationError(path, None, f"version {version} is also {other}")
        found[version] = Migration(version=version, name=m.group("name"), path=path)
    return sorted(found.values(), key=lambda mig: int(mig.version))


def _line_of(exc: psycopg.Error, stmt: Statement) -> int:
    diag = exc.diag
    pos = diag.statement_position or diag.internal_position
    if pos:
        try:
            offset = int(pos) - 1
        except ValueError:
            offset = 0
        return stmt.line + stmt.text.count("\n", 0, max(offset, 0))
    return stmt.code_line


def _describe(exc: psycopg.Error) -> str:
    diag = exc.diag
    parts = [diag.message_primary or str(exc).strip()]
    if diag.sqlstate:
        parts[0] = f"{parts[0]} (SQLSTATE {diag.sqlstate})"
    if diag.message_detail:
        parts.append(f"DETAIL: {diag.message_detail}")
    if diag.message_hint:
        parts.append(f"HINT: {diag.message_hint}")
    if diag.context:
        parts.append(f"CONTEXT: {diag.context.strip()}")
    return "\n".join(parts)


def _execute_all(conn: psycopg.Connection, path: Path, statements: list[Statement]) -> None:
    with conn.cursor() as cur:
        for stmt in statements:
            if stmt.is_comment:
                continue  # recorded, as the CLI records it, but PostgreSQL has nothing to run
            try:
                cur.execute(stmt.text.encode())
            except psycopg.Error as exc:
                raise MigrationError(path, _line_of(exc, stmt), _describe(exc)) from exc


def run_sql_file(conn: psycopg.Connection, path: Path) -> None:
    """Run one SQL file in a transaction of its own (bootstrap and seed files)."""
    statements = split_statements(path.read_text())
    with conn.transaction():
        _execute_all(conn, path, statements)


SUPABASE_DATABASE_QUERY = "select to_regclass('auth.schema_migrations') is not null"
"""True on a Supabase database (hosted or ``supabase start``): Supabase Auth keeps its history in
``auth.schema_migrations``; the local bootstrap's ``auth`` schema has no such table."""


def is_supabase(conn: psycopg.Connection) -> bool:
    """Whether the database is a real Supabase database (its ``auth`` schema is Supabase Auth's)."""
    row = conn.execute(SUPABASE_DATABASE_QUERY).fetchone()
    return bool(row and row[0])


def bootstrap(conn: psycopg.Connection, directory: Path) -> bool:
    """Apply the compatibility bootstrap unless this is a Supabase database; True when it ran.

    ``conn`` must be a superuser's: the bootstrap creates roles and event triggers.
    """
    if is_supabase(conn):
        logger.info("Supabase database detected: compatibility bootstrap skipped")
        return False
    for path in sorted(directory.glob("*.sql")):
        run_sql_file(conn, path)
    return True


# The CLI's own statements for its history tables, so either tool may create them first.
_HISTORY_DDL = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text not null primary key
);
alter table supabase_migrations.schema_migrations add column if not exists statements text[];
alter table supabase_migrations.schema_migrations add column if not exists name text;
"""
_SEED_DDL = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.seed_files (
  path text not null primary key,
  hash text not null
);
"""


def applied_versions(conn: psycopg.Connection) -> dict[str, list[str] | None]:
    """Versions recorded as applied, with their recorded statements."""
    exists = conn.execute(
        "select to_regclass('supabase_migrations.schema_migrations') is not null"
    ).fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute(
        "select version, statements from supabase_migrations.schema_migrations"
    ).fetchall()
    return {str(v): s for v, s in rows}


def migrate(
    conn: psycopg.Connection,
    directory: Path,
    *,
    progress: Callable[[Migration], None] | None = None,
) -> list[Migration]:
    """Apply every pending migration of ``directory``; returns those applied.

    Raises:
        MigrationError: a migration failed (it was rolled back; later ones were not tried), or an
            applied migration's file has changed since.
    """
    migrations = load_migrations(directory)
    with conn.transaction():
        for stmt in split_statements(_HISTORY_DDL):
            conn.execute(stmt.text.encode())
    applied: list[Migration] = []
    for mig in migrations:
        statements = mig.statements
        texts = [s.text for s in statements]
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            recorded = applied_versions(conn)
            if mig.version in recorded:
                previous = recorded[mig.version]
                if previous is not None and essence(previous) != essence(texts):
                    raise MigrationError(
                        mig.path,
                        None,
                        "this migration changed after it was applied; migrations are immutable: "
                        "put the change in a new migration (or run `watchium db reset` to "
                        "rebuild a local database from scratch)",
                    )
                continue
            if progress:
                progress(mig)
            _execute_all(conn, mig.path, statements)
            conn.execute(
                sql.SQL(
                    "insert into supabase_migrations.schema_migrations (version, name, statements) "
                    "values (%s, %s, %s)"
                ),
                (mig.version, mig.name, texts),
            )
        applied.append(mig)
    return applied


def record_seed(conn: psycopg.Connection, path: Path, name: str) -> None:
    """Record the seed file ``path`` as run, under ``name`` (its path from the project's root, as
    the CLI records it), with its SHA-256."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with conn.transaction():
        for stmt in split_statements(_SEED_DDL):
            conn.execute(stmt.text.encode())
        conn.execute(
            "insert into supabase_migrations.seed_files (path, hash) values (%s, %s) "
            "on conflict (path) do update set hash = excluded.hash",
            (name, digest),
        )
