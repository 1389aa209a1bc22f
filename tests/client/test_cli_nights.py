"""``watchium skip|skips|ready`` and ``queue add --opening/--ending`` against the real gateway:
the host marks and skips the opening, runs ready checks to their end; a member answers them and
is refused the controls with the code to look up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests._pg import TestDatabase
from tests.client.test_cli import create, invoke, ok
from tests.client.test_cli_queue import moved_on
from watchium_stack.harness import Stack


def playback_budget_back(database: TestDatabase) -> None:
    """The host's playback budget (2 changes a second) whole again: these commands follow each
    other at once, and skipping, pausing for a check and starting the room each spend from it."""
    with database.connect() as conn:
        conn.execute("delete from watchium.rate_limit_buckets where action = 'sync_control'")


def night(stack: Stack, tmp_path: Path) -> tuple[Path, Path, str]:
    """A room hosted by ``hana`` with ``fan`` in it: the two config directories and the room."""
    host, fan = tmp_path / "host", tmp_path / "fan"
    room_id = create(stack, host, "Frieren night", "--username", "hana")["room"]["room_id"]
    ok(invoke(stack, fan, "rooms", "join", room_id, "-u", "fan"))
    return host, fan, room_id


def latest_check(stack: Stack, home: Path, room_id: str) -> dict[str, Any]:
    listed = json.loads(ok(invoke(stack, home, "queue", "list", room_id, "--json")).stdout)
    check: dict[str, Any] = listed["ready_check"]
    return check


def test_marks_from_the_queue_and_skipping_together(
    stack: Stack, database: TestDatabase, tmp_path: Path
) -> None:
    host, fan, room_id = night(stack, tmp_path)
    add = ("queue", "add", room_id, "-e", "1", "--video-url", "https://example.com/01.mkv",
           "--duration", "1440")  # fmt: skip

    backwards = invoke(stack, host, *add, "--opening", "3:00-1:30")
    assert backwards.exit_code == 1 and "--opening 3:00-1:30: the end must come after" in (
        backwards.output
    )
    garbled = invoke(stack, host, *add, "--ending", "21:00")
    assert garbled.exit_code == 1 and "give START-END, in seconds or m:ss" in garbled.output
    not_a_time = invoke(stack, host, *add, "--opening", "1:75-2:00")
    assert not_a_time.exit_code == 1 and "'1:75' is not a position" in not_a_time.output
    too_long = invoke(stack, host, *add, "--ending", "1400-1500")
    assert too_long.exit_code == 1 and "the ending ends after the episode" in too_long.output

    added = ok(invoke(stack, host, *add, "--opening", "1:30-3:00", "--ending", "1290-1380")).output
    assert "added episode 1" in added and "opening 1:30.0-3:00.0" in added
    assert "ending 21:30.0-23:00.0" in added
    entry = json.loads(ok(invoke(stack, fan, "queue", "list", room_id, "--json")).stdout)
    assert entry["entries"][0]["opening_start"] == 90 and entry["entries"][0]["ending_end"] == 1380
    assert "1:30.0-3:00.0" in ok(invoke(stack, fan, "queue", "list", room_id)).output

    # The room takes the entry's marks when it moves to it.
    moved_on(database, invoke(stack, host, "queue", "next", room_id))
    shown = ok(invoke(stack, fan, "skips", room_id)).output
    assert "opening 1:30.0-3:00.0" in shown and "ending  21:30.0-23:00.0" in shown

    # A member may look, not mark or skip; the refusal names the code to look up.
    refused = invoke(stack, fan, "skip", room_id, "opening")
    assert refused.exit_code == 1
    assert f"only the host or a co-host of room {room_id} can skip for the room [WRH03]" in (
        refused.output
    )
    assert "the host of room" in refused.output and "hana" in refused.output
    refused = invoke(stack, fan, "skips", room_id, "--opening", "0-10")
    assert refused.exit_code == 1 and "[WRH03]" in refused.output

    playback_budget_back(database)
    skipped = ok(invoke(stack, host, "skip", room_id, "opening")).output
    assert f"skipped the opening of room {room_id}: at 3:00.0 (paused)" in skipped
    # At the opening's end the room is in neither segment: say how to name one.
    playback_budget_back(database)
    nowhere = invoke(stack, host, "skip", room_id)
    assert nowhere.exit_code == 1 and "is not in its opening or ending" in nowhere.output
    assert "[WR409]" in nowhere.output and f"watchium skip {room_id} opening" in nowhere.output

    # A mark given alone keeps the other; --clear drops the ones not given.
    kept = json.loads(
        ok(invoke(stack, host, "skips", room_id, "--ending", "21:00-22:00", "--json")).stdout
    )
    assert (kept["opening_start"], kept["opening_end"]) == (90, 180)
    assert (kept["ending_start"], kept["ending_end"]) == (1260, 1320)
    cleared = ok(invoke(stack, host, "skips", room_id, "--opening", "1:00-2:00", "--clear")).output
    assert "opening 1:00.0-2:00.0" in cleared and "ending  -" in cleared
    assert "opening -" in ok(invoke(stack, host, "skips", room_id, "--clear")).output
    # The queue entry keeps what was marked last, for the next time the room plays it.
    entry = json.loads(ok(invoke(stack, fan, "queue", "list", room_id, "--json")).stdout)
    assert entry["entries"][0]["opening_start"] is None


def test_a_ready_check_a_member_answers(
    stack: Stack, database: TestDatabase, tmp_path: Path
) -> None:
    host, fan, room_id = night(stack, tmp_path)
    nothing = invoke(stack, fan, "ready", room_id, "--answer")
    assert nothing.exit_code == 1 and f"room {room_id} has no ready check open" in nothing.output
    refused = invoke(stack, fan, "ready", room_id, "--no-wait")
    assert refused.exit_code == 1
    assert f"only the host or a co-host of room {room_id} can start a ready check [WRH03]" in (
        refused.output
    )
    for wrong, says in (
        (("--timeout", "2"), "--timeout 2: give 5 to 300 seconds"),
        (("--answer", "--cancel"), "--answer and --cancel do not go together"),
        (("--cancel", "--next"), "--cancel acts on the open check"),
        (("--next", "--entry", "1"), "--next and --entry both say where to go"),
    ):
        result = invoke(stack, host, "ready", room_id, *wrong)
        assert result.exit_code == 1 and says in result.output, result.output

    opened = ok(invoke(stack, host, "ready", room_id, "--no-wait")).output
    assert f"ready check open in room {room_id}" in opened
    assert f"watchium ready {room_id} --answer" in opened
    # The host who started it counts as ready.
    check = latest_check(stack, fan, room_id)
    assert (check["status"], check["ready_count"], check["expected_count"]) == ("open", 1, 2)
    again = invoke(stack, host, "ready", room_id, "--no-wait")
    assert again.exit_code == 1 and "already has a ready check open" in again.output

    playback_budget_back(database)
    answered = ok(invoke(stack, fan, "ready", room_id, "--answer")).output
    assert f"you are ready (2/2 ready in room {room_id})" in answered
    assert "everyone is ready" in answered and "starts now" in answered
    assert latest_check(stack, host, room_id)["status"] == "passed"
    room = json.loads(ok(invoke(stack, fan, "skips", room_id, "--json")).stdout)
    assert room["is_playing"] is True

    # A check the host starts without counting in, a member not ready yet, then cancelled.
    playback_budget_back(database)
    ok(invoke(stack, host, "ready", room_id, "--no-wait", "--not"))
    not_yet = ok(invoke(stack, fan, "ready", room_id, "--answer", "--not")).output
    assert f"you are not ready yet (0/2 ready in room {room_id})" in not_yet
    refused = invoke(stack, fan, "ready", room_id, "--cancel")
    assert refused.exit_code == 1 and "can cancel a ready check [WRH03]" in refused.output
    cancelled = json.loads(ok(invoke(stack, host, "ready", room_id, "--cancel", "--json")).stdout)
    assert cancelled["status"] == "cancelled"
    gone = invoke(stack, host, "ready", room_id, "--cancel")
    assert gone.exit_code == 1 and "has no ready check open" in gone.output


def test_a_followed_ready_check_runs_out(
    stack: Stack, database: TestDatabase, tmp_path: Path
) -> None:
    host, _fan, room_id = night(stack, tmp_path)
    playback_budget_back(database)
    # The fan never answers: the host's command follows the check until its deadline and
    # settles it there, which starts the room with whoever is ready.
    followed = ok(invoke(stack, host, "ready", room_id, "--timeout", "5")).output
    assert "waiting for: fan" in followed
    assert f"time is up (1/2 ready): room {room_id} starts now" in followed
    check = latest_check(stack, host, room_id)
    assert (check["status"], check["ready_count"]) == ("timed_out", 1)
