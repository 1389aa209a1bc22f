"""Every rate limit through HTTP: 429, the code, Retry-After, and nothing written by the refusal."""

from __future__ import annotations

import math
from typing import Any

import httpx

from tests._pg import TestDatabase
from tests._stack import Stack
from tests.functions._helpers import (
    count,
    create_room,
    error_of,
    join_room,
    one,
    post,
    room_body,
)


def _retry_after(response: httpx.Response, error: dict[str, Any]) -> None:
    retry = int(response.headers["retry-after"])
    assert retry >= 1
    assert retry == max(1, math.ceil(error["details"]["retry_after"]))


def test_room_creation_is_limited_to_10_per_hour(stack: Stack, database: TestDatabase) -> None:
    user = stack.access_token()
    for _ in range(10):
        create_room(stack, user)
    response = post(stack, "rooms-create", room_body(title="one too many"), token=user)
    error = error_of(response, 429, "WR429")
    assert error["details"]["action"] == "room_creation"
    _retry_after(response, error)
    assert count(database, "rooms", "title = 'one too many'") == 0


def test_sync_control_is_limited_to_2_per_second(stack: Stack, database: TestDatabase) -> None:
    host = stack.access_token()
    room_id = create_room(stack, host)["room"]["room_id"]
    last_ok: bool | None = None
    refusal: httpx.Response | None = None
    # Alternate play/pause until refused; the burst is 2, so the third change comes back 429
    # unless calls are slower than the refill (then a few more attempts get there).
    for attempt in range(12):
        playing = attempt % 2 == 0
        response = post(
            stack,
            "sync-control",
            {"room_id": room_id, "action": "play" if playing else "pause"},
            token=host,
        )
        if response.status_code == 429:
            refusal = response
            break
        assert response.status_code == 200, response.text
        last_ok = playing
    assert refusal is not None, "sync-control was never rate limited"
    error = error_of(refusal, 429, "WR429")
    assert error["details"]["action"] == "sync_control"
    _retry_after(refusal, error)
    # The refused change was not applied.
    row = one(database, "select is_playing from rooms where room_id = %s", (room_id,))
    assert row == {"is_playing": last_ok}


def test_comments_are_limited_to_5_per_minute(stack: Stack, database: TestDatabase) -> None:
    user = stack.access_token()
    anime = "rate-limited-anime"
    body = {"anime_id": anime, "episode_number": 1, "username": "x", "message": "hi"}
    for _ in range(5):
        assert post(stack, "comments-create", body, token=user).status_code == 200
    response = post(stack, "comments-create", {**body, "message": "sixth"}, token=user)
    error = error_of(response, 429, "WR429")
    assert error["details"]["action"] == "comments"
    _retry_after(response, error)
    assert count(database, "comments", "message = 'sixth'") == 0


def test_room_management_is_limited_to_20_per_hour(stack: Stack, database: TestDatabase) -> None:
    hosts = [stack.access_token() for _ in range(3)]
    rooms = [create_room(stack, hosts[i // 10])["room"]["room_id"] for i in range(21)]
    joiner = stack.access_token()
    for room_id in rooms[:20]:
        join_room(stack, joiner, room_id)
    response = post(stack, "rooms-join", {"room_id": rooms[20], "username": "v"}, token=joiner)
    error = error_of(response, 429, "WR429")
    assert error["details"]["action"] == "room_management"
    _retry_after(response, error)
    assert count(database, "room_members", "room_id = %s", (rooms[20],)) == 1


def test_wrong_keys_pause_the_guesser(stack: Stack, database: TestDatabase) -> None:
    room = create_room(stack, stack.access_token(), is_public=False)
    room_id, key = room["room"]["room_id"], room["access_key"]
    guesser = stack.access_token()
    wrong = f"{(int(key) + 1) % 1_000_000:06d}"
    for _ in range(5):
        response = post(
            stack,
            "rooms-join",
            {"room_id": room_id, "username": "g", "access_key": wrong},
            token=guesser,
        )
        error_of(response, 404, "WR404")
    # Now even the right key is not checked: the answer says nothing about the key.
    response = post(
        stack, "rooms-join", {"room_id": room_id, "username": "g", "access_key": key}, token=guesser
    )
    error = error_of(response, 429, "WRL29")
    _retry_after(response, error)
    assert count(database, "room_members", "room_id = %s", (room_id,)) == 1
    # The room's door is not locked: another user with the key gets in.
    response = post(
        stack,
        "rooms-join",
        {"room_id": room_id, "username": "m", "access_key": key},
        token=stack.access_token(),
    )
    assert response.status_code == 200
