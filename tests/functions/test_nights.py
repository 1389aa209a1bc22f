"""Skip together and the ready check over HTTP: answers, the request models' refusals, and our
codes with their statuses (the SQL rules themselves: tests/sql/test_skip.py and
tests/sql/test_ready_check.py)."""

from __future__ import annotations

import uuid
from typing import Any

from tests._pg import TestDatabase, new_user
from tests._stack import Stack
from tests.functions._helpers import create_room, error_of, join_room, one, post
from watchium_wire import ReadyCheck, ReadyCheckStartResult, RoomSnapshot, RoomsSkipResult

MARKS = {"opening_start": 0, "opening_end": 90, "ending_start": 1300, "ending_end": 1390}


def fresh_playback_budget(database: TestDatabase, host: str) -> None:
    """Forget ``host``'s playback changes so far (2 a second): each step below makes one."""
    with database.connect() as conn:
        conn.execute(
            "delete from watchium.rate_limit_buckets "
            "where action = 'sync_control' and subject = %s",
            (host,),
        )


def ok(stack: Stack, name: str, body: dict[str, Any], token: str) -> Any:
    response = post(stack, name, body, token=token)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def room_marks(database: TestDatabase, room_id: str) -> dict[str, Any] | None:
    return one(
        database,
        "select opening_start, opening_end, ending_start, ending_end from rooms where room_id = %s",
        (room_id,),
    )


def test_skip_together_over_http(stack: Stack, database: TestDatabase) -> None:
    host_id = new_user()
    host, viewer = stack.access_token(host_id), stack.access_token()
    room_id = create_room(stack, host)["room"]["room_id"]
    join_room(stack, viewer, room_id)
    unmarked = room_marks(database, room_id)

    for bad in (
        {"opening_start": 10},
        {"ending_end": 1390},
        {"opening_start": 90, "opening_end": 90},
        {"ending_start": 1390, "ending_end": 1300},
        {"opening_start": -1, "opening_end": 90},
    ):
        error_of(
            post(stack, "rooms-set-skips", {"room_id": room_id, **bad}, token=host), 400, "WR400"
        )
    error_of(
        post(stack, "rooms-set-skips", {"room_id": room_id, **MARKS}, token=viewer), 403, "WRH03"
    )
    error_of(post(stack, "rooms-set-skips", {"room_id": room_id, **MARKS}), 401, "WR401")
    assert room_marks(database, room_id) == unmarked

    room = RoomSnapshot.model_validate(
        ok(stack, "rooms-set-skips", {"room_id": room_id, **MARKS}, host)
    )
    assert (room.opening_start, room.opening_end, room.ending_start, room.ending_end) == (
        0,
        90,
        1300,
        1390,
    )

    skip = {"room_id": room_id}
    error_of(post(stack, "rooms-skip", {**skip, "segment": "middle"}, token=host), 400, "WR400")
    error_of(post(stack, "rooms-skip", skip, token=viewer), 403, "WRH03")
    fresh_playback_budget(database, host_id)
    # Paused at 0: in the opening.
    skipped = RoomsSkipResult.model_validate(ok(stack, "rooms-skip", skip, host))
    assert (skipped.skipped, skipped.to, skipped.current_playback_time) == ("opening", 90, 90)
    # At 90: in no segment.
    error_of(post(stack, "rooms-skip", skip, token=host), 409, "WR409")
    fresh_playback_budget(database, host_id)
    ending = RoomsSkipResult.model_validate(
        ok(stack, "rooms-skip", {**skip, "segment": "ending"}, host)
    )
    assert (ending.skipped, ending.to, ending.is_playing) == ("ending", 1390, False)


def test_the_ready_check_over_http(stack: Stack, database: TestDatabase) -> None:
    host_id = new_user()
    host, viewer, outsider = stack.access_token(host_id), stack.access_token(), stack.access_token()
    room_id = create_room(stack, host)["room"]["room_id"]
    viewer_id = join_room(stack, viewer, room_id)["member"]["user_id"]
    entry = ok(
        stack,
        "queue-add",
        {
            "room_id": room_id,
            "episode_number": 2,
            "video_url": "https://example.com/02.mkv",
            "duration": 1440,
            **MARKS,
        },
        host,
    )["entry"]

    start = {"room_id": room_id}
    for bad in ({"timeout": 3}, {"timeout": 301}, {"to": "entry"}, {"to": "later"}):
        error_of(post(stack, "ready-check-start", {**start, **bad}, token=host), 400, "WR400")
    error_of(post(stack, "ready-check-start", start, token=viewer), 403, "WRH03")
    assert one(database, "select 1 from ready_checks where room_id = %s", (room_id,)) is None

    fresh_playback_budget(database, host_id)
    opened = ReadyCheckStartResult.model_validate(
        ok(stack, "ready-check-start", {**start, "to": "next", "timeout": 60}, host)
    )
    check = opened.check
    assert opened.room.current_entry_id == entry["id"] and opened.room.opening_end == 90
    assert (check.status, check.entry_id, check.expected_count) == ("open", entry["id"], 2)
    error_of(post(stack, "ready-check-start", start, token=host), 409, "WR409")

    answer = {"room_id": room_id, "check_id": check.check_id}
    error_of(post(stack, "ready-check-respond", answer, token=outsider), 403, "WRM03")
    error_of(post(stack, "ready-check-settle", answer, token=outsider), 403, "WRM03")
    error_of(
        post(stack, "ready-check-settle", {**answer, "cancel": True}, token=viewer), 403, "WRH03"
    )
    stale = {**answer, "check_id": str(uuid.uuid4())}
    error_of(post(stack, "ready-check-respond", stale, token=viewer), 409, "WR409")
    error_of(
        post(stack, "ready-check-respond", {**answer, "ready": "maybe"}, token=viewer), 400, "WR400"
    )

    first = ReadyCheck.model_validate(ok(stack, "ready-check-respond", answer, host))
    assert first.status == "open" and first.held >= 0
    fresh_playback_budget(database, host_id)
    last = ReadyCheck.model_validate(ok(stack, "ready-check-respond", answer, viewer))
    assert last.status == "passed" and last.ready_user_ids == sorted([host_id, viewer_id])
    assert last.ready_count == 2
    started = one(database, "select is_playing from rooms where room_id = %s", (room_id,))
    assert started == {"is_playing": True}
    settled = ReadyCheck.model_validate(ok(stack, "ready-check-settle", answer, viewer))
    assert settled.status == "passed"

    # A new check (this episode: the room pauses), cancelled by the host.
    fresh_playback_budget(database, host_id)
    again = ReadyCheckStartResult.model_validate(ok(stack, "ready-check-start", start, host))
    assert again.room.is_playing is False and again.check.check_id != check.check_id
    error_of(post(stack, "ready-check-respond", answer, token=viewer), 409, "WR409")
    cancel = {"room_id": room_id, "check_id": again.check.check_id, "cancel": True}
    cancelled = ReadyCheck.model_validate(ok(stack, "ready-check-settle", cancel, host))
    assert cancelled.status == "cancelled"
    assert one(database, "select is_playing from rooms where room_id = %s", (room_id,)) == {
        "is_playing": False
    }
