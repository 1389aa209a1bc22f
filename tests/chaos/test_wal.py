"""The WAL a replication slot holds back, and a shutdown with a WAL sender attached.

Realtime's slot must follow the WAL even when nothing in it is published (member heartbeats
write unpublished tables all the time): otherwise the slot retains everything written since the
last published change, and PostgreSQL's fast shutdown, which waits until every WAL sender's
client has confirmed all it was sent, never finishes. When a client cannot confirm, the stop
must still end, by escalating.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import pytest

from tests.chaos.conftest import Chaos
from watchium_stack.realtime._replication import ReplicationError, ReplicationStream

pytestmark = pytest.mark.slow

_TIMEOUT = 30.0


def _slot(chaos: Chaos) -> str:
    return f"watchium_stack_{chaos.stack.port}"


def test_the_slot_follows_wal_nothing_is_published_from(chaos: Chaos) -> None:
    chaos.admin("create table public.unpublished (n int)")
    for n in range(3):
        chaos.admin("insert into public.unpublished values (%s)", (n,))
    (written,) = chaos.admin("select pg_current_wal_lsn()::text")[0]
    deadline = time.monotonic() + _TIMEOUT
    while True:
        rows = chaos.admin(
            "select confirmed_flush_lsn >= %s::pg_lsn, confirmed_flush_lsn::text "
            "from pg_replication_slots where slot_name = %s",
            (written, _slot(chaos)),
        )
        if rows and rows[0][0]:
            break
        assert time.monotonic() < deadline, f"the slot stays at {rows}, the WAL is at {written}"
        time.sleep(0.1)


def test_a_fast_stop_with_realtime_attached_needs_no_escalation(
    chaos: Chaos, caplog: pytest.LogCaptureFixture
) -> None:
    chaos.admin("create table public.unpublished (n int)")
    chaos.admin("insert into public.unpublished values (1)")
    with caplog.at_level(logging.WARNING, logger="watchium_stack.postgres"):
        assert chaos.cluster.stop(mode="fast", timeout=10)
    assert chaos.cluster.running_pid() is None
    assert not [r for r in caplog.records if "did not stop" in r.getMessage()], caplog.text
    chaos.cluster.start()


async def test_postgres_stops_while_a_replication_client_confirms_nothing(chaos: Chaos) -> None:
    """A reader stuck inside a transaction (its delivery waits on the very database that is
    shutting down) answers keepalives but confirms nothing: the fast shutdown would wait for it
    forever, so the stop escalates."""
    chaos.admin("select pg_create_logical_replication_slot('chaos_stuck', 'pgoutput')")
    stream = ReplicationStream(chaos.db.admin_url, "chaos_stuck", "supabase_realtime")
    await stream.open()
    stream.idle = False

    async def consume() -> None:
        with contextlib.suppress(ReplicationError):
            async for _ in stream.messages():
                pass

    task = asyncio.create_task(consume())
    try:
        await asyncio.to_thread(chaos.admin, "create table public.unpublished (n int)")
        assert await asyncio.to_thread(chaos.cluster.stop, timeout=3)
        assert chaos.cluster.running_pid() is None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        stream.close()
    await asyncio.to_thread(chaos.cluster.start)
    assert chaos.admin("select 1") == [(1,)]
