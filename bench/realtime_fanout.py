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
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
from psycopg import sql
from websockets.asyncio.client import connect

from bench._common import (
    PROJECT_DIR,
    console,
    percentile,
    print_table,
    stop_process,
    write_results,
)
from bench._fanout_clients import ClientSpec, Workers
from watchium_functions.tokens import encode_token
from watchium_stack.database import throwaway_database
from watchium_stack.keys import keys_from_secret
from watchium_stack.postgres import free_port

__all__ = ["main"]

TARGET_P99_MS = 50.0  # (a)
TARGET_B_P95_MS = 100.0  # (b): the p95 a rate must keep to count
TARGET_B_RATE = 100.0  # (b): changes per second
TARGET_IDLE_CPU = 2.0  # percent of one core
DRAIN_SECONDS = 30.0  # how long delivery may lag behind the last change of a phase


@dataclass(frozen=True)
class Settings:
    rooms_a: int = 20
    members_a: int = 50
    seeks_per_second: float = 5.0
    seconds_a: float = 20.0
    members_b: int = 500
    rates_b: tuple[float, ...] = (25, 50, 100, 150, 200, 300)
    seconds_b: float = 8.0
    idle_seconds: float = 10.0
    processes: int = 4


QUICK = Settings(seconds_a=6.0, rates_b=(50, 100, 200), seconds_b=4.0)


@dataclass
class Room:
    room_id: str
    host: str
    members: list[str]  # the host first


@dataclass
class Phase:
    """One measured run of changes and what the clients received."""

    name: str
    target_rate: float
    changes: int = 0
    achieved_rate: float = 0.0
    deliveries: int = 0
    expected: int = 0
    lost: int = 0
    duplicated: int = 0
    clients_with_loss: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    server_cpu: float = 0.0  # percent of one core, during the changes
    db_cpu: float = 0.0
    clients_cpu: float = 0.0

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_ms
        return {
            "name": self.name,
            "target_rate": self.target_rate,
            "achieved_rate": round(self.achieved_rate, 1),
            "changes": self.changes,
            "expected_deliveries": self.expected,
            "deliveries": self.deliveries,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "clients_with_loss": self.clients_with_loss,
            "p50_ms": round(percentile(lat, 50), 2),
            "p95_ms": round(percentile(lat, 95), 2),
            "p99_ms": round(percentile(lat, 99), 2),
            "max_ms": round(max(lat), 2) if lat else None,
            "server_cpu_percent": round(self.server_cpu, 1),
            "db_cpu_percent": round(self.db_cpu, 1),
            "clients_cpu_percent": round(self.clients_cpu, 1),
        }

    @property
    def p95(self) -> float:
        return percentile(self.latencies_ms, 95)


# -- processes and CPU ----------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return out


class CpuMeter:
    """CPU time of a set of processes between ``start`` and ``stop``, in percent of one core."""

    def __init__(self, pids: Callable[[], Sequence[int]]) -> None:
        self._pids = pids
        self._start: dict[int, float] = {}
        self._t0 = 0.0

    def start(self) -> None:
        self._start = {pid: _proc_cpu(pid) for pid in self._pids()}
        self._t0 = time.monotonic()

    def stop(self) -> float:
        elapsed = time.monotonic() - self._t0
        used = sum(_proc_cpu(pid) - self._start.get(pid, 0.0) for pid in self._pids())
        return 100.0 * used / elapsed if elapsed > 0 else 0.0


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


# -- database -------------------------------------------------------------------------------------


def _create_rooms(url: str, rooms: int, members: int) -> list[Room]:
    out = []
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(rooms):
            host = str(uuid.uuid4())
            row = conn.execute(
                "select public.rooms_create(p_title => 'Bench', p_anime_id => 'frieren', "
                "p_anime_title => 'Frieren', p_video_url => 'https://example.com/v.mkv', "
                "p_host_username => 'host', p_is_public => false, p_host_user_id => %s)",
                (host,),
            ).fetchone()
            assert row is not None
            room_id = row[0]["room"]["room_id"]
            users = [host]
            for _ in range(members - 1):
                user = str(uuid.uuid4())
                conn.execute(
                    "select public.rooms_join(p_room_id => %s, p_username => 'viewer', "
                    "p_user_id => %s)",
                    (room_id, user),
                )
                users.append(user)
            out.append(Room(room_id, host, users))
    return out


def _as_user(user: str, statement: sql.Composable) -> sql.Composed:
    """``statement`` run as ``user`` the way PostgREST runs it: role and claims, transaction-local,
    in the same implicit transaction (one simple-protocol message)."""
    claims = json.dumps({"sub": user, "role": "authenticated"})
    return sql.SQL(
        "select set_config('role', 'authenticated', true), "
        "set_config('request.jwt.claims', {}, true); {}"
    ).format(sql.Literal(claims), statement)


# -- change sources -------------------------------------------------------------------------------

Publish = Callable[[int, int], Awaitable[None]]  # (room index, sequence number)


class DatabaseSource:
    """Changes made in PostgreSQL: (a) hosts seek with sync_control, (b) a host updates its
    room directly."""

    def __init__(self, url: str, rooms: list[Room], *, direct_update: bool) -> None:
        self._url = url
        self._rooms = rooms
        self._direct = direct_update
        self._conns: list[psycopg.AsyncConnection[Any]] = []

    async def open(self) -> None:
        self._conns = [
            await psycopg.AsyncConnection.connect(self._url, autocommit=True) for _ in self._rooms
        ]

    async def close(self) -> None:
        for conn in self._conns:
            await conn.close()

    async def publish(self, room_index: int, seq: int) -> None:
        room = self._rooms[room_index]
        if self._direct:
            statement = sql.SQL(
                "update public.rooms set current_playback_time = {} where room_id = {}"
            ).format(sql.Literal(seq), sql.Literal(room.room_id))
        else:
            statement = sql.SQL(
                "select public.sync_control(p_room_id => {}, p_action => 'seek', "
                "p_current_time => {})"
            ).format(sql.Literal(room.room_id), sql.Literal(seq))
        await self._conns[room_index].execute(_as_user(room.host, statement))


class FloorSource:
    """The same frames sent to the floor server, which relays them to the room's members."""

    def __init__(self, url: str, rooms: list[Room], sample: bytes) -> None:
        self._url = url
        self._rooms = rooms
        self._templates = [_frame_template(sample, room.room_id) for room in rooms]
        self._ws: Any = None

    async def open(self) -> None:
        self._ws = await connect(self._url, max_size=None, ping_interval=None)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def publish(self, room_index: int, seq: int) -> None:
        topic, template = self._templates[room_index]
        frame = template.replace('"__NEW__"', f"{seq}.00").replace('"__OLD__"', f"{seq - 1}.00")
        await self._ws.send(topic + "\n" + frame)


def _frame_template(sample: bytes, room_id: str) -> tuple[str, str]:
    """A postgres_changes frame as the server sent it, moved to ``room_id`` with placeholders for
    the new and old positions."""
    message = json.loads(sample)
    old_room = message["topic"].removeprefix("realtime:room:")
    data = message["payload"]["data"]
    data["record"]["current_playback_time"] = "__NEW__"
    data["old_record"]["current_playback_time"] = "__OLD__"
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False).replace(old_room, room_id)
    return f"realtime:room:{room_id}", text


async def _run_schedule(
    publish: Publish, rooms: int, rate_per_room: float, seconds: float, seq0: int
) -> tuple[dict[int, dict[int, float]], float]:
    """Publish ``rate_per_room`` changes a second in every room for ``seconds``, rooms staggered.

    Returns the commit time of each change ({room index: {seq: time}}) and the elapsed time.
    """
    interval = 1.0 / rate_per_room
    count = max(1, round(seconds * rate_per_room))
    commits: dict[int, dict[int, float]] = {r: {} for r in range(rooms)}
    start = time.monotonic() + 0.05

    async def room_loop(r: int) -> None:
        target = start + r * interval / rooms
        for k in range(count):
            delay = target - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            seq = seq0 + k
            await publish(r, seq)
            commits[r][seq] = time.monotonic()
            target += interval

    await asyncio.gather(*(room_loop(r) for r in range(rooms)))
    return commits, time.monotonic() - start


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
        return [self.postmaster, *_children(self.postmaster)]

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
            commits, elapsed = await _run_schedule(
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
        console.print(f"  (a) {_brief(a)}", style="dim")
        self.workers.close_clients()

        console.print(f"[bold]{target.name}[/]: (b) one room x {s.members_b} members")
        specs = self.connect(target, room_b)
        self.warm_up(target, room_b, specs)
        steps: list[Phase] = []
        for rate in s.rates_b:
            step = self.phase(target, f"b@{rate:g}", room_b, specs, rate, s.seconds_b, direct=True)
            steps.append(step)
            console.print(f"  (b) {rate:g}/s: {_brief(step)}", style="dim")
            if step.lost or step.p95 > 10 * TARGET_B_P95_MS:
                break  # far past what this server sustains: higher rates only take longer
        out["b"] = steps
        self.workers.close_clients()
        return out


def _brief(phase: Phase) -> str:
    p = phase.summary()
    return (
        f"{p['achieved_rate']}/s, {p['deliveries']}/{p['expected_deliveries']} delivered, "
        f"p50 {p['p50_ms']} p95 {p['p95_ms']} p99 {p['p99_ms']} max {p['max_ms']} ms, "
        f"lost {p['lost']}, dup {p['duplicated']}, server CPU {p['server_cpu_percent']}%"
    )


# -- reporting ------------------------------------------------------------------------------------


def _best_rate(steps: list[Phase]) -> float:
    ok = [s.achieved_rate for s in steps if not s.lost and s.p95 < TARGET_B_P95_MS]
    return max(ok, default=0.0)


def _ratio(ours: float, floor: float) -> str:
    return f"{ours / floor:.1f}x" if floor > 0 else "-"


def _cpu(phase: Phase) -> str:
    return f"{phase.server_cpu:.0f}/{phase.db_cpu:.0f}/{phase.clients_cpu:.0f}"


def report(ours: dict[str, Any], floor: dict[str, Any], settings: Settings) -> list[str]:
    """Print the tables; return the targets missed."""
    a, fa = ours["a"], floor["a"]
    sa, sf = a.summary(), fa.summary()
    rows: list[list[Any]] = []
    for label, x, p in (("realtime", sa, a), ("floor", sf, fa)):
        rows.append(
            [
                label,
                f"{x['deliveries']:,}",
                f"{x['lost']}/{x['duplicated']}",
                x["p50_ms"],
                x["p95_ms"],
                x["p99_ms"],
                x["max_ms"],
                _cpu(p),
            ]
        )
    rows.append(
        [
            "ratio",
            "",
            "",
            _ratio(sa["p50_ms"], sf["p50_ms"]),
            _ratio(sa["p95_ms"], sf["p95_ms"]),
            _ratio(sa["p99_ms"], sf["p99_ms"]),
            _ratio(sa["max_ms"] or 0, sf["max_ms"] or 0),
            "",
        ]
    )
    print_table(
        f"(a) {settings.rooms_a} rooms x {settings.members_a} members, "
        f"{settings.seeks_per_second:g} seeks/s per host ({sa['achieved_rate']:.0f} changes/s); "
        "ms; CPU % of a core: server/db/clients",
        ["", "delivered", "lost/dup", "p50", "p95", "p99", "max", "CPU %"],
        rows,
    )
    floor_steps = {s.target_rate: s for s in floor["b"]}
    rows = []
    for step in ours["b"]:
        x = step.summary()
        f = floor_steps.get(step.target_rate)
        rows.append(
            [
                f"{x['achieved_rate']:.0f}",
                x["lost"],
                x["p50_ms"],
                x["p95_ms"],
                x["p99_ms"],
                f.summary()["p95_ms"] if f else "-",
                _ratio(step.p95, f.p95) if f else "-",
                _cpu(step),
            ]
        )
    print_table(
        f"(b) one room x {settings.members_b} members, by change rate (changes/s); ms; "
        "CPU % of a core: server/db/clients",
        ["rate", "lost", "p50", "p95", "p99", "floor p95", "ratio", "CPU %"],
        rows,
    )
    best, best_floor = _best_rate(ours["b"]), _best_rate(floor["b"])
    print_table(
        "Summary",
        ["measure", "realtime", "floor", "target"],
        [
            ["(a) p99 ms", sa["p99_ms"], sf["p99_ms"], f"< {TARGET_P99_MS:g}"],
            [
                "(a) lost/duplicated",
                f"{a.lost}/{a.duplicated}",
                f"{fa.lost}/{fa.duplicated}",
                "0/0",
            ],
            [
                "(b) best rate, p95 < 100 ms",
                f"{best:.0f}/s",
                f"{best_floor:.0f}/s",
                f">= {TARGET_B_RATE:g}/s",
            ],
            [
                "idle CPU, server",
                f"{ours['idle_cpu_percent']:.2f}%",
                f"{floor['idle_cpu_percent']:.2f}%",
                f"< {TARGET_IDLE_CPU:g}%",
            ],
        ],
    )
    missed = []
    if not sa["p99_ms"] < TARGET_P99_MS:
        missed.append(f"(a) p99 {sa['p99_ms']} ms >= {TARGET_P99_MS:g} ms")
    if a.lost or a.duplicated:
        missed.append(f"(a) {a.lost} lost, {a.duplicated} duplicated")
    if best < TARGET_B_RATE:
        missed.append(f"(b) best rate {best:.0f}/s < {TARGET_B_RATE:g}/s at p95 < 100 ms")
    if not ours["idle_cpu_percent"] < TARGET_IDLE_CPU:
        missed.append(f"idle CPU {ours['idle_cpu_percent']}% >= {TARGET_IDLE_CPU:g}%")
    return missed


def _jsonable(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "idle_cpu_percent": run["idle_cpu_percent"],
        "a": run["a"].summary(),
        "b": [s.summary() for s in run["b"]],
        "b_best_rate": round(_best_rate(run["b"]), 1),
    }


# -- main -----------------------------------------------------------------------------------------


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
        rooms_a = _create_rooms(url, settings.rooms_a, settings.members_a)
        room_b = _create_rooms(url, 1, settings.members_b)
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
            "realtime": _jsonable(ours),
            "floor": _jsonable(floor),
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
