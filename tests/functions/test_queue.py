"""The queue endpoints over HTTP: answers, refusals with our codes and statuses, and nothing
written by a refusal (the SQL rules themselves: tests/sql/test_queue.py)."""

from __future__ import annotations

from tests._pg import TestDatabase
from tests._stack import Stack
from tests.functions._helpers import count, create_room, error_of, join_room, post
from watchium_wire import QueueEntryResult, QueueGoResult, RoomQueue

ENTRY = {"episode_number": 2, "video_url": "https://example.com/02.mkv", "duration": 1440}


def test_the_queue_over_http(stack: Stack, database: TestDatabase) -> None:
    host, viewer = stack.access_token(), stack.access_token()
    room_id = create_room(stack, host)["room"]["room_id"]
    join_room(stack, viewer, room_id)

    error_of(post(stack, "queue-add", {"room_id": room_id, **ENTRY}, token=viewer), 403, "WRH03")
    error_of(post(stack, "queue-add", {"room_id": room_id, **ENTRY}), 401, "WR401")
    bad = {"room_id": room_id, **ENTRY, "video_url": "ftp://example.com/02.mkv"}
    error_of(post(stack, "queue-add", bad, token=host), 400, "WR400")
    error_of(
        post(stack, "queue-add", {**ENTRY, "room_id": room_id, "duration": 0}, token=host),
        400,
        "WR400",
    )
    assert count(database, "room_queue", "room_id = %s", (room_id,)) == 0

    response = post(
        stack, "queue-add", {"room_id": room_id, **ENTRY, "title": "Priest"}, token=host
    )
    assert response.status_code == 200, response.text
    entry = QueueEntryResult.model_validate(response.json()["data"]).entry
    assert (entry.episode_number, entry.title, entry.anime_title) == (2, "Priest", "Frieren")

    listed = post(stack, "queue-get", {"room_id": room_id})  # no sign-in: a public room
    assert listed.status_code == 200, listed.text
    assert [e.id for e in RoomQueue.model_validate(listed.json()["data"]).entries] == [entry.id]

    moved = post(stack, "queue-go", {"room_id": room_id, "to": "next"}, token=host)
    assert moved.status_code == 200, moved.text
    room = QueueGoResult.model_validate(moved.json()["data"])
    assert room.advanced and room.current_entry_id == entry.id and room.episode_number == 2
    error_of(post(stack, "queue-go", {"room_id": room_id, "to": "next"}, token=host), 409, "WR409")
    ended = {"room_id": room_id, "to": "ended", "entry_id": entry.id}
    answer = post(stack, "queue-go", ended, token=viewer)
    assert answer.status_code == 200 and answer.json()["data"]["advanced"] is False
    error_of(post(stack, "queue-go", {"room_id": room_id, "to": "later"}, token=host), 400, "WR400")
