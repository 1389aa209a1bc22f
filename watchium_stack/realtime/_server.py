"""The ASGI application: ``/websocket`` (the Phoenix socket), ``/api/broadcast`` (REST) and
``/api/stats`` (the traffic counters, for the service role key), relative to wherever it is
mounted (the gateway mounts it at ``/realtime/v1``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, unquote

from watchium_functions.apikeys import is_api_key
from watchium_functions.asgi import BodyTooLarge, client_address, read_body, run_lifespan

from ._broadcast_handler import Broadcast, BroadcastHandler
from ._channels import Connections, SocketChannels
from ._limits import Limits
from ._protocol import (
    ENCODING_BINARY,
    VERSIONS,
    VSN_1,
    BinaryBroadcast,
    ProtocolError,
    decode_binary,
    decode_text,
)
from ._socket import Socket, Transport
from ._tokens import ChannelAuth, TokenProblem
from ._traffic import Traffic
from ._uvicorn import transport_abort, uvicorn_fast_write
from ._wire import RestBroadcastRequest, ValidationError

__all__ = ["RealtimeApp"]

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


def _query(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string", b"").decode("latin-1")
    return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}


class RealtimeApp:
    """The ASGI application of the Realtime server.

    Args:
        connections: where sockets are opened and closed.
        broadcasts: relays REST broadcasts.
        auth: the project's API keys (accepted at the handshake and by ``/api/broadcast``) and
            the verification of users' tokens.
        limits: the frame size limit and the bounds of each socket.
        ready: whether the service is up (sockets are refused until it is).
        startup, shutdown: the service's start and stop, run by this app's lifespan when it is
            served alone.
        traffic: where every socket's frames are counted.
        stats: the service's counters, answered to ``GET /api/stats``.
    """

    def __init__(
        self,
        *,
        connections: Connections,
        broadcasts: BroadcastHandler,
        auth: ChannelAuth,
        limits: Limits,
        ready: Callable[[], bool],
        startup: Callable[[], Awaitable[None]],
        shutdown: Callable[[], Awaitable[None]],
        traffic: Traffic,
        stats: Callable[[], dict[str, Any]],
    ) -> None:
        self._connections = connections
        self._broadcasts = broadcasts
        self._auth = auth
        self._limits = limits
        self._ready = ready
        self._startup = startup
        self._shutdown = shutdown
        self._traffic = traffic
        self._stats = stats

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
        elif path == "/api/stats" and method == "GET":
            await self._answer_stats(scope, send)
        else:
            await _json(send, 404, {"error": "not found"})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        # Standalone use (uvicorn on this app alone); under the gateway, its lifespan calls
        # start() and stop() and this app never sees lifespan events.
        await run_lifespan(
            receive, send, self._startup, self._shutdown, name="the Realtime service"
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
        first = await receive()
        if first["type"] != "websocket.connect":
            return
        query = _query(scope)
        headers = _headers(scope)
        apikey = headers.get("x-api-key") or query.get("apikey") or headers.get("apikey")
        if not apikey:
            await self._deny(scope, send, 401, "API key is missing")
            return
        try:
            self._auth.api_key_role(apikey, headers.get("user-agent"))
        except TokenProblem as problem:
            await self._deny(scope, send, 401, problem.message)
            return
        vsn = query.get("vsn") or VSN_1
        if vsn not in VERSIONS:
            await self._deny(scope, send, 400, f"unsupported protocol version {vsn!r}")
            return
        if not self._ready():
            await self._deny(scope, send, 500, "Error connecting to Realtime")
            return
        address = client_address(scope, self._limits.client_address_header)
        if not self._connections.may_connect(address):
            await self._deny(
                scope,
                send,
                429,
                "ConnectionRateLimitReached: Too many connections from this address",
            )
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
        limits = self._limits
        socket = Socket(
            vsn=vsn,
            transport=Transport(
                send=send_frame,
                close=close,
                abort=transport_abort(receive),
                fast_write=uvicorn_fast_write(receive),
            ),
            max_buffer_bytes=limits.max_buffer_bytes,
            close_timeout=limits.close_timeout,
            peer=f"{client[0]}:{client[1]}",
            traffic=self._traffic,
        )
        channels = self._connections.open(socket, apikey, address)
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
            self._connections.close(socket)
            await socket.stop()

    async def _read_frames(
        self, receive: Receive, socket: Socket, channels: SocketChannels
    ) -> None:
        max_frame_bytes = self._limits.max_frame_bytes
        vsn = socket.vsn
        traffic = self._traffic
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
                if size > max_frame_bytes:
                    socket.close_soon(1009, "message too big")
                    return
                try:
                    inbound = (
                        decode_text(vsn, text) if text is not None else decode_binary(data or b"")
                    )
                except ProtocolError as exc:
                    logger.debug("malformed frame from %s dropped: %s", socket.peer, exc)
                    continue
                traffic.received(inbound)
                try:
                    await channels.handle(inbound)
                except Exception:
                    logger.exception("error handling %s on %s", inbound.event, inbound.topic)
        except Exception as exc:  # the host server failed the connection
            logger.debug("websocket %s receive failed: %s", socket.id, exc)
        finally:
            socket.finish()

    # -- counters ---------------------------------------------------------------------------------

    async def _answer_stats(self, scope: Scope, send: Send) -> None:
        # The service role key only: the counters describe the whole project.
        headers = _headers(scope)
        apikey = headers.get("apikey") or _query(scope).get("apikey") or headers.get("x-api-key")
        role = None
        if apikey:
            with contextlib.suppress(TokenProblem):
                role = self._auth.api_key_role(apikey, headers.get("user-agent"))
        if role != "service_role":
            await _json(send, 401, {"message": "Unauthorized"})
            return
        await _json(send, 200, self._stats())

    # -- REST broadcast -------------------------------------------------------------------------

    async def _rest_broadcast(
        self, scope: Scope, receive: Receive, send: Send, single: tuple[str, str] | None
    ) -> None:
        headers = _headers(scope)
        query = _query(scope)
        apikey = headers.get("apikey") or query.get("apikey") or headers.get("x-api-key")
        token = apikey
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and auth[7:].strip():
            token = auth[7:].strip()
        try:
            if not apikey or not token:
                raise TokenProblem("Unauthorized", "API key is missing")
            self._auth.api_key_role(apikey, headers.get("user-agent"))
            if token != apikey and is_api_key(token):
                raise TokenProblem("Unauthorized", "an API key is not a user's token")
            credentials = await self._auth.credentials(token)
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
                    allowed[topic] = await self._broadcasts.may_publish(topic, credentials)
                if not allowed[topic]:
                    continue
            self._broadcasts.publish(topic, private, message)
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})


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
