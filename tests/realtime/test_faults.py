"""Faults: the server killed and restarted, PostgreSQL restarted, a client that stops reading."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from realtime import RealtimeSubscribeStates
from supabase import AsyncClientOptions, acreate_client

from tests._pg import TestDatabase
from tests.realtime._support import (
    PROJECT_DIR,
    SECRET,
    TIMEOUT,
    Phoenix,
    Server,
    Sql,
    authorizer_url,
    new_user,
    user_token,
)
from watchium_stack.keys import keys_from_secret
from watchium_stack.postgres import free_port

pytestmark = [
    pytest.mark.slow,
    # realtime-py reads a deprecated attribute of websockets when a connection drops.
    pytest.mark.filterwarnings("ignore:ConnectionClosed.* is deprecated:DeprecationWarning"),
]


class Watcher:
    """realtime-py on a room's rooms UPDATEs, noting each SUBSCRIBED."""

    def __init__(self) -> None:
        self.positions: asyncio.Queue[float] = asyncio.Queue()
        self.subscribed = 0
        self.resubscribed = asyncio.Event()

    def on_change(self, payload: dict[str, Any]) -> None:
        self.positions.put_nowait(payload["data"]["record"]["current_playback_time"])

    def on_status(self, status: RealtimeSubscribeStates, _err: Exception | None) -> None:
        if status == RealtimeSubscribeStates.SUBSCRIBED:
            self.subscribed += 1
            if self.subscribed > 1:
                self.resubscribed.set()

    async def expect(self, *positions: float) -> None:
        for expected in positions:
            got = await asyncio.wait_for(self.positions.get(), TIMEOUT)
            while got == 0 and expected != 0:
                # A change of the room at position 0 (the member's join, committed just before
                # the subscription) may arrive first; the room never goes back to 0 here.
                got = await asyncio.wait_for(self.positions.get(), TIMEOUT)
            assert got == expected


# realtime-py reconnects after 1, 2, 4, ... s by default; a server restart here takes about a
# second, so start the backoff short (and allow enough attempts for a slow machine).
FAST_RECONNECT = AsyncClientOptions(realtime={"initial_backoff": 0.05, "max_retries": 12})


@contextlib.asynccontextmanager
async def watching(
    http_url: str, anon_key: str, user: str, room_id: str, *, private: bool = False
) -> AsyncIterator[Watcher]:
    """realtime-py subscribed as ``user`` to the room's rooms UPDATEs (on the private channel,
    whose policies the server checks at join, with ``private``), closed afterwards (a client left
    connected would be cut off when the server stops, in another test)."""
    client = await acreate_client(http_url, anon_key, options=FAST_RECONNECT)
    try:
        await client.realtime.set_auth(user_token(user))
        watcher = Watcher()
        channel = client.channel(f"room:{room_id}", {"config": {"private": private}})
        channel.on_postgres_changes(
            "UPDATE",
            watcher.on_change,
            schema="public",
            table="rooms",
            filter=f"room_id=eq.{room_id}",
        )
        await channel.subscribe(watcher.on_status)
        assert watcher.subscribed == 1
        yield watcher
    finally:
        await client.realtime.close()


def spawn_server(db_url: str, port: int, keys: Any, slot: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "watchium_stack.realtime",
            f"--db-url={db_url}",
            f"--authorizer-url={authorizer_url(db_url)}",
            f"--jwt-secret={SECRET}",
            f"--api-key={keys.anon_key}",
            f"--port={port}",
            f"--slot={slot}",
            "--allow-public-channels",
        ],
        cwd=PROJECT_DIR,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


async def wait_listening(port: int) -> None:
    async def ping() -> None:
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    r = await http.get(f"http://127.0.0.1:{port}/realtime/v1/api/ping")
                    if r.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)

    await asyncio.wait_for(ping(), 30)


async def test_server_killed_and_restarted(database: TestDatabase, db: Sql) -> None:
    keys = keys_from_secret(SECRET, int(time.time()) - 10)
    port = free_port()
    host, member = new_user(), new_user()
    room_id, key = await db.create_room(host, public=False)
    await db.join_room(member, room_id, key)
    proc = spawn_server(database.url, port, keys, "watchium_realtime_fault")
    try:
        await wait_listening(port)
        async with watching(f"http://127.0.0.1:{port}", keys.anon_key, member, room_id) as watcher:
            await db.seek(host, room_id, 10)
            await watcher.expect(10)

            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            await db.seek(host, room_id, 11)  # committed while no server runs: refetch on rejoin
            proc = spawn_server(database.url, port, keys, "watchium_realtime_fault")
            await wait_listening(port)
            await asyncio.wait_for(watcher.resubscribed.wait(), 60)
            # the client refetches after SUBSCRIBED; the state it reads has the missed change
            state = await db.run(
                None, "select current_playback_time from rooms where room_id = %s", (room_id,)
            )
            assert float(state) == 11
            for position in (12, 13, 14):  # every later change arrives, in order
                await db.seek(host, room_id, position)
            await watcher.expect(12, 13, 14)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # a clean stop drops the slot
    slots = await db.run(
        None,
        "select count(*) from pg_replication_slots where slot_name = 'watchium_realtime_fault'",
    )
    assert slots == 0


async def test_postgres_restart_loses_nothing(
    realtime: Server, database: TestDatabase, db: Sql
) -> None:
    if database.cluster is None:
        pytest.skip("needs the local cluster")
    host, member = new_user(), new_user()
    room_id, key = await db.create_room(host, public=False)
    await db.join_room(member, room_id, key)
    cluster = database.cluster
    async with watching(realtime.http_url, realtime.keys.anon_key, member, room_id) as watcher:
        await db.seek(host, room_id, 20)
        await watcher.expect(20)
        await db.seek(host, room_id, 21)  # committed right before the restart
        await db.close()
        try:
            await asyncio.to_thread(cluster.stop)
        finally:
            await asyncio.to_thread(cluster.start)
        # The authorizer's pooled connections died with PostgreSQL: a join right after the
        # restart, which checks the private channel's policies, is still admitted at once.
        async with watching(
            realtime.http_url, realtime.keys.anon_key, host, room_id, private=True
        ) as rejoined:
            await db.seek(host, room_id, 22)
            await db.seek(host, room_id, 23)
            await watcher.expect(21, 22, 23)  # all of them, once, in order, on one subscription
            await rejoined.expect(22, 23)
        assert watcher.subscribed == 1
        assert watcher.positions.empty()


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed by the server")
        data += chunk
    return data


def _send_text(sock: socket.socket, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    mask = os.urandom(4)
    header = bytes([0x81, 0x80 | 126]) + len(body).to_bytes(2, "big") + mask
    sock.sendall(header + bytes(b ^ mask[i % 4] for i, b in enumerate(body)))


def _read_message(sock: socket.socket) -> dict[str, Any]:
    """The next text frame from the server (unmasked; ping frames skipped)."""
    while True:
        first, second = _recv_exactly(sock, 2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(_recv_exactly(sock, 2), "big")
        elif length == 127:
            length = int.from_bytes(_recv_exactly(sock, 8), "big")
        data = _recv_exactly(sock, length)
        if first & 0x0F == 0x1:
            return dict(json.loads(data))


def _stalled_client(port: int, key: str, topic: str, token: str) -> socket.socket:
    """A websocket client that joins ``topic`` as the user of ``token``, tracks its presence,
    and then never reads again (a small receive buffer, so the server's side fills up soon)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(TIMEOUT)
    try:
        sock.connect(("127.0.0.1", port))
        nonce = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET /realtime/v1/websocket?apikey={key}&vsn=1.0.0 HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {nonce}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        response = b""
        while b"\r\n\r\n" not in response:
            response += _recv_exactly(sock, 1)
        assert b" 101 " in response
        config = {"presence": {"key": "slow", "enabled": True}}
        for ref, event, payload in (
            ("1", "phx_join", {"config": config, "access_token": token}),
            ("2", "presence", {"type": "presence", "event": "track", "payload": {"s": 1}}),
        ):
            _send_text(
                sock,
                {"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": "1"},
            )
            while True:  # the join and the track are done before the client stops reading
                message = _read_message(sock)
                if message["event"] == "phx_reply" and message["ref"] == ref:
                    assert message["payload"]["status"] == "ok", message
                    break
    except BaseException:
        sock.close()
        raise
    return sock


def _read_until_closed(sock: socket.socket) -> int:
    """Read what the server had sent until the connection ends; returns the bytes read.

    Raises:
        TimeoutError: the server still holds the connection open.
    """
    total = 0
    try:
        while chunk := sock.recv(1 << 16):
            total += len(chunk)
    except ConnectionResetError:
        pass
    return total


async def test_a_client_that_stops_reading_is_dropped(realtime: Server) -> None:
    service = realtime.service
    limits = service.limits
    topic = "realtime:room:slowreader"
    slow_user = new_user()
    slow = await asyncio.to_thread(
        _stalled_client, realtime.port, realtime.keys.anon_key, topic, user_token(slow_user)
    )
    fast: Phoenix | None = None
    try:
        slow_port = slow.getsockname()[1]
        (server_side,) = [s for s in service.sockets if s.peer.endswith(f":{slow_port}")]
        fast = await Phoenix.open(realtime.ws_url())
        await fast.join(topic, {"presence": {"key": "fast", "enabled": True}})
        state = await fast.expect(lambda m: m["event"] == "presence_state")
        assert slow_user in state["payload"]

        # 300 broadcasts of 60 kB: more than the stalled client's kernel buffers and its 4 MiB
        # outgoing queue can hold together.
        chunk = "x" * 60_000
        total = 0
        url = f"{realtime.http_url}/realtime/v1/api/broadcast"
        async with httpx.AsyncClient() as http:
            for batch in range(25):
                messages = [
                    {
                        "topic": "room:slowreader",
                        "event": "bulk",
                        "payload": {"i": batch * 12 + i, "c": chunk},
                    }
                    for i in range(12)
                ]
                response = await http.post(
                    url, json={"messages": messages}, headers={"apikey": realtime.keys.anon_key}
                )
                assert response.status_code == 202
                total += len(messages)

        # The reading client gets every broadcast, in order, and sees the stalled one leave.
        received = 0
        slow_left = False
        while received < total or not slow_left:
            msg = await fast.expect(lambda m: m["event"] in ("broadcast", "presence_diff"))
            if msg["event"] == "broadcast":
                assert msg["payload"]["payload"]["i"] == received
                received += 1
            elif slow_user in msg["payload"]["leaves"]:
                slow_left = True

        # The server dropped the stalled client: its queue stayed within budget, it is gone from
        # the server's sockets, and the connection itself was ended (not just forgotten).
        await asyncio.wait_for(server_side.done.wait(), TIMEOUT)
        assert server_side.dropped_for_backlog
        assert server_side.peak_queued_bytes <= limits.max_buffer_bytes + 2 * len(chunk)
        assert server_side not in service.sockets
        assert server_side.aborted
        await asyncio.to_thread(_read_until_closed, slow)

        # and the reading client's socket is still fine
        ref = await fast.push("phoenix", "heartbeat", {})
        assert (await fast.reply(ref))["status"] == "ok"
    finally:
        slow.close()
        if fast is not None:
            await fast.close()
