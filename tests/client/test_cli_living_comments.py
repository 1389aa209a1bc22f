"""``watchium stats`` and the timed comments ``watchium watch`` prints, against the real gateway
(the figures themselves are checked in tests/sql/test_living_comments_analytics.py)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from rich.console import Console

from tests.client.test_cli import VIDEO, create, invoke, ok
from watchium_client import WatchiumClient
from watchium_client.cli._stats import sparkline, stats_view
from watchium_stack.harness import Stack
from watchium_wire import RoomStats


def test_sparkline_scales_to_the_largest() -> None:
    assert sparkline([0, 4, 8]) == " ▄█"
    assert sparkline([0, 0]) == "  "
    assert sparkline([]) == ""


def test_stats_view_shows_the_figures_and_the_chart() -> None:
    stats = RoomStats.model_validate(
        {
            "room_id": "abcdefghij", "anime_id": "frieren", "episode_number": 3, "title": "Night",
            "started_at": "2026-01-01T20:00:00+00:00", "ended_at": "2026-01-01T20:30:00+00:00",
            "duration_seconds": 1800, "viewers_now": 0, "unique_viewers": 5, "stays": 6,
            "average_viewers": 3.1, "peak_viewers": 4, "peak_at": "2026-01-01T20:10:00+00:00",
            "retention": 0.6, "bounce_rate": 0.2, "comments": 6, "comments_per_minute": 0.2,
            "busiest_minute": "2026-01-01T20:12:00+00:00", "busiest_minute_comments": 3,
            "sync_samples": 10, "in_sync_share": 0.8, "median_drift": 0.55,
            "timeline": [
                {"minute": f"2026-01-01T20:{m:02d}:00+00:00", "viewers": v, "comments": c}
                for m, v, c in [(0, 2, 0), (1, 2, 1), (2, 4, 3)]
            ],
        }
    )  # fmt: skip
    console = Console(width=120, record=True, color_system=None)
    console.print(stats_view(stats))
    text = console.export_text()
    assert "peak viewers     4 at 20:10" in text
    assert "retention        60%" in text and "bounce rate      20%" in text
    assert "median drift     550 ms" in text
    chart = [line for line in text.splitlines() if " max " in line]
    viewers_row, comments_row = chart
    assert "▄▄█" in viewers_row and "max 4" in viewers_row
    assert " ▃█" in comments_row and "max 3" in comments_row


def test_stats_for_the_host_and_a_refusal_for_a_member(stack: Stack, tmp_path: Path) -> None:
    room = create(stack, tmp_path / "host", "Stats night")
    room_id = room["room"]["room_id"]
    ok(invoke(stack, tmp_path / "viewer", "rooms", "join", room_id))
    shown = ok(invoke(stack, tmp_path / "host", "stats", room_id)).stdout
    assert "unique viewers   2" in shown and "viewers now      2" in shown
    assert "viewers " in shown and "min per column" in shown
    figures = json.loads(ok(invoke(stack, tmp_path / "host", "stats", room_id, "--json")).stdout)
    assert figures["unique_viewers"] == 2 and figures["room_id"] == room_id
    refused = invoke(stack, tmp_path / "viewer", "stats", room_id)
    assert refused.exit_code == 1 and "host" in refused.output


def test_watch_prints_other_parties_comments_as_playback_reaches_them(
    stack: Stack, tmp_path: Path
) -> None:
    anime = f"cli-{uuid.uuid4().hex[:8]}"

    async def earlier_party() -> None:
        async with await WatchiumClient.connect(stack.url, stack.publishable_key) as client:
            await client.post_comment(
                anime_id=anime,
                episode_number=1,
                message="here it comes",
                username="early",
                video_timestamp=1.5,
            )

    asyncio.run(earlier_party())
    video = tmp_path / "episode.mkv"
    video.write_bytes(b"")
    result = ok(
        invoke(
            stack, tmp_path / "host", "watch", "Replay night", str(video), "--create", "--play",
            "--player", "simulated", "--anime-id", anime, "--video-url", VIDEO, "--seconds", "4",
        )
    )  # fmt: skip
    assert "0:01.5 early (another party): here it comes" in result.output
