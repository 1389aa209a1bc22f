"""Directories for the clusters the stack's tests create, and the stack in each key model.

They live outside pytest's own temporary tree: run as root, the stack runs PostgreSQL as the
postgres user, which must reach the data directory, and pytest keeps its tree private (mode
0700), resetting it whenever another test session starts on the machine.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._pg import TestDatabase
from tests._stack import Stack, start_stack
from watchium_stack.keys import KEY_MODELS


def _scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="watchium-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """An empty directory for one test's cluster or data directory, removed afterwards."""
    yield from _scratch()


@pytest.fixture(scope="module")
def module_workdir() -> Iterator[Path]:
    """The same for a cluster a whole module shares."""
    yield from _scratch()


@pytest.fixture(scope="module", params=KEY_MODELS)
def model_stack(request: pytest.FixtureRequest, database: TestDatabase) -> Iterator[Stack]:
    """A local stack issuing each key model in turn, on the run's database: ``current`` (the
    publishable and secret keys, ES256 sessions), then ``legacy`` (anon and service_role,
    HS256 sessions). Each is started for the module: a fault test that restarts PostgreSQL
    earlier in the run leaves the run's own stack's Realtime with dead pooled connections, each
    of which fails one private join before the pool replaces it."""
    running = start_stack(database, key_model=request.param)
    try:
        yield running
    finally:
        running.stop()
