"""What a room costs in Realtime messages, by room size: steady playback, host actions, a join
and a leave, counted by the Realtime server itself.

Hosted Supabase meters every message it delivers (docs/REALTIME.md, "Traffic and the hosted
budget"). The local server counts every frame it writes and reads, by kind (``GET
/realtime/v1/api/stats``); this benchmark reads those counters around each phase of a room's life
and reports them per member.

For each room size, against one throwaway stack (PostgreSQL, the functions, auth and Realtime as
``watchium up`` runs them), loopback only:

* the host and up to ``players - 1`` members are real SDK sessions (``RoomSession``, each its own
  anonymous user, HTTP calls and Realtime socket) with a ``SimulatedPlayer`` whose clock runs up
  to +-0.5% off and whose seeks take 30-300 ms; the other members are the same SDK sessions
  without a player (they follow the room, heartbeat and track presence exactly as a session with
  a player does, minus the engine);
* all of them join, the host plays, and after ``settle`` seconds (past every member's first
  heartbeat) the counters are read over ``steady`` seconds of playback;
* then the host pauses, plays, seeks and changes the speed, a new member (with a player) joins
  and leaves, and the host runs a ready check that every session answers by itself until the
  room starts again, each followed by ``window`` seconds; an action's *net* cost is what was
  counted in its window minus the steady rate over the same time.

    python -m bench.realtime_cost                       # 10, 50, 100, 200 members (~12 min)
    python -m bench.realtime_cost --quick               # 10 and 50 members, shorter phases
    python -m bench.realtime_cost --sizes 10 50 --label before

Writes bench/results/realtime_cost[-LABEL].json. Targets (per member, whatever the room size):
steady playback <= 0.2 messages per second, presence <= 1 per minute (received, and tracked), a
host action <= 2 messages, a whole ready check <= 8 messages.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx

from bench._common import console, loop_lag_monitor, percentile, print_table, write_results
from bench._cost_report import (
    ACTIONS,
    BUDGET_COLUMNS,
    budget_rows,
    check,
    delta,
    usage,
)
from watchium_client import NewRoom, RoomSession, WatchiumClient
from watchium_client.players import SimulatedPlayer
from watchium_stack.harness import Stack, throwaway_stack

__all__ = ["main"]

_OPEN_BATCH = 10  # sessions opened at once


@dataclass(frozen=True)
class Settings:
    sizes: tuple[int, ...] = (10, 50, 100, 200)
    steady: float = 60.0
    settle: float = 15.0
    window: float = 8.0
    players: int = 20
    seed: int = 1


QUICK = Settings(sizes=(10, 50), steady=20.0, settle=12.0, window=6.0, players=10)


@dataclass
class Viewer:
    client: WatchiumClient
    session: RoomSession
    player: SimulatedPlayer | None


class Counters:
    """The Realtime server's counters, over HTTP with the service role key."""

    def __init__(self, stack: Stack) -> None:
        self._url = f"{stack.url}/realtime/v1/api/stats"
        # A new connection per read: one kept alive between reads may be closed by the server
        # (its keep-alive timeout) just as it is reused.
        self._http = httpx.AsyncClient(
            timeout=30,
            headers={"apikey": stack.service_role_key},
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def read(self) -> dict[str, Any]:
        response = await self._http.get(self._url)
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats

    async def close(self) -> None:
        await self._http.aclose()


def _player(rng: random.Random) -> SimulatedPlayer:
    return SimulatedPlayer(
        rate_error=rng.uniform(-0.005, 0.005),
        seek_latency=rng.uniform(0.03, 0.3),
        position_noise=0.002,
    )


async def _open(
    stack: Stack, room: str | NewRoom, name: str, player: SimulatedPlayer | None
) -> Viewer:
    client = await WatchiumClient.connect(stack.url, stack.anon_key)
    session = RoomSession(client, room, username=name, player=player)
    try:
        await session.open()
    except BaseException:
        await client.close()
        raise
    return Viewer(client, session, player)


async def _close(viewers: list[Viewer]) -> None:
    for start in range(0, len(viewers), _OPEN_BATCH):
        batch = viewers[start : start + _OPEN_BATCH]
        await asyncio.gather(*(v.session.close() for v in batch), return_exceptions=True)
    for viewer in viewers:
        with contextlib.suppress(Exception):
            await viewer.client.close()
        if viewer.player is not None:
            await viewer.player.close()


async def _measure(
    counters: Counters, seconds: float, action: Awaitable[None] | None = None
) -> tuple[dict[str, Any], float]:
    """The counters' difference over ``seconds`` (after ``action``, awaited first)."""
    before = await counters.read()
    started = time.monotonic()
    if action is not None:
        await action
    await asyncio.sleep(max(0.0, started + seconds - time.monotonic()))
    after = await counters.read()
    return delta(before, after), time.monotonic() - started


async def run_size(
    stack: Stack, counters: Counters, n: int, settings: Settings, rng: random.Random
) -> dict[str, Any]:
    players = min(n, settings.players)
    console.print(
        f"[bold]{n} members[/]: {players} with a simulated player (the host included), "
        f"{n - players} without"
    )
    viewers: list[Viewer] = []
    extra: Viewer | None = None
    lags: list[float] = []
    stop_lag = loop_lag_monitor(lags)
    opened = time.monotonic()
    try:
        new = NewRoom(
            title=f"cost {n}",
            anime_id="bench",
            anime_title="Bench",
            video_url="https://example.com/bench.mkv",
        )
        host = await _open(stack, new, "host", _player(rng))
        viewers.append(host)
        room_id = host.session.room_id
        names = [f"m{i:03d}" for i in range(1, n)]
        for start in range(0, len(names), _OPEN_BATCH):
            batch = names[start : start + _OPEN_BATCH]
            viewers.extend(
                await asyncio.gather(
                    *(
                        _open(
                            stack, room_id, name, _player(rng) if i + start < players - 1 else None
                        )
                        for i, name in enumerate(batch)
                    )
                )
            )
        console.print(f"  {n} sessions open in {time.monotonic() - opened:.0f} s")
        await host.session.play()
        await asyncio.sleep(settings.settle)

        steady_counts, steady_s = await _measure(counters, settings.steady)
        steady = usage(steady_counts)
        steady_lag = sorted(lags)
        lags.clear()

        def rate(value: int) -> float:
            return value / steady_s

        session = host.session

        def live() -> float:
            state = session.state
            assert state is not None
            return state.target_position(session.client.clock.server_now())

        actions: dict[str, Any] = {}

        async def act(name: str, action: Callable[[], Awaitable[object]]) -> None:
            failed: str | None = None

            async def attempt() -> None:
                nonlocal failed
                try:
                    await action()
                except Exception as exc:  # an overloaded client: reported, the run goes on
                    failed = f"{type(exc).__name__}: {exc}"

            counts, seconds = await _measure(counters, settings.window, attempt())
            used = usage(counts)
            net = used.messages - rate(steady.messages) * seconds
            actions[name] = {
                **used.as_dict(),
                "seconds": round(seconds, 2),
                "net": round(net, 1),
                "net_per_member": round(net / n, 3),
                "failed": failed,
            }
            if failed:
                console.print(f"  [red]{name} failed:[/] {failed}")

        async def join() -> None:
            nonlocal extra
            extra = await _open(stack, room_id, "late", _player(rng))

        async def leave() -> None:
            nonlocal extra
            if extra is None:
                raise RuntimeError("nobody to leave: the join failed")
            await extra.session.close()
            await extra.client.close()
            if extra.player is not None:
                await extra.player.close()
            extra = None

        await act("pause", session.pause)
        await act("play", session.play)
        await act("seek", lambda: session.seek(live() + 60.0))
        await act("speed", lambda: session.set_speed(1.25))

        async def ready_check() -> None:
            """The host asks; every session answers by itself; the room starts again."""
            check = await session.start_ready_check("none", timeout=60)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                seen = session.ready_check
                if seen is not None and seen.check_id == check.check_id and not seen.is_open:
                    return
                await asyncio.sleep(0.05)
            raise RuntimeError("the ready check did not end within its minute")

        await act("join", join)
        await act("leave", leave)
        await act("ready check", ready_check)
        assert list(actions) == list(ACTIONS)
    finally:
        stop_lag()
        if extra is not None:
            viewers.append(extra)
        await _close(viewers)
    drifts = [
        abs(v.session.status.drift)
        for v in viewers
        if v.session.status is not None and v.session.status.drift is not None
    ]
    minutes = steady_s / 60.0
    return {
        "members": n,
        "with_player": players,
        "steady_seconds": round(steady_s, 1),
        "steady": {
            **steady.as_dict(),
            "messages_per_s": round(rate(steady.messages), 3),
            "messages_per_member_s": round(rate(steady.messages) / n, 4),
            "changes_per_member_s": {k: round(rate(v) / n, 4) for k, v in steady.changes.items()},
            "presence_out_per_member_min": round(steady.presence_out / n / minutes, 3),
            "presence_in_per_member_min": round(steady.presence_in / n / minutes, 3),
            "presence_in_per_s": round(rate(steady.presence_in), 3),
            "heartbeat_replies_per_member_s": round(rate(steady.heartbeat_replies) / n, 4),
        },
        "actions": actions,
        "client_loop_lag_p99_ms": round(1000 * percentile(steady_lag, 99), 1) if steady_lag else 0,
        "last_drift_max_ms": round(1000 * max(drifts), 1) if drifts else None,
    }


def report(results: list[dict[str, Any]]) -> None:
    rows = []
    for room in results:
        steady = room["steady"]
        rows.append(
            [
                room["members"],
                steady["messages_per_s"],
                steady["messages_per_member_s"],
                ", ".join(f"{k} {v}" for k, v in steady["changes_per_member_s"].items()) or "-",
                steady["presence_out_per_member_min"],
                steady["presence_in_per_member_min"],
                steady["heartbeat_replies_per_member_s"],
            ]
        )
    print_table(
        "Steady playback",
        [
            "members",
            "messages/s (room)",
            "per member/s",
            "changes per member/s",
            "presence recv/member/min",
            "tracks/member/min",
            "heartbeat replies/member/s",
        ],
        rows,
    )
    print_table(
        "Per action: messages in the window, net of steady playback, per member",
        ["members", *ACTIONS],
        [
            [
                room["members"],
                *(
                    f"{room['actions'][a]['messages']} ({room['actions'][a]['net_per_member']})"
                    for a in ACTIONS
                ),
            ]
            for room in results
        ],
    )
    print_table("Hosted budget", BUDGET_COLUMNS, budget_rows(results))


async def run(settings: Settings, label: str | None) -> int:
    rng = random.Random(settings.seed)
    name = "realtime_cost" + (f"-{label}" if label else "")
    results: list[dict[str, Any]] = []
    with throwaway_stack() as stack:
        counters = Counters(stack)
        try:
            for n in settings.sizes:
                results.append(await run_size(stack, counters, n, settings, rng))
                write_results(name, {"settings": settings.__dict__, "rooms": results})
        finally:
            await counters.close()
    report(results)
    misses = check(results)
    path = write_results(
        name, {"settings": settings.__dict__, "label": label, "rooms": results, "misses": misses}
    )
    console.print(f"results: {path}")
    for miss in misses:
        console.print(f"[red]missed:[/] {miss}")
    if not misses:
        console.print("[green]all targets met[/]")
    return 1 if misses else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.realtime_cost")
    parser.add_argument("--quick", action="store_true", help="10 and 50 members, short phases")
    parser.add_argument("--sizes", type=int, nargs="+", help="room sizes (members, host included)")
    parser.add_argument("--steady", type=float, help="seconds of steady playback measured")
    parser.add_argument("--label", help="suffix of the result file (e.g. before)")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
    if args.sizes:
        settings = replace(settings, sizes=tuple(args.sizes))
    if args.steady:
        settings = replace(settings, steady=args.steady)
    return asyncio.run(run(settings, args.label))


if __name__ == "__main__":
    raise SystemExit(main())
