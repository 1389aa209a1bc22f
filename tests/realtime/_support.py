"""Helpers for the Realtime tests: the server on uvicorn, users' tokens, SQL as a user, raw
Phoenix sockets, and supabase-js under Node driven over stdin/stdout."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from websockets.asyncio.client import ClientConnection, connect

from watchium_functions.jwks import StaticJwks
from watchium_functions.tokens import encode_token
from watchium_stack.keys import ProjectKeys, SigningKey, keys_from_secret, new_signing_key
from watchium_stack.postgres import free_port
from watchium_stack.realtime import RealtimeService

PROJECT_DIR = Path(__file__).resolve().parents[2]
JS_DIR = PROJECT_DIR / "tests" / "js"
SECRET = "watchium-realtime-test-secret-0123456789abcdef"
SIGNING_KEY: SigningKey = new_signing_key("ES256", "in_use")
"""The test project's signing key; its JWKS is the server's (and the legacy SECRET too)."""
TIMEOUT = 15.0


def authorizer_url(db_url: str) -> str:
    return db_url.replace("://postgres:postgres@", "://authenticator:postgres@", 1)


def user_token(
    user: str, *, ttl: int = 3600, secret: str = SECRET, key: SigningKey | None = None
) -> str:
    """A user's access token: HS256 with ``secret`` (legacy), or signed with ``key``."""
    claims = {"sub": user, "role": "authenticated", "aud": "authenticated"}
    claims["exp"] = int(time.time()) + ttl  # type: ignore[assignment]
    return key.sign(claims) if key is not None else encode_token(claims, secret)


def new_user() -> str:
    return str(uuid.uuid4())


@dataclass
class Server:
    """A RealtimeService mounted at /realtime/v1 as the gateway does, on a free port."""

    service: RealtimeService
    keys: ProjectKeys
    port: int
    db_url: str
    _uvicorn: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, vsn: str = "1.0.0", apikey: str | None = None) -> str:
        key = self.keys.anon_key if apikey is None else apikey
        return f"ws://127.0.0.1:{self.port}/realtime/v1/websocket?apikey={key}&vsn={vsn}"


def make_app(service: RealtimeService) -> Starlette:
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.stop()

    return Starlette(routes=[Mount("/realtime/v1", app=service.app)], lifespan=lifespan)


async def start_server(db_url: str, **kwargs: Any) -> Server:
    keys = keys_from_secret(SECRET, int(time.time()) - 10)
    # Other test modules may run their own server on the same database: a slot of our own.
    kwargs.setdefault("slot_name", f"watchium_realtime_test_{os.getpid()}")
    service = RealtimeService(
        db_url=db_url,
        authorizer_url=authorizer_url(db_url),
        jwt_secret=SECRET,
        api_keys={keys.publishable_key, keys.secret_key},
        jwks=StaticJwks({"keys": [SIGNING_KEY.public_jwk]}),
        **kwargs,
    )
    port = free_port()
    config = uvicorn.Config(
        make_app(service), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = Server(service, keys, port, db_url)
    server._uvicorn = uvicorn.Server(config)
    server._task = asyncio.create_task(server._uvicorn.serve())
    while not server._uvicorn.started:
        if server._task.done():
            server._task.result()
        await asyncio.sleep(0.02)
    await service.wait_streaming()
    return server


async def stop_server(server: Server) -> None:
    if server._uvicorn is not None and server._task is not None:
        server._uvicorn.should_exit = True
        await server._task


class Sql:
    """Committed SQL as a user, as PostgREST would run it (role and claims per transaction)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def conn(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def run(self, user: str | None, query: str, params: Any = None) -> Any:
        """Run ``query`` as ``user`` (None: the superuser) in its own committed transaction."""
        conn = await self.conn()
        async with conn.transaction():
            if user is not None:
                claims = json.dumps({"sub": user, "role": "authenticated"})
                await conn.execute(
                    "select set_config('role', 'authenticated', true), "
                    "set_config('request.jwt.claims', %s, true)",
                    (claims,),
                )
            cur = await conn.execute(query, params)
            row = await cur.fetchone() if cur.description else None
        return None if row is None else row[0]

    async def create_room(self, host: str, *, public: bool = True) -> tuple[str, str | None]:
        result = await self.run(
            host,
            "select public.rooms_create(p_title => 'Watch', p_anime_id => 'frieren', "
            "p_anime_title => 'Frieren', p_video_url => 'https://example.com/v.mkv', "
            "p_host_username => 'host', p_is_public => %s)",
            (public,),
        )
        return result["room"]["room_id"], result["access_key"]

    async def join_room(self, user: str, room_id: str, key: str | None = None) -> None:
        await self.run(
            user,
            "select public.rooms_join(p_room_id => %s, p_username => 'viewer', p_access_key => %s)",
            (room_id, key),
        )

    async def seek(self, host: str, room_id: str, position: float) -> None:
        """The host seeks through public.sync_control.

        The host's sync_control bucket is emptied first, so a test may seek several times a
        second without waiting: these tests are about delivery (tests/sql prove the limit).
        """
        await self.run(
            None,
            "delete from watchium.rate_limit_buckets "
            "where subject = %s and action = 'sync_control'",
            (host,),
        )
        await self.run(
            host,
            "select public.sync_control(p_room_id => %s, p_action => 'seek', "
            "p_current_time => %s::numeric)",
            (room_id, str(position)),
        )

    async def set_position(self, host: str, room_id: str, position: float) -> None:
        """The host updates the room's position directly (the bucket emptied first, as in seek)."""
        await self.run(
            None,
            "delete from watchium.rate_limit_buckets "
            "where subject = %s and action = 'sync_control'",
            (host,),
        )
        await self.run(
            host,
            "update public.rooms set current_playback_time = %s::numeric where room_id = %s",
            (str(position), room_id),
        )


class Phoenix:
    """A hand-rolled Phoenix client over a raw websocket (for protocol details)."""

    def __init__(self, ws: ClientConnection, vsn: str) -> None:
        self.ws = ws
        self.vsn = vsn
        self._ref = 0
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, vsn: str = "1.0.0", **kwargs: Any) -> Phoenix:
        # Without compression, as the standalone server runs: the server then writes shared
        # frames prepared once. realtime-py and supabase-js negotiate permessage-deflate with
        # the test server, so their tests cover the other way, frames sent through ASGI.
        kwargs.setdefault("compression", None)
        ws = await connect(url, open_timeout=TIMEOUT, **kwargs)
        return cls(ws, vsn)

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    self.inbox.put_nowait(frame)
                else:
                    data = json.loads(frame)
                    if self.vsn == "2.0.0":
                        join_ref, ref, topic, event, payload = data
                        data = {
                            "join_ref": join_ref,
                            "ref": ref,
                            "topic": topic,
                            "event": event,
                            "payload": payload,
                        }
                    self.inbox.put_nowait(data)
        self.inbox.put_nowait(None)

    def next_ref(self) -> str:
        self._ref += 1
        return str(self._ref)

    async def push(
        self, topic: str, event: str, payload: Any, *, join_ref: str | None = None
    ) -> str:
        ref = self.next_ref()
        if self.vsn == "2.0.0":
            await self.ws.send(json.dumps([join_ref, ref, topic, event, payload]))
        else:
            await self.ws.send(
                json.dumps(
                    {
                        "topic": topic,
                        "event": event,
                        "payload": payload,
                        "ref": ref,
                        "join_ref": join_ref,
                    }
                )
            )
        return ref

    async def expect(self, match: Callable[[Any], bool], timeout: float = TIMEOUT) -> Any:
        async def wait() -> Any:
            while True:
                item = await self.inbox.get()
                if item is None:
                    raise ConnectionError("socket closed")
                if match(item):
                    return item

        return await asyncio.wait_for(wait(), timeout)

    async def reply(self, ref: str, timeout: float = TIMEOUT) -> Any:
        msg = await self.expect(
            lambda m: isinstance(m, dict) and m["event"] == "phx_reply" and m["ref"] == ref,
            timeout,
        )
        return msg["payload"]

    async def join(self, topic: str, config: dict[str, Any] | None = None, **extra: Any) -> Any:
        ref = self.next_ref()
        self._ref -= 1
        await self.push(topic, "phx_join", {"config": config or {}, **extra}, join_ref=ref)
        return await self.reply(ref)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


@dataclass
class JsClient:
    """supabase-js in a Node process (tests/js/realtime_driver.js)."""

    proc: asyncio.subprocess.Process
    events: list[dict[str, Any]] = field(default_factory=list)
    _new: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls) -> JsClient:
        node = shutil.which("node")
        assert node, "node is not installed"
        proc = await asyncio.create_subprocess_exec(
            node,
            str(JS_DIR / "realtime_driver.js"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=sys.stderr,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
        client = cls(proc)
        client._reader = asyncio.create_task(client._read())
        return client

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))
                self._new.set()

    async def send(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if event.get("event") == "error":
                        raise AssertionError(f"supabase-js driver error: {event['message']}")
                    if match(event):
                        return event
                seen = len(self.events)
                self._new.clear()
                await self._new.wait()

        return await asyncio.wait_for(wait(), timeout)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.send(cmd="close")
            await asyncio.wait_for(self.proc.wait(), 5)
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()


def js_available() -> bool:
    return shutil.which("node") is not None and (JS_DIR / "node_modules" / "ws").is_dir()
