"""The local cluster gets hosted Supabase's roles: a new one at its first setup, an older one when
its database is rebuilt."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests._pg import PROJECT_DIR
from watchium_stack._config import StackSettings
from watchium_stack.database import SUPERUSER, Database
from watchium_stack.migrate import bootstrap, migrate
from watchium_stack.postgres import Cluster, free_port

ROLES = (
    "select rolname, rolsuper from pg_roles "
    "where rolname in ('postgres', 'supabase_admin', 'watchium_cluster_setup') order by 1"
)


@pytest.fixture
def local(workdir: Path) -> Iterator[Database]:
    """A stack's database in a cluster of its own (not started yet)."""
    config = StackSettings(
        project_dir=PROJECT_DIR,
        data_dir=workdir,
        host="127.0.0.1",
        db_port=free_port(),
        external_db_url=None,
    )
    cluster = Cluster(config.pgdata, port=config.db_port, password=config.db_password)
    try:
        yield Database(config, cluster)
    finally:
        cluster.destroy()


def roles(db: Database) -> list[tuple[str, bool]]:
    with db.connect() as conn:
        return [tuple(r) for r in conn.execute(ROLES).fetchall()]


def test_a_new_cluster_gets_hosted_roles_and_postgres_migrates(local: Database) -> None:
    local.start()
    applied = local.setup()
    assert [m.name for m in applied][:1] == ["foundation"]
    assert roles(local) == [("postgres", False), ("supabase_admin", True)]
    assert local.admin_url.startswith(f"postgresql://{SUPERUSER}:")
    with local.connect() as conn:
        assert conn.execute("select current_user").fetchone() == ("postgres",)
        # The seed ran, as postgres, and is recorded as the CLI records seeds.
        assert conn.execute("select count(*) from rooms").fetchone() == (2,)
        assert conn.execute("select path from supabase_migrations.seed_files").fetchall() == [
            ("supabase/seed.sql",)
        ]
    # Rebuilding works without postgres being a superuser, and so does a new cluster.
    local.reset()
    assert roles(local) == [("postgres", False), ("supabase_admin", True)]
    local.reset(hard=True)
    assert roles(local) == [("postgres", False), ("supabase_admin", True)]


def test_an_older_cluster_keeps_working_until_its_database_is_rebuilt(
    local: Database, caplog: pytest.LogCaptureFixture
) -> None:
    local.start()
    assert local.cluster is not None
    # As the stack migrated before: everything as the superuser postgres.
    with psycopg.connect(local.url, autocommit=True) as conn:
        bootstrap(conn, local.config.bootstrap_dir)
        migrate(conn, local.config.migrations_dir)
    with caplog.at_level(logging.WARNING, logger="watchium_stack.database"):
        assert local.setup() == []
    assert "watchium db reset" in caplog.text
    assert roles(local) == [("postgres", True)]
    local.reset()
    assert roles(local) == [("postgres", False), ("supabase_admin", True)]
