"""Fixtures of the SDK tests."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests._stack import Stack


@pytest.fixture
def fresh_address(stack: Stack) -> Iterator[None]:
    """127.0.0.1's budget of refused joins, whole before and after a test that spends some:
    every test calls from that address."""

    def reset() -> None:
        with psycopg.connect(stack.db_url, autocommit=True) as conn:
            conn.execute(
                "delete from watchium.rate_limit_buckets where action = 'join_refused_address'"
            )

    reset()
    try:
        yield
    finally:
        reset()
