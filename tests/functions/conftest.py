"""Fixtures of the function tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._pg import TestDatabase
from tests.functions._helpers import reset_join_refusals


@pytest.fixture(autouse=True)
def fresh_address(database: TestDatabase) -> Iterator[None]:
    """Every test starts with 127.0.0.1's budget of refused joins whole and gives it back
    whole: all of them call from that address, and the refusals of one (a wrong key, a fuzzed
    room id) must not pause another's joins."""
    reset_join_refusals(database)
    try:
        yield
    finally:
        reset_join_refusals(database)
