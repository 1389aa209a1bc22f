"""Timed replay on a popular episode: the window query's plan, its latency under load, and the
bytes a viewer downloads per minute of video, against baselines measured in the same run.

Builds a throwaway database with one popular episode of 100,000 timed comments over 24 minutes
of video (about 70 per second of video; one in ten from private rooms) and 200,000 comments of
other episodes around it, then:

1. captures the plan of the window read inside ``comments_replay`` (auto_explain, nested
   statements) and fails unless it reads ``idx_comments_replay``;
2. runs concurrent viewers, each fetching 30-second windows at random places in the episode as
   a signed-in user (``authenticated`` with their claims, as PostgREST and the functions call
   it), for a bounded time, and reports p50/p99 latency; then the same without the replay
   index (the baseline: the indexes the comments table had before), and fails unless the
   indexed p99 is lower;
3. reports the bytes per viewer-minute of video of the capped windows against two baselines:
   the same windows at the highest cap the settings allow (50 per second, about all of them
   here), and fetching the whole episode's comments at once.

    python -m bench.comment_replay            # the full run (about a minute)
    python -m bench.comment_replay --quick    # 20,000 comments, 2 s per load phase
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from typing import Any

import psycopg

from bench._common import PROJECT_DIR, console, percentile, print_table, write_results
from watchium_stack.harness import throwaway_database

__all__ = ["main"]

ANIME = "popular"
VIDEO_SECONDS = 24 * 60
WINDOW = 30.0

WINDOW_CALL = (
    "select public.comments_replay(p_anime_id => %s::text, p_episode_number => 1, "
    "p_start => %s::numeric, p_end => %s::numeric, p_per_second => %s::integer)::text"
)


def populate(conn: psycopg.Connection[Any], comments: int) -> None:
    """The popular episode's timed comments and the rest of the table around them."""
    conn.execute(
        """
        insert into public.comments (anime_id, episode_number, user_id, username, message,
                                     video_timestamp, is_public, origin_room_id, created_at)
        select %(anime)s, 1, 'user-' || (i %% 5000), 'viewer ' || (i %% 5000),
               'comment number ' || i || ' on this scene',
               round((random() * %(video)s)::numeric, 2),
               i %% 10 <> 0,
               case when i %% 10 = 0 then 'priv' || lpad((i %% 997)::text, 6, '0') end,
               now() - random() * interval '30 days'
          from generate_series(1, %(n)s) i
        """,
        {"anime": ANIME, "video": VIDEO_SECONDS, "n": comments},
    )
    conn.execute(
        """
        insert into public.comments (anime_id, episode_number, user_id, username, message,
                                     video_timestamp, created_at)
        select 'other-' || (i %% 50), 1 + i %% 12, 'user-' || (i %% 5000), 'viewer',
               'elsewhere ' || i,
               case when i %% 3 = 0 then null else round((random() * 1440)::numeric, 2) end,
               now() - random() * interval '30 days'
          from generate_series(1, %(n)s) i
        """,
        {"n": comments * 2},
    )
    conn.execute("analyze public.comments")


def window_plan(conn: psycopg.Connection[Any]) -> list[str]:
    """The plans of the statements comments_replay runs (auto_explain)."""
    notices: list[str] = []
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    conn.execute("load 'auto_explain'")
    conn.execute("set auto_explain.log_min_duration = 0")
    conn.execute("set auto_explain.log_nested_statements = on")
    conn.execute("set auto_explain.log_level = notice")
    try:
        notices.clear()
        conn.execute(WINDOW_CALL.encode(), (ANIME, 600, 630, None))
    finally:
        conn.execute("set auto_explain.log_min_duration = -1")
    return [n for n in notices if "public.comments c" in n or "comments c" in n]


def as_viewer(user: str) -> str:
    claims = json.dumps({"sub": user, "role": "authenticated"})
    return (
        f"select set_config('role', 'authenticated', true), "
        f"set_config('request.jwt.claims', '{claims}', true)"
    )


async def viewer(url: str, seconds: float, latencies: list[float], index: int) -> None:
    rng = random.Random(index)
    async with await psycopg.AsyncConnection.connect(url, autocommit=False) as conn:
        switch = as_viewer(f"00000000-0000-4000-8000-{index:012d}")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            start = round(rng.uniform(0, VIDEO_SECONDS - WINDOW), 2)
            began = time.perf_counter()
            async with conn.transaction():
                await conn.execute(switch)
                cur = await conn.execute(WINDOW_CALL.encode(), (ANIME, start, start + WINDOW, None))
                await cur.fetchone()
            latencies.append((time.perf_counter() - began) * 1000)


async def load(url: str, viewers: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    await asyncio.gather(*(viewer(url, seconds, latencies, i) for i in range(viewers)))
    return latencies


def window_bytes(conn: psycopg.Connection[Any], per_second: int | None) -> float:
    """Bytes of the windows covering the whole episode, per minute of video."""
    total = 0
    start = 0.0
    while start < VIDEO_SECONDS:
        row = conn.execute(
            WINDOW_CALL.encode(), (ANIME, start, start + WINDOW, per_second)
        ).fetchone()
        assert row is not None
        total += len(row[0].encode())
        start += WINDOW
    return total / (VIDEO_SECONDS / 60)


def whole_episode_bytes(conn: psycopg.Connection[Any]) -> float:
    """Fetching every timed comment of the episode at once, per minute of video."""
    row = conn.execute(
        """
        select coalesce(jsonb_agg(jsonb_build_object(
                 'id', c.id, 'user_id', c.user_id, 'username', c.username, 'message', c.message,
                 'video_timestamp', c.video_timestamp) order by c.video_timestamp), '[]')::text
          from public.comments c
         where c.anime_id = %s and c.episode_number = 1 and c.video_timestamp is not null
           and c.is_public
        """,
        (ANIME,),
    ).fetchone()
    assert row is not None
    return len(row[0].encode()) / (VIDEO_SECONDS / 60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.comment_replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--viewers", type=int, default=8, help="concurrent viewers")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each load phase")
    parser.add_argument("--quick", action="store_true", help="20,000 comments, 2 s phases")
    args = parser.parse_args(argv)
    if args.quick:
        args.comments, args.seconds = 20_000, 2.0

    failures: list[str] = []
    with throwaway_database(PROJECT_DIR) as db:
        with psycopg.connect(db.url, autocommit=True) as conn:
            console.print(f"populating: {args.comments:,} timed comments on one episode ...")
            populate(conn, args.comments)
            per_second = conn.execute("select replay_per_second from watchium.settings").fetchone()
            assert per_second is not None

            admin = db.connect_admin()  # loading auto_explain takes a superuser
            plans = window_plan(admin)
            uses_index = any("idx_comments_replay" in p for p in plans)
            console.print("plan of the window read (auto_explain):")
            for plan in plans:
                console.print(plan, markup=False)
            if not uses_index:
                failures.append("the window read does not use idx_comments_replay")

            rows: list[tuple[Any, ...]] = []
            results: dict[str, Any] = {"comments": args.comments, "viewers": args.viewers}
            indexed = asyncio.run(load(db.url, args.viewers, args.seconds))
            conn.execute("drop index public.idx_comments_replay")
            conn.execute("analyze public.comments")
            baseline_plans = window_plan(admin)
            baseline = asyncio.run(load(db.url, args.viewers, args.seconds))
            conn.execute(
                "create index idx_comments_replay on public.comments "
                "(anime_id, episode_number, video_timestamp) "
                "where video_timestamp is not null and not is_system_message"
            )
            for name, lat in (("replay index", indexed), ("baseline: no replay index", baseline)):
                p50, p99 = percentile(lat, 50), percentile(lat, 99)
                rows.append((name, len(lat), round(len(lat) / args.seconds, 1), p50, p99))
                results[name] = {"fetches": len(lat), "p50_ms": p50, "p99_ms": p99}
            results["baseline_plan"] = baseline_plans
            print_table(
                f"30 s window fetches, {args.viewers} concurrent viewers, {args.seconds:g} s each",
                ["query", "fetches", "per second", "p50 ms", "p99 ms"],
                rows,
            )
            if percentile(indexed, 99) >= percentile(baseline, 99):
                failures.append("the indexed window is not faster at p99 than the baseline")

            capped = window_bytes(conn, None)
            conn.execute("update watchium.settings set replay_per_second = 50")  # the most allowed
            uncapped = window_bytes(conn, None)
            whole = whole_episode_bytes(conn)
            results["bytes_per_viewer_minute"] = {
                "capped windows": capped,
                "windows capped at 50/s": uncapped,
                "whole episode at once": whole,
            }
            print_table(
                "bytes per viewer-minute of video",
                ["how", "bytes per minute", "vs capped"],
                [
                    (f"windows capped at {per_second[0]}/s (the design)", round(capped), "1.0×"),
                    (
                        "baseline: windows capped at 50/s (the most allowed)",
                        round(uncapped),
                        f"{uncapped / capped:.1f}×",
                    ),
                    ("baseline: whole episode at once", round(whole), f"{whole / capped:.1f}×"),
                ],
            )
            admin.close()
            if capped >= uncapped:
                failures.append("the per-second cap does not reduce the bytes")
    results["uses_index"] = uses_index
    path = write_results("comment_replay", results)
    console.print(f"results: {path.relative_to(PROJECT_DIR)}")
    for failure in failures:
        console.print(f"[red]FAILED[/]: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
