"""A database outage: 503 with Retry-After while PostgreSQL is down, and service again, by itself,
once it is back. Runs on a database and gateway of its own, so stopping PostgreSQL disturbs no
other test."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests._pg import TestDatabase, start_test_database
from tests._stack import Stack, start_stack
from tests.functions._helpers import error_of, post, room_body

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def own() -> Iterator[tuple[TestDatabase, Stack]]:
    db = start_test_database()
    try:
        stack = start_stack(db)
        try:
            yield db, stack
        finally:
            stack.stop()
    finally:
        db.close()


def _until_served(stack: Stack, token: str) -> httpx.Response:
    # Recovery has no event to wait on from outside the process: poll, boundedly.
    response = post(stack, "rooms-create", room_body(), token=token)
    for _ in range(300):
        if response.status_code != 503:
            break
        time.sleep(0.1)
        response = post(stack, "rooms-create", room_body(), token=token)
    return response


def test_database_outage_is_503_and_the_service_recovers(
    own: tuple[TestDatabase, Stack],
) -> None:
    db, stack = own
    assert db.cluster is not None
    token = stack.access_token()
    assert post(stack, "rooms-create", room_body(), token=token).status_code == 200

    db.cluster.stop()
    try:
        for _ in range(3):  # the first on a dead connection, the next while it is known down
            response = post(stack, "rooms-create", room_body(), token=token)
            error = error_of(response, 503, "WH503")
            assert int(response.headers["retry-after"]) >= 1
            assert "Traceback" not in response.text and error["message"]
        health = httpx.get(f"{stack.url}/health")
        assert health.status_code == 503 and health.json()["database"] is False
    finally:
        db.cluster.start()

    response = _until_served(stack, token)
    assert response.status_code == 200, response.text
    assert httpx.get(f"{stack.url}/health").json()["database"] is True
    with db.connect() as conn:
        row = conn.execute(
            "select count(*) as n from rooms where host_user_id = %s",
            (response.json()["data"]["room"]["host_user_id"],),
        ).fetchone()
    assert row == {"n": 2}  # the one before the outage and the one after: none during it


def test_gateway_restart_keeps_serving(own: tuple[TestDatabase, Stack]) -> None:
    _, stack = own
    stack.restart()
    response = post(stack, "rooms-list-public", {})
    assert response.status_code == 200, response.text


def test_a_restart_between_calls_costs_no_request(own: tuple[TestDatabase, Stack]) -> None:
    db, stack = own
    assert db.cluster is not None
    token = stack.access_token()
    for _ in range(3):  # several pooled connections in use
        assert post(stack, "rooms-create", room_body(), token=token).status_code == 200
    db.cluster.stop()
    db.cluster.start()
    # The pooled connections died while idle: they are skipped, not failed on.
    response = post(stack, "rooms-create", room_body(), token=token)
    assert response.status_code == 200, response.text
    signup = httpx.post(f"{stack.url}/auth/v1/signup", headers={"apikey": stack.anon_key}, json={})
    assert signup.status_code == 200, signup.text
