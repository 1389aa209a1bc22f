"""The official clients against our server: realtime-py (through supabase-py, protocol 1.0.0)
and supabase-js under Node (protocol 2.0.0), together in one room."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from realtime import RealtimeSubscribeStates
from supabase import AsyncClient, acreate_client

from tests.realtime._support import (
    TIMEOUT,
    JsClient,
    Server,
    Sql,
    js_available,
    new_user,
    user_token,
)

pytestmark = pytest.mark.js


PyClientFactory = Callable[[str], Awaitable[AsyncClient]]


@pytest.fixture
async def py_client(realtime: Server) -> AsyncIterator[PyClientFactory]:
    """realtime-py clients signed in as the given users, closed after the test whatever happens
    (a client left connected would be cut off when the server stops, in another test)."""
    clients: list[AsyncClient] = []

    async def make(user: str) -> AsyncClient:
        client = await acreate_client(realtime.http_url, realtime.keys.anon_key)
        clients.append(client)
        await client.realtime.set_auth(user_token(user))
        return client

    try:
        yield make
    finally:
        for client in clients:
            await client.realtime.close()


class PyRoom:
    """A realtime-py channel on room:<id> recording what arrives."""

    def __init__(self, client: AsyncClient, room_id: str, user: str, private: bool = False):
        self.changes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.broadcasts: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.presence_changed = asyncio.Event()
        self.status: list[RealtimeSubscribeStates] = []
        self.channel = client.channel(
            f"room:{room_id}",
            {
                "config": {
                    "broadcast": {"self": False, "ack": True},
                    "presence": {"key": user, "enabled": True},
                    "private": private,
                }
            },
        )
        flt = f"room_id=eq.{room_id}"
        self.channel.on_postgres_changes(
            "UPDATE", self.changes.put_nowait, schema="public", table="rooms", filter=flt
        ).on_postgres_changes(
            "*", self.changes.put_nowait, schema="public", table="room_members", filter=flt
        ).on_presence_sync(self.presence_changed.set).on_broadcast("*", self.broadcasts.put_nowait)

    async def subscribe(self) -> RealtimeSubscribeStates:
        await self.channel.subscribe(lambda status, _err: self.status.append(status))
        return self.status[-1]

    async def change(self, match: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while True:
                payload = await self.changes.get()
                if match(payload["data"]):
                    return payload

        return await asyncio.wait_for(wait(), timeout)

    async def presence_keys(self, expected: set[str]) -> None:
        async def wait() -> None:
            while set(self.channel.presence_state()) != expected:
                self.presence_changed.clear()
                await self.presence_changed.wait()

        await asyncio.wait_for(wait(), TIMEOUT)


@pytest.fixture
async def js() -> AsyncIterator[JsClient]:
    if not js_available():
        pytest.skip("supabase-js is not installed: npm ci --prefix tests/js")
    client = await JsClient.start()
    try:
        yield client
    finally:
        await client.close()


async def test_python_and_js_share_a_room(
    realtime: Server, db: Sql, js: JsClient, py_client: PyClientFactory
) -> None:
    host, py_user, js_user, other_member, outsider = (new_user() for _ in range(5))
    room_id, key = await db.create_room(host, public=False)
    await db.join_room(py_user, room_id, key)
    await db.join_room(js_user, room_id, key)
    other_room, other_key = await db.create_room(other_member, public=False)

    # realtime-py (1.0.0), a member of the room
    py = await py_client(py_user)
    py_room = PyRoom(py, room_id, py_user)
    assert await py_room.subscribe() == RealtimeSubscribeStates.SUBSCRIBED

    # supabase-js (2.0.0), a member of the room
    await js.send(
        cmd="connect", url=realtime.http_url, key=realtime.keys.anon_key, token=user_token(js_user)
    )
    name = f"room:{room_id}"
    await js.send(
        cmd="subscribe",
        name=name,
        presence=True,
        config={"broadcast": {"self": False, "ack": True}, "presence": {"key": js_user}},
        postgres=[
            {
                "event": "UPDATE",
                "schema": "public",
                "table": "rooms",
                "filter": f"room_id=eq.{room_id}",
            }
        ],
    )
    await js.wait_for(lambda e: e["event"] == "status" and e["status"] == "SUBSCRIBED")

    # a member of another room listening to this room's rows, and an outsider
    spy_client = await py_client(other_member)
    spy = PyRoom(spy_client, room_id, other_member)
    assert await spy.subscribe() == RealtimeSubscribeStates.SUBSCRIBED
    outsider_client = await py_client(outsider)
    outsider_room = PyRoom(outsider_client, room_id, outsider)
    assert await outsider_room.subscribe() == RealtimeSubscribeStates.SUBSCRIBED

    # presence: each sees the other
    await py_room.channel.track({"user_id": py_user, "position": 1.0})
    await js.send(cmd="track", name=name, payload={"user_id": js_user, "position": 2.0})
    await py_room.presence_keys({py_user, js_user, other_member, outsider} & {py_user, js_user})
    await js.wait_for(
        lambda e: e["event"] == "presence_sync" and {py_user, js_user} <= set(e["state"])
    )

    # the host seeks: both members get the rooms UPDATE (after, maybe, the joins' own changes)
    await db.seek(host, room_id, 123.5)
    change = await py_room.change(
        lambda d: d["table"] == "rooms" and d["record"]["current_playback_time"] == 123.5
    )
    assert change["data"]["type"] == "UPDATE"
    assert change["data"]["record"]["room_id"] == room_id
    js_change = await js.wait_for(
        lambda e: (
            e["event"] == "postgres_changes"
            and e["payload"]["new"]["current_playback_time"] == 123.5
        )
    )
    assert js_change["payload"]["eventType"] == "UPDATE"

    # broadcasts cross protocol versions, both ways
    await py_room.channel.send_broadcast("chat", {"text": "from python"})
    got = await js.wait_for(lambda e: e["event"] == "broadcast")
    assert got["payload"]["event"] == "chat"
    assert got["payload"]["payload"] == {"text": "from python"}
    await js.send(cmd="send", name=name, event="chat", payload={"text": "from js"})
    sent = await js.wait_for(lambda e: e["event"] == "result" and e["cmd"] == "send")
    assert sent["result"] == "ok"
    from_js = await asyncio.wait_for(py_room.broadcasts.get(), TIMEOUT)
    assert from_js["event"] == "chat" and from_js["payload"] == {"text": "from js"}

    # a change after all that reaches the members (and proves the pipeline is in order) ...
    await db.seek(host, room_id, 200.0)
    await py_room.change(
        lambda d: d["table"] == "rooms" and d["record"]["current_playback_time"] == 200
    )
    # ... and nothing of this private room ever reached the other room's member or the outsider
    for watcher in (spy, outsider_room):
        leaked = [watcher.changes.get_nowait() for _ in range(watcher.changes.qsize())]
        assert not [p for p in leaked if p["data"]["type"] != "DELETE"], leaked
