"""The living-comments endpoints over HTTP: answers, and refusals with our codes and nothing
written (the SQL rules themselves: tests/sql/test_living_comments*.py)."""

from __future__ import annotations

import uuid
from typing import Any

from tests._pg import TestDatabase
from tests._stack import Stack
from tests.functions._helpers import count, create_room, error_of, join_room, post
from watchium_wire import ReactionResult, ReadState, ReplayWindow, RoomStats


def comment(stack: Stack, token: str, room: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {
        "anime_id": room["room"]["anime_id"],
        "episode_number": 1,
        "room_id": room["room"]["room_id"],
        "message": "look at that",
        "username": "u",
        **fields,
    }
    response = post(stack, "comments-create", body, token=token)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_replay_window_over_http(stack: Stack) -> None:
    host = stack.access_token()
    room = create_room(stack, host)
    comment(stack, host, room, message="now!", video_timestamp=42.25)
    body = {"anime_id": room["room"]["anime_id"], "episode_number": 1, "start": 30, "end": 60}
    response = post(stack, "comments-replay", body)  # no sign-in: public comments
    assert response.status_code == 200, response.text
    window = ReplayWindow.model_validate(response.json()["data"])
    assert [(c.video_timestamp, c.message) for c in window.comments] == [(42.25, "now!")]
    assert window.per_second == 4


def test_replay_refuses_bad_windows_with_400(stack: Stack) -> None:
    base = {"anime_id": "frieren", "episode_number": 1}
    error_of(post(stack, "comments-replay", {**base, "start": 10, "end": 5}), 400, "WR400")
    error_of(post(stack, "comments-replay", {**base, "start": 0, "end": 500}), 400, "WR400")
    error_of(
        post(stack, "comments-replay", {**base, "start": 0, "end": 5, "only_room": True}),
        400,
        "WR400",
    )


def test_replay_of_a_private_room_is_404_to_outsiders(stack: Stack) -> None:
    host = stack.access_token()
    room = create_room(stack, host, is_public=False)
    comment(stack, host, room, message="ours", video_timestamp=1)
    body = {
        "anime_id": room["room"]["anime_id"],
        "episode_number": 1,
        "start": 0,
        "end": 10,
        "room_id": room["room"]["room_id"],
    }
    error_of(post(stack, "comments-replay", body, token=stack.access_token()), 404, "WR404")
    del body["room_id"]
    outsider = post(stack, "comments-replay", body, token=stack.access_token())
    assert outsider.json()["data"]["comments"] == []


def test_reactions_over_http(stack: Stack, database: TestDatabase) -> None:
    host, other = stack.access_token(), stack.access_token()
    room = create_room(stack, host)
    posted = comment(stack, host, room)
    body = {"comment_id": posted["id"], "emoji": "🔥"}
    result = ReactionResult.model_validate(
        post(stack, "comments-react", body, token=other).json()["data"]
    )
    assert result.counts == {"🔥": 1} and result.changed
    error_of(post(stack, "comments-react", {**body, "emoji": "💩"}, token=other), 400, "WR400")
    error_of(post(stack, "comments-react", body), 401, "WR401")
    missing = {"comment_id": str(uuid.uuid4()), "emoji": "🔥"}
    error_of(post(stack, "comments-react", missing, token=other), 404, "WRC04")
    assert count(database, "comment_reactions", "comment_id = %s", (posted["id"],)) == 1


def test_a_reaction_on_a_private_comment_is_404_and_writes_nothing(
    stack: Stack, database: TestDatabase
) -> None:
    host = stack.access_token()
    room = create_room(stack, host, is_public=False)
    posted = comment(stack, host, room)
    body = {"comment_id": posted["id"], "emoji": "👍"}
    error_of(post(stack, "comments-react", body, token=stack.access_token()), 404, "WRC04")
    assert count(database, "comment_reactions", "comment_id = %s", (posted["id"],)) == 0


def test_read_state_over_http(stack: Stack) -> None:
    host, member = stack.access_token(), stack.access_token()
    room = create_room(stack, host)
    join_room(stack, member, room["room"]["room_id"])
    thread = {
        "anime_id": room["room"]["anime_id"],
        "episode_number": 1,
        "room_id": room["room"]["room_id"],
    }
    comment(stack, host, room)
    marked = ReadState.model_validate(
        post(stack, "comments-mark-read", thread, token=member).json()["data"]
    )
    assert marked.new_count == 0
    comment(stack, host, room, message="another")
    unread = ReadState.model_validate(
        post(stack, "comments-unread", thread, token=member).json()["data"]
    )
    assert unread.new_count == 1


def test_stats_for_the_host_only(stack: Stack) -> None:
    host, member = stack.access_token(), stack.access_token()
    room = create_room(stack, host)
    room_id = room["room"]["room_id"]
    join_room(stack, member, room_id)
    stats = RoomStats.model_validate(
        post(stack, "rooms-stats", {"room_id": room_id}, token=host).json()["data"]
    )
    assert stats.unique_viewers == 2 and stats.viewers_now == 2
    error_of(post(stack, "rooms-stats", {"room_id": room_id}, token=member), 403, "WRH03")
    error_of(post(stack, "rooms-stats", {"room_id": "nosuchroom"}, token=host), 404, "WR404")


def test_a_spoiler_comes_without_its_text_over_http(stack: Stack) -> None:
    host = stack.access_token()
    room = create_room(stack, host)
    comment(stack, host, room, message="the ending", video_timestamp=1200)
    body = {
        "anime_id": room["room"]["anime_id"],
        "episode_number": 1,
        "room_id": room["room"]["room_id"],
    }
    page = post(stack, "comments-get-by-episode", body, token=stack.access_token()).json()["data"]
    assert [(c["message"], c["is_spoiler"]) for c in page["comments"]] == [(None, True)]
    page = post(stack, "comments-get-by-episode", {**body, "reveal_spoilers": True}).json()["data"]
    assert page["comments"][0]["message"] == "the ending"
