"""A TCP proxy between one member and the stack, whose network can be cut and restored.

Two kinds of cut, as networks fail:

* ``blackhole``: packets stop, nothing is closed (a Wi-Fi dead zone, a stalled route). Bytes in
  flight wait in the proxy, as TCP would retransmit them; new connections are accepted but
  reach nothing until the network is back, when everything held goes through.
* ``reset``: every connection is torn down (RST) and new ones are refused while it lasts (a
  changed address, a NAT that forgot its mappings).

The proxy runs on the test's event loop and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

__all__ = ["CutKind", "Proxy"]

CutKind = Literal["blackhole", "reset"]

_CHUNK = 65536


class Proxy:
    """Forwards ``127.0.0.1:<port>`` to ``127.0.0.1:<target_port>``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._up = asyncio.Event()
        self._up.set()
        self._cut: CutKind | None = None
        self._links: set[asyncio.Task[None]] = set()
        self._transports: set[asyncio.BaseTransport] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._abort_all()
        for task in list(self._links):
            task.cancel()
        for task in list(self._links):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def cut(self, kind: CutKind) -> None:
        """The network goes down."""
        self._cut = kind
        self._up.clear()
        if kind == "reset":
            self._abort_all()

    def restore(self) -> None:
        """The network is back."""
        self._cut = None
        self._up.set()

    def _abort_all(self) -> None:
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut == "reset":
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        self._transports.add(writer.transport)
        upstream: asyncio.StreamWriter | None = None
        try:
            await self._up.wait()
            up_reader, upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
            self._transports.add(upstream.transport)
            await asyncio.gather(self._pump(reader, upstream), self._pump(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for side in (writer, upstream):
                if side is not None:
                    self._transports.discard(side.transport)
                    side.transport.abort()
            self._links.discard(task)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while True:
            data = await source.read(_CHUNK)
            if not data:
                break
            # While the network is blackholed, what was read waits here (TCP would retransmit
            # it); once back, it goes through in order.
            await self._up.wait()
            sink.write(data)
            await sink.drain()
        # One direction ended: pass the end on, as the peer closed its side.
        with contextlib.suppress(OSError):
            if sink.can_write_eof():
                sink.write_eof()
