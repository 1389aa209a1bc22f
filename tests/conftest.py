"""Fixtures shared by every test directory: the test run's databases, gateways and SQL sessions.

``database`` and ``stack`` are the run's database (migrated by the local runner) and the gateway
on it. Tests parametrised with :func:`tests._supabase_cli.over_both_databases` (all of tests/sql,
and function tests that say so) run a second time against the database the real Supabase CLI
migrated (``pushed_database``, ``pushed_stack``), with ``[supabase-cli]`` in their id.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._pg import SqlSession, TestDatabase, start_test_database
from tests._stack import start_stack
from tests._supabase_cli import PushedDatabase, start_pushed_database
from watchium_stack.harness import Stack


@pytest.fixture(scope="session")
def runner_database() -> Iterator[TestDatabase]:
    """A database migrated by the local runner for the whole run (no seed data)."""
    db = start_test_database()
    try:
        yield db
    finally:
        db.close()


@pytest.fixture(scope="session")
def pushed_database(runner_database: TestDatabase) -> Iterator[PushedDatabase]:
    """A database of the same cluster bootstrapped like a hosted project and migrated (and
    seeded, then emptied) by ``supabase db push`` (:mod:`tests._supabase_cli`)."""
    db = start_pushed_database(runner_database)
    try:
        yield db
    finally:
        db.close()


@pytest.fixture(scope="session")
def database(request: pytest.FixtureRequest) -> TestDatabase:
    """The database a test runs against: the runner's, or the pushed one (see the module)."""
    if getattr(request, "param", "runner") == "supabase-cli":
        pushed: TestDatabase = request.getfixturevalue("pushed_database")
        return pushed
    runner: TestDatabase = request.getfixturevalue("runner_database")
    return runner


@pytest.fixture
def sql(database: TestDatabase) -> Iterator[SqlSession]:
    """A session in a transaction rolled back after the test; starts as ``postgres`` (the schema's
    owner, not a superuser)."""
    with database.connect(autocommit=False) as conn:
        session = SqlSession(conn)
        try:
            yield session
        finally:
            conn.rollback()


@pytest.fixture(scope="session")
def runner_stack(runner_database: TestDatabase) -> Iterator[Stack]:
    """The local gateway (functions, auth, Realtime when installed) on a free port, against the
    runner's database, for the whole run (:class:`watchium_stack.harness.Stack`)."""
    running = start_stack(runner_database)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def pushed_stack(pushed_database: PushedDatabase) -> Iterator[Stack]:
    """The same against the database ``supabase db push`` migrated, for one test module."""
    running = start_stack(pushed_database)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Stack:
    """The gateway a test runs against: on the runner's database, or on the pushed one."""
    if getattr(request, "param", "runner") == "supabase-cli":
        pushed: Stack = request.getfixturevalue("pushed_stack")
        return pushed
    runner: Stack = request.getfixturevalue("runner_stack")
    return runner
