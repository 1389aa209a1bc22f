"""What binding a call's values costs the function app, next to two baselines in the same run.

The function app sends each call as one message holding two statements (the caller's role and
claims, then the SQL function call) and lets psycopg's client-side binding cursor quote the
values (``functions/watchium_functions/_db.py``). Measured here, on one connection per worker,
with a call shaped like sync-get-host-time's (six values):

* **client binding** (what the app does): ``AsyncClientCursor`` with ``%(name)s`` placeholders;
* **inline** (the floor): the same text with the values already written in, so nothing is
  quoted at all: the cost of the round trip and of running the statements;
* **pipeline**: server-side parameters, which need psycopg's pipeline mode for two statements in
  one round trip.

Reported: calls per second and client CPU per call (microseconds), so the cost of quoting is the
difference from the floor.

    python -m bench.sql_binding            # 3 rounds of 6,000 calls per variant
    python -m bench.sql_binding --quick    # 1 round of 2,000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from bench._common import PROJECT_DIR, print_table, write_results
from watchium_stack.harness import throwaway_database

__all__ = ["main"]

_CLAIMS = json.dumps({"sub": "00000000-0000-0000-0000-000000000001", "role": "authenticated"})
_VALUES: dict[str, Any] = {
    "_role": "authenticated",
    "_claims": _CLAIMS,
    "_method": "POST",
    "_path": "/functions/v1/sync-get-host-time",
    "_timeout": "10s",
    "p_room_id": "k3m9x2p7qa",
}
_PREAMBLE = (
    "select set_config('role', {_role}, true), "
    "set_config('request.jwt.claims', {_claims}, true), "
    "set_config('request.method', {_method}, true), "
    "set_config('request.path', {_path}, true), "
    "set_config('statement_timeout', {_timeout}, true)"
)
# The call itself: a cheap stand-in with the same parameter, so the database's share is small and
# the client's share shows.
_CALL = "select {p_room_id}::text || ''"

Call = Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]]


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def _client_binding(conn: psycopg.AsyncConnection[Any]) -> None:
    placeholders = {name: f"%({name})s" for name in _VALUES}
    query = _PREAMBLE.format(**placeholders) + "; " + _CALL.format(**placeholders)
    cur = await conn.execute(query, _VALUES, prepare=False)
    cur.nextset()
    await cur.fetchone()


_INLINE = (
    _PREAMBLE.format(**{k: _quoted(v) for k, v in _VALUES.items()})
    + "; "
    + _CALL.format(**{k: _quoted(v) for k, v in _VALUES.items()})
).encode()


async def _inline(conn: psycopg.AsyncConnection[Any]) -> None:
    cur = await conn.execute(_INLINE, prepare=False)
    cur.nextset()
    await cur.fetchone()


_PIPELINE_PREAMBLE = _PREAMBLE.format(**{name: f"%({name})s" for name in _VALUES})
_PIPELINE_CALL = _CALL.format(p_room_id="%(p_room_id)s")


async def _pipeline(conn: psycopg.AsyncConnection[Any]) -> None:
    async with conn.pipeline():
        await conn.execute(_PIPELINE_PREAMBLE, _VALUES, prepare=False)
        cur = await conn.execute(_PIPELINE_CALL, {"p_room_id": _VALUES["p_room_id"]})
    await cur.fetchone()


VARIANTS: dict[str, tuple[Call, type[psycopg.AsyncCursor[Any]] | None]] = {
    "client binding (the app)": (_client_binding, psycopg.AsyncClientCursor),
    "inline (floor)": (_inline, None),
    "pipeline": (_pipeline, None),
}


async def _measure(
    url: str, call: Call, cursor: Any, calls: int, workers: int
) -> tuple[float, float]:
    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": None}
    if cursor is not None:
        kwargs["cursor_factory"] = cursor
    conns = [await psycopg.AsyncConnection.connect(url, **kwargs) for _ in range(workers)]

    async def worker(conn: psycopg.AsyncConnection[Any], n: int) -> None:
        for _ in range(n):
            await call(conn)

    try:
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(c, calls // workers) for c in conns))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        for conn in conns:
            await conn.close()
    return calls / wall, cpu / calls * 1e6


async def _run(url: str, rounds: int, calls: int, workers: int) -> dict[str, Any]:
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        for name, (call, cursor) in VARIANTS.items():  # interleaved, so drift hits all alike
            samples[name].append(await _measure(url, call, cursor, calls, workers))
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sql_binding", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one round of 2,000 calls")
    args = parser.parse_args(argv)
    rounds, calls, workers = (1, 2000, 4) if args.quick else (3, 6000, 4)
    with throwaway_database(PROJECT_DIR) as db:
        samples = asyncio.run(_run(db.url, rounds, calls, workers))
    rows = []
    floor_cpu = min(cpu for _, cpu in samples["inline (floor)"])
    results: dict[str, Any] = {}
    for name, runs in samples.items():
        rate = max(r for r, _ in runs)
        cpu = min(c for _, c in runs)  # the least-disturbed round
        results[name] = {"calls_per_s": round(rate), "client_cpu_us": round(cpu, 1)}
        rows.append([name, f"{rate:,.0f}", f"{cpu:.1f}", f"{cpu - floor_cpu:+.1f}"])
    print_table(
        f"Binding a call's values ({rounds} x {calls:,} calls, {workers} connections; best round)",
        ["variant", "calls/s", "client CPU us/call", "vs floor"],
        rows,
    )
    path = write_results("sql_binding", {"rounds": rounds, "calls": calls, "results": results})
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
