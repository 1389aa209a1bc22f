"""``watchium stats ROOM``: a room's viewer analytics (you must host it), with a chart.

The figures come from the database (``rooms-stats``): viewers over time, comments, retention,
bounce rate and sync quality of the room's episode session (docs/COMMENTS.md, "Analytics").
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from watchium_client.cli._common import (
    JsonOption,
    KeyOption,
    UrlOption,
    out,
    resolve_target,
    run_command,
    signed_in,
)
from watchium_wire.responses import RoomStats, StatsMinute

__all__ = ["stats", "stats_view", "sparkline"]

_BARS = " ▁▂▃▄▅▆▇█"
_CHART_WIDTH = 60


def sparkline(values: list[float]) -> str:
    """One character per value, its height relative to the largest (blank for 0)."""
    top = max(values, default=0)
    if top <= 0:
        return " " * len(values)
    return "".join(_BARS[round(v / top * (len(_BARS) - 1))] for v in values)


def _buckets(timeline: list[StatsMinute], width: int) -> tuple[list[float], list[float], int]:
    """The timeline folded to at most ``width`` columns: viewers (peak of the minutes in a
    column), comments (their sum), and the minutes per column."""
    per = max(1, -(-len(timeline) // width))
    viewers: list[float] = []
    comments: list[float] = []
    for i in range(0, len(timeline), per):
        chunk = timeline[i : i + per]
        viewers.append(max(m.viewers for m in chunk))
        comments.append(sum(m.comments for m in chunk))
    return viewers, comments, per


def _clock(value: str | None) -> str:
    return "-" if value is None else datetime.fromisoformat(value).strftime("%H:%M")


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def stats_view(stats: RoomStats) -> Group:
    """The figures as a table and the timeline as a chart."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim")
    table.add_column()
    minutes = stats.duration_seconds / 60
    rows = [
        ("session", f"{_clock(stats.started_at)}-{_clock(stats.ended_at)} ({minutes:.0f} min)"),
        ("viewers now", str(stats.viewers_now)),
        ("unique viewers", str(stats.unique_viewers)),
        ("average viewers", f"{stats.average_viewers:g}"),
        ("peak viewers", f"{stats.peak_viewers} at {_clock(stats.peak_at)}"),
        ("retention", _share(stats.retention)),
        ("bounce rate", _share(stats.bounce_rate)),
        ("comments", f"{stats.comments} ({stats.comments_per_minute:g} per minute)"),
        (
            "busiest minute",
            f"{_clock(stats.busiest_minute)} ({stats.busiest_minute_comments} comments)",
        ),
        ("in sync", f"{_share(stats.in_sync_share)} of {stats.sync_samples} heartbeats"),
        (
            "median drift",
            "-" if stats.median_drift is None else f"{stats.median_drift * 1000:.0f} ms",
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    title = Text.from_markup(
        f"[bold]{stats.title}[/]  [dim]{stats.room_id}[/]  {stats.anime_id} episode "
        f"{stats.episode_number}"
    )
    parts: list[Table | Text] = [table]
    if stats.timeline:
        viewers, comments, per = _buckets(stats.timeline, _CHART_WIDTH)
        chart = Table(show_header=False, box=None, pad_edge=False)
        chart.add_column(style="dim")
        chart.add_column()
        chart.add_column(style="dim")
        chart.add_row("viewers", Text(sparkline(viewers), style="cyan"), f"max {max(viewers):g}")
        chart.add_row(
            "comments", Text(sparkline(comments), style="magenta"), f"max {max(comments):g}"
        )
        start, end = _clock(stats.timeline[0].minute), _clock(stats.timeline[-1].minute)
        chart.add_row("", Text(f"{start} … {end}, {per} min per column", style="dim"), "")
        parts += [Text(""), chart]
    return Group(title, *parts)


@run_command
async def stats(
    room_id: Annotated[str, typer.Argument(metavar="ROOM", help="A room you host.")],
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Viewer analytics of a room you host: viewers, comments, retention, sync, with a chart."""
    target = resolve_target(url, key)
    async with signed_in(target, room_id) as client:
        figures = await client.room_stats(room_id)
    if as_json:
        out.print_json(json.dumps(figures.model_dump(), default=str))
        return
    out.print(stats_view(figures))
