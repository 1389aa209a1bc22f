"""``watchium skip|skips|ready``: skip together and the ready check from the command line
(docs/NIGHTS.md).

| command | does |
| --- | --- |
| ``watchium skip ROOM [opening\\|ending]`` | move the whole room past the opening or ending |
| ``watchium skips ROOM [--opening A-B] [--ending C-D] [--clear]`` | show or mark them |
| ``watchium ready ROOM [--next \\| --entry ENTRY] [--timeout S]`` | a ready check, followed live |
| ``watchium ready ROOM --answer [--not]``, ``ready ROOM --cancel`` | answer it, cancel it |

The host and co-hosts skip, mark and start or cancel a check; every member answers one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Annotated

import typer
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from watchium_client._api import WatchiumClient
from watchium_client._errors import Conflict, NotHost, RateLimited
from watchium_client.cli._common import (
    CommandError,
    JsonOption,
    KeyOption,
    UrlOption,
    console,
    out,
    parse_segment,
    resolve_target,
    run_command,
    signed_in,
)
from watchium_client.cli._queue import EndingOption, OpeningOption, entry_id_of, format_segment
from watchium_client.cli._rooms import format_position
from watchium_client.sync import parse_server_time
from watchium_wire.responses import ReadyCheck, RoomSnapshot

__all__ = ["ready", "skip", "skips"]

RoomArgument = Annotated[str, typer.Argument(metavar="ROOM", help="The room's id.")]

POLL_INTERVAL = 0.5
"""Seconds between two reads of the check while following it (a read is one request)."""


class Segment(StrEnum):
    opening = "opening"
    ending = "ending"


@contextlib.asynccontextmanager
async def _controlling(room_id: str, what: str) -> AsyncIterator[None]:
    """Says what a member who is not the host or a co-host tried, in the room's words, with the
    code and who hosts."""
    try:
        yield
    except NotHost as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        raise CommandError(
            f"only the host or a co-host of room {room_id} can {what} [{exc.code}]{hint}"
        ) from exc


# -- skip together ---------------------------------------------------------------------------


@run_command
async def skip(
    room_id: RoomArgument,
    segment: Annotated[
        Segment | None,
        typer.Argument(
            metavar="[opening|ending]", help="What to skip (default: the one playing now)."
        ),
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Skip the opening or ending for the whole room (host or co-host): every player moves to
    its end and, while playing, starts from there together."""
    target = resolve_target(url, key)
    async with signed_in(target, room_id) as client, _controlling(room_id, "skip for the room"):
        try:
            room = await client.skip(room_id, None if segment is None else segment.value)
        except Conflict as exc:
            raise CommandError(
                f"{exc.message} [{exc.code}]: name the segment (`watchium skip {room_id} "
                f"opening`), or mark it with `watchium skips {room_id} --opening START-END`"
            ) from exc
    if as_json:
        out.print_json(json.dumps(room.model_dump(), default=str))
        return
    how = "starting together" if room.is_playing else "paused"
    out.print(
        f"skipped the {room.skipped} of room {room_id}: at {format_position(room.to)} ({how})"
    )


def _pair(start: float | None, end: float | None) -> tuple[float, float] | None:
    return None if start is None or end is None else (start, end)


def _print_marks(room: RoomSnapshot) -> None:
    out.print(f"room {room.room_id}, {room.anime_title} episode {room.episode_number}:")
    out.print(f"  opening {format_segment(room.opening_start, room.opening_end)}")
    out.print(f"  ending  {format_segment(room.ending_start, room.ending_end)}")


@run_command
async def skips(
    room_id: RoomArgument,
    opening: OpeningOption = None,
    ending: EndingOption = None,
    clear: Annotated[
        bool,
        typer.Option("--clear", help="Clear the marks not given (alone: both)."),
    ] = False,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Show the opening and ending marks of the episode the room plays, or mark them (host or
    co-host; the queue entry keeps them). A mark not given is kept, unless --clear."""
    opening_marks = None if opening is None else parse_segment(opening, "--opening")
    ending_marks = None if ending is None else parse_segment(ending, "--ending")
    target = resolve_target(url, key)
    async with signed_in(target, room_id) as client:
        room = await client.host_time(room_id)
        if opening is not None or ending is not None or clear:
            if not clear:  # keep the marks not given
                opening_marks = opening_marks or _pair(room.opening_start, room.opening_end)
                ending_marks = ending_marks or _pair(room.ending_start, room.ending_end)
            async with _controlling(room_id, "mark the opening and ending"):
                room = await client.set_skips(room_id, opening=opening_marks, ending=ending_marks)
    if as_json:
        out.print_json(json.dumps(room.model_dump(), default=str))
        return
    _print_marks(room)


# -- the ready check ---------------------------------------------------------------------------


class _Names:
    """Member names by user id, read again when the check names someone unknown."""

    def __init__(self, client: WatchiumClient, room_id: str) -> None:
        self._client = client
        self._room_id = room_id
        self.by_id: dict[str, str] = {}
        self._expected = -1

    async def refresh(self, check: ReadyCheck) -> None:
        if check.expected_count == self._expected and set(check.ready_user_ids) <= set(self.by_id):
            return
        listed = await self._client.members(self._room_id)
        self.by_id = {m.user_id: m.username for m in listed.members}
        self._expected = check.expected_count

    def waiting(self, check: ReadyCheck) -> list[str]:
        ready = set(check.ready_user_ids)
        return sorted(name for user_id, name in self.by_id.items() if user_id not in ready)


def _fill(check: ReadyCheck, width: int = 20) -> str:
    expected = max(check.expected_count, 1)
    done = min(width, round(width * check.ready_count / expected))
    return "█" * done + "░" * (width - done)


def _seconds_left(client: WatchiumClient, check: ReadyCheck) -> float:
    return parse_server_time(check.deadline) - client.clock.server_now()


_ENDED = {"passed": "everyone is ready", "timed_out": "time is up", "cancelled": "cancelled"}


def _render(client: WatchiumClient, check: ReadyCheck, names: _Names) -> Text:
    if check.is_open:
        when = f"starts in {max(0.0, _seconds_left(client, check)):.0f} s"
    else:
        when = _ENDED.get(check.status, check.status)
    waiting = names.waiting(check)
    line = Text.from_markup(
        f"ready check [bold]{_fill(check)}[/] {check.ready_count}/{check.expected_count} ready"
        f"  {when}"
    )
    if waiting and check.status != "passed":
        line.append_text(Text.from_markup(f"  waiting for: {escape(', '.join(waiting))}"))
    return line


def _outcome(room_id: str, check: ReadyCheck) -> str:
    counts = f"{check.ready_count}/{check.expected_count} ready"
    if check.status == "passed":
        return f"everyone is ready ({counts}): room {room_id} starts now"
    if check.status == "timed_out":
        return f"time is up ({counts}): room {room_id} starts now with whoever is ready"
    if check.status == "cancelled":
        return f"the ready check of room {room_id} was cancelled: the room stays paused"
    return f"the ready check of room {room_id} is open ({counts})"


async def _settle(
    client: WatchiumClient, room_id: str, check: ReadyCheck
) -> tuple[ReadyCheck, float]:
    """Settles the check: the check as it stands, and the seconds after which to settle again
    (0: no need)."""
    try:
        settled = await client.ready_check_settle(room_id, check.check_id)
    except RateLimited as exc:
        return check, exc.retry_after
    return settled, settled.held


async def _follow(
    client: WatchiumClient, room_id: str, check: ReadyCheck, held: float
) -> ReadyCheck:
    """Follows the check until it ends: reads it every POLL_INTERVAL, shows the fill, and
    settles it when an answer is held back or the deadline has passed (no one may be left to)."""
    names = _Names(client, room_id)
    await names.refresh(check)
    settle_at = time.monotonic() + held if held > 0 else None
    with Live(_render(client, check, names), console=console, refresh_per_second=4) as live:
        try:
            while check.is_open:
                await asyncio.sleep(POLL_INTERVAL)
                latest = (await client.queue(room_id)).ready_check
                if latest is None or latest.check_id != check.check_id:
                    raise CommandError(f"the ready check of room {room_id} was replaced")
                check = latest
                due = settle_at is not None and time.monotonic() >= settle_at
                if check.is_open and (due or _seconds_left(client, check) <= 0):
                    check, again = await _settle(client, room_id, check)
                    settle_at = time.monotonic() + max(again, POLL_INTERVAL)
                await names.refresh(check)
                live.update(_render(client, check, names))
        except asyncio.CancelledError:  # Ctrl-C stops the following, not the check
            live.stop()
            console.print(
                f"the ready check of room {room_id} goes on; cancel it with "
                f"`watchium ready {room_id} --cancel`"
            )
            raise
    if not console.is_terminal:
        console.print()  # the last rendering ends without a newline off a terminal
    return check


async def _open_check(client: WatchiumClient, room_id: str) -> ReadyCheck:
    check = (await client.queue(room_id)).ready_check
    if check is None or not check.is_open:
        raise CommandError(
            f"room {room_id} has no ready check open: the host or a co-host starts one with "
            f"`watchium ready {room_id}`"
        )
    return check


async def _publish(client: WatchiumClient, room_id: str, answered: ReadyCheck) -> ReadyCheck:
    """An answer given within a second of the check's last update is held back: settles the
    check once it may be published, so the room sees the answer."""
    held = answered.held
    while held > 0 and answered.is_open:
        with console.status("Telling the room..."):
            await asyncio.sleep(held)
            answered, held = await _settle(client, room_id, answered)
    return answered


async def _answer(client: WatchiumClient, room_id: str, is_ready: bool) -> ReadyCheck:
    check = await _open_check(client, room_id)
    return await _publish(
        client, room_id, await client.ready_check_respond(room_id, check.check_id, is_ready)
    )


@run_command
async def ready(
    room_id: RoomArgument,
    next_episode: Annotated[
        bool, typer.Option("--next", help="Move the room to the next episode of its queue first.")
    ] = False,
    entry: Annotated[
        str | None,
        typer.Option(
            "--entry",
            metavar="ENTRY",
            help="Move the room to this queue entry (place or id) first.",
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            metavar="S",
            help="Seconds until the room starts with whoever is ready (5 to 300; default 30).",
        ),
    ] = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Start the check and return at once.")
    ] = False,
    answer: Annotated[
        bool, typer.Option("--answer", help="Answer the room's open check (any member).")
    ] = False,
    not_ready: Annotated[
        bool,
        typer.Option("--not", help="Answer not ready; when starting, do not count yourself ready."),
    ] = False,
    cancel: Annotated[
        bool, typer.Option("--cancel", help="Cancel the room's open check (host or co-host).")
    ] = False,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Start a ready check and follow it until the room starts (host or co-host): the room
    starts once every member is ready, or when the timeout is up. You count as ready unless
    --not. With --answer, answer the open check; with --cancel, cancel it."""
    starting = next_episode or entry is not None or timeout is not None or no_wait
    if answer and cancel:
        raise CommandError("--answer and --cancel do not go together: give one")
    if (answer or cancel) and starting:
        given = "--answer" if answer else "--cancel"
        raise CommandError(
            f"{given} acts on the open check: --next, --entry, --timeout and --no-wait are for "
            "starting one"
        )
    if cancel and not_ready:
        raise CommandError("--not goes with --answer or a new check, not with --cancel")
    if next_episode and entry is not None:
        raise CommandError("--next and --entry both say where to go: give one")
    if timeout is not None and not 5 <= timeout <= 300:
        raise CommandError(f"--timeout {timeout:g}: give 5 to 300 seconds")

    target = resolve_target(url, key)
    async with signed_in(target, room_id) as client:
        if answer:
            check = await _answer(client, room_id, not not_ready)
        elif cancel:
            check = await _open_check(client, room_id)
            async with _controlling(room_id, "cancel a ready check"):
                check = await client.ready_check_settle(room_id, check.check_id, cancel=True)
        else:
            check = await _start(
                client, room_id, next_episode, entry, timeout, not_ready, no_wait and not as_json
            )
            if no_wait:
                check = await _publish(client, room_id, check)
            else:
                check = await _follow(client, room_id, check, check.held)
    if as_json:
        out.print_json(json.dumps(check.model_dump(), default=str))
        return
    if answer:
        state = "ready" if not not_ready else "not ready yet"
        tail = "" if check.is_open else f"; {_outcome(room_id, check)}"
        out.print(
            f"you are {state} ({check.ready_count}/{check.expected_count} ready in room "
            f"{room_id}){tail}"
        )
        return
    if not (no_wait and check.is_open):
        out.print(_outcome(room_id, check))


async def _start(
    client: WatchiumClient,
    room_id: str,
    next_episode: bool,
    entry: str | None,
    timeout: float | None,
    not_ready: bool,
    report: bool,
) -> ReadyCheck:
    """Opens the check (moving the room first if asked) and answers it ready for the caller
    unless ``not_ready``; the check with ``held`` set when that answer waits to be published."""
    # A check past its deadline that nobody settled is over: the database lets a new one
    # replace it, so only a check still running stops this one.
    latest = (await client.queue(room_id)).ready_check
    if latest is not None and latest.is_open and _seconds_left(client, latest) > 0:
        raise CommandError(
            f"room {room_id} already has a ready check open: wait for it to end, or cancel "
            f"it with `watchium ready {room_id} --cancel`"
        )
    entry_id = None if entry is None else await entry_id_of(client, room_id, entry)
    to = "next" if next_episode else "entry" if entry_id is not None else "none"
    async with _controlling(room_id, "start a ready check"):
        started = await client.ready_check_start(room_id, to, entry_id=entry_id, timeout=timeout)
    room, check = started.room, started.check
    if not not_ready:
        check = await client.ready_check_respond(room_id, check.check_id, True)
    if report:
        seconds = max(0.0, _seconds_left(client, check))
        out.print(
            f"ready check open in room {room_id} on {room.anime_title} episode "
            f"{room.episode_number}: the room starts when everyone is ready, or in "
            f"{seconds:.0f} s; members answer with `watchium ready {room_id} --answer`"
        )
    return check
