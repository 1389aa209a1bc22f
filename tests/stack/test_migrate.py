"""The migration runner: statement splitting, history, failures, immutability."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests._pg import PROJECT_DIR, TestDatabase
from watchium_stack.migrate import (
    MigrationError,
    applied_versions,
    bootstrap,
    essence,
    is_supabase,
    load_migrations,
    migrate,
    split_statements,
)


def test_split_cuts_and_records_statements_as_the_supabase_cli() -> None:
    text = (
        "-- header; not a statement\n"
        "create table t (v text default 'a;b');\n"
        "/* block; /* nested; */ still */\n"
        "create function f() returns text language plpgsql as $body$\n"
        "begin return 'x;y'; end;\n"
        "$body$;\n"
        "select $$;$$, 'it''s;', \"we;ird\", (1;2);\n"
        "create function g() returns int language sql begin atomic select 1; select 2; end;\n"
        "select 1\n"
        "-- trailing comment\n"
    )
    stmts = split_statements(text)
    # Comments before a statement belong to it; the `;` is not recorded.
    assert stmts[0].text == "-- header; not a statement\ncreate table t (v text default 'a;b')"
    assert [s.line for s in stmts] == [1, 3, 7, 8, 9]
    assert [s.code_line for s in stmts] == [2, 4, 7, 8, 9]
    assert stmts[1].text.startswith("/* block") and stmts[1].text.endswith("$body$")
    assert stmts[2].text == "select $$;$$, 'it''s;', \"we;ird\", (1;2)"
    assert stmts[3].text.endswith("select 2; end")
    assert stmts[4].text == "select 1\n-- trailing comment"


def test_split_does_not_know_backslash_escapes_in_quotes_as_the_cli() -> None:
    # The CLI cuts E'it\'s;' after `s;`: so does the runner, and the file fails locally as it
    # would on hosted Supabase.
    assert [s.text for s in split_statements("select E'it\\'s;';")] == ["select E'it\\'s", "'"]


def test_recorded_statements_compare_without_comments_or_semicolons() -> None:
    cli = ["-- banner\ncreate table a (v int)", "insert into a values (1)", "-- the end"]
    runner_before = ["create table a (v int);", "insert into a values (1);"]
    assert (
        essence(cli)
        == essence(runner_before)
        == [
            "create table a (v int)",
            "insert into a values (1)",
        ]
    )
    assert essence(["create table a (v bigint)"]) != essence(cli)


def test_project_migrations_are_ordered_and_well_named() -> None:
    migrations = load_migrations(PROJECT_DIR / "supabase" / "migrations")
    assert [m.version for m in migrations] == sorted((m.version for m in migrations), key=int)
    assert migrations[0].name == "foundation"


@pytest.fixture
def scratch(database: TestDatabase, tmp_path: Path) -> Iterator[tuple[psycopg.Connection, Path]]:
    """An empty database of its own (as ``postgres``), and a directory for test migrations."""
    name = f"mig_{tmp_path.name[-8:]}".replace("-", "_").lower()
    with database.connect() as owner:
        owner.execute(f"create database {name}")
    url = database.url.rsplit("/", 1)[0] + f"/{name}"
    conn = psycopg.connect(url, autocommit=True)
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    try:
        yield conn, migrations
    finally:
        conn.close()
        with database.connect() as owner:
            owner.execute(f"drop database {name} with (force)")


def admin_of(database: TestDatabase, conn: psycopg.Connection) -> psycopg.Connection:
    """A superuser connection to the database of ``conn``."""
    return psycopg.connect(
        database.admin_url.rsplit("/", 1)[0] + "/" + conn.info.dbname, autocommit=True
    )


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text)


def test_migrations_apply_once_and_are_recorded(scratch: tuple[psycopg.Connection, Path]) -> None:
    conn, directory = scratch
    write(directory, "001_a.sql", "create table a (v int);\ninsert into a values (1);\n")
    write(directory, "002_b.sql", "create table b (v int);\n")
    assert [m.version for m in migrate(conn, directory)] == ["001", "002"]
    assert migrate(conn, directory) == []
    history = conn.execute(
        "select version, name, statements from "
        "supabase_migrations.schema_migrations order by version"
    ).fetchall()
    assert history == [
        ("001", "a", ["create table a (v int)", "insert into a values (1)"]),
        ("002", "b", ["create table b (v int)"]),
    ]


def test_failed_migration_names_file_and_line_and_stops(
    scratch: tuple[psycopg.Connection, Path],
) -> None:
    conn, directory = scratch
    write(directory, "001_ok.sql", "create table ok (v int);\n")
    write(
        directory, "002_bad.sql", "create table half (v int);\n\nselect *\n  from missing_table;\n"
    )
    write(directory, "003_later.sql", "create table later (v int);\n")
    with pytest.raises(MigrationError) as info:
        migrate(conn, directory)
    err = info.value
    assert err.path.name == "002_bad.sql" and err.line == 4
    assert 'relation "missing_table" does not exist' in str(err) and "42P01" in str(err)
    assert set(applied_versions(conn)) == {"001"}
    tables = {
        r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public'")
    }
    assert tables == {"ok"}  # 002 rolled back whole, 003 never tried


def test_an_applied_migration_may_not_change(scratch: tuple[psycopg.Connection, Path]) -> None:
    conn, directory = scratch
    write(directory, "001_a.sql", "create table a (v int);\n")
    migrate(conn, directory)
    write(directory, "001_a.sql", "create table a (v bigint);\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(conn, directory)


def test_badly_named_files_are_refused(scratch: tuple[psycopg.Connection, Path]) -> None:
    conn, directory = scratch
    write(directory, "add_things.sql", "select 1;\n")
    with pytest.raises(MigrationError, match="<version>_<name>.sql"):
        migrate(conn, directory)


def test_an_applied_migration_may_change_its_comments(
    scratch: tuple[psycopg.Connection, Path],
) -> None:
    conn, directory = scratch
    write(directory, "001_a.sql", "create table a (v int);\n")
    migrate(conn, directory)
    write(directory, "001_a.sql", "-- a's table\ncreate table a (v int)\n;\n-- done\n")
    assert migrate(conn, directory) == []


def test_bootstrap_is_idempotent_and_skipped_on_supabase(
    database: TestDatabase, scratch: tuple[psycopg.Connection, Path]
) -> None:
    conn, _ = scratch
    local = PROJECT_DIR / "sql" / "local"
    with admin_of(database, conn) as admin:
        assert bootstrap(admin, local) is True
        assert bootstrap(admin, local) is True  # again: nothing breaks
        with admin.transaction():
            # Supabase Auth's history table: a real Supabase database.
            admin.execute("create table auth.schema_migrations (version text primary key)")
            assert is_supabase(admin)
            assert bootstrap(admin, local) is False
            raise psycopg.Rollback()


def test_project_migrations_apply_to_a_fresh_database_as_postgres(
    database: TestDatabase, scratch: tuple[psycopg.Connection, Path]
) -> None:
    conn, directory = scratch
    with admin_of(database, conn) as admin:
        bootstrap(admin, PROJECT_DIR / "sql" / "local")
    for path in (PROJECT_DIR / "supabase" / "migrations").glob("*.sql"):
        shutil.copy(path, directory / path.name)
    assert conn.execute(
        "select rolsuper from pg_roles where rolname = current_user"
    ).fetchone() == (False,)
    applied = migrate(conn, directory)
    assert len(applied) == len(list(directory.glob("*.sql")))
    assert migrate(conn, directory) == []


def test_bootstrap_partitions_an_older_realtime_messages_keeping_its_policies(
    database: TestDatabase, scratch: tuple[psycopg.Connection, Path]
) -> None:
    conn, _ = scratch
    with admin_of(database, conn) as admin:
        # What the bootstrap made before: a plain table, with a policy a migration added.
        admin.execute(
            "create schema realtime; "
            "create table realtime.messages (id uuid primary key default gen_random_uuid(), "
            "topic text not null, extension text not null, payload jsonb, event text, "
            "private boolean default false, inserted_at timestamp not null default now(), "
            "updated_at timestamp not null default now()); "
            "create policy members_only on realtime.messages for select to authenticated "
            "using (topic like 'room:%')"
        )
        bootstrap(admin, PROJECT_DIR / "sql" / "local")
        table = admin.execute(
            "select c.relkind, pg_get_userbyid(c.relowner) from pg_class c "
            "where c.oid = 'realtime.messages'::regclass"
        ).fetchone()
        policies = admin.execute(
            "select polname, pg_get_expr(polqual, polrelid) from pg_policy "
            "where polrelid = 'realtime.messages'::regclass"
        ).fetchall()
    assert table == ("p", "supabase_realtime_admin")
    assert policies == [("members_only", "(topic ~~ 'room:%'::text)")]
