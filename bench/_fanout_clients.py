"""Client processes of the Realtime fan-out benchmark: lean Phoenix 1.0.0 clients over a minimal
websocket client, many per process, each joined to its room's channel with its own token.

A worker is driven over a ``multiprocessing`` pipe by the benchmark (see :class:`Workers`):
``connect`` (open and join every socket), ``count`` / ``collect`` (receipts per client), ``close``.
A receipt is (sequence number, monotonic time): the time is taken as soon as the frame is read,
the sequence number is the ``current_playback_time`` of the row in the change (the benchmark
writes it). ``time.monotonic`` is one clock for every process of the machine (CLOCK_MONOTONIC),
so the benchmark compares it with its own commit times.

The same clients connect to the Realtime server and to the floor server: whatever they cost shows
in both measurements.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import multiprocessing
import os
import random
import resource
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, cast
from urllib.parse import urlsplit

__all__ = ["ClientSpec", "Workers", "channel_config"]

_EVENT = b'"event":"postgres_changes"'
_RECORD = b'"record":'
_POSITION = b'"current_playback_time":'
_HEARTBEAT_SECONDS = 25.0  # realtime-js and realtime-py send one every 25 s
_CONNECT_CONCURRENCY = 25


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """One client: its index in the run, its access token and its room."""

    index: int
    user_id: str
    token: str
    room_id: str


def channel_config(room_id: str, user_id: str) -> dict[str, Any]:
    """The channel a member opens, as docs/API.md tells the SDK to: private, presence under the
    user id, and the room's three postgres_changes bindings."""
    flt = f"room_id=eq.{room_id}"
    return {
        "broadcast": {"ack": False, "self": False},
        "presence": {"key": user_id, "enabled": True},
        "postgres_changes": [
            {"event": "UPDATE", "schema": "public", "table": "rooms", "filter": flt},
            {"event": "*", "schema": "public", "table": "room_members", "filter": flt},
            {"event": "INSERT", "schema": "public", "table": "comments", "filter": flt},
        ],
        "private": True,
    }


def _position(frame: bytes) -> int | None:
    """The record's current_playback_time, found without decoding the whole frame."""
    start = frame.find(_RECORD)
    if start < 0:
        return None
    start = frame.find(_POSITION, start)
    if start < 0:
        return None
    start += len(_POSITION)
    end = start
    while frame[end] not in b",}":
        end += 1
    return round(float(frame[start:end]))


class _Connection(asyncio.Protocol):
    """A websocket client connection (RFC 6455) reduced to what the benchmark needs: the opening
    handshake, unmasked frames from the server (text, ping, close, continuation), masked text
    frames to it. No extensions are offered, so nothing is compressed.

    The ``websockets`` client parses every frame with a generator-based reader; with thousands of
    frames a second in each client process that parsing would be most of the clients' CPU, and it
    shares the machine with the server under test.
    """

    def __init__(self, host: str, target: str, on_message: Callable[[bytes, float], None]) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        self._request = (
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self._on_message = on_message
        self._buffer = bytearray()
        self._open = False
        self._fragments: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"connection lost: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()  # every frame of this read arrived now
        buf = self._buffer
        buf += data
        if not self._open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            if b" 101 " not in status + b" ":
                self.opened.set_exception(ConnectionError(f"handshake refused: {status!r}"))
                self.close()
                return
            del buf[: end + 4]
            self._open = True
            self.opened.set_result(None)
        pos, size = 0, len(buf)
        while size - pos >= 2:
            first, second = buf[pos], buf[pos + 1]
            length, head = second & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + head + length
            if end > size:
                break
            payload = bytes(buf[pos + head : end])
            pos = end
            opcode, fin = first & 0x0F, first & 0x80
            if opcode in (0x1, 0x2):
                if fin:
                    self._on_message(payload, now)
                else:
                    self._fragments = [payload]
            elif opcode == 0x0:
                self._fragments.append(payload)
                if fin:
                    self._on_message(b"".join(self._fragments), now)
                    self._fragments = []
            elif opcode == 0x9:
                self._send(0xA, payload)
            elif opcode == 0x8:
                self._send(0x8, payload[:2])
                self.close()
                break
        if pos:
            del buf[:pos]

    def _send(self, opcode: int, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        size = len(data)
        if size < 126:
            header = bytes((0x80 | opcode, 0x80 | size))
        elif size < 65536:
            header = bytes((0x80 | opcode, 0xFE)) + size.to_bytes(2, "big")
        else:
            header = bytes((0x80 | opcode, 0xFF)) + size.to_bytes(8, "big")
        mask = os.urandom(4)
        key = (mask * (size // 4 + 1))[:size]
        masked = (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(
            size, "little"
        )
        self.transport.write(header + mask + masked)

    def send_text(self, text: str) -> None:
        self._send(0x1, text.encode())

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _Client:
    def __init__(self, spec: ClientSpec) -> None:
        self.spec = spec
        self.seqs = array("q")
        self.times = array("d")
        self.sample: bytes | None = None
        self.conn: _Connection | None = None
        self._joined = False
        self._subscribed = False
        self._ready: asyncio.Future[None] | None = None
        self._beat: asyncio.TimerHandle | None = None
        self._ref = 1

    async def open(self, url: str, timeout: float) -> None:
        spec = self.spec
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        _transport, conn = await loop.create_connection(
            lambda: _Connection(f"{host}:{port}", target, self._on_message), host, port
        )
        self.conn = conn
        async with asyncio.timeout(timeout):
            await conn.opened
            join = {
                "topic": f"realtime:room:{spec.room_id}",
                "event": "phx_join",
                "payload": {
                    "config": channel_config(spec.room_id, spec.user_id),
                    "access_token": spec.token,
                },
                "ref": "1",
                "join_ref": "1",
            }
            conn.send_text(json.dumps(join))
            await self._ready
        self._beat = loop.call_later(random.uniform(0, _HEARTBEAT_SECONDS), self._heartbeat)

    def _on_message(self, frame: bytes, now: float) -> None:
        if self._subscribed:
            if _EVENT in frame:
                seq = _position(frame)
                if seq is not None:
                    self.seqs.append(seq)
                    self.times.append(now)
                    if self.sample is None:
                        self.sample = frame
            return
        message = json.loads(frame)
        ready = self._ready
        if ready is None or ready.done():
            return
        payload = message.get("payload") or {}
        if message["event"] == "phx_reply" and message.get("ref") == "1":
            if payload.get("status") != "ok":
                ready.set_exception(RuntimeError(f"join refused: {payload}"))
                return
            self._joined = True
        elif message["event"] == "system":
            if payload.get("status") != "ok":
                ready.set_exception(RuntimeError(f"subscription failed: {payload}"))
                return
            self._subscribed = self._joined
        if self._joined and self._subscribed:
            ready.set_result(None)

    def _heartbeat(self) -> None:
        if self.conn is None:
            return
        self._ref += 1
        message = {"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": str(self._ref)}
        self.conn.send_text(json.dumps(message))
        self._beat = asyncio.get_running_loop().call_later(_HEARTBEAT_SECONDS, self._heartbeat)

    async def close(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def count(self, lo: int, hi: int) -> int:
        return sum(1 for s in self.seqs if lo <= s < hi)

    def take(self) -> tuple[array[int], array[float]]:
        out = (array("q", self.seqs), array("d", self.times))
        self.seqs = array("q")
        self.times = array("d")
        return out


async def _open_all(clients: list[_Client], url: str, timeout: float) -> list[Any]:
    gate = asyncio.Semaphore(_CONNECT_CONCURRENCY)

    async def open_one(client: _Client) -> None:
        async with gate:
            await client.open(url, timeout)

    return await asyncio.gather(*(open_one(c) for c in clients), return_exceptions=True)


async def _worker(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    clients: list[_Client] = []
    while True:
        command, *args = await loop.run_in_executor(None, conn.recv)
        if command == "connect":
            url, specs, timeout = args
            clients = [_Client(spec) for spec in specs]
            results = await _open_all(clients, url, timeout)
            errors = [repr(r) for r in results if isinstance(r, BaseException)]
            conn.send(("connected", len(clients) - len(errors), errors[:5]))
        elif command == "count":
            lo, hi = args
            conn.send(("count", sum(c.count(lo, hi) for c in clients)))
        elif command == "sample":
            sample = next((c.sample for c in clients if c.sample is not None), None)
            conn.send(("sample", sample))
        elif command == "collect":
            records = {c.spec.index: c.take() for c in clients}
            conn.send(("records", records))
        elif command == "cpu":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            conn.send(("cpu", usage.ru_utime + usage.ru_stime))
        elif command == "close":
            await asyncio.gather(*(c.close() for c in clients))
            clients = []
            conn.send(("closed",))
        elif command == "exit":
            conn.send(("exited",))
            return


def _worker_main(conn: Connection) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(_worker(conn))
    else:
        uvloop.run(_worker(conn))


class Workers:
    """Client processes, driven from the benchmark's process.

    Args:
        processes: how many client processes (each an event loop with its share of clients).
    """

    def __init__(self, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._procs: list[Any] = []
        for _ in range(processes):
            here, there = context.Pipe()
            proc = context.Process(target=_worker_main, args=(there,), daemon=True)
            proc.start()
            there.close()
            self._pipes.append(here)
            self._procs.append(proc)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def _ask(
        self, message: tuple[Any, ...], per_worker: Sequence[tuple[Any, ...]] | None = None
    ) -> list[Any]:
        for i, pipe in enumerate(self._pipes):
            pipe.send(per_worker[i] if per_worker is not None else message)
        return [pipe.recv() for pipe in self._pipes]

    def connect(
        self, url: str, specs: Sequence[ClientSpec], timeout: float = 60.0
    ) -> tuple[int, list[str]]:
        """Open and join every client (spread round-robin over the processes).

        Returns the number joined and a few of the errors.
        """
        n = len(self._pipes)
        shares = [("connect", url, list(specs[i::n]), timeout) for i in range(n)]
        replies = self._ask(("connect",), shares)
        joined = sum(r[1] for r in replies)
        errors = [e for r in replies for e in r[2]]
        return joined, errors

    def count(self, lo: int, hi: int) -> int:
        """Receipts with a sequence number in [lo, hi), over every client."""
        return sum(r[1] for r in self._ask(("count", lo, hi)))

    def sample(self) -> bytes | None:
        """One postgres_changes frame as a client received it."""
        return next((r[1] for r in self._ask(("sample",)) if r[1] is not None), None)

    def collect(self) -> dict[int, tuple[array[int], array[float]]]:
        """Every client's receipts since the last collect: {client index: (seqs, times)}."""
        out: dict[int, tuple[array[int], array[float]]] = {}
        for reply in self._ask(("collect",)):
            out.update(reply[1])
        return out

    def cpu_seconds(self) -> float:
        """CPU time used by the client processes so far."""
        return float(sum(r[1] for r in self._ask(("cpu",))))

    def close_clients(self) -> None:
        self._ask(("close",))

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._ask(("exit",))
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
