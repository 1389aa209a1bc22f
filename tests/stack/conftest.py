"""Directories for the clusters the stack's tests create.

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
