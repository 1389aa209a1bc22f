"""Fixtures of the Realtime tests: one server for the run (in this event loop), SQL access."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests._pg import TestDatabase
from tests.realtime._support import Server, Sql, start_server, stop_server
from watchium_stack.realtime import Limits


@pytest.fixture(scope="session")
async def realtime(database: TestDatabase) -> AsyncIterator[Server]:
    """The Realtime server over the test database, mounted at /realtime/v1."""
    # A peer that stops reading is aborted once its close frame has waited this long; short
    # here so the test of such a peer does not idle.
    # Public channels allowed: the protocol's tests use them (test_security.py has a server that
    # refuses them, as the local stack does).
    server = await start_server(
        database.url, limits=Limits(close_timeout=0.5, allow_public_channels=True)
    )
    try:
        yield server
    finally:
        await stop_server(server)


@pytest.fixture
async def db(database: TestDatabase) -> AsyncIterator[Sql]:
    """Committed SQL as users (each call its own transaction)."""
    sql = Sql(database.url)
    try:
        yield sql
    finally:
        await sql.close()
