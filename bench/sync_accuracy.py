"""Sync accuracy through the real stack: 20 simulated members in one room, over bad networks.

Every member is a real SDK client (its own anonymous user, RoomSession, HTTP calls and Realtime
socket) with a `SimulatedPlayer`, against a throwaway stack (PostgreSQL, the functions, auth and
Realtime, as `watchium up` runs them), loopback only. Per member, on the client side:

* a network path of its own: a TCP proxy between the SDK and the gateway delays every chunk each
  way by 10-100 ms (+-10%, plus exponential queueing jitter with a mean of 10%; the two ways
  differ by up to +-10%, which no round-trip method can see), so round trips are 20-200 ms, for
  the HTTP calls and the Realtime socket alike;
* a clock skewed by up to +-2 s (its ClockSync reads a skewed wall clock);
* a player whose clock runs up to +-0.5% off, whose seeks take 30-400 ms (+-20%) and land within
  a few ms, with noisy position reports, late speed changes and random stalls (and a few
  scripted ones).

Members join over the first 30% of the run (at most 20 s); then the host (itself behind such a
path) seeks, pauses, changes speed, a member's player stalls, and a member pauses its own player
(its engine keeps its hands off for 2 s, then brings it back), in turn every 7 s. A referee
session without a player, directly on the gateway, sees each change of the room a few ms after
its commit. Every 100 ms each player's
exact position is compared with where the room really is (the room's row at the server clock,
which is this machine's clock): that is the drift. Drift is sampled while the room plays and the
player is not stalled; *steady* samples are those at least 3 s after the member's last
transition (its join, a host action, the end of its stall, its own pause). Each transition's
convergence (until |drift| <= 50 ms for 1 s), peak drift and seeks per member are measured as
bench/_transitions.py says, the same as bench.mpv_sync does on real players.

In the same run, as baselines: the same members with no delay and no skew (the floor: what is
left is the players and the SDK), and, unless --quick, the engine with Syncplay-like thresholds
over the same network.

    python -m bench.sync_accuracy            # the full run (about 4 minutes)
    python -m bench.sync_accuracy --quick    # shorter phases, no peer baseline (under a minute)

Writes bench/results/sync_accuracy.json and docs/sync_accuracy.png (drift over time per member).
Targets: steady p95 |drift| <= 50 ms, p99 <= 100 ms, convergence within 3 s after a join or a
seek, at most 1 steady-state seek per member per 10 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench._common import (
    PROJECT_DIR,
    DelayProxy,
    OneWayDelay,
    console,
    loop_lag_monitor,
    write_results,
)
from bench._sync_report import (
    SAMPLE_EVERY,
    TARGET_CONVERGE,
    TARGET_P95,
    TARGET_P99,
    TARGET_STEADY_SEEKS_PER_10MIN,
    analyse,
    check_targets,
    plot,
    report,
)
from bench._transitions import Transition
from bench.sync_sim import VARIANTS
from watchium_client import (
    ClockSync,
    NewRoom,
    RoomChanged,
    RoomSession,
    SyncThresholds,
    WatchiumClient,
    WatchiumError,
)
from watchium_client.players import PlayerProfile, SimulatedPlayer
from watchium_stack.harness import Stack, throwaway_stack

__all__ = ["main"]

PLOT = PROJECT_DIR / "docs" / "sync_accuracy.png"
ACTION_GAP = 7.0
PAUSE_FOR = 3.0


@dataclass(frozen=True)
class Settings:
    members: int = 20
    seconds: float = 110.0
    floor_seconds: float = 50.0
    peer_seconds: float = 50.0
    peers: tuple[str, ...] = ("syncplay-like",)
    seed: int = 1


QUICK = Settings(seconds=30.0, floor_seconds=18.0, peers=())


@dataclass(frozen=True)
class Variant:
    name: str
    thresholds: SyncThresholds
    network: bool
    seconds: float


@dataclass(frozen=True)
class Participant:
    """One participant's network, clock and player."""

    name: str
    rtt: float
    asymmetry: float
    skew: float
    profile: PlayerProfile
    seed: int


def make_participants(count: int, seed: int, *, stalls: bool = True) -> list[Participant]:
    """The host, then ``count`` members (whose players stall at random, unless not ``stalls``)."""
    rng = random.Random(seed)
    return [
        Participant(
            name="host" if i == 0 else f"m{i:02d}",
            rtt=rng.uniform(0.020, 0.200),
            asymmetry=rng.uniform(-0.1, 0.1),
            skew=rng.uniform(-2.0, 2.0),
            profile=PlayerProfile.random(
                rng, buffering_per_hour=6.0 if i and stalls else 0.0, buffering_max=4.0
            ),
            seed=seed * 1000 + i,
        )
        for i in range(count + 1)
    ]


@dataclass
class Viewer:
    participant: Participant
    client: WatchiumClient
    player: SimulatedPlayer
    proxy: DelayProxy | None
    session: RoomSession | None = None
    joined_at: float | None = None
    transitions: list[Transition] = field(default_factory=list)
    samples: list[tuple[float, float]] = field(default_factory=list)
    seeks: list[float] = field(default_factory=list)
    """When its player started a seek (as sampled)."""
    was_buffering: bool = False
    own_pause: float | None = None
    """When its user paused it, until its engine resumed it."""


# ---------------------------------------------------------------------- setting up


async def connect(
    stack: Stack, participant: Participant, network: bool
) -> tuple[WatchiumClient, Any]:
    proxy: DelayProxy | None = None
    url = stack.url
    if network:
        one_way = participant.rtt / 2
        proxy = await DelayProxy(
            stack.port,
            up=OneWayDelay(one_way * (1 + participant.asymmetry)),
            down=OneWayDelay(one_way * (1 - participant.asymmetry)),
            seed=participant.seed,
        ).start()
        url = proxy.url
    client = await WatchiumClient.connect(url, stack.anon_key)
    if network:
        skew = participant.skew
        client.clock = ClockSync(wall=lambda: time.time() + skew)
    return client, proxy


async def run_variant(stack: Stack, variant: Variant, settings: Settings) -> dict[str, Any]:
    participants = make_participants(settings.members, settings.seed)
    console.print(
        f"[bold]{variant.name}[/]: {settings.members} members + host, {variant.seconds:.0f} s"
        + (", delays and skew" if variant.network else ", no delay, no skew")
    )
    connected = await asyncio.gather(*(connect(stack, p, variant.network) for p in participants))
    viewers = [
        Viewer(p, client, p.profile.player(seed=p.seed), proxy)
        for p, (client, proxy) in zip(participants, connected, strict=True)
    ]
    referee_client = await WatchiumClient.connect(stack.url, stack.anon_key)
    host = viewers[0]
    actions: list[tuple[float, str]] = []
    lags: list[float] = []
    stop_lag = loop_lag_monitor(lags)
    referee: RoomSession | None = None
    try:
        host.session = RoomSession(
            host.client,
            NewRoom(
                title=f"bench {variant.name}",
                anime_id="bench",
                anime_title="Bench",
                video_url="https://example.com/bench.mkv",
            ),
            username="host",
            player=host.player,
            thresholds=variant.thresholds,
            leave_on_close=False,
        )
        await host.session.open()
        room_id = host.session.room_id
        referee = RoomSession(referee_client, room_id, username="referee", leave_on_close=False)

        def on_change(event: RoomChanged) -> None:
            if event.playback_changed:
                now = time.monotonic()
                kind = _action_kind(event)
                actions.append((now, kind))
                for viewer in viewers:
                    # A pause is no transition to converge from (nothing plays), but it ends
                    # the one before it: its seeks are its own.
                    if viewer.session is not None:
                        viewer.transitions.append(Transition(now, kind))

        referee.on_room_change(on_change)
        await referee.open()
        started = time.monotonic()
        host.joined_at = started
        host.transitions.append(Transition(started, "join"))
        sampler = asyncio.create_task(_sample(viewers, referee))
        try:
            await _script(viewers, variant, room_id, started)
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        ended = time.monotonic()
    finally:
        stop_lag()
        await _close(viewers, referee, referee_client)
    return analyse(variant, viewers, actions, started, ended, lags)


def _action_kind(event: RoomChanged) -> str:
    previous, state = event.previous, event.state
    if previous is None:
        return "play" if state.is_playing else "pause"
    if previous.is_playing != state.is_playing:
        return "play" if state.is_playing else "pause"
    if previous.playback_speed != state.playback_speed:
        return "speed"
    return "seek"


async def _script(viewers: list[Viewer], variant: Variant, room_id: str, started: float) -> None:
    """The members' joins (over the first 30%, at most 20 s), then the host's actions and some
    scripted stalls, one every ACTION_GAP seconds."""
    duration = variant.seconds
    host = viewers[0].session
    assert host is not None
    rng = random.Random(7)

    async def at(seconds: float) -> None:
        delay = started + seconds - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def join(viewer: Viewer, when: float) -> None:
        await at(when)
        viewer.joined_at = time.monotonic()
        viewer.transitions.append(Transition(viewer.joined_at, "join"))
        session = RoomSession(
            viewer.client,
            room_id,
            username=viewer.participant.name,
            player=viewer.player,
            thresholds=variant.thresholds,
            leave_on_close=False,
        )
        await session.open()
        viewer.session = session

    def position() -> float:
        state = host.state
        assert state is not None
        return state.target_position(host.client.clock.server_now())

    members = viewers[1:]
    join_window = min(0.3 * duration, 20.0)
    joins = [
        asyncio.create_task(join(v, 1.5 + join_window * i / max(1, len(members) - 1)))
        for i, v in enumerate(members)
    ]
    stalling = list(members)
    rng.shuffle(stalling)
    pausing = list(members)
    rng.shuffle(pausing)
    # The host acts every ACTION_GAP seconds once everyone has joined, through this cycle.
    cycle = [
        "seek+", "stall", "pause", "seek-", "speed 1.25", "own pause", "stall", "speed 1",
        "seek+",
    ]  # fmt: skip
    timeline: list[tuple[float, str]] = [(1.0, "play")]
    when = 1.5 + join_window + 5.0
    step = 0
    while when < duration - 4.0:
        what = cycle[step % len(cycle)]
        timeline.append((when, what))
        if what == "pause":
            timeline.append((when + PAUSE_FOR, "play"))
        when += ACTION_GAP
        step += 1
    try:
        for when, what in timeline:
            await at(when)
            try:
                await _host_action(host, what, position, rng)
            except WatchiumError as exc:
                # The host's request did not get through (the server dropped an idle
                # connection as it was reused): the room goes on without that action.
                console.print(f"[yellow]the host's {what} failed: {exc}[/]")
            if what == "stall" and stalling:
                stalling.pop().player.stall(rng.uniform(1.5, 3.0))
            elif what == "own pause" and pausing:
                viewer = pausing.pop()
                viewer.own_pause = time.monotonic()
                await viewer.player.user_pause()
        await asyncio.gather(*joins)
        await at(duration)
    finally:
        for task in joins:
            task.cancel()


async def _host_action(
    host: RoomSession, what: str, position: Callable[[], float], rng: random.Random
) -> None:
    if what == "play":
        await host.play()
    elif what == "pause":
        await host.pause()
    elif what == "seek+":
        await host.seek(position() + rng.uniform(30, 120))
    elif what == "seek-":
        await host.seek(max(0.0, position() - rng.uniform(10, 40)))
    elif what.startswith("speed"):
        await host.set_speed(float(what.split()[1]))


async def _sample(viewers: list[Viewer], referee: RoomSession) -> None:
    while True:
        await asyncio.sleep(SAMPLE_EVERY)
        truth = referee.state
        server_now = time.time()
        now = time.monotonic()
        for viewer in viewers:
            if viewer.session is None or viewer.session.engine is None:
                continue
            player = viewer.player
            if player.seeks > len(viewer.seeks):
                viewer.seeks.extend([now] * (player.seeks - len(viewer.seeks)))
            buffering = player.is_buffering
            if viewer.was_buffering and not buffering:
                viewer.transitions.append(Transition(now, "stall"))
            viewer.was_buffering = buffering
            if viewer.own_pause is not None and player.is_playing:
                # Measured from when its engine resumed it.
                viewer.transitions.append(Transition(viewer.own_pause, "own pause", now))
                viewer.own_pause = None
            if buffering or truth is None or not truth.has_started(server_now):
                continue
            drift = viewer.player.true_position() - truth.target_position(server_now)
            viewer.samples.append((now, drift))


async def _close(
    viewers: list[Viewer], referee: RoomSession | None, referee_client: WatchiumClient
) -> None:
    sessions = [v.session for v in viewers if v.session is not None]
    if referee is not None:
        sessions.append(referee)
    await asyncio.gather(*(s.close(leave=False) for s in sessions), return_exceptions=True)
    for viewer in viewers:
        await viewer.player.close()
        await viewer.client.close()
        if viewer.proxy is not None:
            await viewer.proxy.close()
    await referee_client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_accuracy", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter phases, no peer baseline")
    parser.add_argument("--members", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None, help="length of the main phase")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
    if args.members is not None:
        settings = Settings(**{**settings.__dict__, "members": args.members})
    if args.seconds is not None:
        settings = Settings(**{**settings.__dict__, "seconds": args.seconds})
    variants = [
        Variant("watchium", SyncThresholds(), network=True, seconds=settings.seconds),
        Variant("floor (no delay, no skew)", SyncThresholds(), False, settings.floor_seconds),
    ]
    variants += [
        Variant(peer, VARIANTS[peer], network=True, seconds=settings.peer_seconds)
        for peer in settings.peers
    ]
    began = time.monotonic()
    console.print("Starting a throwaway stack (PostgreSQL, functions, Realtime)...")
    with throwaway_stack() as stack:
        results = [asyncio.run(run_variant(stack, v, settings)) for v in variants]
    report(results)
    if not args.no_plot:
        plot(results, PLOT)
        console.print(f"plot: {PLOT.relative_to(PROJECT_DIR)}")
    missed = check_targets(results[0])
    data = {
        "benchmark": "sync_accuracy",
        "quick": args.quick,
        "settings": settings.__dict__,
        "elapsed_s": round(time.monotonic() - began, 1),
        "targets": {
            "steady_p95_ms": TARGET_P95 * 1000,
            "steady_p99_ms": TARGET_P99 * 1000,
            "converge_s": TARGET_CONVERGE,
            "steady_seeks_per_10_min": TARGET_STEADY_SEEKS_PER_10MIN,
        },
        "missed": missed,
        "variants": [{k: v for k, v in r.items() if not k.startswith("_")} for r in results],
    }
    path = write_results("sync_accuracy", data)
    console.print(f"results: {path.relative_to(PROJECT_DIR)}")
    for line in missed:
        console.print(f"[red]missed:[/] {line}")
    if not missed:
        console.print("[green]all targets met[/]")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
