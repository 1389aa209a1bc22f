# Over 500 lines: it also runs as a plain script (bench/sync_sim.py), so it imports no bench module.
"""Sync engine benchmark in virtual time: the algorithm alone, no network stack.

Simulates a room whose host seeks, pauses and resumes at random, and members that join it with
skewed clocks (offset up to +-2 s, rate up to +-50 ppm), network round trips of 20-200 ms with
jitter, asymmetry and loss, players whose playback clock is off by up to +-0.5%, whose seeks land
late and slightly off, and which stall at random. Each member runs the real `SyncEngine` with a
`SimulatedPlayer`; drift is measured against the room's true position on the true server clock.

The same scenario (same seeds) also runs with threshold sets that mimic other watch-party
engines, as baselines measured in the same run.

    .venv/bin/python bench/sync_sim.py                 # 12 members x 60 min, the default
    .venv/bin/python bench/sync_sim.py --members 4 --minutes 10 --variants watchium

Prints a table and writes JSON to bench/results/sync_sim-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import heapq
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchium_client.players import PlayerProfile
from watchium_client.sync import ClockSync, PlaybackState, SyncEngine, SyncThresholds, percentile

RESULTS = Path(__file__).resolve().parent / "results"
CONVERGED = 0.050  # |drift| counted as converged (the p95 target)
CONVERGED_FOR = 1.0  # ... and staying there this long
STEADY_AFTER = 3.0  # samples this long after a transition count as steady state

# Threshold sets. The peers' are approximations of their published behaviour expressed in this
# engine's terms (their own code differs in structure: e.g. Syncplay only slows down).
VARIANTS: dict[str, SyncThresholds] = {
    "watchium": SyncThresholds(),
    "watchium-no-trim": SyncThresholds(max_trim=0.0),
    # Jellyfin SyncPlay: speed-to-sync from 60 ms, skip-to-sync from 400 ms.
    "jellyfin-like": SyncThresholds(
        inner=0.030,
        outer=0.060,
        transient_outer=0.060,
        transient_seek_threshold=0.4,
        seek_threshold=0.4,
        max_trim=0.0,
    ),
    # Syncplay: slows down (0.95x) beyond 1.5 s, seeks beyond ~4 s.
    "syncplay-like": SyncThresholds(
        inner=0.1,
        outer=1.5,
        transient_outer=1.5,
        transient_seek_threshold=4.0,
        seek_threshold=4.0,
        max_trim=0.0,
    ),
    # CyTube: seeks when more than 2 s off, no speed control.
    "cytube-like": SyncThresholds(
        inner=1.9,
        outer=1.95,
        transient_outer=1.95,
        max_nudge=1e-9,
        nudge_slew=1.0,
        transient_seek_threshold=2.0,
        seek_threshold=2.0,
        max_trim=0.0,
    ),
}


@dataclass
class Scenario:
    members: int = 12
    minutes: float = 60.0
    seed: int = 1
    rtt_min: float = 0.020
    rtt_max: float = 0.200
    asymmetry: float = 0.05
    """One-way share of the base RTT is 0.5 +- this (invisible to any round-trip method)."""
    jitter: float = 0.15
    """Mean extra one-way delay (exponential) as a share of the base RTT."""
    loss: float = 0.02
    """Share of messages delayed by a retransmission (200-600 ms)."""
    clock_offset: float = 2.0
    clock_rate_ppm: float = 50.0
    rate_error: float = 0.005
    seek_latency_min: float = 0.03
    seek_latency_max: float = 0.40
    seek_error: float = 0.005
    position_noise: float = 0.002
    speed_latency: float = 0.2
    speed_glitch: float = 0.005
    stalls_per_hour: float = 6.0
    stall_mean: float = 1.5
    host_seek_every: float = 300.0
    host_pause_every: float = 600.0
    host_speed_every: float = 1800.0
    clock_sample_every: float = 5.0
    join_spread: float = 60.0
    """Members join at random within the first this-many seconds."""


@dataclass
class MemberResult:
    abs_drift: list[float] = field(default_factory=list)
    steady_drift: list[float] = field(default_factory=list)
    convergence: dict[str, list[float]] = field(default_factory=dict)
    not_converged: int = 0
    interrupted: list[tuple[str, float, float]] = field(default_factory=list)
    playing_seconds: float = 0.0
    speed_nudges: int = 0
    seeks: int = 0
    steady_seeks: int = 0
    speed_commands: int = 0
    trim_error: float = 0.0
    latency_error: float = 0.0


class Network:
    def __init__(self, rng: random.Random, sc: Scenario) -> None:
        self.rng = rng
        self.base = rng.uniform(sc.rtt_min, sc.rtt_max)
        self.share_up = 0.5 + rng.uniform(-sc.asymmetry, sc.asymmetry)
        self.sc = sc

    def _delay(self, share: float) -> float:
        delay = self.base * share + self.rng.expovariate(1.0 / (self.sc.jitter * self.base))
        if self.rng.random() < self.sc.loss:
            delay += self.rng.uniform(0.2, 0.6)
        return delay

    def up(self) -> float:
        return self._delay(self.share_up)

    def down(self) -> float:
        return self._delay(1.0 - self.share_up)


class Member:
    def __init__(self, sim: Simulation, index: int, thresholds: SyncThresholds) -> None:
        sc = sim.sc
        rng = random.Random(sc.seed * 1000 + index)
        self.sim = sim
        self.rng = rng
        self.net = Network(rng, sc)
        self.clock_skew = rng.uniform(-sc.clock_rate_ppm, sc.clock_rate_ppm) * 1e-6
        self.clock_offset = rng.uniform(-sc.clock_offset, sc.clock_offset)
        self.clock = ClockSync(monotonic=self.monotonic, wall=lambda: self.clock_offset)
        profile = PlayerProfile.random(
            rng,
            max_rate_error=sc.rate_error,
            seek_latency=(sc.seek_latency_min, sc.seek_latency_max),
            seek_error=sc.seek_error,
            position_noise=sc.position_noise,
            speed_latency=sc.speed_latency,
            speed_glitch=sc.speed_glitch,
            buffering_per_hour=sc.stalls_per_hour,
            buffering_mean=sc.stall_mean,
        )
        self.player = profile.player(clock=self.monotonic, seed=rng.randrange(2**32))
        self.engine = SyncEngine(self.player, self.clock, thresholds=thresholds)
        self.result = MemberResult()
        self.joined_at = rng.uniform(0, sc.join_spread)
        self.transition_at = self.joined_at
        self.pending: tuple[str, float] | None = None
        self.candidate: float | None = None
        self.was_buffering = False
        self.expected_trim = -profile.rate_error / (1 + profile.rate_error)
        self.seek_latency = profile.seek_latency

    def monotonic(self) -> float:
        return self.sim.now * (1.0 + self.clock_skew)

    def transition(self, kind: str, at: float) -> None:
        if self.pending is not None:
            self.result.not_converged += 1
            self.result.interrupted.append((*self.pending, at))
        # Convergence is measured while playing: a pause starts no measurement.
        self.pending = None if kind == "host_pause" else (kind, at)
        self.candidate = None
        self.transition_at = at

    def sample(self, now: float, room: PlaybackState) -> None:
        buffering = self.player.is_buffering
        if self.was_buffering and not buffering:
            self.transition("stall", now)
        self.was_buffering = buffering
        if not room.has_started(now) or buffering:
            return
        drift = self.player.true_position() - room.target_position(now)
        value = abs(drift)
        r = self.result
        r.abs_drift.append(value)
        r.playing_seconds += self.sim.sample_interval
        if now - self.transition_at >= STEADY_AFTER:
            r.steady_drift.append(value)
        if self.pending is None:
            return
        if value <= CONVERGED:
            if self.candidate is None:
                self.candidate = now
            elif now - self.candidate >= CONVERGED_FOR:
                kind, at = self.pending
                r.convergence.setdefault(kind, []).append(self.candidate - at)
                self.pending = None
        else:
            self.candidate = None


class Simulation:
    def __init__(self, sc: Scenario, thresholds: SyncThresholds) -> None:
        self.sc = sc
        self.now = 0.0
        self.sample_interval = 0.1
        self.rng = random.Random(sc.seed)
        self.room = PlaybackState(room_id="bench", position=60.0, is_playing=True, updated_at=0.0)
        self.members = [Member(self, i, thresholds) for i in range(sc.members)]
        self.queue: list[tuple[float, int, Callable[[], Any]]] = []
        self.counter = 0
        self.paused_until: float | None = None

    def at(self, when: float, action: Callable[[], Any]) -> None:
        self.counter += 1
        heapq.heappush(self.queue, (when, self.counter, action))

    # host actions, on the server
    def host_action(self, room: PlaybackState, kind: str) -> None:
        self.room = room
        for m in self.members:
            if self.now >= m.joined_at:
                m.transition(kind, self.now)
                self.at(self.now + m.net.down(), functools.partial(self.deliver, m, room))

    def deliver(self, m: Member, room: PlaybackState) -> None:
        # A running engine applies a room change at once, not at its next tick.
        if m.engine.update_room(room):
            self.pending_ticks.append(m)

    def schedule_host(self) -> None:
        sc = self.sc
        end = sc.minutes * 60
        t = 0.0
        while True:
            t += self.rng.expovariate(1.0 / sc.host_seek_every)
            if t >= end:
                break
            self.at(t, self.host_seek)
        t = 0.0
        while True:
            t += self.rng.expovariate(1.0 / sc.host_pause_every)
            if t >= end:
                break
            self.at(t, self.host_pause)
        t = 0.0
        while True:
            t += self.rng.expovariate(1.0 / sc.host_speed_every)
            if t >= end:
                break
            self.at(t, self.host_speed)

    def _live(self) -> float:
        return self.room.target_position(self.now)

    def host_seek(self) -> None:
        position = max(0.0, self._live() + self.rng.choice([-1, 1]) * self.rng.uniform(10, 300))
        room = dataclasses.replace(self.room, position=position, updated_at=self.now)
        self.host_action(room, "host_seek")

    def host_pause(self) -> None:
        if not self.room.is_playing:
            return
        room = dataclasses.replace(
            self.room, position=self._live(), is_playing=False, updated_at=self.now
        )
        self.host_action(room, "host_pause")
        self.at(self.now + self.rng.uniform(3, 30), self.host_play)

    def host_play(self) -> None:
        if self.room.is_playing:
            return
        room = dataclasses.replace(self.room, is_playing=True, updated_at=self.now)
        self.host_action(room, "host_play")

    def host_speed(self) -> None:
        speed = 1.25 if self.room.playback_speed == 1.0 else 1.0
        room = dataclasses.replace(
            self.room, position=self._live(), playback_speed=speed, updated_at=self.now
        )
        self.host_action(room, "host_speed")

    # members
    def join(self, m: Member) -> None:
        # A joining client first takes a burst of clock samples, then reads the room.
        for i in range(5):
            self.at(self.now + i * 0.2, functools.partial(self.clock_request, m))
        self.at(self.now + 1.0, functools.partial(self.fetch_room, m))

    def fetch_room(self, m: Member) -> None:
        up = m.net.up()
        room_at_server = self.now + up
        # The room the server returns is the one current when the request arrives.
        self.at(room_at_server, functools.partial(self._serve_room, m))

    def _serve_room(self, m: Member) -> None:
        room = self.room
        self.at(self.now + m.net.down(), functools.partial(self._room_arrived, m, room))

    def _room_arrived(self, m: Member, room: PlaybackState) -> None:
        m.engine.update_room(room)
        m.transition("join", self.now)
        self.at(self.now, functools.partial(self.tick, m))

    def clock_request(self, m: Member) -> None:
        sent = m.clock.local_now()
        server_time = self.now + m.net.up()
        arrive = server_time + m.net.down()
        self.at(arrive, lambda: m.clock.add_sample(sent, server_time, m.clock.local_now()))

    def clock_loop(self, m: Member) -> None:
        self.clock_request(m)
        self.at(self.now + self.sc.clock_sample_every, functools.partial(self.clock_loop, m))

    def tick(self, m: Member) -> None:
        self.pending_ticks.append(m)
        self.at(self.now + m.engine.thresholds.tick_interval, functools.partial(self.tick, m))

    def sample(self) -> None:
        for m in self.members:
            if m.engine.room is not None:
                m.sample(self.now, self.room)
        self.at(self.now + self.sample_interval, self.sample)

    async def run(self) -> list[MemberResult]:
        end = self.sc.minutes * 60
        self.pending_ticks: list[Member] = []
        self.schedule_host()
        for m in self.members:
            self.at(m.joined_at, functools.partial(self.join, m))
            self.at(m.joined_at + 1.0, functools.partial(self.clock_loop, m))
        self.at(self.sample_interval / 2, self.sample)
        while self.queue:
            when, _, action = heapq.heappop(self.queue)
            if when > end:
                break
            self.now = when
            action()
            for m in self.pending_ticks:
                decision = await m.engine.tick()
                if decision is not None and decision.wake_in is not None:
                    # A running engine sleeps only this long before its next tick.
                    self.at(
                        self.now + decision.wake_in, functools.partial(self.pending_ticks.append, m)
                    )
            self.pending_ticks.clear()
        results = []
        for m in self.members:
            stats = m.engine.stats()
            r = m.result
            r.speed_nudges = stats.speed_nudges
            r.seeks = stats.seeks
            r.steady_seeks = stats.steady_seeks
            r.speed_commands = m.player.speed_changes
            r.trim_error = m.engine.policy_state.trim - m.expected_trim
            r.latency_error = m.engine.policy_state.seek_latency - m.seek_latency
            results.append(r)
        return results


def _pct(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile, None rather than NaN without values (for the JSON)."""
    return percentile(values, q) if values else None


def summarise(results: list[MemberResult]) -> dict[str, Any]:
    all_drift = [v for r in results for v in r.abs_drift]
    steady = [v for r in results for v in r.steady_drift]
    hours = sum(r.playing_seconds for r in results) / 3600
    convergence: dict[str, dict[str, float | int | None]] = {}
    kinds = sorted({k for r in results for k in r.convergence})
    for kind in kinds:
        times = [t for r in results for t in r.convergence.get(kind, [])]
        convergence[kind] = {
            "n": len(times),
            "p50": _pct(times, 50),
            "p95": _pct(times, 95),
            "max": max(times) if times else None,
            "within_3s": sum(t <= 3.0 for t in times) / len(times) if times else None,
        }
    return {
        "member_hours_playing": hours,
        "drift_all": {q: _pct(all_drift, float(q[1:])) for q in ("p50", "p95", "p99")}
        | {"mean": statistics.fmean(all_drift) if all_drift else None},
        "drift_steady": {q: _pct(steady, float(q[1:])) for q in ("p50", "p95", "p99")}
        | {"mean": statistics.fmean(steady) if steady else None, "max": max(steady, default=None)},
        "convergence": convergence,
        "not_converged": sum(r.not_converged for r in results),
        "speed_nudges_per_member_hour": sum(r.speed_nudges for r in results) / hours,
        "seeks_per_member_hour": sum(r.seeks for r in results) / hours,
        "speed_commands_per_member_hour": sum(r.speed_commands for r in results) / hours,
        "steady_seeks_per_member_10min": sum(r.steady_seeks for r in results) / hours / 6,
        "trim_error_abs_max": max(abs(r.trim_error) for r in results),
        "latency_error_abs_p50": _pct([abs(r.latency_error) for r in results], 50),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_table(summaries: dict[str, dict[str, Any]]) -> None:
    header = (
        f"{'variant':<18}{'p50':>7}{'p95':>7}{'p99':>8}{'st.p95':>8}{'st.p99':>8}"
        f"{'conv95':>8}{'<=3s':>6}{'nudge/h':>9}{'set/h':>7}{'seek/h':>8}{'stdy/10m':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, s in summaries.items():
        conv = [t for k, v in s["convergence"].items() for t in [v["p95"]] if t is not None]
        within = [v["within_3s"] for v in s["convergence"].values() if v["within_3s"] is not None]
        print(
            f"{name:<18}{_ms(s['drift_all']['p50']):>7}{_ms(s['drift_all']['p95']):>7}"
            f"{_ms(s['drift_all']['p99']):>8}{_ms(s['drift_steady']['p95']):>8}"
            f"{_ms(s['drift_steady']['p99']):>8}{_s(max(conv) if conv else None):>8}"
            f"{(min(within) if within else 0) * 100:>5.0f}%"
            f"{s['speed_nudges_per_member_hour']:>9.1f}"
            f"{s['speed_commands_per_member_hour']:>7.0f}{s['seeks_per_member_hour']:>8.1f}"
            f"{s['steady_seeks_per_member_10min']:>9.3f}"
        )
    print(
        "drift in ms (all = every sample while playing; st. = steady, >= 3 s after a transition);"
    )
    print("conv95 = worst p95 convergence time (s) over join/seek/play/pause/speed/stall;")
    print("<=3s = worst share of transitions converged within 3 s; nudge/h = speed-nudge")
    print("episodes, set/h = speed commands sent to the player, per member-hour of playback.")


def print_convergence(name: str, s: dict[str, Any]) -> None:
    print(
        f"\n{name}: convergence to |drift| <= {CONVERGED * 1000:.0f} ms held {CONVERGED_FOR:.0f} s"
    )
    for kind, v in s["convergence"].items():
        print(
            f"  {kind:<11} n={v['n']:<5} p50={_s(v['p50'])} s  p95={_s(v['p95'])} s  "
            f"max={_s(v['max'])} s  within 3 s: {v['within_3s'] * 100:.1f}%"
        )
    print(f"  not converged before the next transition: {s['not_converged']}")
    print(
        f"  trim error max {s['trim_error_abs_max'] * 100:.3f}%, seek latency error p50 "
        f"{_ms(s['latency_error_abs_p50'])} ms"
    )


def _pairs(groups: list[str]) -> list[dict[str, Any]]:
    out = []
    for group in groups:
        pairs: dict[str, Any] = {}
        for item in group.split(","):
            key, _, value = item.partition("=")
            pairs[key.strip()] = float(value)
        out.append(pairs)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=Scenario.members)
    parser.add_argument("--minutes", type=float, default=Scenario.minutes)
    parser.add_argument("--seed", type=int, default=Scenario.seed)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--out", type=Path, default=None, help="JSON path")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE[,NAME=VALUE]",
        help="run a 'custom' variant: the default thresholds with these overrides",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME=VALUE[,NAME=VALUE]",
        help="override scenario fields (e.g. rate_error=0.002,stalls_per_hour=0)",
    )
    args = parser.parse_args(argv)
    sc = Scenario(members=args.members, minutes=args.minutes, seed=args.seed)
    for override in _pairs(args.scenario):
        sc = dataclasses.replace(sc, **override)
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    for i, override in enumerate(_pairs(args.set)):
        name = "custom" if len(args.set) == 1 else f"custom{i + 1}"
        VARIANTS[name] = dataclasses.replace(SyncThresholds(), **override)
        names.append(name)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants: {', '.join(unknown)} (known: {', '.join(VARIANTS)})")
    summaries: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    for name in names:
        started = time.perf_counter()
        results = asyncio.run(Simulation(sc, VARIANTS[name]).run())
        timings[name] = time.perf_counter() - started
        summaries[name] = summarise(results)
    print(
        f"{sc.members} members x {sc.minutes:g} min virtual time, seed {sc.seed}; "
        f"RTT {sc.rtt_min * 1000:.0f}-{sc.rtt_max * 1000:.0f} ms, "
        f"clock offset +-{sc.clock_offset:g} s, "
        f"rate error +-{sc.rate_error * 100:g}%, {sc.stalls_per_hour:g} stalls/h\n"
    )
    print_table(summaries)
    for name in names:
        print_convergence(name, summaries[name])
    out = args.out or RESULTS / f"sync_sim-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "sync_sim",
        "scenario": dataclasses.asdict(sc),
        "thresholds": {n: dataclasses.asdict(VARIANTS[n]) for n in names},
        "results": summaries,
        "wall_seconds": timings,
    }
    out.write_text(json.dumps(payload, indent=2, sort_keys=True))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
