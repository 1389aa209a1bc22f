"""Where the Realtime fan-out benchmark's changes come from: rooms created through the SQL API,
host seeks and direct updates committed to the database, or the same frames published to the
floor server, on a shared schedule.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql
from websockets.asyncio.client import connect

from bench._fanout_report import Room

__all__ = ["DatabaseSource", "FloorSource", "create_rooms", "run_schedule"]


# -- database -------------------------------------------------------------------------------------


def create_rooms(url: str, rooms: int, members: int) -> list[Room]:
    out = []
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(rooms):
            host = str(uuid.uuid4())
            row = conn.execute(
                "select public.rooms_create(p_title => 'Bench', p_anime_id => 'frieren', "
                "p_anime_title => 'Frieren', p_video_url => 'https://example.com/v.mkv', "
                "p_host_username => 'host', p_is_public => false, p_host_user_id => %s)",
                (host,),
            ).fetchone()
            assert row is not None
            room_id = row[0]["room"]["room_id"]
            users = [host]
            for _ in range(members - 1):
                user = str(uuid.uuid4())
                conn.execute(
                    "select public.rooms_join(p_room_id => %s, p_username => 'viewer', "
                    "p_user_id => %s)",
                    (room_id, user),
                )
                users.append(user)
            out.append(Room(room_id, host, users))
    return out


def _as_user(user: str, statement: sql.Composable) -> sql.Composed:
    """``statement`` run as ``user`` the way PostgREST runs it: role and claims, transaction-local,
    in the same implicit transaction (one simple-protocol message)."""
    claims = json.dumps({"sub": user, "role": "authenticated"})
    return sql.SQL(
        "select set_config('role', 'authenticated', true), "
        "set_config('request.jwt.claims', {}, true); {}"
    ).format(sql.Literal(claims), statement)


# -- change sources -------------------------------------------------------------------------------

Publish = Callable[[int, int], Awaitable[None]]  # (room index, sequence number)


class DatabaseSource:
    """Changes made in PostgreSQL: (a) hosts seek with sync_control, (b) a host updates its
    room directly."""

    def __init__(self, url: str, rooms: list[Room], *, direct_update: bool) -> None:
        self._url = url
        self._rooms = rooms
        self._direct = direct_update
        self._conns: list[psycopg.AsyncConnection[Any]] = []

    async def open(self) -> None:
        self._conns = [
            await psycopg.AsyncConnection.connect(self._url, autocommit=True) for _ in self._rooms
        ]

    async def close(self) -> None:
        for conn in self._conns:
            await conn.close()

    async def publish(self, room_index: int, seq: int) -> None:
        room = self._rooms[room_index]
        if self._direct:
            statement = sql.SQL(
                "update public.rooms set current_playback_time = {} where room_id = {}"
            ).format(sql.Literal(seq), sql.Literal(room.room_id))
        else:
            statement = sql.SQL(
                "select public.sync_control(p_room_id => {}, p_action => 'seek', "
                "p_current_time => {})"
            ).format(sql.Literal(room.room_id), sql.Literal(seq))
        await self._conns[room_index].execute(_as_user(room.host, statement))


class FloorSource:
    """The same frames sent to the floor server, which relays them to the room's members."""

    def __init__(self, url: str, rooms: list[Room], sample: bytes) -> None:
        self._url = url
        self._rooms = rooms
        self._templates = [_frame_template(sample, room.room_id) for room in rooms]
        self._ws: Any = None

    async def open(self) -> None:
        self._ws = await connect(self._url, max_size=None, ping_interval=None)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def publish(self, room_index: int, seq: int) -> None:
        topic, template = self._templates[room_index]
        frame = template.replace('"__NEW__"', f"{seq}.00").replace('"__OLD__"', f"{seq - 1}.00")
        await self._ws.send(topic + "\n" + frame)


def _frame_template(sample: bytes, room_id: str) -> tuple[str, str]:
    """A postgres_changes frame as the server sent it, moved to ``room_id`` with placeholders for
    the new and old positions."""
    message = json.loads(sample)
    old_room = message["topic"].removeprefix("realtime:room:")
    data = message["payload"]["data"]
    data["record"]["current_playback_time"] = "__NEW__"
    data["old_record"]["current_playback_time"] = "__OLD__"
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False).replace(old_room, room_id)
    return f"realtime:room:{room_id}", text


async def run_schedule(
    publish: Publish, rooms: int, rate_per_room: float, seconds: float, seq0: int
) -> tuple[dict[int, dict[int, float]], float]:
    """Publish ``rate_per_room`` changes a second in every room for ``seconds``, rooms staggered.

    Returns the commit time of each change ({room index: {seq: time}}) and the elapsed time.
    """
    interval = 1.0 / rate_per_room
    count = max(1, round(seconds * rate_per_room))
    commits: dict[int, dict[int, float]] = {r: {} for r in range(rooms)}
    start = time.monotonic() + 0.05

    async def room_loop(r: int) -> None:
        target = start + r * interval / rooms
        for k in range(count):
            delay = target - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            seq = seq0 + k
            await publish(r, seq)
            commits[r][seq] = time.monotonic()
            target += interval

    await asyncio.gather(*(room_loop(r) for r in range(rooms)))
    return commits, time.monotonic() - start
