"""The hot SQL paths under load: seek, heartbeat, post comment, host time.

Builds a throwaway database of 10,000 rooms (5 members each, one in ten private), 1,000,000
sync_states rows and 100,000 comments, then:

1. captures the plan of every statement each path runs, nested ones included (auto_explain), and
   fails if any of them scans a large table sequentially;
2. runs each path with pgbench at 1 and 32 clients, as PostgREST would call it (the
   ``authenticator`` role switching to ``authenticated`` with the user's claims per transaction);
3. runs the same harness with no work in the transaction (just the role switch) as the baseline,
   the most any path could reach here, and reports each path's throughput as a share of it; a
   primary-key read of the room under RLS is shown for reference.

    python -m bench.sql_hot_paths                  # the full run (~2 minutes)
    python -m bench.sql_hot_paths --quick          # 1,000 rooms, 100,000 rows, 3 s per run

The rate limits of sync_control and comments are lifted in the benchmark database (a host would
otherwise be refused after 2 seeks per second): the benchmark measures the work, not the refusal.
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass
from typing import Any

import psycopg

from bench._common import (
    PROJECT_DIR,
    console,
    find_program,
    pgbench,
    print_table,
    write_results,
)
from watchium_stack.gateway import authenticator_url
from watchium_stack.harness import throwaway_database

__all__ = ["main"]

LARGE_TABLES = {
    "rooms",
    "room_members",
    "member_heartbeats",
    "room_activity",
    "comments",
    "sync_states",
}

# Deterministic ids so pgbench scripts can name users and rooms without lookups.
ROOM = "'bench' || lpad(:r::text, 5, '0')"
HOST_CLAIMS = (
    'format(\'{"sub":"00000000-0000-4000-8000-%s","role":"authenticated"}\', '
    "lpad(:r::text, 12, '0'))"
)
MEMBER_CLAIMS = (
    'format(\'{"sub":"00000000-0000-4000-9001-%s","role":"authenticated"}\', '
    "lpad(:r::text, 12, '0'))"
)


@dataclass(frozen=True)
class Path:
    name: str
    claims: str
    statement: str


PATHS = [
    Path("baseline: role switch, no work", MEMBER_CLAIMS, "select 1;"),
    Path(
        "primary-key read under RLS",
        MEMBER_CLAIMS,
        f"select room_id, is_playing from public.rooms where room_id = {ROOM};",
    ),
    Path(
        "seek (sync_control)",
        HOST_CLAIMS,
        f"select public.sync_control(p_room_id => {ROOM}, p_action => 'seek', "
        "p_current_time => :t);",
    ),
    Path(
        "heartbeat (members_update_status)",
        MEMBER_CLAIMS,
        f"select public.members_update_status(p_room_id => {ROOM}, p_current_time => :t);",
    ),
    Path(
        "post comment (comments_create)",
        MEMBER_CLAIMS,
        "select public.comments_create(p_anime_id => 'anime-' || (:r % 200), "
        "p_episode_number => 1 + :r % 12, p_message => 'so good', p_username => 'viewer', "
        f"p_room_id => {ROOM});",
    ),
    Path(
        "host time (sync_get_host_time)",
        MEMBER_CLAIMS,
        f"select public.sync_get_host_time(p_room_id => {ROOM});",
    ),
]


def script(path: Path, rooms: int) -> str:
    return (
        f"\\set r random(1, {rooms})\n"
        "\\set t random(0, 1400)\n"
        "BEGIN;\n"
        f"SELECT set_config('role', 'authenticated', true), "
        f"set_config('request.jwt.claims', {path.claims}, true);\n"
        f"{path.statement}\n"
        "COMMIT;\n"
    )


POPULATE = """
set session_replication_role = replica;
insert into public.rooms (room_id, title, anime_id, anime_title, episode_number, video_url,
  host_user_id, host_username, is_public, is_playing, current_playback_time, last_activity)
select 'bench' || lpad(i::text, 5, '0'), 'Bench room ' || i, 'anime-' || (i % 200),
       'Anime ' || (i % 200), 1 + i % 12, 'https://example.com/v/' || i || '.mkv',
       '00000000-0000-4000-8000-' || lpad(i::text, 12, '0'), 'host' || i, i % 10 <> 0,
       i % 2 = 0, i % 1400, now() - (i % 3600) * interval '1 second'
  from generate_series(1, {rooms}) i;
insert into watchium.room_access_keys (room_id, access_key)
select room_id, lpad((abs(hashtext(room_id)) % 1000000)::text, 6, '0')
  from public.rooms where not is_public;
insert into public.room_members (room_id, user_id, username, is_host, joined_at)
select 'bench' || lpad(i::text, 5, '0'),
       case when k = 0 then '00000000-0000-4000-8000-' || lpad(i::text, 12, '0')
            else '00000000-0000-4000-9' || lpad(k::text, 3, '0') || '-'
                 || lpad(i::text, 12, '0') end,
       'member' || k, k = 0, now() - (10 - k) * interval '1 minute'
  from generate_series(1, {rooms}) i, generate_series(0, 4) k;
-- Triggers are off here: each membership's heartbeat row, as the join trigger makes it.
insert into public.member_heartbeats (member_id, room_id, user_id, current_playback_time)
select m.id, m.room_id, m.user_id, substr(m.room_id, 6)::integer % 1400
  from public.room_members m;
insert into watchium.room_activity (room_id, last_heartbeat)
select room_id, now() - interval '2 minutes' from public.rooms;
insert into public.comments (anime_id, room_id, origin_room_id, episode_number, user_id, username,
  message, is_anchor, is_system_message, is_public)
select r.anime_id, r.room_id, r.room_id, e, 'system', r.host_username,
       'Discussion for Episode ' || e, true, true, r.is_public
  from public.rooms r, generate_series(1, 12) e;
insert into public.comments (anime_id, room_id, origin_room_id, episode_number, parent_id, user_id,
  username, message, video_timestamp, is_public, created_at)
select a.anime_id, a.room_id, a.room_id, a.episode_number, a.id, 'u' || g, 'viewer',
       'comment ' || g, g % 1400, a.is_public, now() - (g % 86400) * interval '1 second'
  from generate_series(1, {comments}) g
  join public.comments a on a.is_anchor
   and a.room_id = 'bench' || lpad((1 + g % {rooms})::text, 5, '0')
   and a.episode_number = 1 + g % 12;
insert into public.sync_states (room_id, user_id, host_time, member_time, time_difference,
  is_synced, sync_event_type, created_at)
select 'bench' || lpad((1 + g % {rooms})::text, 5, '0'), 'u' || (g % 50000), g % 1400,
       g % 1400 + (g % 7) * 0.5, (g % 7) * 0.5, (g % 7) * 0.5 <= 2,
       (array['heartbeat', 'seek', 'play_pause', 'join', 'leave'])[1 + g % 5],
       now() - (g % 86400) * interval '1 second'
  from generate_series(1, {sync_states}) g;
set session_replication_role = origin;
update watchium.rate_limit_rules set max_requests = 100000000
 where action in ('sync_control', 'comments');
"""


def populate(conn: psycopg.Connection[Any], rooms: int, sync_states: int) -> float:
    started = time.perf_counter()
    sql = (
        POPULATE.replace("{rooms}", str(rooms))
        .replace("{comments}", str(rooms * 10))
        .replace("{sync_states}", str(sync_states))
    )
    conn.execute(sql.encode())  # no parameters: sent as one simple query
    conn.execute("analyze")
    return time.perf_counter() - started


SCAN = re.compile(
    r"(?P<kind>Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan)(?: using (?P<index>\S+))? "
    r"on (?:(?P<schema>\w+)\.)?(?P<table>\w+)"
)
BITMAP_INDEX = re.compile(r"Bitmap Index Scan on (?P<index>\w+)")


def capture_plans(conn: psycopg.Connection[Any], path: Path) -> list[str]:
    """Plans of every statement the path runs (auto_explain, nested statements included)."""
    notices: list[str] = []
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    conn.execute("load 'auto_explain'")
    conn.execute("set auto_explain.log_min_duration = 0")
    conn.execute("set auto_explain.log_nested_statements = on")
    conn.execute("set auto_explain.log_level = notice")
    try:
        with conn.transaction():
            stmt = re.sub(r":t\b", "100", re.sub(r":r\b", "7", path.statement))
            claims = re.sub(r":r\b", "7", path.claims)
            conn.execute(
                f"select set_config('role', 'authenticated', true), "
                f"set_config('request.jwt.claims', {claims}, true)".encode()
            )
            notices.clear()
            conn.execute(stmt.encode())
            raise psycopg.Rollback()
    finally:
        conn.execute("reset role")
        conn.execute("set auto_explain.log_min_duration = -1")
    return [n for n in notices if "Query Text" in n or "plan:" in n]


def scans(plans: list[str]) -> list[tuple[str, str, str]]:
    """(table, access method, index) for every relation scan in the plans."""
    found = []
    for plan in plans:
        for m in SCAN.finditer(plan):
            index = m.group("index") or ""
            if m.group("kind") == "Bitmap Heap Scan":
                below = BITMAP_INDEX.search(plan, m.end())
                index = below.group("index") if below else ""
            found.append((m.group("table"), m.group("kind"), index))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sql_hot_paths",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rooms", type=int, default=10_000)
    parser.add_argument("--sync-states", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10, help="duration of each pgbench run")
    parser.add_argument("--clients", default="1,32", help="comma-separated client counts")
    parser.add_argument("--quick", action="store_true", help="small database, 3 s runs")
    parser.add_argument(
        "--synchronous-commit",
        choices=["on", "off"],
        default="on",
        help="off shows how much of each write is the commit's WAL flush (the stack keeps it on)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rooms, args.sync_states, args.seconds = 1_000, 100_000, 3
    clients = [int(c) for c in args.clients.split(",")]

    with throwaway_database(PROJECT_DIR) as db:
        assert db.cluster is not None
        program = find_program("pgbench", [db.cluster.binaries.bindir])
        console.print(
            f"Populating {args.rooms:,} rooms, {args.rooms * 5:,} members, "
            f"{args.rooms * 10:,} comments, {args.sync_states:,} sync_states rows..."
        )
        with db.connect() as conn:
            took = populate(conn, args.rooms, args.sync_states)
            console.print(f"  done in {took:.1f} s")

            plan_report: dict[str, Any] = {}
            offenders: list[str] = []
            for path in PATHS:
                plans = capture_plans(conn, path)
                used = scans(plans)
                plan_report[path.name] = {"scans": used, "plans": plans}
                for table, kind, _ in used:
                    if kind == "Seq Scan" and table in LARGE_TABLES:
                        offenders.append(f"{path.name}: Seq Scan on {table}")
            print_table(
                "Index use of every statement on the hot paths (auto_explain, nested statements)",
                ["path", "table", "access"],
                [
                    (p, t, f"{k} {i}".strip())
                    for p, r in plan_report.items()
                    for t, k, i in sorted(set(map(tuple, r["scans"])))
                ],  # type: ignore[arg-type]
            )

        api_url = authenticator_url(db.url)
        rows: list[list[Any]] = []
        results: list[dict[str, Any]] = []
        for n in clients:
            baseline_tps = None
            for path in PATHS:
                res = pgbench(
                    program,
                    api_url,
                    script(path, args.rooms),
                    clients=n,
                    seconds=args.seconds,
                    options=f"-c synchronous_commit={args.synchronous_commit}",
                )
                if baseline_tps is None:
                    baseline_tps = res.tps
                share = res.tps / baseline_tps
                rows.append([path.name, n, res.tps, res.p50, res.p99, f"{share:.0%}"])
                results.append(
                    {
                        "path": path.name,
                        "clients": n,
                        "tps": res.tps,
                        "p50_ms": res.p50,
                        "p99_ms": res.p99,
                        "transactions": res.transactions,
                        "share_of_baseline": share,
                    }
                )
        print_table(
            f"Hot SQL paths, {args.rooms:,} rooms / {args.sync_states:,} sync_states "
            f"({args.seconds} s per run, pgbench as authenticator -> authenticated, "
            f"synchronous_commit={args.synchronous_commit})",
            ["path", "clients", "tps", "p50 ms", "p99 ms", "vs baseline"],
            rows,
        )
    out = write_results(
        "sql_hot_paths",
        {
            "rooms": args.rooms,
            "sync_states": args.sync_states,
            "seconds": args.seconds,
            "results": results,
            "plans": plan_report,
            "seq_scans_on_large_tables": offenders,
        },
    )
    console.print(f"results: {out}")
    if offenders:
        console.print("[bold red]sequential scans on large tables:[/]\n  " + "\n  ".join(offenders))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
