"""The session's picture of the queue: Realtime rows and fetched lists that cross."""

from __future__ import annotations

from watchium_client import QueueChanged
from watchium_client.session._mirror import RoomMirror
from watchium_wire import QueueEntry

ROOM = "k3m9x2p7qa"


def entry(entry_id: str, sort_key: float, episode: int) -> QueueEntry:
    return QueueEntry(
        id=entry_id,
        room_id=ROOM,
        sort_key=sort_key,
        anime_id="frieren",
        anime_title="Frieren",
        episode_number=episode,
        video_url=f"https://example.com/{episode:02d}.mkv",
        duration=1440,
        added_by="host",
        created_at="2026-01-01T00:00:00+00:00",
    )


def test_rows_keep_the_order_and_report_real_changes() -> None:
    mirror = RoomMirror(ROOM, "me")
    [added] = mirror.queue_row(entry("b", 2, 2), now=1.0)
    assert isinstance(added, QueueChanged) and [e.id for e in added.entries] == ["b"]
    mirror.queue_row(entry("a", 1, 1), now=1.0)
    assert [e.id for e in mirror.queue_entries()] == ["a", "b"]
    assert mirror.queue_row(entry("a", 1, 1), now=2.0) == []  # the same row again
    [moved] = mirror.queue_row(entry("a", 3, 1), now=2.0)
    assert isinstance(moved, QueueChanged) and [e.id for e in moved.entries] == ["b", "a"]
    assert mirror.queue_row(entry("x", 1, 1).model_copy(update={"room_id": "other"}), now=2.0) == []
    [removed] = mirror.queue_row_deleted("b")
    assert isinstance(removed, QueueChanged) and [e.id for e in removed.entries] == ["a"]
    assert mirror.queue_row_deleted("b") == []


def test_a_fetched_queue_does_not_undo_a_newer_realtime_row() -> None:
    mirror = RoomMirror(ROOM, "me")
    mirror.queue_row(entry("old", 1, 1), now=1.0)
    # A fetch is sent at 5.0; meanwhile (6.0) Realtime adds "new" and moves "old".
    mirror.queue_row(entry("new", 2, 2), now=6.0)
    mirror.queue_row(entry("old", 3, 1), now=6.0)
    # The answer, read before those changes, knows "old" at its first place only.
    assert mirror.reconcile_queue([entry("old", 1, 1)], sent=5.0, now=7.0) == []
    assert [(e.id, e.sort_key) for e in mirror.queue_entries()] == [("new", 2), ("old", 3)]
    # A later fetch without "old" removes it (its last row arrived before that fetch was sent).
    [changed] = mirror.reconcile_queue([entry("new", 2, 2)], sent=8.0, now=9.0)
    assert isinstance(changed, QueueChanged) and [e.id for e in changed.entries] == ["new"]
