"""Fixtures shared by every test directory: the test run's database and SQL sessions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._pg import SqlSession, TestDatabase, start_test_database
from tests._stack import start_stack
from watchium_stack.harness import Stack


@pytest.fixture(scope="session")
def database() -> Iterator[TestDatabase]:
    """A migrated PostgreSQL for the whole run (no seed data)."""
    db = start_test_database()
    try:
        yield db
    finally:
        db.close()


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
def stack(database: TestDatabase) -> Iterator[Stack]:
    """The local gateway (functions, auth, Realtime when installed) on a free port, against the
    ``database`` fixture's database, for the whole run (:class:`watchium_stack.harness.Stack`)."""
    running = start_stack(database)
    try:
        yield running
    finally:
        running.stop()
