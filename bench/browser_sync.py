"""Sync accuracy of real <video> elements: a host and 4 members in headless Chromium, each page
the built web app (supabase-js, the browser's sync engine), against a throwaway stack.

Per participant, as in bench.sync_accuracy (and with its participants: the same seeded round
trips, asymmetries and clock skews): a network path of its own through the same delaying TCP
proxy (round trips 20-200 ms, for the page, the functions, the Realtime socket and the video's
bytes alike) and a clock skewed by up to +-2 s (the page's ``performance.now``, which the engine
reads, is shifted by an init script). The host's page scripts the party through its own controls
(play, seek, pause, play, speed 1.25x, seek, speed 1x, seek); members join one second apart.

Every 100 ms each member page reports ``video.currentTime`` and the true time it was read at
(``Date.now()``, this machine's clock, which PostgreSQL shares); the room's row at that instant
(from a poller on the database) says where the room really was: the difference is the drift.
Samples count while the room plays and the video plays (not paused, seeking or stalled);
*steady* samples are those 3 s or more after the member's last transition (its join, a host
action, the end of a stall). Convergence: from a transition until |drift| <= 50 ms for 1 s.
Corrections are the browser engine's own counts (nudge episodes, seeks, speed commands).

Baseline in the same run: the same pages with no delay and no skew (the floor: what is left is
the browser, its video pipeline and the engine).

    python -m bench.browser_sync            # both variants, about 3 minutes
    python -m bench.browser_sync --quick    # shorter script, network variant only

Writes bench/results/browser_sync.json and docs/browser_sync.png.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from bench._common import (
    PROJECT_DIR,
    DelayProxy,
    OneWayDelay,
    chromium_path,
    console,
    write_results,
)
from bench._sync_report import (
    TARGET_CONVERGE,
    TARGET_P95,
    TARGET_P99,
    _distribution,
    _ms,
    _s,
    _steady,
    _table,
)
from bench._transitions import Transition, outcomes, summarise
from bench.sync_accuracy import Participant, make_participants
from watchium_stack.harness import Stack, throwaway_stack

__all__ = ["main"]

PLOT = PROJECT_DIR / "docs" / "browser_sync.png"
SAMPLE_EVERY = 0.1
MEMBERS = 4
# (seconds after the first play, action, value)
SCRIPT: list[tuple[float, str, float]] = [
    (10.0, "seek", 30.0),
    (18.0, "pause", 0.0),
    (21.0, "play", 0.0),
    (28.0, "speed", 1.25),
    (36.0, "seek", 20.0),
    (44.0, "speed", 1.0),
    (52.0, "seek", 60.0),
]
LENGTH = 62.0
QUICK_SCRIPT = SCRIPT[:4]
QUICK_LENGTH = 34.0

SKEW_SCRIPT = """
(() => {
  const skew = %f * 1000;
  const now = performance.now.bind(performance);
  performance.now = () => now() + skew;
})();
"""


@dataclass
class Page:
    participant: Participant
    page: Any
    proxy: DelayProxy | None
    joined_at: float | None = None
    transitions: list[Transition] = field(default_factory=list)
    readings: list[tuple[float, float]] = field(default_factory=list)
    """(true time, video.currentTime) while the video plays."""
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(true time, drift), once the run is over (`_drifts`)."""
    was_buffering: bool = False
    last_probe: dict[str, Any] = field(default_factory=dict)
    is_host: bool = False


@dataclass
class Row:
    position: float
    playing: bool
    speed: float
    reference: float
    updated_at: float

    def live(self, at: float) -> float:
        if not self.playing:
            return self.position
        return max(0.0, self.position + max(0.0, at - self.reference) * self.speed)


class RoomHistory:
    """Every version of the room's row, polled from the database, by its commit time."""

    def __init__(self, db_url: str, room_id: str) -> None:
        self.db_url = db_url
        self.room_id = room_id
        self.rows: list[Row] = []
        self.actions: list[tuple[float, str]] = []

    async def poll(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.db_url, autocommit=True) as conn:
            while True:
                cur = await conn.execute(
                    "select current_playback_time, is_playing, playback_speed,"
                    " extract(epoch from playback_updated_at), extract(epoch from updated_at)"
                    " from public.rooms where room_id = %s",
                    (self.room_id,),
                )
                found = await cur.fetchone()
                if found is not None:
                    row = Row(*(float(v) if not isinstance(v, bool) else v for v in found))
                    if not self.rows or row != self.rows[-1]:
                        self.rows.append(row)
                await asyncio.sleep(0.02)

    async def written(self, since: int, action: str, value: float) -> float:
        """When the host's ``action`` reached the row: the first version after ``since`` that
        shows it (not a re-anchor of the host's video or a write of another column)."""
        while True:
            for row in self.rows[since:]:
                if _shows(row, action, value):
                    return row.updated_at
            await asyncio.sleep(0.02)

    def at(self, t: float) -> Row | None:
        found = None
        for row in self.rows:
            if row.updated_at <= t:
                found = row
            else:
                break
        return found


def _shows(row: Row, action: str, value: float) -> bool:
    if action == "pause":
        return not row.playing
    if action == "play":
        return row.playing
    if action == "speed":
        return row.playing and abs(row.speed - value) < 1e-6
    return abs(row.position - value) < 0.005  # a seek: to the hundredth the row stores


async def _open(context_factory: Any, stack: Stack, p: Participant, network: bool) -> Page:
    proxy = None
    if network:
        one_way = p.rtt / 2
        proxy = await DelayProxy(
            stack.port,
            up=OneWayDelay(one_way * (1 + p.asymmetry)),
            down=OneWayDelay(one_way * (1 - p.asymmetry)),
            seed=p.seed,
        ).start()
    context = await context_factory(viewport={"width": 960, "height": 720})
    if network:
        await context.add_init_script(SKEW_SCRIPT % p.skew)
    page = await context.new_page()
    return Page(p, page, proxy)


def _origin(stack: Stack, page: Page) -> str:
    return page.proxy.url if page.proxy is not None else stack.url


async def _sample(
    pages: list[Page], history: RoomHistory, trace: list[dict[str, Any]] | None
) -> None:
    while True:
        probes = await asyncio.gather(
            *(
                p.page.evaluate("() => window.watchiumRoom && window.watchiumRoom.probe()")
                for p in pages
            ),
            return_exceptions=True,
        )
        for page, probe in zip(pages, probes, strict=True):
            if not isinstance(probe, dict):
                continue
            if trace is not None:
                trace.append({"page": page.participant.name, **probe})
            if page.is_host:
                continue  # traced only
            page.last_probe = probe
            at = float(probe["at"])
            if page.was_buffering and not probe["buffering"]:
                page.transitions.append(Transition(at, "stall"))
            page.was_buffering = bool(probe["buffering"])
            if probe["paused"] or probe["seeking"] or probe["buffering"]:
                continue
            page.readings.append((at, float(probe["currentTime"])))
        await asyncio.sleep(SAMPLE_EVERY)


async def run_variant(
    browser: Any,
    stack: Stack,
    name: str,
    network: bool,
    script: list[Any],
    length: float,
    trace: bool = False,
) -> dict[str, Any]:
    participants = make_participants(MEMBERS, seed=1)
    pages = [await _open(browser.new_context, stack, p, network) for p in participants]
    host, members = pages[0], pages[1:]
    host.is_host = True
    try:
        await host.page.goto(_origin(stack, host) + "/")
        await host.page.get_by_label("Title").fill(f"Bench {name}")
        await host.page.get_by_label("Anime").fill("Bench")
        await host.page.get_by_role("button", name="Create room").click()
        await host.page.get_by_role("group", name="Host controls").wait_for()
        share = await host.page.get_by_label("Share link").input_value()
        fragment = share.split("/", 3)[3]
        room_id = fragment.split("#/room/")[1].split("?")[0]
        history = RoomHistory(stack.db_url, room_id)
        poller = asyncio.create_task(history.poll())
        probes: list[dict[str, Any]] | None = [] if trace else None
        sampled = [host, *members] if trace else members
        sampler = asyncio.create_task(_sample(sampled, history, probes))
        await host.page.wait_for_function(
            "() => window.watchiumRoom && window.watchiumRoom.engine.phase !== 'waiting'"
        )
        await host.page.evaluate("() => window.watchiumRoom.controls.togglePlay()")
        started = time.time()
        for member in members:
            await member.page.goto(f"{_origin(stack, member)}/{fragment}")
            member.joined_at = time.time()
            member.transitions.append(Transition(member.joined_at, "join"))
            await asyncio.sleep(1.0)
        for at, action, value in script:
            await asyncio.sleep(max(0.0, started + at - time.time()))
            call = {
                "seek": f"() => window.watchiumRoom.controls.seekTo({value})",
                "pause": "() => window.watchiumRoom.controls.togglePlay()",
                "play": "() => window.watchiumRoom.controls.togglePlay()",
                "speed": f"() => window.watchiumRoom.controls.setSpeed({value})",
            }[action]
            before = len(history.rows)
            await host.page.evaluate(call)
            when = await history.written(before, action, value)
            history.actions.append((when, action))
            if action != "pause":  # nothing to converge to while paused: the play is next
                for member in members:
                    member.transitions.append(Transition(when, action))
        await asyncio.sleep(max(0.0, started + length - time.time()))
        ended = time.time()
        sampler.cancel()
        poller.cancel()
        for task in (sampler, poller):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for member in members:
            member.samples = _drifts(member.readings, history)
        result = _analyse(name, network, members, history, started, ended)
        if probes is not None:
            result["_trace"] = {
                "started": started,
                "rows": [vars(row) for row in history.rows],
                "actions": history.actions,
                "probes": probes,
            }
        return result
    finally:
        for p in pages:
            with contextlib.suppress(Exception):
                await p.page.context.close()
            if p.proxy is not None:
                await p.proxy.close()


def _drifts(readings: list[tuple[float, float]], history: RoomHistory) -> list[tuple[float, float]]:
    """Each reading against the room's row at its instant, while the room plays. Taken once
    the run is over: while it runs, the poller sees a new row up to a poll late, and a reading
    in between, taken against the room before a seek, counted as the member already converged
    after it (seek p50 0.00-0.01 s)."""
    out = []
    for at, position in readings:
        row = history.at(at)
        if row is None or not row.playing or at < row.reference:
            continue
        out.append((at, position - row.live(at)))
    return out


def _analyse(
    name: str,
    network: bool,
    members: list[Page],
    history: RoomHistory,
    started: float,
    ended: float,
) -> dict[str, Any]:
    steady: list[float] = []
    every: list[float] = []
    convergences = []
    totals = {"speed": 0, "seek": 0, "steady_seek": 0, "speedCommands": 0}
    per_member = []
    playing = 0.0
    for m in members:
        member_steady = _steady(m)  # type: ignore[arg-type]
        steady.extend(member_steady)
        every.extend(abs(d) for _, d in m.samples)
        # Seek times are not recorded per page (its engine counts them): seeks come from counts.
        convergences.extend(outcomes(m.samples, [], m.transitions, ended))
        counts = m.last_probe.get("counts", {})
        for key in totals:
            totals[key] += int(counts.get(key, 0))
        playing += len(m.samples) * SAMPLE_EVERY
        per_member.append(
            {
                "name": m.participant.name,
                "rtt_ms": round(m.participant.rtt * 1000, 1) if network else 0.0,
                "skew_s": round(m.participant.skew, 3) if network else 0.0,
                "steady": _distribution(member_steady),
                "counts": counts,
            }
        )
    hours = playing / 3600
    by_kind: dict[str, list[Any]] = {}
    for c in convergences:
        by_kind.setdefault(c.kind, []).append(c)
    return {
        "variant": name,
        "network": network,
        "members": len(members),
        "steady": _distribution(steady),
        "steady_samples": len(steady),
        "all": _distribution(every),
        "convergence": {kind: summarise(items) for kind, items in sorted(by_kind.items())},
        "per_member_hour": {
            "nudge_episodes": totals["speed"] / hours if hours else None,
            "rate_changes": totals["speedCommands"] / hours if hours else None,
            "seeks": (totals["seek"] + totals["steady_seek"]) / hours if hours else None,
            "steady_seeks": totals["steady_seek"] / hours if hours else None,
        },
        "steady_seeks": totals["steady_seek"],
        "playing_member_hours": hours,
        "actions": [(round(t - started, 3), kind) for t, kind in history.actions],
        "per_member": per_member,
        "_series": [
            (m.participant.name, [(t - started, d) for t, d in m.samples]) for m in members
        ],
    }


def report(results: list[dict[str, Any]]) -> None:
    rows = []
    for r in results:
        s, h = r["steady"], r["per_member_hour"]
        rows.append(
            [
                r["variant"],
                _ms(s["p50"]),
                _ms(s["p95"]),
                _ms(s["p99"]),
                _ms(s["max"]),
                _ms(r["all"]["p95"]),
                f"{h['nudge_episodes']:.0f}",
                f"{h['rate_changes']:.0f}",
                f"{h['seeks']:.0f}",
                str(r["steady_seeks"]),
            ]
        )
    _table(
        "Real <video> elements: steady-state |drift| (ms), corrections per member-hour",
        ["variant", "p50", "p95", "p99", "max", "all p95", "nudges/h", "rate changes/h",
         "seeks/h", "steady seeks"],
        rows,
    )  # fmt: skip
    conv_rows = []
    for r in results:
        for kind, c in r["convergence"].items():
            conv_rows.append(
                [r["variant"], kind, str(c["count"]), f"{c['within_3s']}/{c['count']}",
                 _s(c["p50"]), _s(c["p95"]), _s(c["max"])]
            )  # fmt: skip
    _table(
        "Convergence: seconds until |drift| <= 50 ms for 1 s",
        ["variant", "after", "n", "within 3 s", "p50", "p95", "max"],
        conv_rows,
    )


def check_targets(r: dict[str, Any]) -> list[str]:
    missed = []
    s = r["steady"]
    if s["p95"] is None or s["p95"] > TARGET_P95:
        missed.append(f"steady p95 {_ms(s['p95'])} ms > {TARGET_P95 * 1000:.0f} ms")
    if s["p99"] is None or s["p99"] > TARGET_P99:
        missed.append(f"steady p99 {_ms(s['p99'])} ms > {TARGET_P99 * 1000:.0f} ms")
    for kind in ("join", "seek"):
        c = r["convergence"].get(kind)
        if c and (c["max"] is None or c["max"] > TARGET_CONVERGE or c["not_converged"]):
            missed.append(f"convergence after {kind}: max {_s(c['max'])} s")
    if r["steady_seeks"]:
        missed.append(f"{r['steady_seeks']} seeks in steady playback")
    return missed


def plot(results: list[dict[str, Any]]) -> None:
    from bench._sync_report import plot as sync_plot

    for r in results:
        r.setdefault("seconds", None)
    sync_plot(results, PLOT)


async def _main(quick: bool, trace: bool = False) -> int:
    from playwright.async_api import async_playwright

    script, length = (QUICK_SCRIPT, QUICK_LENGTH) if quick else (SCRIPT, LENGTH)
    variants = [("browser, 20-200 ms + skew", True)]
    if not quick:
        variants.append(("browser, no delay (floor)", False))
    results = []
    with throwaway_stack() as stack:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium_path())
            try:
                for name, network in variants:
                    console.print(f"[bold]{name}[/]: host + {MEMBERS} members, {length:.0f} s")
                    results.append(
                        await run_variant(browser, stack, name, network, script, length, trace)
                    )
            finally:
                await browser.close()
    report(results)
    plot(results)
    path = write_results(
        "browser_sync",
        {"results": [{k: v for k, v in r.items() if not k.startswith("_")} for r in results]},
    )
    if trace:
        traced = write_results("browser_sync_trace", {r["variant"]: r["_trace"] for r in results})
        console.print(f"wrote {traced.relative_to(PROJECT_DIR)}")
    console.print(f"wrote {path.relative_to(PROJECT_DIR)} and {PLOT.relative_to(PROJECT_DIR)}")
    missed = check_targets(results[0])
    for line in missed:
        console.print(f"[red]target missed[/]: {line}")
    return 1 if missed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shorter script, one variant")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="also write every page's probes (the host's too) and the room's rows,"
        " bench/results/browser_sync_trace.json",
    )
    args = parser.parse_args(argv)
    return asyncio.run(_main(args.quick, args.trace))


if __name__ == "__main__":
    raise SystemExit(main())
