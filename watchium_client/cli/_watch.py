"""``watchium watch ROOM FILE``: join a room and keep a local player in step with it.

The host controls the room from its own player: a pause, a seek or a speed change in the mpv
window becomes the room's (everyone follows); a member's player follows the room, and the room
wins over a member's own pause or seek after a moment. Ctrl-C (or closing mpv) leaves the room
and prints what the sync engine measured. Comments other parties wrote at this moment of the
episode are printed as playback reaches them (``--replay all``, the default; ``room`` for this
room's only; ``off``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from watchium_client._aio import wait_event
from watchium_client.cli._common import (
    AccessKeyOption,
    CommandError,
    KeyOption,
    UrlOption,
    UsernameOption,
    console,
    default_username,
    explained,
    mpv_not_found,
    open_client,
    out,
    resolve_target,
    run_command,
    save_session,
)
from watchium_client.cli._rooms import format_position
from watchium_client.comments import ReplayMode
from watchium_client.players import (
    MpvNotFoundError,
    MpvPlayer,
    Player,
    PlayerError,
    PlayerEventKind,
    SimulatedPlayer,
)
from watchium_client.session import NewRoom, RoomSession, TimedComment
from watchium_client.sync import GroupWaitPolicy

__all__ = ["PlayerChoice", "ReplayChoice", "watch", "status_table", "summary_lines", "timed_line"]


class PlayerChoice(StrEnum):
    MPV = "mpv"
    SIMULATED = "simulated"


class ReplayChoice(StrEnum):
    ALL = "all"
    ROOM = "room"
    OFF = "off"


def timed_line(event: TimedComment) -> str:
    """A replayed comment as printed above the status: where, who, what."""
    comment = event.comment
    where = "" if comment.in_room else " [dim](another party)[/]"
    return (
        f"[dim]{format_position(comment.video_timestamp)}[/] [bold]{escape(comment.username)}[/]"
        f"{where}: {escape(comment.message)}"
    )


def status_table(session: RoomSession) -> Table:
    """One row of what matters while watching: the room, your player, the party."""
    table = Table(box=None, pad_edge=False, show_header=True, header_style="dim")
    for column in ("room", "role", "room at", "you at", "drift", "state", "party", "link"):
        table.add_column(column)
    state = session.state
    status = session.status
    now = session.client.clock.server_now()
    room_at = "-"
    if state is not None:
        sign = "▶" if state.is_playing else "⏸"
        speed = f" ×{state.playback_speed:g}" if state.playback_speed != 1 else ""
        room_at = f"{sign} {format_position(state.target_position(now))}{speed}"
    you_at = drift = phase = "-"
    if status is not None:
        if status.position is not None:
            you_at = format_position(status.position)
        if status.drift is not None:
            drift = f"{status.drift * 1000:+.0f} ms"
        phase = status.phase.value
    presence = session.presence
    synced = sum(1 for p in presence.values() if p.synced)
    buffering = sum(1 for p in presence.values() if p.buffering)
    party = f"{len(session.members)} in room, {synced} synced"
    if buffering:
        party += f", {buffering} buffering"
    link = "[green]live[/]" if session.is_connected else "[yellow]reconnecting[/]"
    table.add_row(
        session.room_id,
        "host" if session.is_host else "member",
        room_at,
        you_at,
        drift,
        phase,
        party,
        link,
    )
    return table


def summary_lines(session: RoomSession) -> list[str]:
    """What the engine measured, for the end of a session."""
    engine = session.engine
    if engine is None:
        return []
    stats = engine.stats()
    if not stats.count or stats.p50 is None or stats.p95 is None or stats.max is None:
        return ["no drift measured (the room did not play)"]
    return [
        f"drift |p50| {stats.p50 * 1000:.1f} ms, p95 {stats.p95 * 1000:.1f} ms, "
        f"max {stats.max * 1000:.1f} ms over {stats.count} samples",
        f"corrections: {stats.speed_nudges} speed nudges, {stats.seeks} seeks "
        f"({stats.steady_seeks} in steady playback)",
    ]


_REPLAY_MODES: dict[ReplayChoice, ReplayMode] = {
    ReplayChoice.ALL: "all",
    ReplayChoice.ROOM: "room",
    ReplayChoice.OFF: "off",
}


async def _launch(
    choice: PlayerChoice, media: Path, *, headless: bool, mpv: str, mpv_args: list[str]
) -> Player:
    if choice is PlayerChoice.SIMULATED:
        return SimulatedPlayer()
    if not media.exists():
        raise CommandError(f"{media}: no such file")
    with console.status(f"Starting mpv on {media.name}..."):
        try:
            return await MpvPlayer.launch(media, headless=headless, mpv=mpv, extra_args=mpv_args)
        except MpvNotFoundError:
            raise CommandError(mpv_not_found(mpv)) from None
        except (PlayerError, FileNotFoundError) as exc:
            raise CommandError(f"mpv: {exc}") from None


@run_command
async def watch(
    room: Annotated[
        str,
        typer.Argument(
            metavar="ROOM", help="The room id (with --create: the title of a new room you host)."
        ),
    ],
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="The video (or audio) file to play.")
    ],
    player_choice: Annotated[
        PlayerChoice, typer.Option("--player", help="The player to drive.")
    ] = PlayerChoice.MPV,
    create: Annotated[
        bool, typer.Option("--create", help="Create a room titled ROOM and host it.")
    ] = False,
    private: Annotated[bool, typer.Option("--private", help="With --create: private.")] = False,
    anime_id: Annotated[
        str | None, typer.Option("--anime-id", help="With --create (default: the file's name).")
    ] = None,
    video_url: Annotated[
        str | None,
        typer.Option("--video-url", help="With --create: the URL others can find the video at."),
    ] = None,
    play: Annotated[
        bool, typer.Option("--play", help="As the host, start playback once in the room.")
    ] = False,
    group_wait: Annotated[
        bool, typer.Option("--group-wait", help="As the host, pause while members buffer.")
    ] = False,
    access_key: AccessKeyOption = None,
    username: UsernameOption = None,
    headless: Annotated[
        bool, typer.Option("--headless", help="mpv without video or audio output.")
    ] = False,
    mpv: Annotated[str, typer.Option("--mpv", help="The mpv binary.")] = "mpv",
    mpv_args: Annotated[
        list[str] | None,
        typer.Option(
            "--mpv-arg",
            metavar="ARG",
            help="An option for mpv, as on its command line (repeat it for more), "
            "e.g. --mpv-arg=--volume=50.",
        ),
    ] = None,
    seconds: Annotated[
        float | None, typer.Option("--seconds", min=0, help="Leave after this many seconds.")
    ] = None,
    replay: Annotated[
        ReplayChoice,
        typer.Option("--replay", help="Timed comments of every party, this room's only, or off."),
    ] = ReplayChoice.ALL,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Join ROOM and keep a local player in sync with it.

    As the host, a pause, seek or speed change in the mpv window becomes the room's.
    Ctrl-C (or --seconds) leaves the room and prints the drift the sync engine measured.
    """
    target = resolve_target(url, key)
    name = username or default_username()
    spec: str | NewRoom = room
    if create:
        stem = file.stem or "video"
        spec = NewRoom(
            title=room,
            anime_id=anime_id or stem[:100],
            anime_title=stem[:255],
            video_url=video_url or f"https://example.com/{quote(file.name)}",
            is_public=not private,
        )
    restore_signals = _leave_on_hangup()
    interrupted = False
    try:
        async with explained(target, None if create else room, access_key=access_key):
            client = await open_client(target)
            try:
                player = await _launch(
                    player_choice, file, headless=headless, mpv=mpv, mpv_args=mpv_args or []
                )
            except BaseException:
                await client.close()
                raise
            session = RoomSession(
                client,
                spec,
                username=name,
                access_key=access_key,
                player=player,
                group_wait=GroupWaitPolicy() if group_wait else None,
                replay=_REPLAY_MODES[replay],
            )
            try:
                with console.status("Joining the room..."):
                    await session.open()
                interrupted = await _watch(session, player, play=play, seconds=seconds)
            finally:
                await session.close()
                await save_session(client, target)
                with contextlib.suppress(PlayerError):
                    await player.close()
                await client.close()
            for line in summary_lines(session):
                console.print(line)
    except asyncio.CancelledError:
        # Interrupted before watching (while joining): left and closed above, nothing to sum up.
        current = asyncio.current_task()
        if current is None or current.uncancel() > 0:
            raise
        interrupted = True
    finally:
        restore_signals()
    if interrupted:
        raise typer.Exit(130)  # what a shell expects after Ctrl-C


def _leave_on_hangup() -> Callable[[], None]:
    """A closed terminal (SIGHUP) or a polite kill (SIGTERM) leaves like Ctrl-C does: mpv runs in
    a session of its own, so it would otherwise outlive the command. Returns what undoes this."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    installed: list[signal.Signals] = []
    if task is None:
        return lambda: None
    for sig in (signal.SIGHUP, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, task.cancel)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # no such signal here, or not the main thread: the default stays
        installed.append(sig)

    def restore() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return restore


async def _watch(
    session: RoomSession, player: Player, *, play: bool, seconds: float | None
) -> bool:
    """Watches until the room or the player goes away, ``seconds`` pass or Ctrl-C; returns
    whether it was Ctrl-C."""
    room_id = session.room_id
    if session.is_host:
        console.print(
            f"You host room [bold]{room_id}[/]: pause, seek and change speed in the player; "
            "everyone follows."
        )
        if session.access_key:
            out.print(f"Access key: [bold]{session.access_key}[/]")
        if play:
            await session.play()
    else:
        console.print(f"In room [bold]{room_id}[/]: your player follows the host.")
    ended = asyncio.Event()
    reasons: list[str] = []

    def end(why: str) -> None:
        reasons.append(why)
        ended.set()

    session.on_room_deleted(lambda _event: end("the room was deleted"))
    session.on_timed_comment(lambda event: console.print(timed_line(event)))

    async def watch_player() -> None:
        async for event in player.events():
            if event.kind is PlayerEventKind.CLOSED:
                end("the player was closed")
                return

    watcher = asyncio.create_task(watch_player())
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        with Live(status_table(session), console=console, refresh_per_second=4) as live:
            while not ended.is_set():
                timeout = 0.5
                if deadline is not None:
                    timeout = min(timeout, max(0.0, deadline - time.monotonic()))
                    if timeout == 0:
                        break
                try:
                    await wait_event(ended, timeout)
                except asyncio.CancelledError:
                    # Ctrl-C: asyncio.run cancels this task. Leave like any other way out, so
                    # that the room is left and the summary printed; the caller exits with 130.
                    current = asyncio.current_task()
                    if current is None or current.uncancel() > 0:
                        raise  # cancelled for another reason as well
                    end("interrupted")
                    break
                live.update(status_table(session))
        if not console.is_terminal:
            console.print()  # the last rendering ends without a newline off a terminal
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    if reasons:
        console.print(f"Leaving: {reasons[0]}.")
    return "interrupted" in reasons
