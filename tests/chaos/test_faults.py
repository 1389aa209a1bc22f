"""A party of a host and two members through each fault the stack can suffer; afterwards nobody
has lost a committed comment or host action, everyone is in step again, and nothing needed a
hand: the stack and the SDK recover by themselves.

* PostgreSQL crashes: SIGKILL of the postmaster, or an immediate stop; then started again;
* Realtime restarts: SIGHUP to the gateway (the service stops, closing every socket and dropping
  its slot, and starts again);
* the gateway crashes: SIGKILL, then started again on the same port;
* a member's network drops: a proxy between that member and the stack, blackholed or reset;
* the disk fills up: the cluster on a small tmpfs, filled with a file until ENOSPC, then emptied;
* the replication slot falls behind: the gateway frozen (SIGSTOP) while more WAL than
  ``max_slot_wal_keep_size`` is written, so PostgreSQL invalidates the slot;
* the gateway starts while PostgreSQL is down.

Each test reports how long recovery took (docs/RESILIENCE.md has the measured table).

realtime-py reads attributes ``websockets`` has deprecated when a connection drops; under
``filterwarnings = error`` that would kill its reconnect task, so these tests ignore them.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.chaos._proxy import CutKind, Proxy
from tests.chaos._scenario import comment_as, open_party, recovered, retrying, seek_as
from tests.chaos.conftest import Chaos, chaos_stack
from tests.e2e._party import party
from watchium_client import CommentPosted, ConnectionLost, ConnectionRestored, WatchiumError

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:ConnectionClosed.* is deprecated"),
]

DROP_SECONDS = float(os.environ.get("WATCHIUM_CHAOS_DROP_SECONDS") or 5)
"""How long a member's network is down: 5 s in the suite, the short end of what a network does;
``WATCHIUM_CHAOS_DROP_SECONDS=60`` runs the long end."""


@pytest.mark.parametrize("how", ["SIGKILL", "immediate stop"])
async def test_postgres_crash(chaos: Chaos, how: str) -> None:
    async with party(chaos.stack) as p:
        host, (aiko, ben) = await open_party(p)
        # Committed the moment before the crash: they must reach everyone.
        await host.session.seek(120.0)
        await aiko.session.post_comment("right before the crash")
        if how == "SIGKILL":
            await asyncio.to_thread(chaos.cluster.kill)
        else:
            await asyncio.to_thread(chaos.cluster.stop, mode="immediate")
        await asyncio.sleep(1.0)  # down for a second
        await asyncio.to_thread(chaos.cluster.start)
        since = time.monotonic()
        await retrying(lambda: host.session.seek(300.0), "the host's seek")
        await retrying(lambda: ben.session.post_comment("after the crash"), "a comment")
        await recovered(chaos, p, f"PostgreSQL {how}, restarted", since)


async def test_realtime_restart(chaos: Chaos) -> None:
    async with party(chaos.stack) as p:
        host, (aiko, _ben) = await open_party(p)
        marks = {v.name: v.recorder.mark() for v in p.viewers}
        await asyncio.to_thread(chaos.stack.restart_realtime)
        since = time.monotonic()
        # While the sessions reconnect and rejoin: not replayed, so refetched.
        await host.session.seek(300.0)
        await aiko.session.post_comment("while everyone rejoins")
        for v in p.viewers:
            await v.recorder.wait_for(ConnectionLost, since=marks[v.name], who=v.name)
            await v.recorder.wait_for(ConnectionRestored, since=marks[v.name], who=v.name)
        await recovered(chaos, p, "Realtime restarted", since)


async def test_gateway_crash(chaos: Chaos) -> None:
    async with party(chaos.stack) as p:
        host, (aiko, _ben) = await open_party(p)
        marks = {v.name: v.recorder.mark() for v in p.viewers}
        await asyncio.to_thread(chaos.stack.kill)
        for v in p.viewers:
            await v.recorder.wait_for(ConnectionLost, since=marks[v.name], who=v.name)
        # Meanwhile the host's seek and a comment reach the database another way.
        await asyncio.to_thread(seek_as, chaos, host, 500.0)
        await asyncio.to_thread(comment_as, chaos, aiko, "while the gateway was down")
        await asyncio.to_thread(chaos.stack.start)
        since = time.monotonic()
        await recovered(chaos, p, "gateway killed (SIGKILL), restarted", since)


@pytest.mark.parametrize("kind", ["blackhole", "reset"])
async def test_member_network_drop(chaos: Chaos, kind: CutKind) -> None:
    proxy = Proxy(chaos.stack.port)
    await proxy.start()
    try:
        async with party(chaos.stack) as p:
            host, (aiko, _ben) = await open_party(p, member_url=proxy.url)
            proxy.cut(kind)
            await host.session.seek(250.0)
            await aiko.session.post_comment(f"while ben was offline ({kind})")
            await asyncio.sleep(DROP_SECONDS)
            proxy.restore()
            since = time.monotonic()
            await recovered(
                chaos, p, f"a member's network down {DROP_SECONDS:.0f} s ({kind})", since
            )
    finally:
        await proxy.close()


def _fill(path: Path) -> int:
    """Writes ``path`` until the file system is full; the bytes written."""
    written = 0
    block = b"\0" * (1 << 20)
    with path.open("wb", buffering=0) as f:
        while True:
            try:
                written += f.write(block) or 0
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                block = block[: len(block) // 2]
                if len(block) < 4096:
                    return written


@pytest.mark.parametrize("how_full", ["tables", "WAL"])
async def test_disk_full(small_disk: Path, how_full: str) -> None:
    """``tables``: the disk fills while the WAL still has room: a table cannot grow, small writes
    go on. ``WAL``: the WAL cannot grow either: PostgreSQL panics, its crash recovery cannot
    write, and the postmaster shuts down; the stack's watchdog starts it again once there is
    space."""
    with chaos_stack(parent=small_disk) as chaos, chaos.db.supervised():
        async with party(chaos.stack) as p:
            host, (aiko, ben) = await open_party(p)
            filler = small_disk / "filler"
            await asyncio.to_thread(_fill, filler)
            try:
                # The database can no longer grow a table...
                with pytest.raises(psycopg.errors.DiskFull):
                    await asyncio.to_thread(
                        chaos.admin,
                        "create table public.ballast as select repeat('x', 1000) "
                        "from generate_series(1, 100000)",
                    )
                if how_full == "WAL":
                    await asyncio.to_thread(_exhaust_wal, chaos)
                # ...and what the party tries meanwhile may fail; what commits must arrive.
                for n in range(3):
                    with contextlib.suppress(WatchiumError):
                        await aiko.session.post_comment(f"on a full disk {n}")
                with contextlib.suppress(WatchiumError):
                    await host.session.seek(150.0)
            finally:
                filler.unlink()
            since = time.monotonic()
            await retrying(lambda: host.session.seek(400.0), "the host's seek")
            await retrying(lambda: ben.session.post_comment("space again"), "a comment")
            await recovered(chaos, p, f"disk full ({how_full}), then freed", since)
            assert chaos.cluster.running_pid() is not None


def _exhaust_wal(chaos: Chaos) -> None:
    """Writes WAL until PostgreSQL cannot, and shuts down."""
    for _ in range(200):
        try:
            chaos.admin("select pg_logical_emit_message(true, 'chaos', repeat('x', 1048576))")
        except psycopg.Error:
            if chaos.cluster.running_pid() is None:
                return
            time.sleep(0.1)
    raise AssertionError("PostgreSQL kept writing WAL on a full disk")


async def test_replication_slot_falls_behind(chaos: Chaos) -> None:
    slot = f"watchium_stack_{chaos.stack.port}"
    async with party(chaos.stack) as p:
        host, (aiko, ben) = await open_party(p)
        marks = {v.name: v.recorder.mark() for v in p.viewers}
        # The Realtime reader stops reading (its whole process is frozen) while the database
        # writes more WAL than max_slot_wal_keep_size: PostgreSQL gives the slot up.
        chaos.stack.freeze()
        try:
            await asyncio.to_thread(seek_as, chaos, host, 700.0)
            await asyncio.to_thread(comment_as, chaos, aiko, "while Realtime fell behind")
            await asyncio.to_thread(_outgrow_slot, chaos, slot)
        finally:
            chaos.stack.thaw()
        since = time.monotonic()
        # Realtime makes a new slot and tells every channel its changes may be missing: each
        # session rejoins and refetches what the gap held.
        for v in p.viewers:
            await v.recorder.wait_for(ConnectionRestored, since=marks[v.name], who=v.name)
        await retrying(lambda: host.session.seek(800.0), "the host's seek")
        await recovered(chaos, p, "replication slot invalidated", since)
        # And the stream flows again: a new comment arrives live, not by a refetch.
        mark = {v.name: v.recorder.mark() for v in p.viewers}
        live = await ben.session.post_comment("the stream is back")
        for v in (host, aiko):
            got = await v.recorder.wait_for(
                CommentPosted, lambda e: e.comment.id == live.id, since=mark[v.name], who=v.name
            )
            assert not got.missed, v.name
        stats = httpx.get(
            f"{chaos.stack.url}/realtime/v1/api/stats",
            headers={"apikey": chaos.stack.secret_key},
            timeout=10,
        ).json()
        assert stats["slot_invalidations"] == 1, stats
        rows = chaos.admin(
            "select wal_status from pg_replication_slots where slot_name = %s", (slot,)
        )
        assert rows and rows[0][0] != "lost", rows


def _outgrow_slot(chaos: Chaos, slot: str) -> None:
    """Writes WAL (16 MB at a time, then a checkpoint) until PostgreSQL invalidates ``slot``."""
    for _ in range(20):
        chaos.admin(
            "select pg_logical_emit_message(false, 'chaos', repeat('x', 1048576)) "
            "from generate_series(1, 16)"
        )
        chaos.admin("select pg_switch_wal()")
        chaos.admin("checkpoint")
        rows = chaos.admin(
            "select wal_status from pg_replication_slots where slot_name = %s", (slot,)
        )
        if rows and rows[0][0] == "lost":
            return
    raise AssertionError(f"slot {slot} was never invalidated: {rows}")


async def test_gateway_started_while_postgres_is_down(chaos: Chaos) -> None:
    """The gateway comes up without its database and starts Realtime once the database is
    back: nobody has to restart it."""
    await asyncio.to_thread(chaos.stack.stop)
    await asyncio.to_thread(chaos.cluster.stop)
    await asyncio.to_thread(chaos.stack.start)
    assert (await asyncio.to_thread(chaos.stack.health))["realtime"] == "failed"
    await asyncio.to_thread(chaos.cluster.start)
    since = time.monotonic()
    await until_realtime_up(chaos)
    chaos.report("gateway started before PostgreSQL", realtime_up=time.monotonic() - since)
    async with party(chaos.stack) as p:
        host, (aiko, _ben) = await open_party(p)
        await host.session.seek(90.0)
        await aiko.session.post_comment("Realtime came up by itself")
        await recovered(chaos, p, "", time.monotonic(), report=False)


async def until_realtime_up(chaos: Chaos) -> None:
    def up() -> bool:
        return bool(chaos.stack.health()["realtime"] == "up")

    deadline = time.monotonic() + 30
    while not await asyncio.to_thread(up):
        assert time.monotonic() < deadline, chaos.stack.log_tail()
        await asyncio.sleep(0.1)
