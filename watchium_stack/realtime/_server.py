"""The ASGI application: ``/websocket`` (the Phoenix socket) and ``/api/broadcast`` (REST),
relative to wherever it is mounted (the gateway mounts it at ``/realtime/v1``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from watchium_functions.asgi import BodyTooLarge, read_body, run_lifespan

from ._authorizer import AuthorizerError
from ._channel import SocketChannels, TokenProblem, verify_token
from ._hub import Broadcast
from ._protocol import (
    ENCODING_BINARY,
    VERSIONS,
    VSN_1,
    BinaryBroadcast,
    ProtocolError,
    decode_binary,
    decode_text,
)
from ._socket import FastWrite, Socket
from ._wire import RestBroadcastRequest, ValidationError

if TYPE_CHECKING:
    from ._service import RealtimeService

__all__ = ["RealtimeApp", "uvicorn_fast_write"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_SINGLE_BROADCAST = re.compile(r"^/api/broadcast/(?P<topic>[^/]+)/events/(?P<event>[^/]+)$")
_MAX_BODY = 1024 * 1024


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path.rstrip("/") or "/"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _transport_abort(receive: Receive) -> Callable[[], None] | None:
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


def _query(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string", b"").decode("latin-1")
    return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}


class RealtimeApp:
    """ASGI entry point of a :class:`RealtimeService`."""

    def __init__(self, service: RealtimeService) -> None:
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        path = _route_path(scope)
        if kind == "websocket":
            if path == "/websocket":
                await self._websocket(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if kind != "http":
            return
        method = scope.get("method", "GET")
        if path == "/api/broadcast" and method == "POST":
            await self._rest_broadcast(scope, receive, send, None)
        elif (m := _SINGLE_BROADCAST.match(path)) and method == "POST":
            await self._rest_broadcast(scope, receive, send, (unquote(m["topic"]), m["event"]))
        elif path == "/api/ping" and method == "GET":
            await _json(send, 200, {"message": "Success"})
        else:
            await _json(send, 404, {"error": "not found"})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        # Standalone use (uvicorn on this app alone); under the gateway, its lifespan calls
        # start() and stop() and this app never sees lifespan events.
        await run_lifespan(
            receive, send, self.service.start, self.service.stop, name="the Realtime service"
        )

    # -- websocket ------------------------------------------------------------------------------

    async def _deny(self, scope: Scope, send: Send, status: int, error: str) -> None:
        if "websocket.http.response" in scope.get("extensions", {}):
            body = json.dumps({"error": error}).encode()
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": error})

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = self.service
        first = await receive()
        if first["type"] != "websocket.connect":
            return
        query = _query(scope)
        headers = _headers(scope)
        apikey = headers.get("x-api-key") or query.get("apikey") or headers.get("apikey")
        if not apikey:
            await self._deny(scope, send, 401, "API key is missing")
            return
        if apikey not in service.api_keys:
            await self._deny(scope, send, 401, "Invalid API key")
            return
        try:
            verify_token(apikey, service.jwt_secret)
        except TokenProblem as problem:
            await self._deny(scope, send, 401, problem.message)
            return
        vsn = query.get("vsn") or VSN_1
        if vsn not in VERSIONS:
            await self._deny(scope, send, 400, f"unsupported protocol version {vsn!r}")
            return
        if not service.ready:
            await self._deny(scope, send, 500, "Error connecting to Realtime")
            return
        await send({"type": "websocket.accept"})

        async def send_frame(frame: str | bytes) -> None:
            if isinstance(frame, str):
                await send({"type": "websocket.send", "text": frame})
            else:
                await send({"type": "websocket.send", "bytes": frame})

        async def close(code: int, reason: str) -> None:
            await send({"type": "websocket.close", "code": code, "reason": reason})

        client = scope.get("client") or ("?", 0)
        limits = service.context.limits
        socket = Socket(
            vsn=vsn,
            send=send_frame,
            close=close,
            abort=_transport_abort(receive),
            fast_write=uvicorn_fast_write(receive),
            max_buffer_bytes=limits.max_buffer_bytes,
            close_timeout=limits.close_timeout,
            rate=limits.messages_per_second,
            burst=limits.message_burst,
            peer=f"{client[0]}:{client[1]}",
        )
        channels = SocketChannels(service.context, socket, apikey)
        service.sockets[socket] = channels
        # The frames are read by a task of their own: the connection is over when the peer
        # leaves *or* when the server has closed it, and a peer that stopped reading may never
        # send the disconnect this loop would otherwise wait for.
        reader = asyncio.create_task(
            self._read_frames(receive, socket, channels), name=f"ws-reader-{socket.id}"
        )
        try:
            await socket.done.wait()
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            channels.close_all()
            service.sockets.pop(socket, None)
            await socket.stop()

    async def _read_frames(
        self, receive: Receive, socket: Socket, channels: SocketChannels
    ) -> None:
        limits = self.service.context.limits
        vsn = socket.vsn
        try:
            while not socket.closed:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message["type"] != "websocket.receive":
                    continue
                text = message.get("text")
                data = message.get("bytes")
                size = len(text) if text is not None else len(data or b"")
                if size > limits.max_frame_bytes:
                    socket.close_soon(1009, "message too big")
                    return
                try:
                    inbound = (
                        decode_text(vsn, text) if text is not None else decode_binary(data or b"")
                    )
                except ProtocolError as exc:
                    logger.debug("malformed frame from %s dropped: %s", socket.peer, exc)
                    continue
                try:
                    await channels.handle(inbound)
                except Exception:
                    logger.exception("error handling %s on %s", inbound.event, inbound.topic)
        except Exception as exc:  # the host server failed the connection
            logger.debug("websocket %s receive failed: %s", socket.id, exc)
        finally:
            socket.finish()

    # -- REST broadcast -------------------------------------------------------------------------

    async def _rest_broadcast(
        self, scope: Scope, receive: Receive, send: Send, single: tuple[str, str] | None
    ) -> None:
        service = self.service
        headers = _headers(scope)
        query = _query(scope)
        apikey = headers.get("apikey") or query.get("apikey") or headers.get("x-api-key")
        if not apikey or apikey not in service.api_keys:
            await _json(send, 401, {"message": "Unauthorized"})
            return
        token = apikey
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and auth[7:].strip():
            token = auth[7:].strip()
        try:
            claims = verify_token(token, service.jwt_secret)
        except TokenProblem:
            await _json(send, 401, {"message": "Unauthorized"})
            return
        try:
            body = await read_body(scope, receive, _MAX_BODY)
        except BodyTooLarge:
            await _json(send, 413, {"message": "Payload Too Large"})
            return
        messages: list[tuple[str, Broadcast, bool]] = []
        if single is not None:
            topic, event = single
            private = query.get("private", "false").lower() == "true"
            if headers.get("content-type", "").startswith("application/octet-stream"):
                raw = BinaryBroadcast(event=event, encoding=ENCODING_BINARY, data=body, meta=b"")
                messages.append((topic, Broadcast(event=event, raw=raw), private))
            else:
                try:
                    payload = json.loads(body)
                except ValueError:
                    await _json(send, 422, {"errors": {"payload": ["is invalid JSON"]}})
                    return
                messages.append((topic, Broadcast(event=event, payload=payload), private))
        else:
            try:
                request = RestBroadcastRequest.model_validate_json(body)
            except ValidationError as exc:
                errors = {
                    ".".join(str(p) for p in e["loc"]): [e["msg"]]
                    for e in exc.errors(include_url=False)
                }
                await _json(send, 422, {"errors": errors})
                return
            for m in request.messages:
                meta = {"id": m.id} if m.id else None
                messages.append((m.topic, Broadcast(m.event, m.payload, meta=meta), m.private))
        allowed: dict[str, bool] = {}
        for topic, message, private in messages:
            if private:
                if topic not in allowed:
                    allowed[topic] = await self._may_send(topic, claims)
                if not allowed[topic]:
                    continue
            state = service.context.hub.topic(topic, private)
            if state is not None:
                service.context.hub.broadcast(state, message, sender=None)
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def _may_send(self, topic: str, claims: dict[str, Any]) -> bool:
        role = str(claims.get("role"))
        sub = claims.get("sub")
        claims_json = json.dumps(claims, sort_keys=True, separators=(",", ":"))
        try:
            policies = await self.service.context.authorizer.channel_policies(
                topic, role, claims_json, str(sub) if sub else None
            )
        except AuthorizerError as exc:
            logger.warning("REST broadcast to private %s not authorised: %s", topic, exc)
            return False
        return policies.broadcast_write


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
