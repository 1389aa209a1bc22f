"""The real Supabase CLI against a database bootstrapped like a hosted project.

``pushed_database`` (tests/_supabase_cli.py) is migrated and seeded by ``supabase db push`` as
``postgres``, which is not a superuser there, as on hosted Supabase. The SQL tests and the main
function tests run against it as well (``[supabase-cli]``); these tests check what only the CLI
can tell: that it and the local runner share one history in both directions, and that Supabase's
advisors and plpgsql_check find nothing to fix.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests._pg import PROJECT_DIR, TestDatabase
from tests._supabase_cli import PushedDatabase, SupabaseCli, cli_url
from watchium_stack.migrate import load_migrations, migrate, record_seed

MIGRATIONS = PROJECT_DIR / "supabase" / "migrations"
SCHEMA_DOC = PROJECT_DIR / "docs" / "SCHEMA.md"


@pytest.fixture(scope="module")
def cli(pushed_database: PushedDatabase) -> SupabaseCli:
    assert pushed_database.cli is not None
    return pushed_database.cli


def history(database: TestDatabase) -> dict[str, tuple[str, list[str]]]:
    with database.connect() as conn:
        rows = conn.execute(
            "select version, name, statements from supabase_migrations.schema_migrations"
        ).fetchall()
    return {r["version"]: (r["name"], r["statements"]) for r in rows}


def test_push_applies_every_migration_and_the_seed(pushed_database: PushedDatabase) -> None:
    assert "Finished supabase db push" in pushed_database.push_output
    local = load_migrations(MIGRATIONS)
    assert {v: name for v, (name, _) in history(pushed_database).items()} == {
        m.version: m.name for m in local
    }
    seed = PROJECT_DIR / "supabase" / "seed.sql"
    with pushed_database.connect() as conn:
        seeds = conn.execute("select path, hash from supabase_migrations.seed_files").fetchall()
    assert seeds == [
        {"path": "supabase/seed.sql", "hash": hashlib.sha256(seed.read_bytes()).hexdigest()}
    ]
    rooms = {r["title"]: r for r in pushed_database.seeded_rooms}
    assert set(rooms) == {"Demo: Frieren episode 1", "Demo: private Mushishi night"}
    assert rooms["Demo: private Mushishi night"]["access_key"] == "123456"
    assert not rooms["Demo: private Mushishi night"]["is_public"]


def test_the_cli_records_each_statement_as_the_runner_cuts_it(
    pushed_database: PushedDatabase,
) -> None:
    recorded = history(pushed_database)
    for migration in load_migrations(MIGRATIONS):
        statements = [s.text for s in migration.statements]
        assert recorded[migration.version][1] == statements, migration.path.name


def test_the_runner_finds_nothing_to_apply_where_the_cli_pushed(
    pushed_database: PushedDatabase,
) -> None:
    with psycopg.connect(pushed_database.url, autocommit=True) as conn:
        assert migrate(conn, MIGRATIONS) == []


@pytest.fixture
def runner_seed_recorded(runner_database: TestDatabase) -> Iterator[None]:
    """The runner's database with the seed recorded as the runner records it when it seeds."""
    seed = PROJECT_DIR / "supabase" / "seed.sql"
    with psycopg.connect(runner_database.url, autocommit=True) as conn:
        record_seed(conn, seed, "supabase/seed.sql")
    try:
        yield
    finally:
        with runner_database.connect() as conn:
            conn.execute("delete from supabase_migrations.seed_files")


def test_the_cli_finds_nothing_to_push_where_the_runner_migrated(
    cli: SupabaseCli, runner_database: TestDatabase, runner_seed_recorded: None
) -> None:
    url = cli_url(runner_database.url)
    listed = cli.run("migration", "list", "--db-url", url).stdout
    for migration in load_migrations(MIGRATIONS):
        v = migration.version
        assert re.search(rf"`{v}`\s*\|\s*`{v}`", listed), f"{v} not applied remotely:\n{listed}"
    pushed = cli.run("db", "push", "--db-url", url, "--include-seed", "--dry-run")
    assert "up to date" in pushed.stdout + pushed.stderr, pushed.stdout + pushed.stderr


def findings(report: Any) -> list[dict[str, Any]]:
    results = report.get("results", []) if isinstance(report, dict) else report or []
    return list(results)


def describe(lint: dict[str, Any]) -> str:
    """One line per finding: level, lint, the object it is about, and the advisor's words."""
    meta = lint.get("metadata") or {}
    where = ".".join(str(meta[k]) for k in ("schema", "name") if meta.get(k)) or "?"
    return f"{lint['level']} {lint['name']} on {where}: {lint['detail']}"


def documented_infos() -> set[str]:
    """The lints docs/SCHEMA.md explains as INFO that stays."""
    section = SCHEMA_DOC.read_text().split("## Supabase's advisors", 1)[1]
    return set(re.findall(r"^\| INFO \| `([a-z_]+)` \|", section, re.MULTILINE))


def advisors(cli: SupabaseCli, database: TestDatabase) -> list[dict[str, Any]]:
    report = cli.json("db", "advisors", "--db-url", cli_url(database.url), "--level", "info")
    return findings(report)


def test_advisors_report_no_warning_and_only_documented_infos(
    cli: SupabaseCli, pushed_database: PushedDatabase
) -> None:
    found = advisors(cli, pushed_database)
    serious = [describe(f) for f in found if f["level"] != "INFO"]
    assert serious == [], "Supabase's advisors report:\n" + "\n".join(serious)
    explained = documented_infos()
    unexplained = [describe(f) for f in found if f["name"] not in explained]
    assert unexplained == [], (
        "INFO findings docs/SCHEMA.md does not explain (## Supabase's advisors):\n"
        + "\n".join(unexplained)
    )


def test_advisors_do_see_what_they_would_report(
    cli: SupabaseCli, pushed_database: PushedDatabase
) -> None:
    # The check above is worth something only if the advisors read this database.
    with pushed_database.connect() as conn:
        # Exposed to anon without RLS: what the advisors call an error.
        conn.execute("create table public.advisor_probe (id int primary key)")
        conn.execute("grant select on public.advisor_probe to anon")
    try:
        found = advisors(cli, pushed_database)
    finally:
        with pushed_database.connect() as conn:
            conn.execute("drop table public.advisor_probe")
    assert any(
        f["name"] == "rls_disabled_in_public" and "advisor_probe" in f["detail"] for f in found
    ), "\n".join(describe(f) for f in found)


def plpgsql_check_available(database: TestDatabase) -> bool:
    with database.connect() as conn:
        row = conn.execute(
            "select exists (select 1 from pg_available_extensions where name = 'plpgsql_check')"
            " as ok"
        ).fetchone()
    return bool(row and row["ok"])


def lint(cli: SupabaseCli, database: TestDatabase) -> list[str]:
    """What `supabase db lint` reports, one line per finding: level, function, message."""
    if not plpgsql_check_available(database):
        pytest.skip(
            "plpgsql_check is not installed for this PostgreSQL (Debian: "
            "postgresql-<major>-plpgsql-check; .ci/run installs it)"
        )
    report = cli.json("db", "lint", "--db-url", cli_url(database.url), "--level", "warning")
    return [
        f"{found['level']} {result['function']}: {found['message']}"
        for result in findings(report)
        for found in result["issues"]
    ]


def test_lint_finds_no_error(cli: SupabaseCli, pushed_database: PushedDatabase) -> None:
    reported = lint(cli, pushed_database)
    errors = [r for r in reported if r.startswith("error")]
    assert errors == [], "supabase db lint (plpgsql_check) reports:\n" + "\n".join(reported)


def test_lint_does_see_a_broken_function(cli: SupabaseCli, pushed_database: PushedDatabase) -> None:
    with pushed_database.connect() as conn:
        conn.execute(
            "create schema lint_probe; "
            "create function lint_probe.broken() returns int language plpgsql as "
            "$$ begin return (select nope from public.rooms limit 1); end $$"
        )
    try:
        reported = lint(cli, pushed_database)
    finally:
        with pushed_database.connect() as conn:
            conn.execute("drop schema lint_probe cascade")
    assert any(r.startswith("error lint_probe.broken") for r in reported), reported
