"""``watchium demo``: a simulated watch party against a running stack, to see the sync at work.

A host and N members, each a real client (its own anonymous identity, HTTP calls and Realtime
socket) with a :class:`SimulatedPlayer` of its own character: clock rate errors within +-0.5%,
seek latencies from 30 to 400 ms, noisy position reports, late speed changes, and one member
whose player stalls for a few seconds. The host plays, seeks, pauses and changes speed on a
script; a live table shows each player's drift, corrections and state, and a summary follows.

It is a two-episode night (docs/NIGHTS.md): the room's queue holds episodes 1 and 2; near the
end the host asks who is ready for episode 2. Every member's session loads it and answers by
itself, except one member who has stepped away: the check times out after 5 s and the room
starts episode 2 for everyone at once. Then the host skips its opening for the whole room.

The identities are kept in ``<config dir>/demo_sessions.json`` and reused, so running the demo
again does not use up the stack's anonymous sign-ups (30 per hour per address by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from watchium_client._api import WatchiumClient
from watchium_client._errors import RateLimited, WatchiumError
from watchium_client.cli._common import (
    KeyOption,
    Target,
    UrlOption,
    connect_as,
    console,
    explained,
    load_sessions,
    out,
    resolve_target,
    run_command,
    session_tokens,
    store_sessions,
)
from watchium_client.cli._rooms import format_position
from watchium_client.players import PlayerProfile, SimulatedPlayer
from watchium_client.session import NewRoom, RoomSession
from watchium_client.sync import GroupWaitPolicy

__all__ = ["Character", "characters", "demo"]

_NAMES = (
    "Frieren", "Fern", "Stark", "Himmel", "Heiter", "Eisen", "Sein", "Ubel", "Land", "Denken",
    "Wirbel", "Lawine", "Kanne", "Methode", "Genau", "Serie", "Flamme", "Aura", "Lugner", "Linie",
    "Qual",
)  # fmt: skip
_SESSIONS = "demo_sessions"
_EPISODES = (
    (1, "https://example.com/frieren/01.mkv", "The Journey's End", None),
    (2, "https://example.com/frieren/02.mkv", "It Didn't Have to Be Magic...", (90.0, 180.0)),
)
_READY_TIMEOUT = 5.0  # the shortest a ready check may wait: the away member holds it that long


@dataclass(frozen=True)
class Character:
    """One simulated viewer: a name, its player's profile, and whether its player stalls."""

    name: str
    profile: PlayerProfile
    stall_at: float | None = None
    """Fraction of the demo at which this player stalls (None: never)."""
    stall_for: float = 0.0
    away: bool = False
    """Stepped away at the ready check: never answers it."""


def characters(members: int, seed: int) -> list[Character]:
    """The host first, then ``members`` members with spread-out players (one stalls)."""
    rng = random.Random(seed)
    out: list[Character] = [
        Character(_NAMES[0], PlayerProfile(rate_error=0.0004, seek_latency=0.04))
    ]
    for i in range(members):
        out.append(
            Character(
                _NAMES[(i + 1) % len(_NAMES)] if i + 1 < len(_NAMES) else f"viewer{i + 1}",
                PlayerProfile.random(rng),
                stall_at=0.42 if i == min(1, members - 1) else None,
                stall_for=2.5,
                away=members > 1 and i == members - 1,
            )
        )
    return out


@dataclass
class _Viewer:
    character: Character
    client: WatchiumClient
    player: SimulatedPlayer
    session: RoomSession | None = None


@dataclass
class _Log:
    lines: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def add(self, text: str) -> None:
        self.lines.append(f"{time.monotonic() - self.started:5.1f}s  {text}")


async def _identities(target: Target, count: int) -> list[WatchiumClient]:
    """``count`` clients: the cached demo identities first, then new anonymous ones."""
    cached: list[Any] = load_sessions(_SESSIONS).get(target.url) or []
    clients: list[WatchiumClient] = []
    try:
        for i in range(count):
            entry = cached[i] if i < len(cached) and isinstance(cached[i], dict) else None
            clients.append(await connect_as(target, entry))
    except BaseException:
        for client in clients:
            await client.close()
        raise
    await _save_identities(target, clients)
    return clients


async def _save_identities(target: Target, clients: list[WatchiumClient]) -> None:
    sessions = load_sessions(_SESSIONS)
    previous: list[Any] = sessions.get(target.url) or []
    tokens = [await session_tokens(client) for client in clients]
    kept = [t for t in tokens if t is not None]
    # Keep identities this run did not use for the next, bigger party.
    sessions[target.url] = kept + previous[len(kept) :]
    store_sessions(sessions, _SESSIONS)


def _table(viewers: list[_Viewer]) -> Table:
    # Compact enough for 80 columns: the host is starred, the room's position is in the title.
    host = viewers[0].session if viewers else None
    title = "waiting"
    if host is not None and host.state is not None:
        state = host.state
        sign = "▶" if state.is_playing else "⏸"
        position = state.target_position(host.client.clock.server_now())
        title = (
            f"room {host.room_id}  ep {state.episode_number}  {sign} "
            f"{format_position(position)}  ×{state.playback_speed:g}"
        )
        check = host.ready_check
        if check is not None and check.is_open:
            title += f"  ready {check.ready_count}/{check.expected_count}"
    table = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
    for column in ("viewer", "state", "drift", "speed", "nudges", "seeks", "clock", "seek"):
        table.add_column(column, justify="left" if column in ("viewer", "state") else "right")
    for viewer in viewers:
        session = viewer.session
        if session is None or session.engine is None:
            continue
        status = session.engine.status
        stats = session.engine.stats()
        drift = "-" if status.drift is None else f"{status.drift * 1000:+.1f} ms"
        style = "yellow" if status.drift is not None and abs(status.drift) > 0.1 else ""
        table.add_row(
            viewer.character.name + (" *" if session.is_host else ""),
            "buffering" if status.is_buffering else status.phase.value,
            Text(drift, style=style),
            f"{status.speed:.3f}",
            str(stats.speed_nudges),
            str(stats.seeks),
            f"{viewer.character.profile.rate_error * 100:+.2f}%",
            f"{viewer.character.profile.seek_latency * 1000:.0f} ms",
        )
    return table


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _summary(viewers: list[_Viewer], seconds: float) -> Table:
    table = Table(
        title=f"|drift| in ms while playing ({seconds:.0f} s, host actions included)",
        title_justify="left",
        pad_edge=False,
        header_style="bold",
    )
    for column in ("viewer", "p50", "p95", "p99", "max", "nudges", "seeks", "steady seeks"):
        table.add_column(column, justify="left" if column == "viewer" else "right")
    for viewer in viewers:
        session = viewer.session
        if session is None or session.engine is None:
            continue
        stats = session.engine.stats()
        table.add_row(
            viewer.character.name,
            _ms(stats.p50),
            _ms(stats.p95),
            _ms(stats.p99),
            _ms(stats.max),
            str(stats.speed_nudges),
            str(stats.seeks),
            str(stats.steady_seeks),
        )
    return table


async def _create_room(viewers: list[_Viewer], log: _Log, group_wait: bool) -> int:
    """Opens the host's session, trying the next identity if one has used up its room
    creations (10 per hour); returns the host's index."""
    last: WatchiumError | None = None
    for index, viewer in enumerate(viewers):
        session = RoomSession(
            viewer.client,
            NewRoom(
                title="Watchium demo",
                anime_id="frieren",
                anime_title="Frieren: Beyond Journey's End",
                video_url=_EPISODES[0][1],
            ),
            username=viewer.character.name,
            player=viewer.player,
            group_wait=GroupWaitPolicy(timeout=6) if group_wait else None,
            leave_on_close=False,
        )
        try:
            await session.open()
        except RateLimited as exc:
            last = exc
            continue
        viewer.session = session
        log.add(f"{viewer.character.name} created room {session.room_id} and hosts it")
        await _queue_night(session, log)
        return index
    assert last is not None
    raise last


async def _queue_night(host: RoomSession, log: _Log) -> None:
    """Episodes 1 and 2 in the room's queue (episode 2 with its opening marked); the room on 1."""
    client, room_id = host.client, host.room_id
    first: str | None = None
    for episode, video_url, title, opening in _EPISODES:
        added = await client.queue_add(
            room_id,
            episode_number=episode,
            video_url=video_url,
            duration=1440.0,
            title=title,
            opening=opening,
        )
        first = first or added.entry.id
    assert first is not None
    await client.queue_go(room_id, "entry", entry_id=first)
    log.add(f"queue: episodes 1 and 2; playing 1, {_EPISODES[0][2]!r}")


async def _ready_for_episode_2(host: RoomSession, log: _Log) -> None:
    """The host asks who is ready for episode 2, and the log follows the check to its end."""
    check = await host.start_ready_check("next", timeout=_READY_TIMEOUT)
    give_up = time.monotonic() + _READY_TIMEOUT + 15.0
    while True:
        seen = host.ready_check
        if seen is not None and seen.check_id == check.check_id and not seen.is_open:
            break
        if time.monotonic() > give_up:
            log.add("ready check: no end seen (is the stack overloaded?)")
            return
        await asyncio.sleep(0.1)
    how = "everyone is ready" if seen.status == "passed" else "time is up"
    log.add(
        f"ready check: {seen.ready_count}/{seen.expected_count} ready, {how}: "
        f"episode 2 starts for everyone"
    )


async def _run_script(host: RoomSession, viewers: list[_Viewer], seconds: float, log: _Log) -> None:
    """The host's actions and the stall, at fixed fractions of the demo."""
    start = time.monotonic()

    async def at(fraction: float, what: str, action: Callable[[], Awaitable[object]]) -> None:
        delay = start + fraction * seconds - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        log.add(what)
        try:
            await action()
        except WatchiumError as exc:
            log.add(f"  refused: {exc}")

    def position() -> float:
        state = host.state
        return 0.0 if state is None else state.target_position(host.client.clock.server_now())

    async def stall(viewer: _Viewer) -> None:
        viewer.player.stall(viewer.character.stall_for)

    await at(0.03, "host: play", host.play)
    await at(0.25, "host: seek forward 90 s", lambda: host.seek(position() + 90))
    for viewer in viewers:
        if viewer.character.stall_at is not None:
            await at(
                viewer.character.stall_at,
                f"{viewer.character.name}'s player stalls for {viewer.character.stall_for:g} s",
                functools.partial(stall, viewer),
            )
    await at(0.50, "host: pause", host.pause)
    await at(0.55, "host: play", host.play)
    await at(0.62, "host: speed 1.25x", lambda: host.set_speed(1.25))
    await at(0.70, "host: speed 1x", lambda: host.set_speed(1.0))
    away = [v.character.name for v in viewers if v.character.away]
    await at(
        0.76,
        "host: ready for episode 2?" + (f" ({', '.join(away)} stepped away)" if away else ""),
        lambda: _ready_for_episode_2(host, log),
    )
    await at(0.93, "host: skip the opening", lambda: host.skip("opening"))
    remaining = start + seconds - time.monotonic()
    if remaining > 0:
        await asyncio.sleep(remaining)


@run_command
async def demo(
    members: Annotated[
        int,
        typer.Option(
            "--members", "-n", min=1, max=20, metavar="N", help="Members besides the host."
        ),
    ] = 4,
    seconds: Annotated[
        float,
        typer.Option(
            "--seconds",
            "-s",
            min=5,
            max=3600,
            metavar="SECONDS",
            help="How long the party runs.",
        ),
    ] = 40.0,
    group_wait: Annotated[
        bool, typer.Option("--group-wait", help="The host pauses while a member buffers.")
    ] = False,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Seed of the players' characters.")
    ] = 7,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """A simulated watch party against the stack, with a live table of the drift.

    A host and N members with simulated players (clock errors, slow seeks, a stall) follow the
    host's play, seek, pause and speed changes; a summary of drift and corrections follows.
    """
    target = resolve_target(url, key)
    log = _Log()
    async with explained(target):
        with console.status(f"Signing in {members + 1} viewers..."):
            clients = await _identities(target, members + 1)
        viewers = [
            _Viewer(character, client, character.profile.player(seed=seed + i))
            for i, (character, client) in enumerate(
                zip(characters(members, seed), clients, strict=True)
            )
        ]
        try:
            with console.status("Creating the room..."):
                host_index = await _create_room(viewers, log, group_wait)
            if host_index:
                # Another identity could create the room: it hosts, listed first.
                viewers.insert(0, viewers.pop(host_index))
            host = viewers[0].session
            assert host is not None
            with console.status(f"{members} members join..."):
                await asyncio.gather(*(_join(v, host.room_id, log) for v in viewers[1:]))
            await _party(host, viewers, seconds, log)
            # The server's view as of now, not as of each member's last periodic heartbeat.
            await asyncio.gather(*(_report(v) for v in viewers))
            listed = await host.client.members(host.room_id)
            out.print(_summary(viewers, seconds))
            out.print(
                f"The server sees {listed.synced_count} of {listed.member_count} members in sync "
                f"(|drift| <= 2 s)."
            )
        finally:
            await _clean_up(viewers, target)


async def _join(viewer: _Viewer, room_id: str, log: _Log) -> None:
    session = RoomSession(
        viewer.client,
        room_id,
        username=viewer.character.name,
        player=viewer.player,
        auto_ready=not viewer.character.away,
        leave_on_close=False,
    )
    await session.open()
    viewer.session = session
    log.add(f"{viewer.character.name} joined")


async def _report(viewer: _Viewer) -> None:
    if viewer.session is not None:
        with contextlib.suppress(WatchiumError):
            await viewer.session.heartbeat()


async def _party(host: RoomSession, viewers: list[_Viewer], seconds: float, log: _Log) -> None:
    script = asyncio.create_task(_run_script(host, viewers, seconds, log))

    def render() -> Group:
        return Group(_table(viewers), Text("\n".join(log.lines[-6:]), style="dim"))

    try:
        with Live(render(), console=out, refresh_per_second=4) as live:
            while not script.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(script), 0.25)
                live.update(render())
        if not out.is_terminal:
            out.print()  # the last rendering ends without a newline off a terminal
        out.print("* host; clock: the player's clock error; seek: its seek latency")
        await script
        out.print(Text("What happened:\n" + "\n".join(log.lines), style="dim"))
    finally:
        script.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await script


async def _clean_up(viewers: list[_Viewer], target: Target) -> None:
    host = viewers[0].session if viewers else None
    for viewer in viewers[1:]:
        if viewer.session is not None:
            await viewer.session.close(leave=False)
    if host is not None and host.is_open:
        room_id = host.room_id
        await host.close(leave=False)
        # Deleting the room ends every membership at once (and spares the members' join and
        # leave allowance for the next run).
        with contextlib.suppress(WatchiumError):
            await host.client.delete_room(room_id)
    with contextlib.suppress(Exception):
        await _save_identities(target, [v.client for v in viewers])
    for viewer in viewers:
        await viewer.player.close()
        await viewer.client.close()
