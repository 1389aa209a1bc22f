"""Throughput and latency of the HTTP functions, next to pgbench calling the same SQL.

Two functions: ``sync-get-host-time`` (a read: every member's clock and position check) and
``sync-control`` (a write: a host's seek, which logs the seek for every member and updates the
room). Each runs at 1, 8 and 64 concurrent connections:

* through HTTP with ``wrk`` (a Lua script posts the JSON bodies with ``apikey`` and a host's
  bearer token) against the function app served by uvicorn (uvloop, httptools), exactly as it is
  deployed: ``uvicorn --factory watchium_functions:create_app``;
* as the baseline, with ``pgbench`` on the same database, same role (``authenticator`` switching
  to ``authenticated``), same claims and the same two statements in one pipeline (one round trip,
  one implicit transaction), prepared, as the app sends them.

The database is a throwaway cluster with 64 rooms, each with its host and 4 members; requests
cycle through the rooms with each room's host. The ``sync_control`` rate limit (2 per second per
host) is lifted in this database, so the benchmark measures the work, not the refusal.

    python -m bench.functions_http                   # 5 s per run
    python -m bench.functions_http --quick           # 2 s per run
    python -m bench.functions_http --workers 2       # two uvicorn worker processes

Prints a table, writes JSON to bench/results/functions_http-<timestamp>.json, and checks the
target at 8 connections: functions >= 40% of pgbench's throughput with p99 < 20 ms. Needs ``wrk``
(Debian: ``apt-get install wrk``) and ``pgbench`` (PostgreSQL's contrib programs).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from rich.console import Console
from rich.table import Table

from bench._common import PROJECT_DIR, find_program, pgbench, write_results
from watchium_stack.binaries import find_binaries
from watchium_stack.gateway import authenticator_url
from watchium_stack.harness import access_token, stop_process, throwaway_database
from watchium_stack.keys import new_keys
from watchium_stack.postgres import free_port

__all__ = ["main"]

ROOMS = 64
TARGET_SHARE = 0.40
TARGET_P99_MS = 20.0
TARGET_CONNECTIONS = 8
STATEMENT_TIMEOUT = "10s"


def host_id(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def room_id(i: int) -> str:
    return f"bench{i:05d}"


POPULATE = f"""
set session_replication_role = replica;
insert into public.rooms (room_id, title, anime_id, anime_title, episode_number, video_url,
  host_user_id, host_username, is_public, is_playing, current_playback_time)
select 'bench' || lpad(i::text, 5, '0'), 'Bench room ' || i, 'anime-' || i, 'Anime', 1,
       'https://example.com/v/' || i || '.mkv',
       '00000000-0000-4000-8000-' || lpad(i::text, 12, '0'), 'host' || i, true, true, 0
  from generate_series(1, {ROOMS}) i;
insert into public.room_members (room_id, user_id, username, is_host, joined_at)
select 'bench' || lpad(i::text, 5, '0'),
       case when k = 0 then '00000000-0000-4000-8000-' || lpad(i::text, 12, '0')
            else '00000000-0000-4000-9' || lpad(k::text, 3, '0') || '-' || lpad(i::text, 12, '0')
       end,
       'member' || k, k = 0, now() - (10 - k) * interval '1 minute'
  from generate_series(1, {ROOMS}) i, generate_series(0, 4) k;
-- Triggers are off here: each membership's heartbeat row, as the join trigger makes it.
insert into public.member_heartbeats (member_id, room_id, user_id)
select m.id, m.room_id, m.user_id from public.room_members m;
set session_replication_role = origin;
update watchium.rate_limit_rules set max_requests = 100000000 where action = 'sync_control';
analyze;
"""

# The two statements the function app sends (functions/_db.py), in one pipeline.
SETUP = (
    "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', "
    'format(\'{"sub":"00000000-0000-4000-8000-%s","role":"authenticated",'
    '"aud":"authenticated"}\', lpad(:r::text, 12, \'0\')), true), '
    "set_config('request.method', 'POST', true), "
    "set_config('request.path', '/functions/v1/{name}', true), "
    f"set_config('statement_timeout', '{STATEMENT_TIMEOUT}', true);"
)
ROOM = "('bench' || lpad(:r::text, 5, '0'))::text"
CALLS = {
    "sync-get-host-time": f"SELECT public.sync_get_host_time(p_room_id => {ROOM})::text;",
    "sync-control": (
        f"SELECT public.sync_control(p_room_id => {ROOM}, p_action => 'seek'::text, "
        "p_current_time => (:t)::numeric, p_playback_speed => NULL::numeric, "
        "p_at => NULL::timestamptz, p_user_id => NULL::text)::text;"
    ),
}


def pgbench_script(name: str) -> str:
    return (
        f"\\set r random(1, {ROOMS})\n"
        "\\set t random(0, 1400)\n"
        "\\startpipeline\n"
        f"{SETUP.replace('{name}', name)}\n"
        f"{CALLS[name]}\n"
        "\\endpipeline\n"
    )


LUA = """
local rooms = {%(rooms)s}
local tokens = {%(tokens)s}
local apikey = "%(apikey)s"
local path = "/functions/v1/%(name)s"
local control = %(control)s
local i = 0
local n = 0
function request()
  i = (i %% #rooms) + 1
  n = n + 1
  local body
  if control then
    body = string.format('{"room_id":"%%s","action":"seek","current_time":%%d}',
                         rooms[i], n %% 1400)
  else
    body = string.format('{"room_id":"%%s"}', rooms[i])
  end
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["apikey"] = apikey,
    ["Authorization"] = "Bearer " .. tokens[i],
  }, body)
end
"""


@dataclass(frozen=True)
class Measure:
    endpoint: str
    tool: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(
    wrk: str, url: str, script: Path, connections: int, seconds: int
) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, non-2xx responses and socket errors) of one wrk run."""
    proc = subprocess.run(
        [
            wrk,
            f"-t{min(connections, 2)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {proc.stderr.strip() or proc.stdout.strip()}")
    out = proc.stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return rps, p50, p99, errors


def start_app(db_url: str, secret: str, port: int, workers: int, pool_max: int, log: Path) -> Any:
    env = {
        **os.environ,
        "SUPABASE_DB_URL": db_url,
        "SUPABASE_JWT_SECRET": secret,
        "WATCHIUM_DB_POOL_MAX": str(pool_max),
        "WATCHIUM_DB_POOL_MIN": str(min(pool_max, 4)),
    }
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "watchium_functions:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--no-proxy-headers",
        "--no-server-header",
        "--log-level",
        "warning",
    ]
    handle = log.open("w")
    proc = subprocess.Popen(args, cwd=PROJECT_DIR, env=env, stdout=handle, stderr=handle)
    handle.close()
    url = f"http://127.0.0.1:{port}/functions/v1/openapi.json"
    for _ in range(300):  # up to ~30 s for the workers to start
        if proc.poll() is not None:
            raise RuntimeError(f"the function app exited:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"the function app did not start:\n{log.read_text()}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when the target is met, 1 when missed, 2 when it cannot run."""
    parser = argparse.ArgumentParser(prog="python -m bench.functions_http", description=__doc__)
    parser.add_argument("--duration", type=int, default=5, help="seconds per run (default 5)")
    parser.add_argument("--quick", action="store_true", help="2 s per run")
    parser.add_argument("--connections", default="1,8,64", help="comma-separated (default 1,8,64)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (default 1)")
    parser.add_argument("--pool-max", type=int, default=10, help="pool size per worker")
    args = parser.parse_args(argv)
    seconds = 2 if args.quick else args.duration
    levels = [int(c) for c in args.connections.split(",")]

    wrk = shutil.which("wrk")
    if wrk is None:
        print(
            "wrk not found: the HTTP load generator is required "
            "(Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk)",
            file=sys.stderr,
        )
        return 2
    # pgbench ships with the server binaries the throwaway database runs on.
    pgbench_program = find_program("pgbench", [find_binaries().bindir])

    keys = new_keys()
    tokens = [access_token(keys.jwt_secret, host_id(i), ttl=86400) for i in range(1, ROOMS + 1)]
    measures: list[Measure] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-functions-"))
    with throwaway_database(PROJECT_DIR) as db:
        with psycopg.connect(db.url, autocommit=True) as conn:
            conn.execute(POPULATE.encode())
        api_url = authenticator_url(db.url)
        port = free_port()
        app = start_app(
            api_url, keys.jwt_secret, port, args.workers, args.pool_max, tmp / "app.log"
        )
        try:
            for name in CALLS:
                script = tmp / f"{name}.lua"
                script.write_text(
                    LUA
                    % {
                        "rooms": ", ".join(f'"{room_id(i)}"' for i in range(1, ROOMS + 1)),
                        "tokens": ", ".join(f'"{t}"' for t in tokens),
                        "apikey": keys.anon_key,
                        "name": name,
                        "control": "true" if name == "sync-control" else "false",
                    }
                )
                # Warm up: prepared statements, pool connections, caches.
                run_wrk(wrk, f"http://127.0.0.1:{port}", script, 8, 1)
                for connections in levels:
                    rps, p50, p99, errors = run_wrk(
                        wrk, f"http://127.0.0.1:{port}", script, connections, seconds
                    )
                    measures.append(Measure(name, "http (wrk)", connections, rps, p50, p99, errors))
                    result = pgbench(
                        pgbench_program,
                        api_url,
                        pgbench_script(name),
                        clients=connections,
                        seconds=seconds,
                    )
                    measures.append(
                        Measure(name, "pgbench", connections, result.tps, result.p50, result.p99, 0)
                    )
        finally:
            stop_process(app, timeout=15)
    shutil.rmtree(tmp, ignore_errors=True)

    rows = []
    verdicts: dict[str, dict[str, Any]] = {}
    for m in measures:
        share = ""
        if m.tool.startswith("http"):
            base = next(
                b
                for b in measures
                if b.endpoint == m.endpoint and b.connections == m.connections and b is not m
            )
            share = f"{m.rps / base.rps:.0%}"
            if m.connections == TARGET_CONNECTIONS:
                verdicts[m.endpoint] = {
                    "share_of_pgbench": round(m.rps / base.rps, 3),
                    "p99_ms": round(m.p99_ms, 2),
                    "met": m.rps / base.rps >= TARGET_SHARE
                    and m.p99_ms < TARGET_P99_MS
                    and m.errors == 0,
                }
        rows.append([m.endpoint, m.tool, m.connections, m.rps, m.p50_ms, m.p99_ms, share, m.errors])
    # Wide enough for the endpoint names whatever the terminal (the output is often a file).
    table = Table(
        title=f"Functions over HTTP vs pgbench on the same SQL ({seconds} s per run, "
        f"{args.workers} uvicorn worker(s), pool {args.pool_max}, {os.cpu_count()} cores)",
        title_justify="left",
    )
    for i, col in enumerate(
        ["endpoint", "tool", "conns", "req/s", "p50 ms", "p99 ms", "of pgbench", "errors"]
    ):
        table.add_column(col, justify="left" if i < 2 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row))
    Console(width=120, highlight=False).print(table)
    met = bool(verdicts) and all(v["met"] for v in verdicts.values())
    for endpoint, v in verdicts.items():
        print(
            f"{endpoint} at {TARGET_CONNECTIONS} connections: {v['share_of_pgbench']:.0%} of "
            f"pgbench (target >= {TARGET_SHARE:.0%}), p99 {v['p99_ms']} ms "
            f"(target < {TARGET_P99_MS:g} ms): {'met' if v['met'] else 'MISSED'}"
        )
    path = write_results(
        f"functions_http-{time.strftime('%Y%m%d-%H%M%S')}",
        {
            "benchmark": "functions_http",
            "command": "python -m bench.functions_http " + " ".join(argv or []),
            "seconds_per_run": seconds,
            "workers": args.workers,
            "pool_max": args.pool_max,
            "cpus": os.cpu_count(),
            "rooms": ROOMS,
            "measures": [asdict(m) for m in measures],
            "target": {
                "connections": TARGET_CONNECTIONS,
                "share_of_pgbench": TARGET_SHARE,
                "p99_ms": TARGET_P99_MS,
            },
            "verdicts": verdicts,
            "met": met,
        },
    )
    print(f"results: {path}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
