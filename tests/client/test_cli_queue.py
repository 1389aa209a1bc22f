"""``watchium queue ...`` against the real gateway: the host edits and moves through the queue,
a member lists it and is refused edits."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import Result

from tests._pg import TestDatabase
from tests.client.test_cli import create, invoke, ok
from watchium_stack.harness import Stack


def moved_on(database: TestDatabase, result: Result) -> str:
    """The output of a command that moved the room; the host's playback budget (2 changes a
    second, tests/sql/test_playback.py) is given back, as these follow each other at once."""
    with database.connect() as conn:
        conn.execute("delete from watchium.rate_limit_buckets where action = 'sync_control'")
    return ok(result).output


def test_queue_commands(stack: Stack, database: TestDatabase, tmp_path: Path) -> None:
    host, fan = tmp_path / "host", tmp_path / "fan"
    room_id = create(stack, host, "Frieren night")["room"]["room_id"]
    ok(invoke(stack, fan, "rooms", "join", room_id, "-u", "fan"))
    for episode in (1, 2, 3):
        added = ok(
            invoke(
                stack, host, "queue", "add", room_id, "-e", str(episode),
                "--video-url", f"https://example.com/frieren/{episode:02d}.mkv",
                "--duration", "1440", "--title", f"Episode {episode}",
            )
        ).output  # fmt: skip
        assert f"added episode {episode}" in added

    refused = invoke(stack, fan, "queue", "add", room_id, "-e", "4", "--video-url",
                     "https://example.com/04.mkv", "--duration", "1440")  # fmt: skip
    assert refused.exit_code == 1 and "only the host or a co-host can change the queue" in (
        refused.output
    )

    moved = ok(invoke(stack, host, "queue", "move", room_id, "3", "--after", "1")).output
    assert moved.index("Episode 3") < moved.index("Episode 2")
    assert "episode 1" in moved_on(database, invoke(stack, host, "queue", "next", room_id))
    assert "episode 3" in moved_on(database, invoke(stack, host, "queue", "next", room_id))
    assert "episode 1" in moved_on(database, invoke(stack, host, "queue", "previous", room_id))
    assert "episode 2" in moved_on(database, invoke(stack, host, "queue", "play", room_id, "3"))
    ok(invoke(stack, host, "queue", "auto", room_id, "on"))
    ok(invoke(stack, host, "queue", "remove", room_id, "1"))

    listed = json.loads(ok(invoke(stack, fan, "queue", "list", room_id, "--json")).stdout)
    assert [e["episode_number"] for e in listed["entries"]] == [3, 2]
    assert listed["auto_advance"] is True
    assert listed["current_entry_id"] == listed["entries"][1]["id"]
    table = ok(invoke(stack, fan, "queue", "list", room_id)).output
    assert "auto-advance on" in table and "▶" in table
    last = invoke(stack, host, "queue", "next", room_id)
    assert last.exit_code == 1 and "has no next episode" in last.output
