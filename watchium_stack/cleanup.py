"""Retention on a timer, for databases without pg_cron (the local stack).

Runs ``watchium.cleanup_realtime_data()`` — the same function pg_cron schedules on Supabase — every
``interval`` seconds, logging what it removed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg

__all__ = ["run_cleanup", "cleanup_loop", "CLEANUP_INTERVAL"]

logger = logging.getLogger(__name__)

# A third of the member timeout (30 s): a silent member is gone within 40 s of its last heartbeat.
CLEANUP_INTERVAL = 10.0


async def run_cleanup(conn: psycopg.AsyncConnection[Any]) -> dict[str, int]:
    """Run one cleanup pass and return its counts."""
    cur = await conn.execute("select watchium.cleanup_realtime_data()")
    row = await cur.fetchone()
    counts: dict[str, int] = row[0] if row else {}
    if any(counts.values()):
        logger.info("cleanup: %s", ", ".join(f"{k}={v}" for k, v in counts.items() if v))
    return counts


async def cleanup_loop(db_url: str, interval: float = CLEANUP_INTERVAL) -> None:
    """Run cleanup every ``interval`` seconds until cancelled; survives database restarts."""
    conn: psycopg.AsyncConnection[Any] | None = None
    while True:
        try:
            if conn is None or conn.closed:
                conn = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
            await run_cleanup(conn)
        except psycopg.Error as exc:
            logger.warning("cleanup failed (will retry): %s", exc)
            if conn is not None:
                await conn.close()
            conn = None
        try:
            await asyncio.sleep(interval)
        except asyncio.CancelledError:
            if conn is not None:
                await conn.close()
            raise
