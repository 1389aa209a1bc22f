"""A change streamed before its transaction is visible to other sessions is still delivered.

PostgreSQL streams a transaction once its commit record is flushed, a moment before the committing
backend leaves the list of running transactions; an RLS check made in that moment finds no
inserted row. Here that moment is held open: with a synchronous standby configured that never
connects, a commit waits after its flush, invisible, until the wait is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from tests._pg import TestDatabase
from tests.realtime._support import TIMEOUT, Phoenix, Server, Sql, new_user, user_token

pytestmark = pytest.mark.slow


@contextlib.asynccontextmanager
async def commits_wait_after_flush(
    admin: psycopg.AsyncConnection[Any], url: str
) -> AsyncIterator[None]:
    """While in effect, every commit waits after its flush for a standby that never comes."""
    await admin.execute("alter system set synchronous_standby_names = 'nobody'")
    await admin.execute("select pg_reload_conf()")
    try:
        await _until_commits_wait(admin, url)
        yield
    finally:
        await admin.execute("alter system reset synchronous_standby_names")
        await admin.execute("select pg_reload_conf()")


async def _until_commits_wait(admin: psycopg.AsyncConnection[Any], url: str) -> None:
    """The reload takes effect when the checkpointer gets to it: until then a commit does not
    wait. Probe commits until one waits (then let it go)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while True:
        async with await psycopg.AsyncConnection.connect(url) as probe:
            # A transactional WAL record: a transaction that wrote none would not wait.
            await probe.execute("select pg_catalog.pg_logical_emit_message(true, 'probe', '')")
            committing = asyncio.create_task(probe.commit())
            while not committing.done():
                row = await (
                    await admin.execute(
                        "select 1 from pg_stat_activity where pid = %s and wait_event = 'SyncRep'",
                        (probe.info.backend_pid,),
                    )
                ).fetchone()
                if row is not None:
                    await admin.execute("select pg_cancel_backend(%s)", (probe.info.backend_pid,))
                    await committing
                    return
                await asyncio.sleep(0.01)
            await committing
        if loop.time() > deadline:
            raise AssertionError("commits never started to wait for the standby")


def admin_url(database: TestDatabase) -> str:
    # Configuring replication and cancelling another role's backend are the platform's to do.
    return database.admin_url or database.url


async def until_row(conn: psycopg.AsyncConnection[Any], query: str, params: Any) -> Any:
    async def poll() -> Any:
        while True:
            row = await (await conn.execute(query, params)).fetchone()
            if row is not None:
                return row
            await asyncio.sleep(0.01)

    return await asyncio.wait_for(poll(), TIMEOUT)


async def test_an_insert_streamed_before_it_is_visible_is_delivered(
    realtime: Server, db: Sql, database: TestDatabase
) -> None:
    host = new_user()
    room_id, _ = await db.create_room(host)
    topic = f"realtime:room:{room_id}"
    binding = {
        "event": "INSERT",
        "schema": "public",
        "table": "comments",
        "filter": f"room_id=eq.{room_id}",
    }
    ph = await Phoenix.open(realtime.ws_url())
    reply = await ph.join(topic, {"postgres_changes": [binding]}, access_token=user_token(host))
    assert reply["status"] == "ok"

    async with (
        await psycopg.AsyncConnection.connect(admin_url(database), autocommit=True) as admin,
        await psycopg.AsyncConnection.connect(database.url) as writer,
    ):
        pid = writer.info.backend_pid
        claims = json.dumps({"sub": host, "role": "authenticated"})
        await writer.execute(
            "select set_config('role', 'authenticated', true), "
            "set_config('request.jwt.claims', %s, true)",
            (claims,),
        )
        await writer.execute(
            "select public.comments_create(p_anime_id => 'frieren', p_episode_number => 1, "
            "p_message => 'held', p_username => 'host', p_room_id => %s)",
            (room_id,),
        )
        async with commits_wait_after_flush(admin, admin_url(database)):
            committing = asyncio.create_task(writer.commit())
            # The commit is flushed (and streamed) and waits, invisible to everyone else...
            await until_row(
                admin,
                "select 1 from pg_stat_activity where pid = %s and wait_event = 'SyncRep'",
                (pid,),
            )
            # ...and the server's check waits for it rather than find no row.
            await until_row(
                admin,
                "select 1 from pg_stat_activity where usename = 'authenticator' "
                "and query like '%%_realtime_local.visible%%' and pid <> pg_backend_pid()",
                None,
            )
            await admin.execute("select pg_cancel_backend(%s)", (pid,))  # committed locally
            await committing

    # The thread's anchor comment comes first, in the same transaction.
    change = await ph.expect(
        lambda m: (
            isinstance(m, dict)
            and m["event"] == "postgres_changes"
            and m["payload"]["data"]["record"]["message"] == "held"
        )
    )
    assert change["payload"]["data"]["record"]["room_id"] == room_id
    await ph.close()
