"""``watchium queue ...``: a room's episode queue from the command line (docs/NIGHTS.md).

| command | does |
| --- | --- |
| ``watchium queue list ROOM`` | the queue, the entry playing marked |
| ``watchium queue add ROOM -e N --video-url URL --duration S`` | append an episode |
| ``watchium queue remove ROOM ENTRY`` | remove an entry |
| ``watchium queue move ROOM ENTRY [--after ENTRY]`` | reorder (no ``--after``: to the front) |
| ``watchium queue next\\|previous ROOM``, ``queue play ROOM ENTRY`` | move the room |
| ``watchium queue auto ROOM on\\|off`` | auto-advance at the end of each episode |

ENTRY is the entry's place in the queue (1, 2, ...) or its id. ``queue add`` takes the episode's
``--opening`` and ``--ending`` (``START-END``, each seconds, m:ss or h:mm:ss) for ``watchium skip``.
The host and co-hosts change the queue; anyone who sees the room lists it.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from watchium_client._api import WatchiumClient
from watchium_client.cli._common import (
    CommandError,
    JsonOption,
    KeyOption,
    UrlOption,
    out,
    parse_segment,
    resolve_target,
    run_command,
    signed_in,
)
from watchium_client.cli._rooms import format_position
from watchium_wire.responses import RoomQueue

__all__ = ["queue_app", "entry_id_of", "format_segment", "OpeningOption", "EndingOption"]

queue_app = typer.Typer(
    help="A room's episode queue: list, add, remove, move; next, previous, play; auto-advance.",
    no_args_is_help=True,
)

RoomArgument = Annotated[str, typer.Argument(metavar="ROOM", help="The room's id.")]
EntryArgument = Annotated[
    str, typer.Argument(metavar="ENTRY", help="The entry's place in the queue (1, 2, ...) or id.")
]


OpeningOption = Annotated[
    str | None,
    typer.Option(
        "--opening",
        metavar="START-END",
        help="Where the opening starts and ends: seconds or m:ss (1:30-3:00).",
    ),
]
EndingOption = Annotated[
    str | None,
    typer.Option(
        "--ending",
        metavar="START-END",
        help="Where the ending starts and ends: seconds or m:ss (21:40-23:10).",
    ),
]


def format_segment(start: float | None, end: float | None) -> str:
    """``1:30.0-3:00.0``, or ``-`` when the segment is not marked."""
    if start is None or end is None:
        return "-"
    return f"{format_position(start)}-{format_position(end)}"


async def entry_id_of(client: WatchiumClient, room_id: str, entry: str) -> str:
    if not entry.isdigit():
        return entry
    entries = (await client.queue(room_id)).entries
    place = int(entry)
    if not 1 <= place <= len(entries):
        raise CommandError(f"the queue of room {room_id} has {len(entries)} entries, not {place}")
    return entries[place - 1].id


def _print_queue(queue: RoomQueue) -> None:
    table = Table(
        title=f"queue of {queue.room_id} (auto-advance {'on' if queue.auto_advance else 'off'})"
    )
    for column in ("#", "", "anime", "episode", "title", "duration", "opening", "ending", "id"):
        table.add_column(column)
    for place, entry in enumerate(queue.entries, 1):
        minutes, seconds = divmod(int(entry.duration), 60)
        table.add_row(
            str(place),
            "▶" if entry.id == queue.current_entry_id else "",
            entry.anime_title,
            str(entry.episode_number),
            entry.title or "",
            f"{minutes}:{seconds:02d}",
            format_segment(entry.opening_start, entry.opening_end),
            format_segment(entry.ending_start, entry.ending_end),
            entry.id,
        )
    out.print(table)


@queue_app.command("list")
@run_command
async def list_queue(
    room_id: RoomArgument, as_json: JsonOption = False, url: UrlOption = None, key: KeyOption = None
) -> None:
    """The room's queue in order, the entry playing marked."""
    target = resolve_target(url, key)
    async with signed_in(target, room_id) as client:
        queue = await client.queue(room_id)
    if as_json:
        out.print_json(json.dumps(queue.model_dump(), default=str))
        return
    _print_queue(queue)


@queue_app.command("add")
@run_command
async def add(
    room_id: RoomArgument,
    episode: Annotated[int, typer.Option("--episode", "-e", help="The episode number.")],
    video_url: Annotated[str, typer.Option("--video-url", help="The episode's http(s) URL.")],
    duration: Annotated[float, typer.Option("--duration", help="Its length in seconds.")],
    title: Annotated[str | None, typer.Option("--title", help="The episode's title.")] = None,
    anime_id: Annotated[
        str | None, typer.Option("--anime-id", help="Another anime than the room's.")
    ] = None,
    anime_title: Annotated[str | None, typer.Option("--anime-title")] = None,
    opening: OpeningOption = None,
    ending: EndingOption = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Append an episode to the queue (host or co-host), with its opening and ending if known."""
    opening_marks = None if opening is None else parse_segment(opening, "--opening")
    ending_marks = None if ending is None else parse_segment(ending, "--ending")
    target = resolve_target(url, key)
    async with signed_in(target, room_id) as client:
        added = await client.queue_add(
            room_id,
            episode_number=episode,
            video_url=video_url,
            duration=duration,
            title=title,
            anime_id=anime_id,
            anime_title=anime_title,
            opening=opening_marks,
            ending=ending_marks,
        )
    if as_json:
        out.print_json(json.dumps(added.model_dump(), default=str))
        return
    entry = added.entry
    marks = [
        f"{name} {format_segment(start, end)}"
        for name, start, end in (
            ("opening", entry.opening_start, entry.opening_end),
            ("ending", entry.ending_start, entry.ending_end),
        )
        if start is not None
    ]
    tail = f" ({', '.join(marks)})" if marks else ""
    out.print(f"added episode {entry.episode_number} to the queue of {room_id}{tail}")


@queue_app.command("remove")
@run_command
async def remove(
    room_id: RoomArgument, entry: EntryArgument, url: UrlOption = None, key: KeyOption = None
) -> None:
    """Remove an entry (host or co-host)."""
    target = resolve_target(url, key)
    async with signed_in(target, room_id) as client:
        await client.queue_remove(room_id, await entry_id_of(client, room_id, entry))
    out.print(f"removed entry {entry} from the queue of {room_id}")


@queue_app.command("move")
@run_command
async def move(
    room_id: RoomArgument,
    entry: EntryArgument,
    after: Annotated[
        str | None, typer.Option("--after", help="The entry it follows (none: the front).")
    ] = None,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Move an entry (host or co-host)."""
    target = resolve_target(url, key)
    async with signed_in(target, room_id) as client:
        entry_id = await entry_id_of(client, room_id, entry)
        after_id = None if after is None else await entry_id_of(client, room_id, after)
        await client.queue_move(room_id, entry_id, after_entry_id=after_id)
        queue = await client.queue(room_id)
    _print_queue(queue)


async def _go(room_id: str, to: str, entry: str | None, url: str | None, key: str | None) -> None:
    target = resolve_target(url, key)
    async with signed_in(target, room_id) as client:
        entry_id = None if entry is None else await entry_id_of(client, room_id, entry)
        room = await client.queue_go(room_id, to, entry_id=entry_id)
    out.print(
        f"room {room_id} is on {room.anime_title} episode {room.episode_number} (paused at 0)"
    )


@queue_app.command("next")
@run_command
async def next_episode(room_id: RoomArgument, url: UrlOption = None, key: KeyOption = None) -> None:
    """Move the room to the next episode of its queue (host or co-host)."""
    await _go(room_id, "next", None, url, key)


@queue_app.command("previous")
@run_command
async def previous_episode(
    room_id: RoomArgument, url: UrlOption = None, key: KeyOption = None
) -> None:
    """Move the room to the previous episode of its queue (host or co-host)."""
    await _go(room_id, "previous", None, url, key)


@queue_app.command("play")
@run_command
async def play_entry(
    room_id: RoomArgument, entry: EntryArgument, url: UrlOption = None, key: KeyOption = None
) -> None:
    """Move the room to an entry of its queue (host or co-host)."""
    await _go(room_id, "entry", entry, url, key)


@queue_app.command("auto")
@run_command
async def auto(
    room_id: RoomArgument,
    state: Annotated[str, typer.Argument(metavar="on|off", help="Turn auto-advance on or off.")],
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Auto-advance: the room moves to the next episode when one ends (host or co-host)."""
    if state not in ("on", "off"):
        raise CommandError(f"auto-advance is on or off, not {state!r}")
    target = resolve_target(url, key)
    async with signed_in(target, room_id) as client:
        await client.queue_auto_advance(room_id, state == "on")
    out.print(f"auto-advance {state} in room {room_id}")
