"""Realtime fan-out: commit-to-receipt latency of postgres_changes authorised per subscriber by
RLS, next to a bare websocket fan-out (the floor), and the server's idle CPU.

Real websocket clients, each with its own JWT (role authenticated, sub = a user id) and a member of
its room, join the room's channel as the SDK does (private, three postgres_changes bindings
filtered ``room_id=eq.<id>``), so every delivery is checked against the rooms policy for that user.

(a) 20 rooms x 50 members, each host seeking 5 times a second through ``public.sync_control``
    (as the host, as PostgREST calls it): latency p50/p95/p99/max, lost and duplicated events.
(b) one room of 500 members, the host updating the room directly at rising rates: the p95 at
    each rate and the highest rate delivered to every member with p95 < 100 ms.
The floor: the same client processes connected to a trivial fan-out server on the same websocket
stack (bench/_fanout_floor.py: uvicorn and its websocket protocol, each frame framed once and
written to every member's transport as the Realtime server does; no database, no RLS), sent the
same frames at the same rates. Idle: the server's CPU over 10 s with the clients of (a) connected.
CPU is reported in percent of one core for the server, PostgreSQL (every backend, the WAL sender
included) and the client processes (bench/_fanout_clients.py: 1,000 or 500 clients in 4
processes, sharing the machine's cores with the rest).

    python -m bench.realtime_fanout               # the full run (about 4 minutes)
    python -m bench.realtime_fanout --quick       # shorter phases, fewer rates (about 75 s)
    python -m bench.realtime_fanout --asgi-floor  # the floor sends through ASGI instead

The sync_control rate limit (2 per second per host) is raised in the benchmark database: the
benchmark measures delivery, not the refusal. Latency is measured from the moment the COMMIT
returned to the driver (time.monotonic, one clock for every process on this machine) to the
moment a client read the frame; the row's current_playback_time carries the change's number.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from bench._common import (
    PROJECT_DIR,
    CpuMeter,
    child_pids,
    console,
    stop_process,
    write_results,
)
from bench._fanout_clients import ClientSpec, Workers
from bench._fanout_report import (
    DRAIN_SECONDS,
    QUICK,
    TARGET_B_P95_MS,
    TARGET_B_RATE,
    TARGET_IDLE_CPU,
    TARGET_P99_MS,
    Phase,
    Room,
    Settings,
    brief,
    jsonable,
    report,
)
from bench._fanout_sources import DatabaseSource, FloorSource, create_rooms, run_schedule
from watchium_functions.tokens import encode_token
from watchium_stack.database import throwaway_database
from watchium_stack.keys import keys_from_secret
from watchium_stack.postgres import free_port

__all__ = ["main"]


def _wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


# -- a run against one server ---------------------------------------------------------------------


@dataclass
class Target:
    """A server under test and how to make changes on it."""

    name: str
    ws_url: str
    pid: int
    source: Callable[[list[Room], bool], Any]  # (rooms, direct_update) -> source


class Bench:
    def __init__(self, settings: Settings, db_url: str, postmaster: int | None, secret: str):
        self.settings = settings
        self.db_url = db_url
        self.secret = secret
        self.postmaster = postmaster
        self.workers = Workers(settings.processes)
        self.seq = 1_000
        self.sample: bytes | None = None

    def specs(self, rooms: list[Room]) -> list[ClientSpec]:
        exp = int(time.time()) + 6 * 3600
        out: list[ClientSpec] = []
        for room in rooms:
            for user in room.members:
                claims = {"sub": user, "role": "authenticated", "aud": "authenticated", "exp": exp}
                out.append(
                    ClientSpec(len(out), user, encode_token(claims, self.secret), room.room_id)
                )
        return out

    def db_pids(self) -> list[int]:
        if self.postmaster is None:
            return []
        return [self.postmaster, *child_pids(self.postmaster)]

    def connect(self, target: Target, rooms: list[Room]) -> list[ClientSpec]:
        specs = self.specs(rooms)
        t0 = time.monotonic()
        joined, errors = self.workers.connect(target.ws_url, specs)
        if joined != len(specs):
            raise RuntimeError(
                f"{len(specs) - joined} clients could not join {target.name}: {errors}"
            )
        console.print(
            f"  {joined} clients joined {target.name} in {time.monotonic() - t0:.1f} s", style="dim"
        )
        return specs

    def wait_delivered(self, lo: int, hi: int, expected: int) -> int:
        """Wait until the clients hold ``expected`` receipts in [lo, hi) (or delivery stalls)."""
        deadline = time.monotonic() + DRAIN_SECONDS
        got = 0
        while time.monotonic() < deadline:
            got = self.workers.count(lo, hi)
            if got >= expected:
                break
            time.sleep(0.25)
        return got

    async def _changes(
        self, source: Any, rooms: int, rate_per_room: float, seconds: float
    ) -> tuple[dict[int, dict[int, float]], float, int, int]:
        seq0 = self.seq
        await source.open()
        try:
            commits, elapsed = await run_schedule(
                source.publish, rooms, rate_per_room, seconds, seq0
            )
        finally:
            await source.close()
        self.seq = max(max(c, default=seq0) for c in commits.values()) + 1
        return commits, elapsed, seq0, self.seq

    def phase(
        self,
        target: Target,
        name: str,
        rooms: list[Room],
        specs: list[ClientSpec],
        rate_per_room: float,
        seconds: float,
        *,
        direct: bool,
    ) -> Phase:
        server = CpuMeter(lambda: [target.pid])
        db = CpuMeter(self.db_pids)
        self.workers.collect()  # forget what came before
        clients_before = self.workers.cpu_seconds()
        server.start()
        db.start()
        commits, elapsed, lo, hi = asyncio.run(
            self._changes(target.source(rooms, direct), len(rooms), rate_per_room, seconds)
        )
        server_cpu, db_cpu = server.stop(), db.stop()
        clients_cpu = 100.0 * (self.workers.cpu_seconds() - clients_before) / elapsed
        room_index = {room.room_id: i for i, room in enumerate(rooms)}
        expected = sum(len(commits[room_index[s.room_id]]) for s in specs)
        self.wait_delivered(lo, hi, expected)
        records = self.workers.collect()
        result = Phase(name=name, target_rate=rate_per_room * len(rooms))
        result.changes = sum(len(c) for c in commits.values())
        result.achieved_rate = result.changes / elapsed
        result.expected = expected
        result.server_cpu, result.db_cpu, result.clients_cpu = server_cpu, db_cpu, clients_cpu
        for spec in specs:
            room_commits = commits[room_index[spec.room_id]]
            seqs, times = records.get(spec.index, ((), ()))
            seen: set[int] = set()
            for seq, at in zip(seqs, times, strict=True):
                if not lo <= seq < hi:
                    continue
                if seq in seen:
                    result.duplicated += 1
                    continue
                seen.add(seq)
                committed = room_commits.get(seq)
                if committed is not None:
                    result.latencies_ms.append((at - committed) * 1000.0)
            missing = len(room_commits.keys() - seen)
            result.lost += missing
            result.clients_with_loss += missing > 0
            result.deliveries += len(seen)
        return result

    def warm_up(self, target: Target, rooms: list[Room], specs: list[ClientSpec]) -> None:
        """One change per room, delivered to everyone (caches warm, the pipeline proven)."""
        commits, _elapsed, lo, hi = asyncio.run(
            self._changes(target.source(rooms, len(rooms) == 1), len(rooms), 1.0, 1.0)
        )
        got = self.wait_delivered(lo, hi, len(specs))
        if got < len(specs):
            raise RuntimeError(f"warm-up: {got} of {len(specs)} deliveries from {target.name}")
        if self.sample is None:
            self.sample = self.workers.sample()
        self.workers.collect()

    def idle_cpu(self, target: Target) -> float:
        meter = CpuMeter(lambda: [target.pid])
        meter.start()
        time.sleep(self.settings.idle_seconds)
        return meter.stop()

    def run(self, target: Target, rooms_a: list[Room], room_b: list[Room]) -> dict[str, Any]:
        s = self.settings
        out: dict[str, Any] = {}
        console.print(f"[bold]{target.name}[/]: (a) {len(rooms_a)} rooms x {s.members_a} members")
        specs = self.connect(target, rooms_a)
        self.warm_up(target, rooms_a, specs)
        out["idle_cpu_percent"] = round(self.idle_cpu(target), 2)
        console.print(f"  idle CPU {out['idle_cpu_percent']:.2f}%", style="dim")
        a = self.phase(target, "a", rooms_a, specs, s.seeks_per_second, s.seconds_a, direct=False)
        out["a"] = a
        console.print(f"  (a) {brief(a)}", style="dim")
        self.workers.close_clients()

        console.print(f"[bold]{target.name}[/]: (b) one room x {s.members_b} members")
        specs = self.connect(target, room_b)
        self.warm_up(target, room_b, specs)
        steps: list[Phase] = []
        for rate in s.rates_b:
            step = self.phase(target, f"b@{rate:g}", room_b, specs, rate, s.seconds_b, direct=True)
            steps.append(step)
            console.print(f"  (b) {rate:g}/s: {brief(step)}", style="dim")
            if step.lost or step.p95 > 10 * TARGET_B_P95_MS:
                break  # far past what this server sustains: higher rates only take longer
        out["b"] = steps
        self.workers.close_clients()
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.realtime_fanout", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter phases, fewer rates")
    parser.add_argument("--processes", type=int, default=None, help="client processes")
    parser.add_argument(
        "--asgi-floor",
        action="store_true",
        help="the floor sends every frame through ASGI (uvicorn frames it for each socket) "
        "instead of writing it framed once, as the Realtime server does",
    )
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
    if args.processes:
        settings = Settings(**{**settings.__dict__, "processes": args.processes})
    secret = secrets.token_urlsafe(32)
    keys = keys_from_secret(secret, int(time.time()) - 10)
    started = time.monotonic()
    with throwaway_database(PROJECT_DIR) as db:
        url = db.url
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "update watchium.rate_limit_rules set max_requests = 1000000 "
                "where action = 'sync_control'"
            )
        console.print("creating rooms and members ...", style="dim")
        rooms_a = create_rooms(url, settings.rooms_a, settings.members_a)
        room_b = create_rooms(url, 1, settings.members_b)
        with psycopg.connect(url, autocommit=True) as conn:
            # Statistics, as autovacuum keeps them in a running database: without them the
            # planner reads a room's 500 members to find one (the policies' membership test).
            conn.execute("analyze")
        postmaster = db.cluster.running_pid() if db.cluster is not None else None
        bench = Bench(settings, url, postmaster, secret)
        try:
            ours = _run_realtime(bench, url, secret, keys.anon_key, rooms_a, room_b)
            floor = _run_floor(bench, rooms_a, room_b, asgi=args.asgi_floor)
        finally:
            bench.workers.stop()
    missed = report(ours, floor, settings)
    path = write_results(
        "realtime_fanout",
        {
            "settings": settings.__dict__,
            "command": " ".join(
                ["python -m bench.realtime_fanout", *(sys.argv[1:] if argv is None else argv)]
            ),
            "floor_sends": "asgi" if args.asgi_floor else "prepared",
            "realtime": jsonable(ours),
            "floor": jsonable(floor),
            "targets": {
                "a_p99_ms": TARGET_P99_MS,
                "b_rate": TARGET_B_RATE,
                "b_p95_ms": TARGET_B_P95_MS,
                "idle_cpu_percent": TARGET_IDLE_CPU,
            },
            "missed": missed,
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    console.print(f"results: {path} ({time.monotonic() - started:.0f} s)")
    for line in missed:
        console.print(f"[red]target missed:[/] {line}")
    return 1 if missed else 0


def _run_realtime(
    bench: Bench, url: str, secret: str, anon_key: str, rooms_a: list[Room], room_b: list[Room]
) -> dict[str, Any]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "watchium_stack.realtime",
            f"--db-url={url}",
            "--authorizer-url="
            + url.replace("://postgres:postgres@", "://authenticator:postgres@", 1),
            f"--jwt-secret={secret}",
            f"--api-key={anon_key}",
            f"--port={port}",
            "--slot=watchium_realtime_bench",
            "--max-per-address=100000",  # every simulated member connects from 127.0.0.1
        ],
        cwd=PROJECT_DIR,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/realtime/v1/api/ping")
        target = Target(
            name="realtime",
            ws_url=f"ws://127.0.0.1:{port}/realtime/v1/websocket?apikey={anon_key}&vsn=1.0.0",
            pid=proc.pid,
            source=lambda rooms, direct: DatabaseSource(url, rooms, direct_update=direct),
        )
        return bench.run(target, rooms_a, room_b)
    finally:
        stop_process(proc)


def _run_floor(
    bench: Bench, rooms_a: list[Room], room_b: list[Room], *, asgi: bool
) -> dict[str, Any]:
    port = free_port()
    command = [sys.executable, "-m", "bench._fanout_floor", f"--port={port}"]
    proc = subprocess.Popen(command + (["--asgi"] if asgi else []), cwd=PROJECT_DIR)
    sample = bench.sample
    if sample is None:
        raise RuntimeError("no postgres_changes frame was captured to send through the floor")
    try:
        _wait_http(f"http://127.0.0.1:{port}/")
        publish_url = f"ws://127.0.0.1:{port}/publish"
        target = Target(
            name="floor",
            ws_url=f"ws://127.0.0.1:{port}/realtime/v1/websocket?vsn=1.0.0",
            pid=proc.pid,
            source=lambda rooms, direct: FloorSource(publish_url, rooms, sample),
        )
        return bench.run(target, rooms_a, room_b)
    finally:
        stop_process(proc)


if __name__ == "__main__":
    raise SystemExit(main())
