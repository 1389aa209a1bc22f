"""Starting together: a skip of the opening, and a ready check's start, with and without the
scheduled lead (docs/NIGHTS.md, "Skip together" and "Ready check").

When the room jumps (a skip) or starts (a ready check passing), the database schedules the new
reference time ``settings.start_lead`` ahead (0.6 s): every member's engine seeks its player to
the new position, holds it there, and all start at the same instant. The baseline, measured in
the same run against the same stack, is the same room with ``start_lead`` set to 0: the change
takes effect at once, each player hears of it after its own network delay, seeks for its own
seek latency and lands behind the room, then catches up.

A host and N members, each a real SDK session (its own anonymous user, HTTP calls and Realtime
socket) behind a network path of its own (a TCP proxy delaying every chunk: round trips
20-200 ms) with a ``SimulatedPlayer`` (clock up to +-0.5% off, seeks of 30-400 ms). Per event:

* *spread*: the largest minus the smallest player drift (exact position against the room's row
  at this machine's clock, which is the server's) 0.1 s, 0.3 s and 1 s after the room's start
  instant: how far apart the frames on the members' screens are;
* *peak*: the largest |drift| of any player from the start instant to 3 s after it;
* *in step after*: from the host's action (the skip call; for a ready check, the moment it
  passed) until every player is within 50 ms of the room for 1 s;
* *seeks*: seeks per player per event.

    python -m bench.episode_night            # 6 members, 8 skips and 4 ready checks per variant
    python -m bench.episode_night --quick    # 4 members, 4 skips and 2 ready checks

Writes bench/results/episode_night.json. Targets (with the lead): spread 0.3 s after the start
<= 50 ms, every player in step within 3 s of the action.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import psycopg

from bench._common import DelayProxy, console, percentile, print_table, write_results
from bench.sync_accuracy import connect, make_participants
from watchium_client import NewRoom, RoomSession, WatchiumClient
from watchium_client.players import SimulatedPlayer
from watchium_client.sync import PlaybackState, parse_server_time
from watchium_stack.harness import Stack, throwaway_stack

__all__ = ["main"]

OPENING = (60.0, 150.0)
VIDEO = "https://example.com/frieren/01.mkv"
MARKS = (0.1, 0.3, 1.0)
IN_STEP = 0.050
IN_STEP_FOR = 1.0
WATCH = 3.0
SAMPLE_EVERY = 0.02
TARGET_SPREAD = 0.050
TARGET_IN_STEP = 3.0
LEAD = 0.6


@dataclass(frozen=True)
class Settings:
    members: int = 6
    skips: int = 8
    checks: int = 4
    seed: int = 3


QUICK = Settings(members=4, skips=4, checks=2)


@dataclass
class Viewer:
    name: str
    client: WatchiumClient
    player: SimulatedPlayer
    proxy: DelayProxy | None
    session: RoomSession


def set_lead(stack: Stack, seconds: float) -> None:
    with psycopg.connect(stack.db_url, autocommit=True) as conn:
        conn.execute(
            "update watchium.settings set start_lead = make_interval(secs => %s)", (seconds,)
        )


async def open_party(stack: Stack, settings: Settings) -> list[Viewer]:
    # No random stalls: a stall is not what is measured.
    people = make_participants(settings.members, settings.seed, stalls=False)
    viewers: list[Viewer] = []
    room: str | NewRoom = NewRoom(
        title="night",
        anime_id="frieren",
        anime_title="Frieren",
        video_url=VIDEO,
    )
    for person in people:
        client, proxy = await connect(stack, person, True)
        player = person.profile.player(seed=person.seed)
        session = RoomSession(client, room, username=person.name, player=player)
        await session.open()
        viewers.append(Viewer(person.name, client, player, proxy, session))
        if isinstance(room, NewRoom):
            room = session.room_id
            entry = await client.queue_add(
                room, episode_number=1, video_url=VIDEO, duration=1440.0, opening=OPENING
            )
            await client.queue_go(room, "entry", entry_id=entry.entry.id)
    return viewers


async def close_party(viewers: list[Viewer]) -> None:
    for viewer in viewers:
        with contextlib.suppress(Exception):
            await viewer.session.close()
        with contextlib.suppress(Exception):
            await viewer.client.close()
        await viewer.player.close()
        if viewer.proxy is not None:
            await viewer.proxy.close()


async def truth(viewers: list[Viewer]) -> PlaybackState:
    host = viewers[0]
    live = await host.client.host_time(host.session.room_id)
    return PlaybackState.from_row(live.model_dump())


def latest(viewers: list[Viewer], room: PlaybackState) -> PlaybackState:
    """``room``, or the newer row the host's session has seen since (the host's player is the
    room's reference and may re-anchor it once it has landed)."""
    seen = viewers[0].session.state
    return seen if seen is not None and seen.updated_at > room.updated_at else room


async def in_step(viewers: list[Viewer], room: PlaybackState, since: float) -> float | None:
    """Seconds from ``since`` (epoch) until every player is within 50 ms of the room for 1 s
    (None: not within 10 s)."""
    held_from: float | None = None
    while time.time() < since + 10.0:
        now = time.time()
        room = latest(viewers, room)
        target = room.target_position(now)
        worst = max(abs(v.player.true_position() - target) for v in viewers)
        if room.has_started(now) and worst <= IN_STEP:
            held_from = held_from if held_from is not None else now
            if now - held_from >= IN_STEP_FOR:
                return held_from - since
        else:
            held_from = None
        await asyncio.sleep(SAMPLE_EVERY)
    return None


async def watch(
    viewers: list[Viewer], room: PlaybackState, action_at: float, seeks_before: int
) -> dict[str, Any]:
    """Samples the players around the room's start instant; the event's figures (``seeks_before``:
    the players' seeks before the action)."""
    start = room.updated_at
    spreads: dict[float, float] = {}
    peak = 0.0
    in_step_task = asyncio.create_task(in_step(viewers, room, action_at))
    while time.time() < start + WATCH:
        now = time.time()
        target = latest(viewers, room).target_position(now)
        drifts = [v.player.true_position() - target for v in viewers]
        if now >= start:
            peak = max(peak, max(abs(d) for d in drifts))
            for mark in MARKS:
                if mark not in spreads and now >= start + mark:
                    spreads[mark] = max(drifts) - min(drifts)
        await asyncio.sleep(SAMPLE_EVERY)
    settled = await in_step_task
    return {
        "lead": round(start - action_at, 3),
        "spread": {str(k): round(v, 4) for k, v in spreads.items()},
        "peak": round(peak, 4),
        "in_step_after": None if settled is None else round(settled, 3),
        "seeks_per_player": round(
            (sum(_seeks(v) for v in viewers) - seeks_before) / len(viewers), 2
        ),
    }


def _seeks(viewer: Viewer) -> int:
    engine = viewer.session.engine
    return 0 if engine is None else engine.stats().seeks


async def settle_in(viewers: list[Viewer]) -> None:
    """Until every player is in step with the room as it is now."""
    room = await truth(viewers)
    await in_step(viewers, room, time.time())


async def run_variant(stack: Stack, lead: float, settings: Settings) -> dict[str, Any]:
    set_lead(stack, lead)
    console.print(f"[bold]start_lead {lead:g} s[/]: {settings.members} members + host")
    viewers = await open_party(stack, settings)
    host = viewers[0].session
    events: dict[str, list[dict[str, Any]]] = {"skip": [], "ready check": []}
    try:
        await host.play()
        await settle_in(viewers)
        for _ in range(settings.skips):
            await host.seek(OPENING[0] + 10.0, start_delay=0.6)
            await settle_in(viewers)
            seeks = sum(_seeks(v) for v in viewers)
            action_at = time.time()
            result = await host.skip("opening")
            room = PlaybackState.from_row(result.model_dump())
            events["skip"].append(await watch(viewers, room, action_at, seeks))
        for _ in range(settings.checks):
            await settle_in(viewers)
            seeks = sum(_seeks(v) for v in viewers)
            check = await host.start_ready_check("none", timeout=30)
            while True:
                seen = host.ready_check
                if seen is not None and seen.check_id == check.check_id and not seen.is_open:
                    break
                await asyncio.sleep(SAMPLE_EVERY)
            assert seen.settled_at is not None
            passed_at = parse_server_time(seen.settled_at)
            room = await truth(viewers)
            events["ready check"].append(await watch(viewers, room, passed_at, seeks))
            await asyncio.sleep(1.0)
    finally:
        await close_party(viewers)
    return {"lead": lead, "events": events}


def summarise(variant: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for kind, events in variant["events"].items():
        if not events:
            continue
        settled = [e["in_step_after"] for e in events if e["in_step_after"] is not None]
        out[kind] = {
            "n": len(events),
            **{
                f"spread_{mark}": percentile(sorted(e["spread"].get(mark, 0.0) for e in events), 50)
                for mark in ("0.1", "0.3", "1.0")
            },
            "spread_0.3_max": max(e["spread"].get("0.3", 0.0) for e in events),
            "peak_max": max(e["peak"] for e in events),
            "in_step_p50": percentile(sorted(settled), 50) if settled else None,
            "in_step_max": max(settled) if settled else None,
            "in_step_within_3s": sum(1 for s in settled if s <= TARGET_IN_STEP),
            "seeks_per_player": sum(e["seeks_per_player"] for e in events) / len(events),
        }
    return out


def _ms(value: float) -> str:
    return f"{1000 * value:,.0f}" if value >= 0.1 else f"{1000 * value:.1f}"


def report(results: list[dict[str, Any]]) -> list[str]:
    rows = []
    misses: list[str] = []
    for variant in results:
        for kind, s in summarise(variant).items():
            settled = (
                "-"
                if s["in_step_p50"] is None
                else f"{s['in_step_p50']:.2f} / {s['in_step_max']:.2f}"
            )
            rows.append(
                [
                    f"{kind}, lead {variant['lead']:g} s",
                    s["n"],
                    " / ".join(_ms(s[f"spread_{m}"]) for m in ("0.1", "0.3", "1.0")),
                    _ms(s["spread_0.3_max"]),
                    _ms(s["peak_max"]),
                    settled,
                    f"{s['in_step_within_3s']}/{s['n']}",
                    f"{s['seeks_per_player']:.2f}",
                ]
            )
            if variant["lead"] > 0:
                if s["spread_0.3_max"] > TARGET_SPREAD:
                    misses.append(
                        f"{kind}: spread 0.3 s after the start {1000 * s['spread_0.3_max']:.0f} ms"
                    )
                if s["in_step_within_3s"] < s["n"]:
                    misses.append(f"{kind}: {s['n'] - s['in_step_within_3s']} not in step in 3 s")
    print_table(
        "Starting together: spread of the players' frames (ms) after the room's start instant",
        [
            "event",
            "n",
            "spread +0.1 / +0.3 / +1 s p50",
            "+0.3 s max",
            "peak max",
            "in step p50 / max s",
            "in 3 s",
            "seeks",
        ],
        rows,
    )
    return misses


async def run(settings: Settings) -> int:
    results: list[dict[str, Any]] = []
    with throwaway_stack() as stack:
        for lead in (LEAD, 0.0):
            results.append(await run_variant(stack, lead, settings))
    misses = report(results)
    path = write_results(
        "episode_night",
        {"settings": settings.__dict__, "variants": results, "misses": misses},
    )
    console.print(f"results: {path}")
    for miss in misses:
        console.print(f"[red]missed:[/] {miss}")
    if not misses:
        console.print("all targets met")
    return 1 if misses else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.episode_night", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="4 members, fewer events")
    parser.add_argument("--members", type=int, default=None)
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
    if args.members is not None:
        settings = Settings(
            members=args.members, skips=settings.skips, checks=settings.checks, seed=settings.seed
        )
    return asyncio.run(run(settings))


if __name__ == "__main__":
    raise SystemExit(main())
