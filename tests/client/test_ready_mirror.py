"""The session's picture of the ready check: rows, answers and fetches that cross keep the
newest version of the newest check, and a check that ended never reopens."""

from __future__ import annotations

from typing import Any

from watchium_client import ReadyCheckChanged
from watchium_client.session._mirror import RoomMirror
from watchium_wire import ReadyCheck

ROOM = "k3m9x2p7qa"


def check(check_id: str, *, started: int, published: int, **fields: Any) -> ReadyCheck:
    values: dict[str, Any] = {
        "room_id": ROOM,
        "check_id": check_id,
        "status": "open",
        "started_by": "host",
        "started_at": f"2026-01-01T00:00:{started:02d}+00:00",
        "deadline": "2026-01-01T00:01:00+00:00",
        "ready_user_ids": [],
        "ready_count": 0,
        "expected_count": 3,
        "published_at": f"2026-01-01T00:00:{published:02d}+00:00",
    }
    values.update(fields)
    return ReadyCheck.model_validate(values)


def test_a_later_version_of_the_check_is_taken_an_earlier_one_is_not() -> None:
    mirror = RoomMirror(ROOM, "me")
    [opened] = mirror.ready_check_row(check("a", started=1, published=1), "rpc")
    assert isinstance(opened, ReadyCheckChanged) and opened.check.ready_count == 0
    filled = check("a", started=1, published=3, ready_user_ids=["x", "y"], ready_count=2)
    [changed] = mirror.ready_check_row(filled, "realtime")
    assert isinstance(changed, ReadyCheckChanged) and changed.check.ready_count == 2
    # An answer read before that row (published at 2) arrives late: ignored.
    late = check("a", started=1, published=2, ready_user_ids=["x"], ready_count=1)
    assert mirror.ready_check_row(late, "rpc") == []
    assert mirror.ready_check is not None and mirror.ready_check.ready_count == 2


def test_a_check_that_ended_does_not_reopen_and_an_older_check_is_ignored() -> None:
    mirror = RoomMirror(ROOM, "me")
    mirror.ready_check_row(
        check("a", started=1, published=5, status="passed", settled_at="2026-01-01T00:00:05Z"),
        "realtime",
    )
    assert mirror.ready_check_row(check("a", started=1, published=6), "rpc") == []
    assert mirror.ready_check_row(check("old", started=0, published=9), "rpc") == []
    [newer] = mirror.ready_check_row(check("b", started=7, published=7), "realtime")
    assert isinstance(newer, ReadyCheckChanged) and newer.check.check_id == "b"
    assert mirror.ready_check_row(check("b", started=7, published=7, room_id="other"), "rpc") == []
