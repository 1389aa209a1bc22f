"""One client's websocket, as the server writes to it: a bounded outgoing queue and a bounded close.

Fan-out never awaits a socket (``push``), so one slow reader cannot delay the others. A frame is
handed to the transport at once, in the pushing task, when the transport takes it without
waiting (nearly always: it only waits when the client is not reading fast enough); otherwise a
task finishes that send and writes what is pushed meanwhile from a queue. A socket whose queue
grows past its byte budget (the client stopped reading and the transport's own buffer is full)
is dropped with close code 1008.

A frame going to many sockets (a change, a broadcast) is a :class:`SharedFrame`: when the host
server lets the socket write prepared websocket frames (``fast_write``), it is framed for the
wire once (by the websockets library, whose sans-I/O protocol is what uvicorn writes with) and
the same bytes go to every socket, instead of each socket's protocol framing the text again.

Closing is bounded too. A close frame queues behind everything the transport already holds, so a
peer that stopped reading never gets it, and an ASGI server waits for the transport to drain
before it even writes it (uvicorn does). The close is given ``close_timeout`` seconds; then the
connection is aborted (when the host server lets us: see ``abort``) and the socket is over for
the server either way (``done``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from websockets.frames import OP_BINARY, OP_TEXT, Frame

from ._protocol import Inbound, encode_text
from ._traffic import HEARTBEAT_REPLY, Traffic
from ._wire import ReplyPayload

__all__ = [
    "Socket",
    "Transport",
    "SharedFrame",
    "SendFrame",
    "CloseSocket",
    "AbortSocket",
    "FastWrite",
]

logger = logging.getLogger(__name__)

SendFrame = Callable[[str | bytes], Coroutine[Any, Any, None]]
CloseSocket = Callable[[int, str], Awaitable[None]]
AbortSocket = Callable[[], None]
FastWrite = Callable[[bytes], bool]  # write a prepared frame now; False: use the send path


class SharedFrame:
    """A frame for many sockets; its websocket framing is computed once, when first needed.
    ``kind`` is what the traffic counters count it as (``postgres_changes/rooms/UPDATE``...)."""

    __slots__ = ("data", "kind", "_wire")

    def __init__(self, data: str | bytes, kind: str = "") -> None:
        self.data = data
        self.kind = kind
        self._wire: bytes | None = None

    def __len__(self) -> int:
        return len(self.data)

    @property
    def wire(self) -> bytes:
        """The frame as an unfragmented, unmasked websocket frame (text for str, binary for
        bytes), as a server writes it when no extension is in use."""
        if self._wire is None:
            data = self.data
            frame = (
                Frame(OP_TEXT, data.encode()) if isinstance(data, str) else Frame(OP_BINARY, data)
            )
            self._wire = frame.serialize(mask=False, extensions=[])
        return self._wire


_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Transport:
    """What the host server offers for writing to one connection.

    Attributes:
        send: writes one frame (may wait for the transport).
        close: sends a close frame with code and reason.
        abort: drops the connection at once, without a closing handshake (None: the host
            server offers no way to; the connection is then left to it).
        fast_write: writes a prepared frame (:attr:`SharedFrame.wire`) if the connection can
            take it now, returning False otherwise (None: the host server offers no such way).
    """

    send: SendFrame
    close: CloseSocket
    abort: AbortSocket | None = None
    fast_write: FastWrite | None = None


class _Backlog:
    """Frames waiting for the transport, counted in bytes against a budget."""

    __slots__ = ("frames", "size", "peak", "budget")

    def __init__(self, budget: int) -> None:
        self.frames: deque[str | bytes | SharedFrame] = deque()
        self.size = 0
        self.peak = 0
        self.budget = budget

    def __bool__(self) -> bool:
        return bool(self.frames)

    def add(self, frame: str | bytes | SharedFrame) -> bool:
        """Queue ``frame``; False when the backlog is now over its budget."""
        self.frames.append(frame)
        self.size += len(frame)
        if self.size > self.peak:
            self.peak = self.size
        return self.size <= self.budget

    def pop(self) -> str | bytes:
        frame = self.frames.popleft()
        self.size -= len(frame)
        return frame.data if isinstance(frame, SharedFrame) else frame

    def clear(self) -> None:
        self.frames.clear()
        self.size = 0


class Socket:
    """The server side of one websocket connection.

    Args:
        transport: how the host server writes to and closes the connection.
        max_buffer_bytes: budget of the outgoing queue; past it the client is dropped.
        close_timeout: seconds a close frame may take before the connection is aborted.
        traffic: where the frames written are counted (None: not counted).
    """

    def __init__(
        self,
        *,
        vsn: str,
        transport: Transport,
        max_buffer_bytes: int,
        close_timeout: float = 5.0,
        peer: str = "",
        traffic: Traffic | None = None,
    ) -> None:
        self.id = next(_ids)
        self.vsn = vsn
        self.peer = peer
        self._transport = transport
        self._traffic = traffic
        self._close_timeout = close_timeout
        self._backlog = _Backlog(max_buffer_bytes)
        self._closing = False
        self._writer: asyncio.Task[None] | None = None  # set while a send waits for the transport
        self._closer: asyncio.Task[None] | None = None
        self.done = asyncio.Event()
        """Set when the server is finished with the connection (closed, aborted or gone)."""
        self.dropped_for_backlog = False
        self.aborted = False

    @property
    def closed(self) -> bool:
        return self._closing

    @property
    def queued_bytes(self) -> int:
        return self._backlog.size

    @property
    def peak_queued_bytes(self) -> int:
        """The most bytes ever queued for this socket."""
        return self._backlog.peak

    def push(self, frame: str | bytes | SharedFrame, kind: str = "") -> None:
        """Send or queue a frame (counted as ``kind``, or a shared frame's own kind); drop the
        socket when its backlog passes the budget."""
        if self._closing:
            return
        traffic = self._traffic
        if traffic is not None:
            if isinstance(frame, SharedFrame):
                traffic.sent(frame.kind or kind, len(frame))
            else:
                traffic.sent(kind, len(frame))
        if self._writer is None:
            if isinstance(frame, SharedFrame):
                fast_write = self._transport.fast_write
                if fast_write is not None and fast_write(frame.wire):
                    return
                frame = frame.data
            self._send_now(frame)
            return
        if not self._backlog.add(frame):
            logger.warning(
                "dropping websocket %s (%s): %d bytes queued, the client is not reading",
                self.id,
                self.peer,
                self._backlog.size,
            )
            self.dropped_for_backlog = True
            self.close_soon(1008, "client too slow: outgoing buffer full")

    def _send_now(self, frame: str | bytes) -> None:
        # The send is started here rather than in a task of the socket's own: a task switch per
        # frame of every socket was a good part of the fan-out's cost. It nearly always ends in
        # this first step (the transport took the frame); if it has to wait, a task carries it on.
        coro = self._transport.send(frame)
        try:
            suspended = coro.send(None)
        except StopIteration:
            return
        except Exception as exc:  # the peer went away: the receive loop notices and cleans up
            logger.debug("websocket %s send failed: %s", self.id, exc)
            self._closing = True
            return
        self._writer = asyncio.get_running_loop().create_task(
            self._drain(coro, suspended), name=f"ws-writer-{self.id}"
        )

    async def _drain(self, coro: Coroutine[Any, Any, None], suspended: object) -> None:
        backlog, send = self._backlog, self._transport.send
        try:
            await _resume(coro, suspended)
            while backlog and not self._closing:
                await send(backlog.pop())
        except Exception as exc:  # the peer went away: the receive loop notices and cleans up
            logger.debug("websocket %s writer stopped: %s", self.id, exc)
            self._closing = True
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None

    def push_message(
        self, topic: str, event: str, payload: object, *, ref: str | None, join_ref: str | None
    ) -> None:
        """Encode and queue one message for this socket alone (replies, pushes to one channel)."""
        self.push(encode_text(self.vsn, join_ref, ref, topic, event, payload), event)

    def reply(self, msg: Inbound, status: str, response: dict[str, Any]) -> None:
        """A ``phx_reply`` to ``msg`` (``ok`` or ``error``)."""
        payload: ReplyPayload = {
            "status": "ok" if status == "ok" else "error",
            "response": response,
        }
        frame = encode_text(self.vsn, msg.join_ref, msg.ref, msg.topic, "phx_reply", payload)
        self.push(frame, HEARTBEAT_REPLY if msg.topic == "phoenix" else "phx_reply")

    def close_soon(self, code: int, reason: str) -> None:
        """Stop writing and close the websocket (from any task, without awaiting).

        What is still queued is discarded; ``done`` is set once the close frame is written or,
        after ``close_timeout``, the connection is aborted.
        """
        if self._closing:
            return
        self._closing = True
        self._backlog.clear()
        self._closer = asyncio.get_running_loop().create_task(
            self._close_connection(code, reason), name=f"ws-closer-{self.id}"
        )

    def finish(self) -> None:
        """Nothing more will be read: the peer left, or the server stopped listening to it."""
        self._closing = True
        self.done.set()

    async def _close_connection(self, code: int, reason: str) -> None:
        try:
            # A writer waiting for the transport holds a frame the peer will never need now.
            await self._stop_writer()
            try:
                await asyncio.wait_for(self._transport.close(code, reason), self._close_timeout)
            except TimeoutError:
                # The transport did not take the close frame: the peer is not reading at all.
                abort = self._transport.abort
                if abort is not None:
                    logger.info("websocket %s (%s) aborted: close not taken", self.id, self.peer)
                    self.aborted = True
                    abort()
                else:
                    logger.warning(
                        "websocket %s (%s) does not take its close frame and the server "
                        "cannot abort it",
                        self.id,
                        self.peer,
                    )
            except Exception as exc:  # the peer went away meanwhile
                logger.debug("websocket %s close failed: %s", self.id, exc)
        finally:
            self.done.set()

    async def _stop_writer(self) -> None:
        writer = self._writer
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer

    async def stop(self) -> None:
        """The connection is over: stop the writer and let a pending close finish (bounded)."""
        self._closing = True
        await self._stop_writer()
        if self._closer is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._closer
        self.done.set()


async def _resume(coro: Coroutine[Any, Any, None], suspended: object) -> None:
    """Finish a coroutine that was started by hand (``coro.send(None)``) and yielded
    ``suspended``: what an asyncio task does with what a coroutine yields, done in this one."""
    try:
        while True:
            if suspended is None:  # a bare yield: resume it on the next loop iteration
                await asyncio.sleep(0)
            elif asyncio.isfuture(suspended):  # awaiting a future: resume it once that is done
                suspended._asyncio_future_blocking = False
                await asyncio.wait([suspended])
            else:
                raise RuntimeError(f"a send yielded {suspended!r}, not a future")
            try:
                suspended = coro.send(None)
            except StopIteration:
                return
    except BaseException:
        coro.close()
        raise
