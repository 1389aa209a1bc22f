"""The floor of the Realtime fan-out benchmark: a bare websocket fan-out on the same stack as the
Realtime server (uvicorn, its websocket protocol, ASGI), with no database and no RLS.

Members connect to ``/realtime/v1/websocket`` and join a topic exactly as they join the Realtime
server (the reply echoes their bindings with ids, then the ``system`` message). The benchmark
connects to ``/publish`` and sends ``<topic>\\n<frame>``; the frame goes unchanged to every member
of the topic, framed for the wire once and written to each transport as the Realtime server
writes a change (``--asgi``: sent through ASGI, framed by uvicorn for every socket). Whatever the
Realtime server spends on top of this (decoding the WAL, routing, RLS checks, per-socket
queues) is the difference between the two measurements.

    python -m bench._fanout_floor --port 54399 [--asgi] [--deflate]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

from watchium_stack.realtime import FastWrite, SharedFrame, uvicorn_fast_write

__all__ = ["FloorApp", "main"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _frame(topic: str, event: str, payload: Any, ref: str | None, join_ref: str | None) -> str:
    message = {"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": join_ref}
    return json.dumps(message, separators=(",", ":"))


class FloorApp:
    """ASGI app: members join topics, the publisher's frames go to every member of a topic."""

    def __init__(self, *, prepared: bool = True) -> None:
        self.rooms: dict[str, dict[Send, FastWrite | None]] = defaultdict(dict)
        self.prepared = prepared

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "http":
            body = b'{"message":"Success"}'
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "websocket":
            return
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        if scope["path"].rstrip("/").endswith("/publish"):
            await self._publisher(receive)
        else:
            await self._member(receive, send)

    async def _publisher(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if not text:
                continue
            topic, _, frame = text.partition("\n")
            out = {"type": "websocket.send", "text": frame}
            wire = SharedFrame(frame).wire if self.prepared else b""
            for member_send, fast_write in list(self.rooms.get(topic, {}).items()):
                if fast_write is not None and fast_write(wire):
                    continue
                try:
                    await member_send(out)
                except Exception:
                    self.rooms[topic].pop(member_send, None)

    async def _member(self, receive: Receive, send: Send) -> None:
        topics: list[str] = []
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                if not text:
                    continue
                inbound = json.loads(text)
                topic, event, ref = inbound["topic"], inbound["event"], inbound.get("ref")
                join_ref = inbound.get("join_ref")
                if event == "phx_join":
                    config = inbound["payload"].get("config", {})
                    bindings = config.get("postgres_changes") or []
                    echoed = [dict(b, id=i + 1) for i, b in enumerate(bindings)]
                    reply = {"status": "ok", "response": {"postgres_changes": echoed}}
                    await send(
                        {
                            "type": "websocket.send",
                            "text": _frame(topic, "phx_reply", reply, ref, join_ref),
                        }
                    )
                    system = {
                        "extension": "postgres_changes",
                        "status": "ok",
                        "message": "Subscribed to PostgreSQL",
                        "channel": topic.removeprefix("realtime:"),
                    }
                    await send(
                        {
                            "type": "websocket.send",
                            "text": _frame(topic, "system", system, None, None),
                        }
                    )
                    self.rooms[topic][send] = uvicorn_fast_write(receive) if self.prepared else None
                    topics.append(topic)
                elif event == "heartbeat":
                    reply = {"status": "ok", "response": {}}
                    await send(
                        {
                            "type": "websocket.send",
                            "text": _frame(topic, "phx_reply", reply, ref, None),
                        }
                    )
        finally:
            for topic in topics:
                self.rooms[topic].pop(send, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._fanout_floor")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--deflate",
        action="store_true",
        help="accept permessage-deflate (the Realtime server refuses it, as upstream does)",
    )
    parser.add_argument(
        "--asgi", action="store_true", help="send every frame through ASGI (uvicorn frames it)"
    )
    args = parser.parse_args(argv)
    uvicorn.run(
        FloorApp(prepared=not args.asgi),
        host=args.host,
        port=args.port,
        log_level="warning",
        lifespan="on",
        ws_per_message_deflate=args.deflate,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
