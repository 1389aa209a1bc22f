"""Every rule the functions pass on from the database: status, code, and nothing written."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tests._pg import TestDatabase
from tests._stack import Stack
from tests._supabase_cli import over_both_databases
from tests.functions._helpers import (
    count,
    create_room,
    error_of,
    invoke,
    join_room,
    one,
    post,
    refused,
    room_body,
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Also against the database `supabase db push` migrated.
    over_both_databases(metafunc)


async def test_a_wrong_key_is_404_like_a_missing_room_counted_and_writes_nothing(
    stack: Stack, database: TestDatabase
) -> None:
    async with stack.client() as host, stack.client() as guesser:
        created = await invoke(host, "rooms-create", room_body(is_public=False))
        room_id, key = created["room"]["room_id"], created["access_key"]
        guesser_id = (await guesser.auth.get_user()).user.id
        wrong = f"{(int(key) + 1) % 1_000_000:06d}"

        answers = []
        for body in (
            {"room_id": room_id, "username": "g", "access_key": wrong},
            {"room_id": room_id, "username": "g"},
            {"room_id": "zzzzzzzzzz", "username": "g"},
        ):
            error = await refused(guesser, "rooms-join", body)
            answers.append((error.status, error.message["code"]))
        assert answers == [(404, "WR404")] * 3

    assert count(database, "room_members", "room_id = %s", (room_id,)) == 1
    # Each refusal was counted (the database committed it), for the user and for the address.
    assert (
        count(
            database,
            "watchium.rate_limit_buckets",
            "subject = %s and action = 'join_refused_user'",
            (guesser_id,),
        )
        == 1
    )
    assert (
        count(
            database,
            "watchium.rate_limit_buckets",
            "subject = 'address:127.0.0.1' and action = 'join_refused_address'",
        )
        == 1
    )


def test_private_room_without_key_is_404(stack: Stack, database: TestDatabase) -> None:
    room = create_room(stack, stack.access_token(), is_public=False)
    room_id = room["room"]["room_id"]
    response = post(
        stack, "rooms-join", {"room_id": room_id, "username": "v"}, token=stack.access_token()
    )
    error_of(response, 404, "WR404")
    assert count(database, "room_members", "room_id = %s", (room_id,)) == 1


def test_non_host_control_is_403_and_changes_nothing(stack: Stack, database: TestDatabase) -> None:
    room_id = create_room(stack, stack.access_token())["room"]["room_id"]
    member = stack.access_token()
    join_room(stack, member, room_id)
    before = one(database, "select * from rooms where room_id = %s", (room_id,))
    response = post(stack, "sync-control", {"room_id": room_id, "action": "play"}, token=member)
    error = error_of(response, 403, "WRH03")
    assert error["hint"].startswith("the host of room")
    assert one(database, "select * from rooms where room_id = %s", (room_id,)) == before
    assert (
        count(
            database, "sync_states", "room_id = %s and sync_event_type = 'play_pause'", (room_id,)
        )
        == 0
    )


def test_non_host_delete_is_403(stack: Stack, database: TestDatabase) -> None:
    room_id = create_room(stack, stack.access_token())["room"]["room_id"]
    member = stack.access_token()
    join_room(stack, member, room_id)
    error_of(post(stack, "rooms-delete", {"room_id": room_id}, token=member), 403, "WRH03")
    assert count(database, "rooms", "room_id = %s", (room_id,)) == 1


def test_acting_as_someone_else_is_403(stack: Stack, database: TestDatabase) -> None:
    before = count(database, "rooms")
    response = post(
        stack, "rooms-create", room_body(host_user_id="someone-else"), token=stack.access_token()
    )
    error_of(response, 403, "WR403")
    assert count(database, "rooms") == before


def test_anon_cannot_create_a_room(stack: Stack, database: TestDatabase) -> None:
    before = count(database, "rooms")
    error_of(post(stack, "rooms-create", room_body()), 401, "WR401")
    assert count(database, "rooms") == before


def test_an_anonymous_call_acting_for_someone_is_told_to_sign_in_first(
    stack: Stack, database: TestDatabase
) -> None:
    before = count(database, "rooms")
    error = error_of(post(stack, "rooms-create", room_body(host_user_id="someone")), 401, "WR401")
    assert "sign" in error["message"]
    assert count(database, "rooms") == before


def test_missing_room_is_404(stack: Stack) -> None:
    for name, body in [
        ("rooms-join", {"room_id": "zzzzzzzzzz", "username": "v"}),
        ("sync-get-host-time", {"room_id": "zzzzzzzzzz"}),
        ("members-get-list", {"room_id": "zzzzzzzzzz"}),
        ("sync-control", {"room_id": "zzzzzzzzzz", "action": "pause"}),
    ]:
        error_of(post(stack, name, body, token=stack.access_token()), 404, "WR404")


def test_private_room_is_404_to_outsiders(stack: Stack) -> None:
    room_id = create_room(stack, stack.access_token(), is_public=False)["room"]["room_id"]
    error_of(
        post(stack, "members-get-list", {"room_id": room_id}, token=stack.access_token()),
        404,
        "WR404",
    )


def test_commenting_in_a_room_needs_membership(stack: Stack, database: TestDatabase) -> None:
    room = create_room(stack, stack.access_token())
    room_id, anime_id = room["room"]["room_id"], room["room"]["anime_id"]
    body = {
        "anime_id": anime_id,
        "room_id": room_id,
        "episode_number": 1,
        "username": "x",
        "message": "hi",
    }
    error_of(post(stack, "comments-create", body, token=stack.access_token()), 403, "WRM03")
    assert count(database, "comments", "room_id = %s and not is_system_message", (room_id,)) == 0


def test_reply_to_a_missing_comment_is_404_and_across_threads_409(
    stack: Stack, database: TestDatabase
) -> None:
    user = stack.access_token()
    anime = f"anime-{uuid.uuid4().hex[:8]}"
    body = {"anime_id": anime, "episode_number": 1, "username": "x", "message": "hi"}
    error_of(
        post(stack, "comments-create", {**body, "parent_id": str(uuid.uuid4())}, token=user),
        404,
        "WRC04",
    )
    parent = post(stack, "comments-create", body, token=user).json()["data"]
    other = {**body, "episode_number": 2, "parent_id": parent["id"]}
    error_of(post(stack, "comments-create", other, token=user), 409, "WR409")
    assert count(database, "comments", "anime_id = %s and not is_system_message", (anime,)) == 1


def test_oversize_message_is_413_and_not_stored(stack: Stack, database: TestDatabase) -> None:
    anime = f"anime-{uuid.uuid4().hex[:8]}"
    body = {"anime_id": anime, "episode_number": 1, "username": "x", "message": "a" * 1001}
    error = error_of(post(stack, "comments-create", body, token=stack.access_token()), 413, "WR413")
    assert error["details"]["fields"][0]["field"] == "message"
    assert count(database, "comments", "anime_id = %s", (anime,)) == 0
    # 1000 characters is fine
    ok = post(stack, "comments-create", {**body, "message": "a" * 1000}, token=stack.access_token())
    assert ok.status_code == 200, ok.text


def test_a_rule_only_the_database_knows_is_400(stack: Stack, database: TestDatabase) -> None:
    # The model cannot know the room's anime: the database refuses a mismatch (WR400).
    room = create_room(stack, stack.access_token())
    member = stack.access_token()
    join_room(stack, member, room["room"]["room_id"])
    body = {
        "anime_id": "another-anime",
        "room_id": room["room"]["room_id"],
        "episode_number": 1,
        "username": "x",
        "message": "hi",
    }
    error = error_of(post(stack, "comments-create", body, token=member), 400, "WR400")
    assert "does not match" in error["message"]
    assert count(database, "comments", "anime_id = 'another-anime'") == 0


def test_leaving_a_room_you_are_not_in_is_403(stack: Stack) -> None:
    room_id = create_room(stack, stack.access_token())["room"]["room_id"]
    error_of(
        post(stack, "rooms-leave", {"room_id": room_id}, token=stack.access_token()), 403, "WRM03"
    )


@pytest.mark.parametrize(
    ("at", "status"),
    [
        # An offset PostgreSQL refuses (beyond 15:59) is the same instant in UTC: accepted.
        (lambda now: now.astimezone(timezone(timedelta(hours=20))).isoformat(), 200),
        # An instant that leaves the calendar in UTC.
        (lambda now: "9999-12-31T23:59:59-15:00", 400),
    ],
)
def test_reference_times_in_any_offset(stack: Stack, at: Any, status: int) -> None:
    host = stack.access_token()
    room_id = create_room(stack, host)["room"]["room_id"]
    body = {"room_id": room_id, "action": "pause", "current_time": 1.0}
    response = post(stack, "sync-control", {**body, "at": at(datetime.now(UTC))}, token=host)
    if status == 200:
        assert response.status_code == 200, response.text
    else:
        error_of(response, 400, "WR400")
