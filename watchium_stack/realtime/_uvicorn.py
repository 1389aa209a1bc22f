"""What uvicorn offers beyond ASGI, used when it is the host server (the gateway and
``python -m watchium_stack.realtime`` run on it): writing a prepared websocket frame straight to
a connection's transport, and aborting a connection. On another host server both are None and
frames go the ASGI way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._socket import FastWrite

__all__ = ["uvicorn_fast_write", "transport_abort"]

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


def transport_abort(receive: Receive) -> Callable[[], None] | None:
    """The host server's way to drop this connection at once, if it exposes one.

    ASGI has no abort, and a server's own close waits for the peer to read what is queued before
    the close frame, which a peer that stopped reading never does. uvicorn's ``receive`` is a
    method of its connection protocol, which holds the asyncio transport.
    """
    protocol = getattr(receive, "__self__", None)
    abort = getattr(getattr(protocol, "transport", None), "abort", None)
    return abort if callable(abort) else None


def uvicorn_fast_write(receive: Receive) -> FastWrite | None:
    """A way to write prepared frames on uvicorn's websocket protocol, if that is the host.

    uvicorn (websockets' sans-I/O protocol underneath) frames every text it is sent, for every
    socket, in Python: with a change going to hundreds of sockets that framing was 10 to 35% of
    the send cost (docs/BENCHMARKS.md). A frame shared by many sockets is framed once instead
    (:attr:`SharedFrame.wire`) and written to each transport directly: the bytes are exactly what
    the protocol would write, as long as the connection is open, no extension such as
    compression was negotiated and the transport is taking data (otherwise the frame goes the
    ASGI way). None when the host server is another one, or another uvicorn protocol.
    """
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
        from websockets.protocol import State
    except ImportError:
        return None
    protocol = getattr(receive, "__self__", None)
    if not isinstance(protocol, WebSocketsSansIOProtocol):
        return None
    try:
        conn, transport, writable = protocol.conn, protocol.transport, protocol.writable
        protocol.close_sent  # noqa: B018 - read below on every write
    except AttributeError:  # another uvicorn release: frames go the ASGI way
        return None

    def fast_write(wire: bytes) -> bool:
        if (
            conn.extensions
            or conn.state is not State.OPEN
            or protocol.close_sent
            or not writable.is_set()
            or transport.is_closing()
        ):
            return False
        transport.write(wire)
        return True

    return fast_write
