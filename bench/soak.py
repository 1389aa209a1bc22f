"""Soak: rooms joining, playing, commenting and leaving without pause for a bounded time, while
the stack's memory and CPU are sampled; it fails on a leak, a 5xx or a lost event.

Against one throwaway stack (PostgreSQL, and the gateway with the functions, auth and Realtime,
as ``watchium up`` runs them), loopback only:

* ``--rooms`` rooms run at once, each for ``--room-seconds``: a host creates it, ``--members``
  members join (real SDK sessions: ``RoomSession`` with a ``SimulatedPlayer``, each its own
  anonymous user, HTTP calls and Realtime socket), the host plays; then every few seconds the
  host seeks, pauses, plays or changes the speed, and a member comments; halfway, one member
  leaves and a new one joins; at the end everyone leaves and the next room starts;
* before the load, the idle stack is sampled for ``--idle-seconds``: the baseline of the table;
* every ``--interval`` seconds: memory and CPU of each process (``bench/_soak_procs.py``), and
  the WAL the Realtime slot retains.

It fails when:

* **a leak**: the memory of a stack process (PostgreSQL, its WAL senders, the gateway) grows
  over the second half of the run by more than :data:`LEAK_BOUND_MIB_PER_MIN` MiB per minute (a
  least-squares slope, so one step of the allocator is not a trend); the load generator's own
  process is reported, not judged;
* **a 5xx**: any HTTP answer of 500 or above to any client (the SDK's own heartbeats included);
* **a lost event**: a comment or host action that did not reach every member present from
  before it was sent until after the room ended (a refetch after a loss counts as delivered; a
  session that had to refetch is reported too).

    python -m bench.soak                 # 30 minutes
    python -m bench.soak --minutes 10
    python -m bench.soak --quick         # 2 minutes
    make soak                            # 30 minutes (MINUTES=10 make soak)

Writes bench/results/soak.json. Not part of ``make bench``: it takes too long.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from supabase import AsyncClientOptions

from bench._common import console, print_table, write_results
from bench._soak_procs import ROWS, ProcessMeter, Reading, slope
from watchium_client import (
    CommentPosted,
    ConnectionLost,
    NewRoom,
    RateLimited,
    RoomChanged,
    RoomSession,
    WatchiumClient,
    WatchiumError,
    parse_server_time,
)
from watchium_client.players import SimulatedPlayer
from watchium_stack.harness import Stack, throwaway_stack

LEAK_BOUND_MIB_PER_MIN = 1.0
"""Fail when a stack process's memory grows faster than this over the second half of the run."""

CHECKED = ("postgres", "walsender", "gateway")
"""The rows held to the bound: the stack's. ``clients`` is the load generator itself (every SDK
session in one process, their number varying as rooms come and go): reported, not judged."""

# Events sent this long before a room ends must have reached everyone by then.
_QUIET_END = 5.0


@dataclass
class Ledger:
    """Everything sent, everything checked, everything that went wrong."""

    comments: int = 0
    actions: int = 0
    deliveries: int = 0
    lost: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    refetches: list[str] = field(default_factory=list)
    rate_limited: int = 0
    rooms: int = 0
    joins: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass
class Sent:
    what: str
    key: Any
    by: str
    at: float  # monotonic, just before sending
    done: float  # monotonic, once committed


@dataclass
class Viewer:
    name: str
    session: RoomSession
    client: WatchiumClient
    http: httpx.AsyncClient
    joined: float
    comments: set[str] = field(default_factory=set)
    playback: set[float] = field(default_factory=set)


class _RecordingTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, noting every request that got no answer at all (and why)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__()
        self._errors = errors

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.HTTPError as exc:
            self._errors.append(f"{type(exc).__name__}({exc}) {request.method} {request.url.path}")
            raise


def _playback_key(updated_at: float) -> float:
    return round(updated_at, 3)


class Soak:
    def __init__(self, stack: Stack, args: argparse.Namespace) -> None:
        self.stack = stack
        self.args = args
        self.ledger = Ledger()
        self.rng = random.Random(7)

    async def _count_5xx(self, response: httpx.Response) -> None:
        if response.status_code >= 500:
            self.ledger.server_errors.append(
                f"{response.status_code} {response.request.method} {response.request.url.path}"
            )

    async def open_viewer(self, name: str, room: str | NewRoom) -> Viewer:
        http = httpx.AsyncClient(
            timeout=30,
            event_hooks={"response": [self._count_5xx]},
            transport=_RecordingTransport(self.ledger.transport_errors),
        )
        options = AsyncClientOptions(httpx_client=http, persist_session=False)
        client = await WatchiumClient.connect(
            self.stack.url, self.stack.client_key, options=options
        )
        player = SimulatedPlayer(
            rate_error=self.rng.uniform(-0.004, 0.004), seek_latency=self.rng.uniform(0.03, 0.2)
        )
        session = RoomSession(client, room, username=name, player=player)
        viewer = Viewer(name, session, client, http, joined=0.0)

        def on_comment(event: CommentPosted) -> None:
            viewer.comments.add(event.comment.id)

        def on_room(event: RoomChanged) -> None:
            viewer.playback.add(_playback_key(event.state.updated_at))

        def on_lost(event: ConnectionLost) -> None:
            self.ledger.refetches.append(f"{name}: {event.reason}")

        session.on(CommentPosted, on_comment).on(RoomChanged, on_room)
        session.on(ConnectionLost, on_lost)
        await session.open()
        viewer.joined = time.monotonic()
        self.ledger.joins += 1
        return viewer

    async def close_viewer(self, viewer: Viewer) -> None:
        with contextlib.suppress(WatchiumError):
            await viewer.session.close()
        if viewer.session.player is not None:
            await viewer.session.player.close()  # a session leaves its player open
        await viewer.client.close()
        await viewer.http.aclose()

    def check(self, viewer: Viewer, sent: list[Sent], before: float) -> None:
        """Every event sent after ``viewer`` joined and committed before ``before`` (which
        leaves it time to arrive) reached it; its own comments aside."""
        for event in sent:
            if not (viewer.joined <= event.at and event.done <= before):
                continue
            if event.what == "comment" and event.by == viewer.name:
                continue
            self.ledger.deliveries += 1
            seen = viewer.comments if event.what == "comment" else viewer.playback
            if event.key not in seen:
                self.ledger.lost.append(f"{viewer.name} never got {event.what} {event.key}")

    async def room(self, n: int, stop_at: float) -> None:
        """One room's life; returns at its end."""
        args = self.args
        new = NewRoom(
            title=f"soak {n}",
            anime_id="frieren",
            anime_title="Frieren",
            video_url="https://example.com/frieren/01.mkv",
        )
        host = await self.open_viewer(f"host{n}", new)
        room_id = host.session.room_id
        members = [await self.open_viewer(f"m{n}.{i}", room_id) for i in range(args.members)]
        await host.session.play()
        end = min(stop_at, time.monotonic() + args.room_seconds)
        sent: list[Sent] = []
        swapped = False
        actions = ["seek", "pause", "play", "speed", "seek", "speed"]
        step = 0
        try:
            while time.monotonic() < end - _QUIET_END:
                await asyncio.sleep(self.rng.uniform(1.5, 3.0))
                if not swapped and time.monotonic() > end - args.room_seconds / 2:
                    swapped = True
                    leaving = members.pop(0)
                    self.check(leaving, sent, time.monotonic() - _QUIET_END)
                    await self.close_viewer(leaving)
                    members.append(await self.open_viewer(f"m{n}.late", room_id))
                if step % 2 == 0:
                    await self._host_action(host, actions[(step // 2) % len(actions)], sent)
                else:
                    await self._comment(self.rng.choice(members), sent)
                step += 1
            await asyncio.sleep(max(0.0, end - time.monotonic()))
        finally:
            last = time.monotonic() - _QUIET_END
            for viewer in [*members, host]:
                self.check(viewer, sent, last)
                await self.close_viewer(viewer)
            self.ledger.rooms += 1

    async def _host_action(self, host: Viewer, action: str, sent: list[Sent]) -> None:
        session = host.session
        at = time.monotonic()
        try:
            if action == "seek":
                snapshot = await session.seek(self.rng.uniform(0, 1200))
            elif action == "pause":
                snapshot = await session.pause()
            elif action == "play":
                snapshot = await session.play()
            else:
                snapshot = await session.set_speed(self.rng.choice([1.0, 1.25, 0.75]))
        except RateLimited:
            self.ledger.rate_limited += 1
            return
        except WatchiumError as exc:
            self.ledger.failures.append(f"{action}: {exc}")
            return
        key = _playback_key(parse_server_time(snapshot.playback_updated_at))
        sent.append(Sent("action", key, host.name, at, time.monotonic()))
        self.ledger.actions += 1

    async def _comment(self, member: Viewer, sent: list[Sent]) -> None:
        at = time.monotonic()
        try:
            comment = await member.session.post_comment(f"soak comment {self.ledger.comments}")
        except RateLimited:
            self.ledger.rate_limited += 1
            return
        except WatchiumError as exc:
            self.ledger.failures.append(f"comment: {exc}")
            return
        sent.append(Sent("comment", comment.id, member.name, at, time.monotonic()))
        self.ledger.comments += 1

    async def rooms(self, lane: int, stop_at: float) -> None:
        """Room after room in one lane until ``stop_at``."""
        n = lane
        while time.monotonic() < stop_at - 10:
            try:
                await self.room(n, stop_at)
            except WatchiumError as exc:
                self.ledger.failures.append(f"room {n}: {exc}")
            n += self.args.rooms


def _slot_wal_mib(stack: Stack) -> float:
    import psycopg

    with psycopg.connect(stack.db_url, connect_timeout=10) as conn:
        row = conn.execute(
            "select coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)), 0) "
            "from pg_replication_slots where slot_name = %s",
            (f"watchium_stack_{stack.port}",),
        ).fetchone()
    return float(row[0]) / (1 << 20) if row else 0.0


async def sample(
    meter: ProcessMeter, stack: Stack, until: float, interval: float, into: list[Reading]
) -> None:
    while True:
        reading = meter.read(time.monotonic())
        reading.memory["slot WAL"] = await asyncio.to_thread(_slot_wal_mib, stack)
        into.append(reading)
        if time.monotonic() + interval > until:
            return
        await asyncio.sleep(interval)


def _postmaster(stack: Stack) -> int:
    import psycopg

    with psycopg.connect(stack.db_url, connect_timeout=10) as conn:
        row = conn.execute("select pg_backend_pid()").fetchone()
        assert row is not None
        # The backend's parent is the postmaster (read while the backend still runs).
        text = Path(f"/proc/{row[0]}/stat").read_text()
    return int(text[text.rindex(")") + 2 :].split()[1])


async def run(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    assert stack.process is not None
    meter = ProcessMeter(_postmaster(stack), stack.process.pid)
    idle: list[Reading] = []
    await sample(meter, stack, time.monotonic() + args.idle_seconds, args.interval / 2, idle)
    soak = Soak(stack, args)
    start = time.monotonic()
    stop_at = start + args.minutes * 60
    readings: list[Reading] = []
    sampler = asyncio.create_task(sample(meter, stack, stop_at, args.interval, readings))
    lanes = [asyncio.create_task(soak.rooms(lane, stop_at)) for lane in range(args.rooms)]
    # Stagger nothing: the rooms start together, then drift apart with their random pauses.
    await asyncio.gather(*lanes)
    sampler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sampler
    return report(soak.ledger, idle, readings, args)


def report(
    ledger: Ledger, idle: list[Reading], readings: list[Reading], args: argparse.Namespace
) -> dict[str, Any]:
    rows_over_time = []
    every = max(1, round(60 / args.interval)) if args.minutes >= 5 else 1
    baseline = idle[-1]
    rows_over_time.append(
        [
            "idle",
            *[v for r in ROWS for v in (baseline.memory[r], baseline.cpu[r])],
            int(baseline.memory["backends"]),
            baseline.memory["slot WAL"],
        ]
    )
    for i, reading in enumerate(readings):
        if i % every and i != len(readings) - 1:
            continue
        cells = [v for r in ROWS for v in (reading.memory[r], reading.cpu[r])]
        rows_over_time.append(
            [
                f"{reading.at / 60:.1f}",
                *cells,
                int(reading.memory["backends"]),
                reading.memory["slot WAL"],
            ]
        )
    columns = ["minute"]
    for r in ROWS:
        columns += [f"{r} MiB", f"{r} CPU%"]
    columns += ["pg processes", "slot WAL MiB"]
    print_table(
        "Memory and CPU over time (idle: the stack before the load)", columns, rows_over_time
    )

    half = [x for x in readings if x.at >= readings[-1].at / 2]
    first = [x for x in readings if x.at < readings[-1].at / 2]
    leaks = []
    summary_rows = []
    for r in ROWS:
        second_slope = slope([(x.at / 60, x.memory[r]) for x in half])
        first_slope = slope([(x.at / 60, x.memory[r]) for x in first])
        mean_cpu = sum(x.cpu[r] for x in readings[1:]) / max(1, len(readings) - 1)
        if r not in CHECKED:
            verdict = "not checked"
        elif second_slope <= LEAK_BOUND_MIB_PER_MIN:
            verdict = "ok"
        else:
            verdict = "LEAK"
            leaks.append(f"{r}: {second_slope:+.2f} MiB/min over the second half")
        summary_rows.append(
            [
                r,
                baseline.memory[r],
                readings[-1].memory[r],
                first_slope,
                second_slope,
                baseline.cpu[r],
                mean_cpu,
                verdict,
            ]
        )
    print_table(
        f"Growth (MiB per minute, least squares; bound {LEAK_BOUND_MIB_PER_MIN} over the "
        "second half) and CPU against the idle baseline",
        [
            "process",
            "idle MiB",
            "end MiB",
            "slope 1st half",
            "slope 2nd half",
            "idle CPU%",
            "mean CPU%",
            "verdict",
        ],
        summary_rows,
    )
    print_table(
        "Events",
        ["rooms", "joins", "comments", "host actions", "deliveries checked", "lost", "5xx"],
        [
            [
                ledger.rooms,
                ledger.joins,
                ledger.comments,
                ledger.actions,
                ledger.deliveries,
                len(ledger.lost),
                len(ledger.server_errors),
            ]
        ],
    )
    console.print(
        f"sessions that lost their connection and refetched: {len(ledger.refetches)} "
        f"{ledger.refetches[:5]}; requests without an answer: {len(ledger.transport_errors)} "
        f"{ledger.transport_errors[:5]}; rate limited (not sent): {ledger.rate_limited}; "
        f"other failures: {len(ledger.failures)}"
    )
    problems = [*leaks, *ledger.lost[:20], *ledger.server_errors[:20], *ledger.failures[:20]]
    return {
        "args": vars(args),
        "leak_bound_mib_per_min": LEAK_BOUND_MIB_PER_MIN,
        "idle": [vars(x) for x in idle],
        "readings": [vars(x) for x in readings],
        "summary": [
            dict(zip(["process", "idle", "end", "slope1", "slope2"], row[:5], strict=True))
            for row in summary_rows
        ],
        "ledger": vars(ledger),
        "problems": problems,
        "passed": not problems,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="how long (default 30)")
    parser.add_argument("--quick", action="store_true", help="2 minutes")
    parser.add_argument("--rooms", type=int, default=3, help="rooms at once (default 3)")
    parser.add_argument("--members", type=int, default=3, help="members besides the host (3)")
    parser.add_argument("--room-seconds", type=float, default=90.0, help="a room's life (90)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle baseline (10)")
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes = 2.0
        args.room_seconds = 40.0
        args.interval = 5.0
    if not 0 < args.minutes <= 24 * 60:
        parser.error("--minutes must be within (0, 1440]")
    logging.basicConfig(level=logging.ERROR)
    console.width = max(console.width, 150)  # the tables are wide; keep them whole when piped
    console.print(
        f"soak: {args.minutes:g} min, {args.rooms} rooms of 1 host + {args.members} members, "
        f"each {args.room_seconds:g} s; samples every {args.interval:g} s"
    )
    with throwaway_stack() as stack:
        result = asyncio.run(run(stack, args))
    path = write_results("soak", result)
    console.print(f"results: {path}")
    if result["problems"]:
        console.print("[red]FAILED[/]")
        for problem in result["problems"]:
            console.print(f"  {problem}")
        return 1
    console.print("[green]passed[/]: no leak, no 5xx, no lost event")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
